"""Full sweep of the exact reciprocal path (src/templates/loops.h).

For each float32 scale mantissa, every float32 x in [s/4, amax] and its
negative (amax = 127 s up to rounding, so |x / s| runs over [1/4, 127]:
every quotient binade) is quantized by int8q.quantize, whose scale is then
s and whose kernels multiply by fl(1/s) and redo near ties by division, on
every SIMD level and both roundings, and compared with the true division.

float64 has 2^52 values per binade, so `--float64` tries windows of
consecutive doubles around every tie (k + 1/2) s and every binade edge of
the quotient, and as many random windows, per scale.

The true division of the whole sweep comes from int8q's given-scale kernel
(src/core/affine.c: ONNX QuantizeLinear, which always divides; a different
loop in a different file), because the NumPy reference would take hours for
thousands of scales; every --reference-every'th chunk is also compared with
int8q.reference itself, so the division kernel is checked as it goes.
The suite samples the same check (tests/core/test_reciprocal.py).

    python tools/verify/check_reciprocal.py                 # 64 mantissas
    python tools/verify/check_reciprocal.py --scales 4096   # the issue's "thousands"
    python tools/verify/check_reciprocal.py --float64 --scales 1000

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

CHUNK = 1 << 22  # float32 x per comparison


def scale_with_mantissa(dtype, m, e=0):
    """(amax, s): amax = fl(127 t) for the float t of `dtype` with mantissa
    bits m and exponent e, and s = fl(amax / 127), int8q's scale for it
    (t itself, or a neighbour of t)."""
    mbits = np.finfo(dtype).nmant
    t = dtype(np.ldexp(dtype(1 + m / 2.0**mbits), e))
    amax = t * dtype(127)
    return amax, amax / dtype(127)


def every_x(dtype, amax, s, rng):
    """[start, stop) ranges of bit patterns: float32, every x in [s/4, amax]."""
    lo = int(dtype(s / dtype(4)).view(np.int32))
    hi = int(dtype(amax).view(np.int32))
    for start in range(lo, hi + 1, CHUNK):
        yield start, min(start + CHUNK, hi + 1)


def windows_x(dtype, amax, s, rng, width=1 << 15):
    """float64: windows of `width` consecutive doubles centred on every tie
    (k + 1/2) s and every quotient binade edge 2^j s in [s/4, amax], and as
    many at random places (2^52 doubles per binade cannot all be tried)."""
    lo = int(dtype(s / dtype(4)).view(np.int64))
    hi = int(dtype(amax).view(np.int64))
    centres = [(k + 0.5) * s for k in range(127)] + [2.0**j * s for j in range(-2, 7)]
    starts = [int(dtype(c).view(np.int64)) - width // 2 for c in centres]
    starts += [int(v) for v in rng.integers(lo, hi - width, len(starts))]
    for start in starts:
        start = min(max(start, lo), hi + 1 - width)
        yield start, start + width


def check_scale(dtype, amax, s, levels, roundings, reference_every, rng):
    """Mismatches over the x of one scale (every_x or windows_x) and -x."""
    bits_type = np.int32 if dtype == np.float32 else np.int64
    ranges = every_x if dtype == np.float32 else windows_x
    bad = 0
    for i, (start, stop) in enumerate(ranges(dtype, amax, s, rng)):
        m = stop - start
        x = np.empty(m + 1, dtype)
        for sign in (1, -1):
            x[:m] = np.arange(start, stop, dtype=bits_type).view(dtype)
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
        "--float64",
        action="store_true",
        help="float64 scales, windows of consecutive doubles (see windows_x)",
    )
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
    dtype = np.float64 if args.float64 else np.float32
    top = 1 << np.finfo(dtype).nmant
    extra = max(args.scales - 2, 0)
    mantissas = ([0, top - 1] + [int(v) for v in rng.integers(0, top, extra)])[: args.scales]
    exponents = [0, 0] + [int(v) for v in rng.integers(-100, 100, extra)]
    t0 = time.time()
    total = 0
    try:
        for i, (m, e) in enumerate(zip(mantissas, exponents)):
            amax, s = scale_with_mantissa(dtype, m, e)
            bad = check_scale(
                dtype, amax, s, levels, ["half_even", "half_away"], args.reference_every, rng
            )
            total += bad
            print(
                f"{i + 1}/{len(mantissas)} scale {s!r}: {bad} mismatches "
                f"({time.time() - t0:.0f} s)",
                flush=True,
            )
    finally:
        int8q.set_simd(before)
    print(
        f"{dtype.__name__}, levels {levels}, {len(mantissas)} scales: {total} mismatches in total"
    )
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
