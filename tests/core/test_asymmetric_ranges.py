"""The ranges behind symmetric=False (core/affine.h: int8q_minmax), which
compare floats through integer order keys: signed zeros, extremes,
subnormals and every non-finite value, in every layout the kernels walk,
on every SIMD level and thread count, against int8q.reference.  And the
dequantize of rows that share their scales, which takes several rows at a
time (templates/loops.h: deqvr)."""

import numpy as np
import pytest

import int8q
from int8q import reference

LAYOUTS = [
    {},
    {"axis": 0},
    {"axis": 1},
    {"block_size": 32},
    {"block_size": 128},
    {"block_size": 7},
    {"axis": 0, "block_size": 32},
    {"axis": 0, "block_size": 5},
]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def hostile(dtype, shape, rng):
    """Values whose order keys are easy to get wrong: both zeros, the
    extremes, subnormals of both signs, and blocks of one sign only."""
    info = np.finfo(dtype)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    flat = x.reshape(-1)
    picks = np.array(
        [0.0, -0.0, info.max / 4, -info.max / 4, info.smallest_subnormal, -info.smallest_subnormal],
        dtype=dtype,
    )
    where = rng.integers(0, flat.size, flat.size // 5)
    flat[where] = picks[rng.integers(0, picks.size, where.size)]
    flat[: flat.size // 4] = np.abs(flat[: flat.size // 4])  # all >= 0
    flat[flat.size // 4 : flat.size // 2] = -np.abs(flat[flat.size // 4 : flat.size // 2])
    flat[-40:] = -0.0  # a run of negative zeros only
    return x


@pytest.mark.parametrize("kw", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_ranges_match_reference(simd, threads, kw, dtype):
    rng = np.random.default_rng(5)
    x = hostile(dtype, (600, 1000), rng)  # large enough for two threads
    want_q, want_s, want_z = {}, {}, {}
    for qdtype in (np.int8, np.uint8):
        want_q[qdtype], want_s[qdtype], want_z[qdtype] = reference.quantize_asymmetric(
            x, qdtype, **kw
        )
    for n in (1, 2):
        threads(n)
        for arr in (x, np.asfortranarray(x)):  # in place, and converted chunk by chunk
            for qdtype in (np.int8, np.uint8):
                qt = int8q.quantize(arr, symmetric=False, qdtype=qdtype, **kw)
                msg = f"{kw} {dtype.__name__} {qdtype.__name__} threads={n}"
                assert same_bits(qt.scale, want_s[qdtype]), msg
                assert same_bits(qt.zero_point, want_z[qdtype]), msg
                assert same_bits(qt.q, want_q[qdtype]), msg


@pytest.mark.parametrize("kw", LAYOUTS)
@pytest.mark.parametrize("bad", [np.nan, -np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_any_nonfinite_value_is_found(simd, threads, kw, bad, dtype):
    rng = np.random.default_rng(6)
    x = hostile(dtype, (300, 700), rng)
    for n in (1, 2):
        threads(n)
        for at in ((0, 0), (150, 333), (299, 699)):
            y = x.copy()
            y[at] = bad  # (-np.nan has its sign bit set: the other end of the keys)
            name = "nan" if bad != bad else str(bad)
            with pytest.raises(ValueError, match=rf"x\[{at[0]}, {at[1]}\] is {name}"):
                int8q.quantize(y, symmetric=False, **kw)


@pytest.mark.parametrize(
    "shape,kw",
    [
        ((1003, 301), {"axis": 0, "block_size": 32}),  # rows four at a time, and the rest
        ((1003, 301), {"axis": 0, "block_size": 7}),
        ((5, 267, 260), {"axis": 1, "block_size": 16}),
        ((1003, 301), {"axis": 1}),  # one scale per column
        ((1003, 100), {"axis": 0, "block_size": 32}),  # rows too short to group
    ],
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dequantize_of_rows_sharing_scales(simd, threads, shape, kw, dtype):
    """Dequantize takes rows that share their scales several at a time
    (core's dequantize_rows); thread slices start mid-row."""
    rng = np.random.default_rng(7)
    x = (rng.standard_normal(shape) * 4).astype(dtype)
    qt = int8q.quantize(x, **kw)
    want = reference.dequantize(qt.q, qt.scale, kw.get("axis"), kw.get("block_size"))
    for n in (1, 2):
        threads(n)
        assert same_bits(int8q.dequantize(qt), want), (kw, n)
        out = np.full(shape, np.nan, dtype)
        int8q.dequantize(qt, out=out)
        assert same_bits(out, want), (kw, n)


@pytest.mark.parametrize("kw", LAYOUTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
def test_dequantize_with_zero_points(simd, threads, kw, dtype, qdtype):
    """(q - zero_point) * scale (core/affine.h: int8q_dequantize_affine) in
    every layout, thread slices starting mid-row and mid-block: zero points
    at both ends of q's range, scales from subnormal to near the dtype's
    limit (products that overflow to inf), into new arrays, into out= of
    the working dtype and of another, and from a strided q."""
    rng = np.random.default_rng(11)
    x = hostile(dtype, (301, 1099), rng)
    qt = int8q.quantize(x, symmetric=False, qdtype=qdtype, **kw)
    info, finfo = np.iinfo(qdtype), np.finfo(dtype)
    scale = qt.scale.copy()
    zp = qt.zero_point.copy()
    flat_s, flat_z = scale.reshape(-1), zp.reshape(-1)
    picks = np.array([finfo.smallest_subnormal, finfo.max / 64, 1.0], dtype)
    flat_s[::3] = picks[np.arange(flat_s[::3].size) % 3]
    flat_z[::2] = np.where(np.arange(flat_z[::2].size) % 2, info.min, info.max)
    axis, block = kw.get("axis"), kw.get("block_size")
    with np.errstate(over="ignore"):
        want = reference.dequantize_affine(qt.q, scale, zp, axis, block)
    other = np.float64 if dtype == np.float32 else np.float32
    with np.errstate(over="ignore"):
        want_other = want.astype(other)
    strided = np.empty((301, 2 * 1099), qdtype)
    strided[:, ::2] = qt.q
    for n in (1, 2):
        threads(n)
        assert same_bits(int8q.dequantize(qt.q, scale, zero_point=zp, **kw), want), (kw, n)
        out = np.full(x.shape, np.nan, dtype)
        int8q.dequantize(qt.q, scale, zero_point=zp, out=out, **kw)
        assert same_bits(out, want), (kw, n)
        out2 = np.full(x.shape, np.nan, other)
        int8q.dequantize(qt.q, scale, zero_point=zp, out=out2, **kw)
        assert same_bits(out2, want_other), (kw, n)
        got = int8q.dequantize(strided[:, ::2], scale, zero_point=zp, **kw)
        assert same_bits(got, want), (kw, n)
