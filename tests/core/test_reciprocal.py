"""The exact reciprocal path (src/templates/loops.h): quantizing with
x * fl(1/s) and redoing near-ties by division gives the reference's
round(x / s) bit for bit.  A sampled version of tools/verify/check_reciprocal.py:
every float in windows of consecutive floats, spread over all quotient
binades [1/4, 127] and packed around ties k + 1/2, for many scales."""

import numpy as np
import pytest

import int8q
from int8q import reference

WINDOW = 1 << 12


def windows(amax, s, rng, dtype):
    """Consecutive floats of `dtype` in [s/4, amax]: random windows and
    windows centred on the ties (k + 1/2) s."""
    itype = np.int32 if dtype == np.float32 else np.int64
    lo = int(np.asarray(s / 4, dtype).view(itype))
    hi = int(np.asarray(amax, dtype).view(itype))
    starts = list(rng.integers(lo, hi - WINDOW, 4))
    for k in rng.integers(0, 127, 4):
        centre = int(np.asarray((k + dtype(0.5)) * s, dtype).view(itype))
        starts.append(min(max(centre - WINDOW // 2, lo), hi - WINDOW))
    bits = np.concatenate([np.arange(a, a + WINDOW, dtype=itype) for a in starts])
    x = bits.view(dtype)
    return np.concatenate([x, -x, [amax]]).astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("rounding", ["half_even", "half_away"])
def test_reciprocal_matches_division(simd, dtype, rounding):
    rng = np.random.default_rng(12)
    mbits = 23 if dtype == np.float32 else 52
    for m in [0, (1 << mbits) - 1] + [int(v) for v in rng.integers(0, 1 << mbits, 40)]:
        e = int(rng.integers(-60, 60))
        s = dtype(np.ldexp(dtype(1 + m / 2.0**mbits), e))
        amax = s * dtype(127)
        x = windows(amax, s, rng, dtype)
        want_q, want_s = reference.quantize(x, rounding=rounding)
        qt = int8q.quantize(x, rounding=rounding)
        assert qt.scale == want_s
        np.testing.assert_array_equal(qt.q, want_q, err_msg=f"scale {s!r} {simd}")


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_subnormal_and_huge_scales_divide(simd, dtype):
    # scales whose reciprocal is not normal (or that are subnormal) take the
    # division path; |x / s| reaches 190 for the smallest subnormal scale
    info = np.finfo(dtype)
    for amax in [
        info.smallest_subnormal,
        info.smallest_subnormal * 3,
        info.smallest_normal * 5,
        info.smallest_normal * 200,
        info.max,
        info.max / 3,
    ]:
        x = np.array([amax, -amax, amax / 2, amax / 3, 0, amax * 0.75], dtype=dtype)
        for rounding in ["half_even", "half_away"]:
            want_q, want_s = reference.quantize(x, rounding=rounding)
            qt = int8q.quantize(x, rounding=rounding)
            np.testing.assert_array_equal(qt.q, want_q)
            assert qt.scale == want_s


def test_exact_ties_take_the_division(simd):
    # x = (k + 1/2) * s exactly representable: y = x * fl(1/s) may miss the
    # tie; the redo by division must give the reference's tie rounding
    s = np.float32(3 * 2.0**-5)  # 1 / s is not a float: y misses the tie
    amax = np.float32(127 * s)
    x = np.concatenate([(np.arange(-127, 127) + np.float32(0.5)) * s, [amax]]).astype(np.float32)
    x = np.tile(x, 9)  # many ties per tile
    for rounding in ["half_even", "half_away"]:
        want_q, _ = reference.quantize(x, rounding=rounding)
        np.testing.assert_array_equal(int8q.quantize(x, rounding=rounding).q, want_q)
