"""Outputs written with streaming stores (core/threads.h: outputs larger than
the last-level cache) against the NumPy reference bit for bit.  The
threshold is forced to 0 (_kernels.set_stream_threshold, a testing-only
knob) so that small inputs take the streaming path: every SIMD level, one
and two threads, outputs that start off a cache line and lengths that end
off one."""

import numpy as np
import pytest

import int8q
from int8q import _kernels, ggml, reference

GRANULARITIES = [
    {},
    {"axis": 0},
    {"axis": 1},
    {"block_size": 32},
    {"block_size": 100},
    # longer than a stream tile (4096 float32, 2048 float64): stored directly
    {"block_size": 5000},
    # blocks along the first axis: rows of blocks, tiles end between them
    {"axis": 0, "block_size": 2},
    {"axis": 0, "block_size": 7},
]

# (rows, cols): a few elements (shorter than a cache line), one thread's
# worth, and two threads' worth with odd lengths.
SHAPES = [(1, 5), (3, 37), (301, 1099)]


@pytest.fixture
def streaming():
    """Every call streams its outputs while the test runs."""
    _kernels.set_stream_threshold(0)
    yield
    _kernels.set_stream_threshold(-1)


def data(shape, dtype, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp(rng.uniform(-3, 3, shape[1]))
    x[min(2, shape[0] - 1), : min(40, shape[1])] = 0  # an all-zero block
    return x.astype(dtype)


def unaligned(shape, dtype, offset):
    """An output of `shape` starting `offset` elements into a fresh buffer
    (so off a cache line for offset % (64 / itemsize) != 0)."""
    size = int(np.prod(shape))
    fill = np.nan if np.dtype(dtype).kind == "f" else 99  # what no result is
    return np.full(size + offset, fill, dtype)[offset:].reshape(shape)


def test_threshold_knob_restores_the_default():
    default = _kernels.stream_threshold()
    assert default > 0
    _kernels.set_stream_threshold(0)
    try:
        assert _kernels.stream_threshold() == 0
    finally:
        _kernels.set_stream_threshold(-1)
    assert _kernels.stream_threshold() == default


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", GRANULARITIES)
def test_dequantize_streamed(simd, threads, streaming, dtype, shape, kw):
    x = data(shape, dtype)
    q, s = reference.quantize(x, **kw)
    want = reference.dequantize(q, s, **kw)
    for n_threads in (1, 2):
        threads(n_threads)
        for offset in (0, 1, 3):
            out = unaligned(shape, want.dtype, offset)
            assert int8q.dequantize(q, s, out=out, **kw) is out
            np.testing.assert_array_equal(out.view(np.uint8), want.view(np.uint8))
        np.testing.assert_array_equal(int8q.dequantize(q, s, **kw), want)


@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", GRANULARITIES)
def test_dequantize_with_zero_points_streamed(simd, threads, streaming, qdtype, shape, kw):
    # the same job as the symmetric dequantize (core/dequantize.c)
    x = data(shape, np.float32)
    qt = int8q.quantize(x, symmetric=False, qdtype=qdtype, **kw)
    want = reference.dequantize_affine(qt.q, qt.scale, qt.zero_point, **kw)
    for n_threads in (1, 2):
        threads(n_threads)
        for offset in (0, 1, 3):
            out = unaligned(shape, want.dtype, offset)
            got = int8q.dequantize(qt.q, qt.scale, zero_point=qt.zero_point, out=out, **kw)
            assert got is out
            np.testing.assert_array_equal(out.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kw", GRANULARITIES)
def test_quantize_dequantize_streamed(simd, threads, streaming, dtype, shape, kw):
    x = data(shape, dtype)
    for rounding in ("half_even", "half_away"):
        want_q, want_s = reference.quantize(x, rounding=rounding, **kw)
        want_d = reference.dequantize(want_q, want_s, **kw)
        for n_threads in (1, 2):
            threads(n_threads)
            for offset in (0, 5):
                q = unaligned(shape, np.int8, offset) if offset else np.empty(shape, np.int8)
                d = unaligned(shape, want_d.dtype, offset)
                qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, out=(q, d), **kw)
                assert qt.q is q and xhat is d
                np.testing.assert_array_equal(q, want_q)
                np.testing.assert_array_equal(qt.scale, want_s)
                np.testing.assert_array_equal(d.view(np.uint8), want_d.view(np.uint8))


@pytest.mark.parametrize("rows", [1, 3, 9000])
def test_q8_0_dequantize_streamed(simd, threads, streaming, rows):
    x = data((rows, 96), np.float32)
    raw = ggml.quantize_q8_0(x)
    want = reference.dequantize_q8_0(raw)
    for n_threads in (1, 2):
        threads(n_threads)
        for offset in (0, 1, 7):
            out = unaligned(want.shape, np.float32, offset)
            assert ggml.dequantize_q8_0(raw, out=out) is out
            np.testing.assert_array_equal(out.view(np.uint8), want.view(np.uint8))
