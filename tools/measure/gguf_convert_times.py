"""Time llama.cpp's convert_hf_to_gguf.py --outtype q8_0 with and without int8q.

    python tools/measure/gguf_convert_times.py LLAMA_CPP_DIR MODEL_DIR [--repeats 3] [--outtype q8_0]
    python tools/measure/gguf_convert_times.py --matrix 4096 [--repeats 3]

Each run is a fresh process (plain and accelerated alternate, best of
--repeats after a short sleep); it reports the whole conversion (the
script from start to exit, torch import and file writing included) and
its Q8_0 part: the time spent in gguf-py's array quantizer
(gguf.quants._apply_over_grouped_rows, which every Q8_0 tensor goes through,
lazy or not, and around int8q's kernels when accelerated).  The two output
files are compared byte for byte.

--matrix N times ``gguf.quants.quantize`` of one float32 N x N matrix
(a LLaMA-sized weight), eager and lazy, with and without int8q, in one
process, interleaved.
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

    spent = [0.0]
    apply = quants._apply_over_grouped_rows

    def timed(*a, **kw):
        start = time.perf_counter()
        try:
            return apply(*a, **kw)
        finally:
            spent[0] += time.perf_counter() - start

    quants._apply_over_grouped_rows = timed
    start = time.perf_counter()
    if accelerated:
        from int8q.ggml.accel import main

        code = main(["run", script, *args])  # patches the gguf.quants imported above
    else:
        sys.argv = [script, *args]
        sys.path[0] = str(pathlib.Path(script).parent)
        runpy.run_path(script, run_name="__main__")
        code = 0
    total = time.perf_counter() - start
    print(json.dumps({"total": total, "q8_0": spent[0], "code": code}), file=sys.__stdout__)


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
    best = {}
    for _ in range(repeats):
        for kind, run in runs.items():
            for mode in ("plain", "accelerated"):
                time.sleep(0.2)
                with ggml.accelerate_gguf() if mode == "accelerated" else _nothing():
                    start = time.perf_counter()
                    run()
                    t = time.perf_counter() - start
                best[kind, mode] = min(best.get((kind, mode), t), t)
    print(f"gguf.quants.quantize of a float32 {n} x {n} matrix, best of {repeats}")
    print("| call | gguf-py | with int8q | ratio |")
    print("|---|---:|---:|---:|")
    for kind in runs:
        p, f = best[kind, "plain"], best[kind, "accelerated"]
        print(f"| {kind} | {p * 1e3:.0f} ms | {f * 1e3:.0f} ms | {p / f:.1f}x |")


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
        same = (
            pathlib.Path(tmp, "plain.gguf").read_bytes()
            == pathlib.Path(tmp, "accelerated.gguf").read_bytes()
        )
    import int8q

    print(
        f"int8q {int8q.__version__} (simd {int8q.get_simd()}, "
        f"{int8q.get_num_threads()} threads); best of {a.repeats}; identical files: {same}"
    )
    print("| run | whole conversion | Q8_0 part |")
    print("|---|---:|---:|")
    for mode in ("plain", "accelerated"):
        print(f"| {mode} | {best[mode]['total']:.2f} s | {best[mode]['q8_0']:.3f} s |")
    p, f = best["plain"], best["accelerated"]
    print(f"| ratio | {p['total'] / f['total']:.2f}x | {p['q8_0'] / f['q8_0']:.1f}x |")


if __name__ == "__main__":
    main()
