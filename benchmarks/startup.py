"""Start-up: `import int8q`, `import int8q.io` and `int8q --help` in fresh
interpreters, against starting Python and importing NumPy alone.

    python benchmarks/startup.py                      # best of 20
    python benchmarks/startup.py --baseline DIR       # also another build, side by side

Each case is a child process, timed from its start to its exit (wall time)
and by the CPU time it used (user + system, from the kernel's accounting of
the child): on a machine shared with other work the CPU time moves less.
Cases run interleaved (python, numpy, int8q, int8q.io, --help, python, ...),
each keeping its best over --repeats.  `int8q --help` runs the console script
installed beside the interpreter (`python -m int8q` where there is none).
With --baseline (a folder holding another int8q build, from
``pip install --no-deps --target DIR``), that build runs each int8q case
too, in the same rounds.  Run it with the interpreter int8q is installed in.
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

import numpy as np

try:
    import resource  # the children's CPU time (not on Windows)
except ImportError:
    resource = None


def cases():
    """(name, argv) of each case; the command line's script where installed."""
    python = sys.executable
    script = os.path.join(os.path.dirname(python), "int8q")
    help_cmd = [script, "--help"] if os.path.isfile(script) else [python, "-m", "int8q", "--help"]
    return [
        ("python", [python, "-c", "pass"], False),
        ("import numpy", [python, "-c", "import numpy"], False),
        ("import int8q", [python, "-c", "import int8q"], True),
        ("import int8q.io", [python, "-c", "import int8q.io"], True),
        ("int8q --help", help_cmd, True),
    ]


def run(argv, site=None):
    """Wall seconds of one child process."""
    env = dict(os.environ)
    if site is not None:
        env["PYTHONPATH"] = site
    start = time.perf_counter()
    # Outside any source checkout: `python -c` puts the working directory
    # first on sys.path, where a checkout's int8q/ (without its compiled
    # core) would shadow the installed package.
    child = subprocess.Popen(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env, cwd=os.sep
    )
    _, err = child.communicate()
    wall = time.perf_counter() - start
    if child.returncode:
        sys.exit(f"{' '.join(argv)} failed ({child.returncode}): {err.decode()[-2000:]}")
    return wall


def children_cpu():
    """CPU seconds used by the children reaped so far (0 without `resource`)."""
    if resource is None:
        return 0.0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="a folder with another int8q build (pip install --no-deps --target DIR)",
    )
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)

    import int8q

    builds = [("this", None)] + ([("baseline", args.baseline)] if args.baseline else [])
    plan = [
        (name, build, command, site)
        for name, command, ours in cases()
        for build, site in (builds if ours else builds[:1])
    ]
    wall = {(name, build): [] for name, build, _, _ in plan}
    cpu = {(name, build): [] for name, build, _, _ in plan}
    for _, _, command, site in plan:  # warm-up: files in the page cache
        run(command, site)
    for _ in range(args.repeats):
        for name, build, command, site in plan:
            before = children_cpu()
            wall[name, build].append(run(command, site))
            cpu[name, build].append(children_cpu() - before)
    try:
        load = os.getloadavg()[0]
    except OSError:
        load = None
    print(
        f"int8q {int8q.__version__}, Python {platform.python_version()}, NumPy {np.__version__}, "
        f"{os.cpu_count()} CPUs, load {load if load is None else round(load, 2)}; "
        f"best of {args.repeats} (milliseconds)"
    )
    print(f"{'case':<18} {'build':<9} {'wall':>7} {'median':>7} {'CPU':>7}")
    results = []
    for name, build, _, _ in plan:
        times, used = wall[name, build], cpu[name, build]
        print(
            f"{name:<18} {build:<9} {min(times) * 1e3:7.1f} "
            f"{float(np.median(times)) * 1e3:7.1f} {min(used) * 1e3:7.1f}"
        )
        results.append({"case": name, "build": build, "wall_s": times, "cpu_s": used})
    if args.json:
        machine = {
            "cpus": os.cpu_count(),
            "load": load,
            "python": platform.python_version(),
            "numpy": np.__version__,
            "date": time.strftime("%Y-%m-%d"),
        }
        with open(args.json, "w") as f:
            json.dump(
                {"int8q": int8q.__version__, "machine": machine, "results": results}, f, indent=1
            )
    return results


if __name__ == "__main__":
    main()
