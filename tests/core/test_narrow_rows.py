"""Blocks along a non-last axis of narrow rows (at most 16 columns to
quantize, 32 to dequantize, under 64 with zero points), which the range
kernels take a tile of whole rows at a time with each element's scale
spread out (templates/ranges.h: fused_narrow, absmax_narrow,
quantize_narrow, dequantize_narrow; templates/affine_loops.h:
EACH_IN_NARROW_ROWS, which spreads zero points too), against
int8q.reference on every SIMD level, one and two threads: many blocks to a
tile, a block that fills a tile or exceeds it, a short last block, several
groups along the leading axis, blocks of 1 and blocks longer than the
axis, widths on both sides of the thresholds, and blocks with ties,
zeros, subnormal and huge abs-maxes (tests/support/arrays.py: nasty)."""

import numpy as np
import pytest
from arrays import ROUNDINGS, nasty

import int8q
from int8q import reference

# (pre, length along the blocked axis, cols, block_size)
CASES = [
    (1, 2048, 2, 32),  # sixteen blocks to a tile, many tiles
    (1, 1000, 3, 32),  # odd width, a short last block
    (2, 999, 4, 7),  # two groups, each with a short last block
    (1, 600, 5, 1),  # a block per row
    (1, 300, 8, 128),  # a block of 1024 elements: one to a tile
    (1, 300, 13, 100),  # a block over a tile: row by row when fused
    (3, 513, 16, 32),  # the widest quantized spread
    (1, 400, 17, 32),  # quantized row by row, dequantized spread
    (1, 400, 32, 32),  # the widest dequantized spread
    (2, 130, 63, 16),  # the widest spread with zero points
    (4, 40, 6, 64),  # a block longer than the axis
    (1, 5, 2, 32),
]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def along_axis_1(pre, length, cols, block, dtype, seed=0):
    """(pre, length, cols) values whose blocks along axis 1 each get one of
    nasty's treatments (nasty treats blocks of the last axis: transposed)."""
    huge = 100.0 if dtype == np.float16 else 1e37
    t = nasty((pre * cols, length), block, seed, huge=huge).reshape(pre, cols, length)
    return np.ascontiguousarray(t.transpose(0, 2, 1)).astype(dtype)


def dtypes():
    out = [np.float32, np.float64, np.float16]
    try:
        import ml_dtypes

        out.append(ml_dtypes.bfloat16)
    except ImportError:
        pass
    return out


@pytest.mark.parametrize(("pre", "length", "cols", "block"), CASES)
@pytest.mark.parametrize("dtype", dtypes())
def test_every_path_matches_the_reference(simd, threads, pre, length, cols, block, dtype):
    x = along_axis_1(pre, length, cols, block, dtype)
    kw = {"axis": 1, "block_size": block}
    for rounding in ROUNDINGS:
        want_q, want_s = reference.quantize(x, rounding=rounding, **kw)
        want_d = reference.dequantize(want_q, want_s, **kw)
        for n in (1, 2):
            threads(n)
            msg = f"{(pre, length, cols, block)} {np.dtype(dtype).name} {rounding} threads={n}"
            qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
            assert same_bits(qt.q, want_q), msg
            assert same_bits(qt.scale, want_s), msg
            assert same_bits(xhat, want_d), msg
            assert same_bits(int8q.quantize(x, rounding=rounding, **kw).q, want_q), msg
            # into out=: the abs-max pass, then the known scales
            out = np.empty(x.shape, np.int8)
            assert same_bits(int8q.quantize(x, rounding=rounding, out=out, **kw).scale, want_s)
            assert same_bits(out, want_q), msg
            assert same_bits(int8q.quantize(x, scale=want_s, rounding=rounding, **kw).q, want_q)
            assert same_bits(int8q.dequantize(want_q, want_s, **kw), want_d), msg
            assert same_bits(int8q.absmax(x, **kw), reference.absmax(x, **kw)), msg


@pytest.mark.parametrize(("pre", "length", "cols", "block"), CASES)
@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
def test_zero_points(simd, threads, pre, length, cols, block, qdtype):
    x = along_axis_1(pre, length, cols, block, np.float32, seed=1)
    kw = {"axis": 1, "block_size": block}
    want_q, want_s, want_z = reference.quantize_asymmetric(x, qdtype, **kw)
    want_d = reference.dequantize_affine(want_q, want_s, want_z, **kw)
    for n in (1, 2):
        threads(n)
        msg = f"{(pre, length, cols, block)} {np.dtype(qdtype).name} threads={n}"
        qt = int8q.quantize(x, symmetric=False, qdtype=qdtype, **kw)
        assert same_bits(qt.scale, want_s) and same_bits(qt.zero_point, want_z), msg
        assert same_bits(qt.q, want_q), msg
        given = int8q.quantize(x, scale=want_s, zero_point=want_z, **kw)
        assert same_bits(given.q, want_q), msg
        assert same_bits(int8q.dequantize(qt), want_d), msg


@pytest.mark.parametrize("cols", [2, 3, 16])
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_a_nonfinite_block_in_a_later_tile(simd, threads, cols, bad):
    x = along_axis_1(1, 4096, cols, 32, np.float32, seed=2)
    at = (0, 2000 + 5, cols - 1)  # many tiles in
    x[at] = bad
    for n in (1, 2):
        threads(n)
        out = np.full(x.shape, 7, np.int8)
        with pytest.raises(ValueError, match=rf"x\[0, {at[1]}, {at[2]}\]"):
            int8q.quantize(x, axis=1, block_size=32, out=out)
        assert (out == 7).all()
        with pytest.raises(ValueError, match=rf"x\[0, {at[1]}, {at[2]}\]"):
            int8q.quantize(x, axis=1, block_size=32)
