"""Full sweep of the exact reciprocal path (src/int8q_level_loops.h).

For each float32 scale mantissa, every float32 x in [s/4, amax] and its
negative (amax = 127 s up to rounding, so |x / s| runs over [1/4, 127]:
every quotient binade) is quantized by int8q.quantize, whose scale is then
s and whose kernels multiply by fl(1/s) and redo near ties by division, on
every SIMD level and both roundings, and compared with the true division.

The true division of the whole sweep comes from int8q's given-scale kernel
(src/int8q_affine.c: ONNX QuantizeLinear, which always divides; a different
loop in a different file), because the NumPy reference would take hours for
thousands of scales; every --reference-every'th chunk is also compared with
int8q.reference itself, so the division kernel is checked as it goes.
The suite samples the same check (tests/test_reciprocal.py).

    python tools/check_reciprocal.py                 # 64 mantissas
    python tools/check_reciprocal.py --scales 4096   # the issue's "thousands"

About 75 million x per scale (150 million with the negatives); a scale takes
about 2 s per SIMD level on a 2-core AMD EPYC (AVX2).  Exit status 1 on any
mismatch.
"""

import argparse
import sys
import time

import numpy as np

import int8q
from int8q import reference

CHUNK = 1 << 22


def scale_with_mantissa(m, e=0):
    """(amax, s): amax = fl(127 t) for the float32 t with mantissa bits m (23
    bits) and exponent e, and s = fl(amax / 127), int8q's scale for it
    (t itself, or a neighbour of t)."""
    t = np.float32(np.ldexp(np.float32(1 + m / 2.0**23), e))
    amax = t * np.float32(127)
    return amax, amax / np.float32(127)


def check_scale(amax, s, levels, roundings, reference_every):
    """Mismatches over every x in [s/4, amax] and -x, for one scale."""
    lo = int(np.float32(s / np.float32(4)).view(np.int32))
    hi = int(np.float32(amax).view(np.int32))
    buf = np.empty(CHUNK + 1, np.float32)
    bad = 0
    for i, start in enumerate(range(lo, hi + 1, CHUNK)):
        stop = min(start + CHUNK, hi + 1)
        m = stop - start
        x = buf[: m + 1]
        for sign in (1, -1):
            x[:m] = np.arange(start, stop, dtype=np.int32).view(np.float32)
            if sign < 0:
                np.negative(x[:m], out=x[:m])
            x[m] = amax  # fixes the scale at s
            for rounding in roundings:
                want = int8q.quantize(x, scale=s, rounding=rounding).q  # divides
                if i % reference_every == 0:
                    ref_q, ref_s = reference.quantize(x, rounding=rounding)
                    assert ref_s == s
                    bad += int(np.count_nonzero(ref_q != want))
                for level in levels:
                    int8q.set_simd(level)
                    qt = int8q.quantize(x, rounding=rounding)
                    assert qt.scale == s
                    bad += int(np.count_nonzero(qt.q != want))
    return bad


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", type=int, default=64, help="scale mantissas to sweep")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--reference-every",
        type=int,
        default=8,
        help="compare every n-th chunk with int8q.reference as well",
    )
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    levels = int8q.available_simd()
    before = int8q.get_simd()
    # the extreme mantissas, then random ones; exponents spread over float32
    mantissas = [0, (1 << 23) - 1] + [int(v) for v in rng.integers(0, 1 << 23, args.scales - 2)]
    exponents = [0, 0] + [int(v) for v in rng.integers(-100, 100, args.scales - 2)]
    t0 = time.time()
    total = 0
    try:
        for i, (m, e) in enumerate(zip(mantissas, exponents)):
            amax, s = scale_with_mantissa(m, e)
            bad = check_scale(amax, s, levels, ["half_even", "half_away"], args.reference_every)
            total += bad
            print(
                f"{i + 1}/{len(mantissas)} scale {s!r}: {bad} mismatches "
                f"({time.time() - t0:.0f} s)",
                flush=True,
            )
    finally:
        int8q.set_simd(before)
    print(f"levels {levels}, {len(mantissas)} scales: {total} mismatches in total")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
