"""The hand-vectorized float32 loops (src/levels/x86_avx2_f32.h) against
the NumPy reference and gguf-py, on every SIMD level: the shapes that reach
each of their branches (groups of 8 blocks of 32 and the blocks left over,
long rows, tiles of 32 and their tails) with the values that test them
(exact and near ties, all-zero blocks, scales with no exact reciprocal,
huge values, NaN/inf in any group)."""

import warnings

import numpy as np
import pytest
from arrays import ROUNDINGS, nasty

import int8q
from int8q import ggml, reference


def check_quantize(x, **kw):
    for rounding in ROUNDINGS:
        want_q, want_s = reference.quantize(x, rounding=rounding, **kw)
        want_d = reference.dequantize(want_q, want_s, **kw)
        qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
        np.testing.assert_array_equal(qt.q, want_q)
        np.testing.assert_array_equal(qt.scale, want_s)
        assert xhat.tobytes() == want_d.tobytes()  # +0.0 and -0.0 apart
        np.testing.assert_array_equal(int8q.quantize(x, rounding=rounding, **kw).q, want_q)
        # out= takes the two-pass path (abs-max pass, then known scales)
        out, xh = np.empty(x.shape, np.int8), np.empty(x.shape, want_d.dtype)
        qt, _ = int8q.quantize_dequantize(x, rounding=rounding, out=(out, xh), **kw)
        np.testing.assert_array_equal(out, want_q)
        np.testing.assert_array_equal(qt.scale, want_s)
        assert xh.tobytes() == want_d.tobytes()


# Rows of blocks: one block per row, groups of 8 and what is left over, many
# blocks per row with a short last block, and long blocks (>= 256).
BLOCK_SHAPES = [
    ((1, 32), 32),
    ((7, 32), 32),
    ((8, 32), 32),
    ((17, 32), 32),
    ((3, 32 * 19), 32),
    ((2, 32 * 9 + 5), 32),
    ((5, 256), 256),
    ((3, 4096), 4096),
    ((4, 300), 288),
    ((2, 1000), 333),
    ((9, 64), 64),
]


@pytest.mark.parametrize("shape, block", BLOCK_SHAPES)
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_per_block(simd, threads, shape, block, seed):
    for t in (1, 2):
        threads(t)
        check_quantize(nasty(shape, block, seed), block_size=block)


@pytest.mark.parametrize("n", [1, 31, 32, 33, 95, 96, 4096 + 17])
def test_per_tensor_tiles_and_tails(simd, n):
    x = nasty((n,), n, n)
    check_quantize(x)
    ties = (np.arange(-126, 127, dtype=np.float32) + np.float32(0.5))[:n]
    check_quantize(np.concatenate([[np.float32(127)], ties]).astype(np.float32))


@pytest.mark.parametrize("shape", [(16, 64), (5, 300), (2, 4096)])
def test_per_row(simd, shape):
    check_quantize(nasty(shape, shape[-1], 3), axis=0)


@pytest.mark.parametrize("cols", [31, 32, 70, 4096 + 5])
def test_per_column(simd, cols):
    # channels on the last axis: one scale per element of a row; columns get
    # the treatments nasty() gives blocks (transposed), so a row mixes them
    x = np.ascontiguousarray(nasty((cols, 40), 40, cols).T)
    check_quantize(x, axis=1)


@pytest.mark.parametrize("block", [0, 5, 8, 13])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_in_any_group(simd, block, bad):
    x = np.random.default_rng(block).standard_normal((14, 32)).astype(np.float32)
    x[block, 7] = bad
    with pytest.raises(ValueError, match=rf"x\[{block}, 7\]"):
        int8q.quantize(x, block_size=32)
    flat = x.reshape(-1)
    with pytest.raises(ValueError):
        ggml.quantize_q8_0(flat)


gguf_quants = pytest.importorskip("gguf.quants")


@pytest.mark.parametrize("nblocks", [1, 7, 8, 9, 16, 8 * 5 + 3])
@pytest.mark.parametrize("seed", [0, 1])
def test_q8_0_groups(simd, nblocks, seed):
    from gguf import GGMLQuantizationType

    x = nasty((nblocks * 32,), 32, seed, huge=1e3)  # float16 scales stay finite
    # ggml's rounding is half away at x * (1 / d): ties of that product
    rng = np.random.default_rng(seed)
    x[:32] = rng.integers(-126, 126, 32) + np.float32(0.5)
    x[0] = 127
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # gguf warns on its own edge cases
        want = gguf_quants.quantize(x, GGMLQuantizationType.Q8_0)
    assert ggml.quantize_q8_0(x).tobytes() == want.tobytes()


@pytest.mark.parametrize("block", [0, 8, 12])
def test_q8_0_float16_overflow_in_any_group(simd, block):
    x = np.ones(16 * 32, np.float32)
    x[32 * block + 3] = 1e10
    with pytest.raises(ValueError, match="overflows float16"):
        ggml.quantize_q8_0(x)
