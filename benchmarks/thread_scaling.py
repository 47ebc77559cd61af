"""Thread scaling of int8q's large-array kernels, against the copy roof.

    python benchmarks/thread_scaling.py                 # 2^26 elements, 1, 2, 4, ... threads
    python benchmarks/thread_scaling.py --log2 24 --threads 1 2 3

For each thread count T (1, 2, 4, ... up to the machine's cores, and the
core count itself) the script measures per tensor, per block (32), Q8_0 and
dequantize on 2^26 float32 elements, each into a reused output, side by
side with a T-thread copy of the same bytes (the memory roof at T threads),
interleaved, best of repeats, with a short sleep before every sample (as
benchmarks/bench.py does).  It prints Gelem/s, the speed-up over one thread
and the fraction of the T-thread roof, and writes JSON.

It also measures the two numbers behind the thread plan (src/core/threads.h:
a call on n elements wakes min(threads, n / 2^17) threads): the one-thread
rate r of per-tensor quantize on data in cache, and the fixed cost w of a
parallel region (the time of a two-thread call on n elements, minus half the
one-thread time).  Two threads beat one when w + n / (2 r) < n / r, that is
n > 2 w r; the plan's 2^18 (2 x 2^17) should sit at or above that break-even.
"""

import argparse
import json
import os
import pathlib
import sys

import numpy as np

import int8q
from int8q import ggml

HERE = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from bench import BYTES_PER_ELEMENT, copy_roof, machine, measure  # noqa: E402

MIN_PER_THREAD = 1 << 17  # src/core/threads.h, INT8Q_MIN_PER_THREAD


def thread_counts(cores):
    counts, t = [], 1
    while t < cores:
        counts.append(t)
        t *= 2
    return counts + [cores]


def scaling_cases(n):
    """(case, {name: callable}) per case: int8q into reused outputs."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n, dtype=np.float32)
    q = np.empty(n, np.int8)
    yield "per-tensor", x, {"int8q": lambda: int8q.quantize(x, out=q)}
    blocks = x.reshape(-1, 32)
    qb = q.reshape(-1, 32)
    yield "per-block-32", x, {"int8q": lambda: int8q.quantize(blocks, block_size=32, out=qb)}
    q8 = np.empty(ggml.quantize_q8_0(x[:32]).size * (n // 32), np.uint8)
    yield "q8_0", x, {"int8q": lambda: ggml.quantize_q8_0(x, out=q8)}
    qt = int8q.quantize(x)
    out = np.empty(n, np.float32)
    yield "dequantize", x, {"int8q": lambda: int8q.dequantize(qt.q, qt.scale, out=out)}


def scaling(n, counts, repeats, min_time):
    rows = []
    for case, x, comp in scaling_cases(n):
        base = None
        for t in counts:
            int8q.set_num_threads(t)
            best = measure({**comp, "copy": copy_roof(x, threads=t)}, repeats, min_time)
            roof = 8 * n / best["copy"]  # bytes/s of the t-thread float32 copy
            gel = n / best["int8q"] / 1e9
            base = base or gel
            row = {
                "case": case,
                "size": n,
                "threads": t,
                "gelem_per_s": gel,
                "speedup": gel / base,
                "roof_gb_per_s": roof / 1e9,
                "roof_fraction": BYTES_PER_ELEMENT[case] * n / best["int8q"] / roof,
            }
            rows.append(row)
            print(
                f"{case:<13}{t:>4}  {gel:8.3f}  {row['speedup']:6.2f}x  "
                f"{row['roof_gb_per_s']:7.1f}  {row['roof_fraction']:5.2f}",
                flush=True,
            )
    return rows


def thread_cost(repeats, min_time):
    """The plan's inputs: one-thread rate r in cache and the region cost w."""
    cores = os.cpu_count() or 1
    rng = np.random.default_rng(1)
    n = 2 * MIN_PER_THREAD  # the smallest call the plan gives two threads
    x = rng.standard_normal(n, dtype=np.float32)
    q = np.empty(n, np.int8)

    def with_threads(t):
        def run():
            int8q.set_num_threads(t)
            int8q.quantize(x, out=q)

        return run

    best = measure({"1": with_threads(1), "2": with_threads(min(2, cores))}, repeats, min_time)
    rate = n / best["1"]
    wake = best["2"] - best["1"] / 2
    result = {
        "n": n,
        "one_thread_s": best["1"],
        "two_thread_s": best["2"],
        "rate_gelem_per_s": rate / 1e9,
        "region_cost_s": wake,
        "break_even_elements": 2 * wake * rate,
        "plan_two_threads_from": n,
    }
    print(
        f"per tensor on {n} elements: 1 thread {best['1'] * 1e6:.1f} us, 2 threads "
        f"{best['2'] * 1e6:.1f} us; rate {rate / 1e9:.2f} Gelem/s, region cost "
        f"{wake * 1e6:.1f} us, break-even {2 * wake * rate:,.0f} elements "
        f"(the plan wakes a second thread from {n:,})"
    )
    return result


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log2", type=int, default=26, help="array size, log2 (default 26)")
    parser.add_argument(
        "--threads",
        type=int,
        nargs="+",
        default=None,
        help="thread counts (default 1, 2, 4, ... cores)",
    )
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--min-time", type=float, default=0.2)
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    args = parser.parse_args(argv)
    counts = args.threads or thread_counts(os.cpu_count() or 1)
    before = int8q.get_num_threads()
    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    print(f"{'case':<13}{'T':>4}  {'Gel/s':>8}  {'speedup':>7}  {'roof GB/s':>9}  {'roof':>5}")
    try:
        rows = scaling(1 << args.log2, counts, args.repeats, args.min_time)
        cost = thread_cost(args.repeats * 4, args.min_time)
    finally:
        int8q.set_num_threads(before)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "thread_scaling.json", "w") as f:
        json.dump({"machine": info, "results": rows, "thread_cost": cost}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
