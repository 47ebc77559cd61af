"""Blocks shorter than 256 elements along the last axis, which the loops
take a tile of whole blocks at a time with the blocks' scales spread out
one per element (templates/loops.h: fused_spread, quantb_spread, deqb,
amaxb; templates/affine_loops.h: EACH_IN_PIECE), or on the avx2 and
avx512 levels eight blocks of a multiple of 8 (from 64) at a time
(levels/x86_avx2_f32.h: fused8b, quant8b), against int8q.reference on
every SIMD level, one and two threads: the lengths the loops unroll (1, 2,
4, 8, 16) and others, rows holding more blocks than one tile (and than
sixteen) with a short block at the end, and blocks with ties, zeros,
subnormal and huge abs-maxes (tests/support/arrays.py: nasty)."""

import numpy as np
import pytest
from arrays import ROUNDINGS, nasty

import int8q
from int8q import reference

LENGTHS = [1, 2, 3, 4, 7, 8, 16, 24, 48, 64, 72, 100, 128, 200, 255]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def blocks_of(block, dtype, seed=0):
    """Rows of more blocks than one tile of 1024 elements (and than sixteen)
    holds, a short block at each row's end, enough rows for two threads."""
    cols = block * (max(1024 // block, 16) + 7) + max(1, block // 2)
    rows = max(3, (1 << 17) // cols)
    huge = 100.0 if dtype == np.float16 else 1e37
    return nasty((rows, cols), block, seed, huge=huge).astype(dtype)


@pytest.mark.parametrize("block", LENGTHS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_quantize_and_dequantize(simd, threads, block, dtype):
    x = blocks_of(block, dtype)
    kw = {"block_size": block}
    for rounding in ROUNDINGS:
        want_q, want_s = reference.quantize(x, rounding=rounding, **kw)
        want_d = reference.dequantize(want_q, want_s, **kw)
        for n in (1, 2):
            threads(n)
            msg = f"block {block} {np.dtype(dtype).name} {rounding} threads={n}"
            qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
            assert same_bits(qt.q, want_q), msg
            assert same_bits(qt.scale, want_s), msg
            assert same_bits(xhat, want_d), msg
            # into out=: the abs-max pass, then the known scales
            out = np.empty(x.shape, np.int8)
            assert same_bits(int8q.quantize(x, rounding=rounding, out=out, **kw).scale, want_s)
            assert same_bits(out, want_q), msg
            # given scales, and the dequantize of q
            given = int8q.quantize(x, scale=want_s, rounding=rounding, **kw)
            assert same_bits(given.q, want_q), msg
            assert same_bits(int8q.dequantize(want_q, want_s, **kw), want_d), msg
            assert same_bits(int8q.absmax(x, **kw), reference.absmax(x, **kw)), msg


@pytest.mark.parametrize("block", LENGTHS)
@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
def test_zero_points(simd, threads, block, qdtype):
    x = blocks_of(block, np.float32, seed=1)
    kw = {"block_size": block}
    want_q, want_s, want_z = reference.quantize_asymmetric(x, qdtype, **kw)
    want_d = reference.dequantize_affine(want_q, want_s, want_z, **kw)
    for n in (1, 2):
        threads(n)
        qt = int8q.quantize(x, symmetric=False, qdtype=qdtype, **kw)
        assert same_bits(qt.scale, want_s) and same_bits(qt.zero_point, want_z), (block, n)
        assert same_bits(qt.q, want_q), (block, n)
        assert same_bits(int8q.dequantize(qt), want_d), (block, n)


@pytest.mark.parametrize("block", [2, 16, 24])
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_a_nonfinite_block_in_a_later_tile(simd, threads, block, bad):
    x = blocks_of(block, np.float32, seed=2)
    at = (x.shape[0] // 2, 1024 + 3 * block + 1)  # past the row's first tile
    x[at] = bad
    for n in (1, 2):
        threads(n)
        out = np.full(x.shape, 7, np.int8)
        with pytest.raises(ValueError, match=rf"x\[{at[0]}, {at[1]}\]"):
            int8q.quantize(x, block_size=block, out=out)
        assert (out == 7).all()
        with pytest.raises(ValueError, match=rf"x\[{at[0]}, {at[1]}\]"):
            int8q.quantize(x, block_size=block)
