"""Full sweep of the exact reciprocal path (src/int8q_level_loops.h).

For each scale mantissa, every float32 x in [s/4, amax] (amax = 127 s up to
rounding, so |x / s| runs over [1/4, 127]: every possible quotient binade)
is quantized by int8q with the scale s (the kernels multiply by fl(1/s) and
redo near-ties by division) and compared with the reference's true division,
on every SIMD level and both roundings.  The suite samples the same check
(tests/test_reciprocal.py); this tool runs it over every x.

    python tools/check_reciprocal.py                 # 64 mantissas, all binades
    python tools/check_reciprocal.py --scales 4096   # the issue's "thousands"
"""

import argparse
import sys
import time

import numpy as np

import int8q
from int8q import reference


def amax_for_scale(m, e=0):
    """An abs-max whose scale fl(amax / 127) has mantissa bits m (23 bits)."""
    s = np.float32(np.ldexp(np.float32(1 + m / 2.0**23), e))
    return s * np.float32(127), s


def check_scale(amax, levels, roundings, chunk=1 << 22):
    s = np.float32(amax) / np.float32(127)
    lo = np.float32(s / np.float32(4)).view(np.int32)
    hi = np.float32(amax).view(np.int32)
    bad = 0
    for start in range(int(lo), int(hi) + 1, chunk):
        bits = np.arange(start, min(start + chunk, int(hi) + 1), dtype=np.int32)
        x = bits.view(np.float32)
        x = np.concatenate([x, -x, [amax]]).astype(np.float32)  # amax fixes the scale
        for rounding in roundings:
            want, want_s = reference.quantize(x, rounding=rounding)
            assert want_s == s
            for level in levels:
                int8q.set_simd(level)
                got = int8q.quantize(x, rounding=rounding).q
                bad += int(np.count_nonzero(got != want))
    return bad


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--scales", type=int, default=64, help="scale mantissas to sweep")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    rng = np.random.default_rng(args.seed)
    levels = int8q.available_simd()
    mantissas = [0, (1 << 23) - 1] + list(rng.integers(0, 1 << 23, args.scales - 2))
    t0 = time.time()
    total = 0
    for i, m in enumerate(mantissas):
        amax, s = amax_for_scale(int(m))
        bad = check_scale(amax, levels, ["half_even", "half_away"])
        total += bad
        print(
            f"{i + 1}/{len(mantissas)} scale {s!r}: {bad} mismatches ({time.time() - t0:.0f} s)",
            flush=True,
        )
    print(f"levels {levels}: {total} mismatches in total")
    return 1 if total else 0


if __name__ == "__main__":
    sys.exit(main())
