"""The seed's fast decimal rounding agrees with Python's round() bit for bit."""

import math
import struct

import numpy as np
import pytest

from int8q._kernels import round_decimal_for_tests as fast_round


def same(a, b):
    return struct.pack("<d", a) == struct.pack("<d", b)


def near_ties(ndigits, rng, count):
    """Doubles at, and a few ulps either side of, decimal midpoints."""
    for _ in range(count):
        digits = int(rng.integers(0, 10 ** int(rng.integers(1, 12))))
        tie = (2 * digits + 1) / (2 * 10**ndigits)  # ...5 one place past ndigits
        sign = -1.0 if rng.random() < 0.5 else 1.0
        v = sign * tie
        yield v
        lo = hi = v
        for _ in range(4):
            lo, hi = math.nextafter(lo, -math.inf), math.nextafter(hi, math.inf)
            yield lo
            yield hi


@pytest.mark.parametrize("ndigits", [4, 6])
def test_near_ties(ndigits):
    rng = np.random.default_rng(ndigits)
    for v in near_ties(ndigits, rng, 20_000):
        assert same(fast_round(v, ndigits), round(v, ndigits)), (v, ndigits)


@pytest.mark.parametrize("ndigits", [4, 6])
def test_exact_binary_ties(ndigits):
    # k / 2^m with m small are exact doubles; some of them are exact decimal ties.
    for m in range(1, 12):
        for k in range(-3000, 3000):
            v = k / 2.0**m / 10 ** (ndigits - 3)
            assert same(fast_round(v, ndigits), round(v, ndigits)), (v, ndigits)


@pytest.mark.parametrize("ndigits", [4, 6])
def test_random_bit_patterns(ndigits):
    rng = np.random.default_rng(100 + ndigits)
    bits = rng.integers(0, 2**63, 200_000, dtype=np.uint64) | (
        rng.integers(0, 2, 200_000, dtype=np.uint64) << np.uint64(63)
    )
    values = bits.view(np.float64)
    values = values[np.isfinite(values)]
    for v in values.tolist():
        assert same(fast_round(v, ndigits), round(v, ndigits)), (v, ndigits)


@pytest.mark.parametrize("ndigits", [4, 6])
def test_ordinary_magnitudes(ndigits):
    rng = np.random.default_rng(200 + ndigits)
    values = rng.standard_normal(100_000) * 10.0 ** rng.integers(-12, 16, 100_000)
    for v in values.tolist():
        assert same(fast_round(v, ndigits), round(v, ndigits)), (v, ndigits)


@pytest.mark.parametrize(
    "v",
    [
        0.0,
        -0.0,
        5e-324,
        -5e-324,
        1e-300,
        -4.9e-5,
        4.9999e-5,
        0.00005,
        -0.00005,
        2.0**52,
        2.0**52 / 1e4,
        1e300,
        -1.7976931348623157e308,
        math.inf,
        -math.inf,
    ],
)
def test_edges(v):
    for ndigits in (4, 6):
        assert same(fast_round(v, ndigits), round(v, ndigits)), (v, ndigits)
