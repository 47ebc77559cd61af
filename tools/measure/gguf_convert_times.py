"""Time llama.cpp's convert_hf_to_gguf.py --outtype q8_0 with and without int8q.

    python tools/measure/gguf_convert_times.py LLAMA_CPP_DIR MODEL_DIR [--repeats 3] [--outtype q8_0]
    python tools/measure/gguf_convert_times.py --matrix 4096 [--repeats 7]

Each run is a fresh process (plain and accelerated alternate, best of
--repeats after a short sleep); it reports the whole conversion (the
script from start to exit, torch import and file writing included) and
its Q8_0 part: the time spent quantizing, which is gguf-py's array
quantizer (gguf.quants._apply_over_grouped_rows, which every Q8_0 tensor
goes through, lazy or not) plus, when accelerated, int8q's kernel
(int8q.ggml.accel.quantize_q8_0, which the patched gguf-py calls with whole
tensors instead); a call inside another timed call is not counted twice.
The Q8_0 part is reported as the best run's sum, and as the sum of each
call's best over the runs (the converter makes the same calls in the same
order every run; on a loaded machine this sum is the steadier of the two).
The two output files are compared byte for byte.

--matrix N times ``gguf.quants.quantize`` of one float32 N x N matrix
(a LLaMA-sized weight), eager and lazy, with and without int8q, and
``int8q.ggml.quantize_q8_0`` of the same matrix, in one process,
interleaved (the order rotating between repeats), best of --repeats, each
after a 5 ms sleep.
"""

import argparse
import json
import os
import pathlib
import runpy
import subprocess
import sys
import tempfile
import time


def child(script, args, accelerated):
    """Run the converter in this process, timing gguf-py's quantizer."""
    sys.path.insert(1, str(pathlib.Path(script).parent / "gguf-py"))  # its own gguf-py
    import gguf.quants as quants

    from int8q.ggml import accel

    calls = []  # seconds of each outermost timed call, in order
    depth = [0]  # the outermost timed call counts, not what it calls in turn

    def timed(fn):
        def call(*a, **kw):
            depth[0] += 1
            start = time.perf_counter()
            try:
                return fn(*a, **kw)
            finally:
                depth[0] -= 1
                if not depth[0]:
                    calls.append(time.perf_counter() - start)

        return call

    quants._apply_over_grouped_rows = timed(quants._apply_over_grouped_rows)
    accel.quantize_q8_0 = timed(accel.quantize_q8_0)
    start = time.perf_counter()
    if accelerated:
        code = accel.main(["run", script, *args])  # patches the gguf.quants imported above
    else:
        sys.argv = [script, *args]
        sys.path[0] = str(pathlib.Path(script).parent)
        runpy.run_path(script, run_name="__main__")
        code = 0
    total = time.perf_counter() - start
    result = {"total": total, "q8_0": sum(calls), "calls": calls, "code": code}
    print(json.dumps(result), file=sys.__stdout__)


def matrix(n, repeats):
    import gguf
    import gguf.quants as quants
    import numpy as np

    from int8q import ggml

    x = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    q8_0 = gguf.GGMLQuantizationType.Q8_0
    runs = {
        "eager": lambda: quants.quantize(x, q8_0),
        "lazy": lambda: gguf.LazyNumpyTensor.to_eager(
            quants.quantize(gguf.LazyNumpyTensor.from_eager(x), q8_0)
        ),
    }
    runs["int8q"] = lambda: ggml.quantize_q8_0(x)
    order = [(kind, mode) for kind in runs for mode in ("plain", "accelerated")]
    order.remove(("int8q", "accelerated"))
    best = {}
    for r in range(repeats):
        # rotated, so that each run also follows each other one (a run after
        # gguf-py's many temporaries may get fresh pages for its output)
        for kind, mode in order[r % len(order) :] + order[: r % len(order)]:
            with ggml.accelerate_gguf() if mode == "accelerated" else _nothing():
                time.sleep(0.005)
                start = time.perf_counter()
                runs[kind]()
                t = time.perf_counter() - start
            best[kind, mode] = min(best.get((kind, mode), t), t)
    import int8q

    print(
        f"gguf.quants.quantize of a float32 {n} x {n} matrix, best of {repeats}; "
        f"gguf {_gguf_version()}, int8q {int8q.__version__} "
        f"(simd {int8q.get_simd()}, {int8q.get_num_threads()} threads)"
    )
    i8 = best["int8q", "plain"]
    print("| call | gguf-py | with int8q | ratio | with int8q / int8q.ggml.quantize_q8_0 |")
    print("|---|---:|---:|---:|---:|")
    for kind in ("eager", "lazy"):
        p, f = best[kind, "plain"], best[kind, "accelerated"]
        print(f"| {kind} | {p * 1e3:.0f} ms | {f * 1e3:.1f} ms | {p / f:.1f}x | {f / i8:.2f} |")
    print(f"int8q.ggml.quantize_q8_0: {i8 * 1e3:.1f} ms")


def _gguf_version():
    from importlib import metadata

    try:
        return metadata.version("gguf")
    except metadata.PackageNotFoundError:
        return "?"


class _nothing:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("llama_cpp", nargs="?")
    p.add_argument("model", nargs="?")
    p.add_argument("--matrix", type=int, metavar="N")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--outtype", default="q8_0")
    p.add_argument("--child", choices=["plain", "accelerated"], help=argparse.SUPPRESS)
    p.add_argument("--outfile", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.matrix:
        matrix(a.matrix, a.repeats)
        return
    if not (a.llama_cpp and a.model):
        p.error("give LLAMA_CPP_DIR and MODEL_DIR, or --matrix N")
    script = str(pathlib.Path(a.llama_cpp) / "convert_hf_to_gguf.py")
    if a.child:
        child(
            script,
            [a.model, "--outtype", a.outtype, "--outfile", a.outfile],
            a.child == "accelerated",
        )
        return
    best = {}
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(a.repeats):
            for mode in ("plain", "accelerated"):
                time.sleep(1)
                out = os.path.join(tmp, f"{mode}.gguf")
                proc = subprocess.run(
                    [
                        sys.executable,
                        __file__,
                        a.llama_cpp,
                        a.model,
                        "--outtype",
                        a.outtype,
                        "--child",
                        mode,
                        "--outfile",
                        out,
                    ],
                    capture_output=True,
                    text=True,
                )
                if proc.returncode:
                    sys.exit(proc.stderr[-2000:])
                r = json.loads(proc.stdout.strip().splitlines()[-1])
                b = best.setdefault(mode, r)
                best[mode] = {k: min(b[k], r[k]) for k in ("total", "q8_0")}
                # the same tensors in the same order each run: each call's best
                if len(b["calls"]) == len(r["calls"]):
                    best[mode]["calls"] = list(map(min, b["calls"], r["calls"]))
                else:
                    best[mode]["calls"] = [float("nan")]
        same = (
            pathlib.Path(tmp, "plain.gguf").read_bytes()
            == pathlib.Path(tmp, "accelerated.gguf").read_bytes()
        )
    import int8q

    print(
        f"int8q {int8q.__version__} (simd {int8q.get_simd()}, "
        f"{int8q.get_num_threads()} threads); best of {a.repeats}; identical files: {same}"
    )
    for b in best.values():
        b["per_call"] = sum(b["calls"])
    print("| run | whole conversion | Q8_0 part | Q8_0 part, each call's best |")
    print("|---|---:|---:|---:|")
    for mode in ("plain", "accelerated"):
        b = best[mode]
        print(f"| {mode} | {b['total']:.2f} s | {b['q8_0']:.3f} s | {b['per_call']:.3f} s |")
    p, f = best["plain"], best["accelerated"]
    print(
        f"| ratio | {p['total'] / f['total']:.2f}x | {p['q8_0'] / f['q8_0']:.1f}x "
        f"| {p['per_call'] / f['per_call']:.1f}x |"
    )


if __name__ == "__main__":
    main()
