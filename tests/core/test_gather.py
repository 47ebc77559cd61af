"""Inputs the kernels gather themselves (src/core/gather.c): float32,
float64, float16 and bfloat16 in any layout and byte order, against the
NumPy reference on the same values, on every SIMD level and with 1-3
threads.  The layouts reach every branch of the gather: row by row, across
rows a tile of columns at a time (F order, transposed views) with partial
tiles and bands that cross the outer axes, steps that end inside a row,
blocks longer than a step, negative and zero strides, overlapping windows,
unaligned data; and the abs-max pass that reads memory order instead."""

import numpy as np
import pytest
from arrays import ROUNDINGS, nasty

import int8q
from int8q import _dtypes, _kernels, ggml, reference


def layouts(x):
    """(name, view) pairs holding the elements of the float32 array x (2-D,
    C order) in other layouts; every view has x's values in x's C order."""
    rows, cols = x.shape
    yield "swapped", x.astype(x.dtype.newbyteorder())
    yield "F", np.asfortranarray(x)
    yield "F swapped", np.asfortranarray(x).astype(x.dtype.newbyteorder(), order="K")
    wide = np.zeros((rows, cols * 2 + 3), x.dtype)
    wide[:, 1 : 2 * cols + 1 : 2] = x
    yield "strided", wide[:, 1 : 2 * cols + 1 : 2]
    flipped = np.ascontiguousarray(x[::-1, ::-1])
    yield "negative", flipped[::-1, ::-1]
    yield "transposed negative", np.asfortranarray(x[::-1])[::-1]
    tall = np.zeros((rows * 3, cols), x.dtype, order="F")
    tall[::3] = x
    yield "F rows strided", tall[::3]
    raw = np.zeros(x.nbytes + 1, np.uint8)
    unaligned = np.frombuffer(raw.data, x.dtype.newbyteorder(), count=x.size, offset=1)
    unaligned = unaligned.reshape(x.shape)
    unaligned[...] = x
    unaligned.flags.writeable = False
    yield "unaligned swapped", unaligned


def as_dtype(x, dtype):
    """x cast to dtype keeping x's memory order and byte order."""
    return x.astype(np.dtype(dtype).newbyteorder(x.dtype.byteorder), order="K")


def check_same(x, **kw):
    """int8q on x equals int8q.reference on a C-contiguous native copy."""
    plain = np.ascontiguousarray(x, x.dtype.newbyteorder("="))
    for rounding in ROUNDINGS:
        want_q, want_s = reference.quantize(plain, rounding=rounding, **kw)
        qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
        np.testing.assert_array_equal(qt.q, want_q)
        np.testing.assert_array_equal(qt.scale, want_s)
        assert xhat.tobytes() == reference.dequantize(want_q, want_s, **kw).tobytes()
    np.testing.assert_array_equal(int8q.absmax(x, **kw), int8q.absmax(plain, **kw))


GRANULARITIES = [
    {},
    {"axis": 0},
    {"axis": -1},
    {"block_size": 32},
    {"block_size": 7},
]


@pytest.mark.parametrize("shape", [(67, 203), (130, 64), (3, 1000), (1000, 3)])
def test_layouts(simd, threads, shape):
    x = nasty(shape, 32, seed=sum(shape))
    for name, view in layouts(x):
        assert _dtypes.direct_kind(view, _dtypes.FLOAT32) is None, name
        for t in (1, 2):
            threads(t)
            for kw in GRANULARITIES:
                check_same(view, **kw)


@pytest.mark.parametrize("dtype", [np.float64, np.float16, "bfloat16"])
def test_other_dtypes(simd, dtype):
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    x = nasty((45, 150), 50, seed=3, huge=1e3)
    for _name, view in layouts(x):
        if np.dtype(dtype).name == "bfloat16" and not view.dtype.isnative:
            continue  # bfloat16 has no reversed byte order in NumPy
        for kw in GRANULARITIES:
            check_same(as_dtype(view, dtype), **kw)


def test_threads_split_gathered_inputs(simd, threads):
    # large enough for 2 and 3 threads, with slices ending mid-row and
    # mid-block; F order gathers across rows in steps of 64 rows
    n = 3 * _kernels.MIN_PER_THREAD + 1000
    x = nasty((n // 1000, 1000), 40, seed=5)
    views = dict(layouts(x))
    for t in (1, 2, 3):
        threads(t)
        for name in ("swapped", "F", "strided"):
            for kw in [{}, {"axis": 0}, {"axis": 1}, {"block_size": 40}]:
                check_same(views[name], **kw)


def test_blocks_longer_than_a_step(simd, threads):
    # a fused block of 20000 is more than one gather step (16384 elements)
    x = nasty((6, 45000), 20000, seed=7)
    for _name, view in layouts(x):
        for t in (1, 2):
            threads(t)
            check_same(view, block_size=20000)


def test_bands_across_outer_axes(simd):
    # F-order 3-D arrays: bands of rows stop where the outer index changes
    x = nasty((5, 37, 70), 35, seed=11)
    for view in (np.asfortranarray(x), x.transpose(2, 1, 0).copy().transpose(2, 1, 0)):
        for kw in [{}, {"axis": 1}, {"axis": 2}, {"block_size": 35}, {"block_size": 16}]:
            check_same(view, **kw)
    check_same(x.transpose(1, 0, 2))  # middle axis first: rows of another order
    check_same(np.moveaxis(np.asfortranarray(x), 0, 2), axis=0)


def test_zero_strides_and_overlapping_windows(simd):
    rng = np.random.default_rng(0)
    row = rng.standard_normal(300).astype(np.float32)
    broadcast = np.broadcast_to(row, (50, 300))
    assert broadcast.strides[0] == 0
    windows = np.lib.stride_tricks.sliding_window_view(row, 40)  # elements repeat
    for view in (broadcast, broadcast.T, windows, windows.T, windows[::-3]):
        for kw in GRANULARITIES:
            check_same(view, **kw)


def test_single_element_views(simd):
    x = np.arange(24, dtype=">f4").reshape(2, 3, 4)
    for view in (x[1:2, 2:3, 3:4], x[:, :1, :1], x[..., 3]):
        check_same(view)
        check_same(view, axis=0)


@pytest.mark.parametrize("where", [(0, 0), (40, 3), (66, 202)])
def test_nonfinite_names_first_and_writes_nothing(simd, threads, where):
    x = nasty((67, 203), 32, seed=13)
    for bad in (np.nan, np.inf):
        y = x.copy()
        y[where] = bad
        for name, view in layouts(y):
            for t in (1, 2):
                threads(t)
                out = np.full(x.shape, 7, np.int8)
                with pytest.raises(ValueError, match=rf"x\[{where[0]}, {where[1]}\]"):
                    int8q.quantize(view, out=out)
                assert (out == 7).all(), name
                with pytest.raises(ValueError):
                    int8q.quantize(view, block_size=32)
                with pytest.raises(ValueError):
                    int8q.absmax(view, axis=1)


def test_q8_0(simd, threads):
    x = nasty((70, 256), 32, seed=17, huge=1e3)
    want = ggml.quantize_q8_0(np.ascontiguousarray(x))
    for name, view in layouts(x):
        for t in (1, 2):
            threads(t)
            assert ggml.quantize_q8_0(view).tobytes() == want.tobytes(), name
            half = as_dtype(view, np.float16)
            plain = np.ascontiguousarray(half, np.float16)
            assert ggml.quantize_q8_0(half).tobytes() == ggml.quantize_q8_0(plain).tobytes()
    big = nasty((4 * _kernels.MIN_PER_THREAD // 256 + 3, 256), 32, seed=19, huge=1e3)
    for t in (1, 2, 3):
        threads(t)
        got = ggml.quantize_q8_0(np.asfortranarray(big))
        assert got.tobytes() == ggml.quantize_q8_0(big).tobytes()


def test_input_never_modified(simd):
    x = nasty((64, 96), 32, seed=23, huge=1e3)
    for name, view in layouts(x):
        before = view.copy()
        int8q.quantize(view, block_size=32)
        int8q.quantize(view)
        ggml.quantize_q8_0(view)
        assert view.tobytes() == before.tobytes(), name
        assert view.dtype == before.dtype
