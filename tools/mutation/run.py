"""Mutation testing of int8q's pure-Python file and user-data modules.

From a fresh clone, tools/mutation/run.sh makes the environment and runs this
(docs/developer/mutation.md):

    bash tools/mutation/run.sh --sample 100   # under 10 minutes on 2 cores
    bash tools/mutation/run.sh --full         # before a release (hours)

Mutants come from cosmic-ray's operators (a reduced set by default, see
``BINARY`` and ``COMPARE``; ``--all-operators`` for all of them).  The tests
import the installed, compiled int8q, so each worker copies the installed
package (its compiled core included) into a folder of its own, writes one
mutant there, and runs the module's tests (tools/mutation/targets.py) with
that folder first on PYTHONPATH; the installed package is never modified.
A mutant is killed when its tests fail, error or pass the time limit.
Survivors listed in tools/mutation/accepted.txt (equivalent mutants) are
reported apart.  Results: build/mutation/results.json and survivors.txt.
"""

import argparse
import concurrent.futures
import dataclasses
import difflib
import hashlib
import importlib.util
import json
import os
import pathlib
import queue
import random
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time

import cosmic_ray.plugins
import targets
from cosmic_ray.ast import ast_nodes, get_ast
from cosmic_ray.mutating import mutate_code

ROOT = pathlib.Path(__file__).resolve().parents[2]
ACCEPTED = pathlib.Path(__file__).resolve().parent / "accepted.txt"

# The default operator set: cosmic-ray replaces every binary and comparison
# operator with every other one (11 mutants per `+`), mostly redundant.  These
# keep one or two plausible slips per operator: the sign, the inverse, the
# off-by-one boundary, the negation.
BINARY = {
    "Add_Sub", "Sub_Add", "Mul_Div", "Div_Mul", "FloorDiv_Div", "Mod_FloorDiv", "Pow_Mul",
    "LShift_RShift", "RShift_LShift", "BitOr_BitAnd", "BitAnd_BitOr", "BitXor_BitOr",
}  # fmt: skip
COMPARE = {
    "Eq_NotEq", "NotEq_Eq", "Lt_LtE", "Lt_GtE", "LtE_Lt", "LtE_Gt", "Gt_GtE", "Gt_LtE",
    "GtE_Gt", "GtE_Lt", "Is_IsNot", "IsNot_Is",
}  # fmt: skip

# cosmic-ray's ExceptionReplacer writes this name into except clauses; defined
# as a builtin in the workers so that the mutant means "this handler catches
# nothing" rather than a NameError.
SITECUSTOMIZE = """\
import builtins
class CosmicRayTestingException(Exception):
    pass
builtins.CosmicRayTestingException = CosmicRayTestingException
"""


@dataclasses.dataclass
class Mutant:
    module: str  # relative to int8q/
    operator: str
    occurrence: int
    line: int
    key: str = ""
    diff: str = ""
    outcome: str = "not run"
    seconds: float = 0.0
    output: str = ""


def operators(every):
    """(short name, instance) of the operators in use."""
    for name in cosmic_ray.plugins.operator_names():
        short = name.split("/", 1)[1]
        cls = cosmic_ray.plugins.get_operator(name)
        if cls.arguments():  # VariableReplacer/Inserter: need a configuration
            continue
        for prefix, kept in (
            ("ReplaceBinaryOperator_", BINARY),
            ("ReplaceComparisonOperator_", COMPARE),
        ):
            if not every and short.startswith(prefix) and short[len(prefix) :] not in kept:
                break
        else:
            yield short, cls()


def in_annotation(node):
    """Whether a parso node lies in a type annotation (never evaluated at run time here)."""
    child, parent = node, node.parent
    while parent is not None:
        if parent.type == "annassign" and child is parent.children[1]:
            return True
        if parent.type in ("param", "funcdef") and getattr(parent, "annotation", None) is child:
            return True
        child, parent = parent, parent.parent
    return False


def module_files(package):
    """The .py files to mutate, relative to the installed package folder."""
    found = []
    for entry in targets.MODULES:
        path = package / entry
        files = sorted(path.rglob("*.py")) if path.is_dir() else [path]
        found += [f.relative_to(package).as_posix() for f in files]
    return [f for f in found if f not in targets.SKIP]


def enumerate_mutants(package, modules, every):
    found = []
    ops = list(operators(every))
    for module in modules:
        source = (package / module).read_text(encoding="utf-8")
        lines = source.splitlines()
        tree = get_ast(source)
        for short, op in ops:
            occurrence = 0
            for node in ast_nodes(tree):
                for start, _ in op.mutation_positions(node):
                    text = lines[start[0] - 1]
                    if not (in_annotation(node) or "TYPE_CHECKING" in text or "no mutate" in text):
                        found.append(Mutant(module, short, occurrence, start[0]))
                    occurrence += 1
    return found


def describe(mutant, package, ops):
    """The mutated source, with the mutant's key and diff filled in (None:
    cosmic-ray cannot make this one)."""
    source = (package / mutant.module).read_text(encoding="utf-8")
    try:
        code = mutate_code(source, ops[mutant.operator], mutant.occurrence)
    except AttributeError:  # cosmic-ray 8.7's ExceptionReplacer on `except (a.B, C)`
        code = None
    if code is None:
        return None
    # cosmic-ray 8.7 splices its name into a dotted exception (`except
    # errors.NotFound:` becomes `except errorsCosmicRay...NotFound:`): make
    # it the whole name, as for a plain one.
    code = re.sub(r"[\w.]*CosmicRayTestingException[\w.]*", "CosmicRayTestingException", code)
    changed = difflib.unified_diff(source.splitlines(), code.splitlines(), lineterm="", n=0)
    body = [line for line in changed if line[:1] in "+-" and line[:3] not in ("---", "+++")]
    # The key names the change, not its line number, so that it survives edits elsewhere.
    text = "\n".join([mutant.module, mutant.operator, *(line.strip() for line in body)])
    mutant.key = hashlib.sha1(text.encode()).hexdigest()[:12]
    mutant.diff = "\n".join(body)
    return code


class Worker:
    """A private copy of the installed package, one mutant at a time."""

    def __init__(self, base, package):
        self.site = base / "site"
        shutil.copytree(package, self.site / "int8q", ignore=shutil.ignore_patterns("__pycache__"))
        (self.site / "sitecustomize.py").write_text(SITECUSTOMIZE)
        self.cwd = base / "cwd"
        self.cwd.mkdir()
        self.env = dict(os.environ, PYTHONPATH=str(self.site), PYTHONDONTWRITEBYTECODE="1")

    def run(self, module, code, tests, timeout):
        """(outcome, seconds, output tail) of `tests` with `code` as `module` (None: unmutated)."""
        path = self.site / "int8q" / module
        original = path.read_bytes()
        try:
            if code is not None:
                path.write_text(code, encoding="utf-8")
            return self._pytest(tests, timeout)
        finally:
            path.write_bytes(original)

    def _pytest(self, tests, timeout):
        command = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider"]
        command += [str(ROOT / t) for t in tests]
        start = time.monotonic()
        with subprocess.Popen(
            command,
            cwd=self.cwd,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        ) as process:
            try:
                output, _ = process.communicate(timeout=timeout)
                outcome = {0: "survived", 1: "killed", 5: "no tests"}.get(process.returncode)
                outcome = outcome or "killed (error)"  # collection or import error
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                output, _ = process.communicate()
                outcome = "killed (timeout)"
        tail = output.decode(errors="replace")[-1500:]
        return outcome, time.monotonic() - start, tail


def installed_package():
    spec = importlib.util.find_spec("int8q")
    if spec is None or spec.origin is None:
        sys.exit("int8q is not installed in this environment (see the setup in this file)")
    package = pathlib.Path(spec.origin).resolve().parent
    if package == ROOT / "int8q" or not list(package.glob("_kernels*")):
        sys.exit(f"{package} is not an installed, compiled int8q: pip install . first")
    stale = [
        m
        for m in module_files(package)
        if (package / m).read_bytes() != (ROOT / "int8q" / m).read_bytes()
    ]
    if stale:
        sys.exit(
            f"the installed int8q differs from the checkout ({stale[0]}...): pip install . again"
        )
    return package


def load_accepted():
    accepted = {}
    for line in ACCEPTED.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            key, _, reason = line.partition(" ")
            accepted[key] = reason.strip()
    return accepted


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument(
        "--sample", type=int, metavar="N", help="a random sample of N mutants (fixed seed)"
    )
    mode.add_argument("--full", action="store_true", help="every mutant (hours: before a release)")
    mode.add_argument("--list", action="store_true", help="count the mutants per module and stop")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--key", action="append", default=[], help="only the mutant of this key")
    parser.add_argument(
        "--module", action="append", default=[], help="only modules whose path contains this"
    )
    parser.add_argument(
        "--budget",
        type=float,
        help="start no mutant after this many seconds (default: 450 with --sample, none with --full)",
    )
    parser.add_argument("--jobs", type=int, default=2, help="mutants run at once (default 2)")
    parser.add_argument(
        "--timeout", type=float, default=240, help="seconds per mutant (default 240)"
    )
    parser.add_argument("--baseline", action="store_true", help="check every test selection first")
    parser.add_argument(
        "--all-operators", action="store_true", help="cosmic-ray's full operator set"
    )
    parser.add_argument("--out", type=pathlib.Path, default=ROOT / "build" / "mutation")
    args = parser.parse_args()

    if args.budget is None:
        args.budget = 450 if args.sample is not None else 0
    package = installed_package()
    modules = [
        m for m in module_files(package) if not args.module or any(s in m for s in args.module)
    ]
    for module in modules:
        targets.tests_for(module)  # every module has tests listed
    everything = enumerate_mutants(package, modules, args.all_operators)
    if args.list:
        for module in modules:
            print(f"{sum(m.module == module for m in everything):6d}  int8q/{module}")
        print(f"{len(everything):6d}  in all")
        return 0
    chosen = everything
    if args.sample is not None and args.sample < len(everything):
        chosen = random.Random(args.seed).sample(everything, args.sample)
    ops = dict(operators(args.all_operators))
    codes = [describe(m, package, ops) for m in chosen]
    if None in codes:
        print(f"{codes.count(None)} mutants cosmic-ray cannot make: left out", flush=True)
        chosen = [m for m, c in zip(chosen, codes, strict=True) if c is not None]
        codes = [c for c in codes if c is not None]
    if args.key:  # these mutants only (keys as printed; with --module, faster)
        picked = [(m, c) for m, c in zip(chosen, codes, strict=True) if m.key in args.key]
        chosen, codes = [m for m, _ in picked], [c for _, c in picked]
    accepted = load_accepted()

    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="int8q-mutation-") as base:
        workers = queue.Queue()
        for i in range(args.jobs):
            (pathlib.Path(base) / str(i)).mkdir()
            workers.put(Worker(pathlib.Path(base) / str(i), package))

        def run(mutant, code, tests, timeout):
            worker = workers.get()
            try:
                if args.budget and time.monotonic() - start > args.budget:
                    return
                mutant.outcome, mutant.seconds, mutant.output = worker.run(
                    mutant.module, code, tests, timeout
                )
            finally:
                workers.put(worker)

        # The unmutated package must pass (a broken setup would "kill" every
        # mutant): the quick check runs one small selection, --baseline every
        # selection in use.
        selections = sorted({targets.tests_for(m.module) for m in chosen})
        if not args.baseline:
            selections = [targets.tests_for("_checks.py")]
        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            baselines = [Mutant("_checks.py", "baseline", 0, 0) for _ in selections]
            list(pool.map(lambda b, s: run(b, None, s, 1800), baselines, selections))
        for selection, b in zip(selections, baselines, strict=True):
            if b.outcome != "survived":
                sys.exit(f"the unmodified package fails {' '.join(selection)}:\n{b.output}")
            print(f"baseline {b.seconds:6.1f} s  {' '.join(selection)}", flush=True)

        with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
            futures = [
                pool.submit(run, m, code, targets.tests_for(m.module), args.timeout)
                for m, code in zip(chosen, codes, strict=True)
            ]
            for done, _ in enumerate(concurrent.futures.as_completed(futures), 1):
                _.result()
                if done % 10 == 0:
                    print(
                        f"{done}/{len(chosen)} mutants, {time.monotonic() - start:.0f} s",
                        flush=True,
                    )
    wall = time.monotonic() - start
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return report(args, everything, chosen, accepted, wall, usage.ru_utime + usage.ru_stime)


def report(args, everything, chosen, accepted, wall, cpu):
    ran = [m for m in chosen if m.outcome != "not run"]
    killed = [m for m in ran if m.outcome.startswith("killed")]
    survived = [m for m in ran if m.outcome in ("survived", "no tests")]
    equivalent = [m for m in survived if m.key in accepted]
    open_survivors = [m for m in survived if m.key not in accepted]
    args.out.mkdir(parents=True, exist_ok=True)
    results = [dataclasses.asdict(m) for m in chosen]
    (args.out / "results.json").write_text(json.dumps(results, indent=1))
    with open(args.out / "survivors.txt", "w", encoding="utf-8") as f:
        for m in sorted(survived, key=lambda m: (m.module, m.line)):
            note = f"  accepted: {accepted[m.key]}" if m.key in accepted else ""
            f.write(f"{m.key}  int8q/{m.module}:{m.line}  {m.operator}{note}\n{m.diff}\n\n")
    for m in sorted(open_survivors, key=lambda m: (m.module, m.line)):
        print(f"SURVIVED {m.key}  int8q/{m.module}:{m.line}  {m.operator}\n{m.diff}")
    scored = len(ran) - len(equivalent)
    print(
        f"\n{len(killed)}/{len(ran)} killed ({len(equivalent)} accepted survivors, "
        f"{len(open_survivors)} open); score {100 * len(killed) / max(scored, 1):.1f}% "
        f"of {scored} non-equivalent; sampled {len(chosen)} of {len(everything)} mutants "
        f"(seed {args.seed}), {len(chosen) - len(ran)} left unrun by the budget; "
        f"{wall:.0f} s wall, {cpu:.0f} s CPU; details in {args.out}"
    )
    return 1 if open_survivors else 0


if __name__ == "__main__":
    sys.exit(main())
