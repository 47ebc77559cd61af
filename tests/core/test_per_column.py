"""One scale per column (axis=-1 of a C-ordered array) against the NumPy
reference bit for bit, on every SIMD level and 1, 2 and 3 threads.

The kernels take whole rows together there (src/templates/ranges.h
absmax_rows, quantize_rows): the abs-max loop eight, then four rows at a time, rows
of at most 128 elements g = 256 // cols at a time as one wider row (folded
back into the column maxima, or with the scales repeated), and the partial
rows where a thread's slice starts or ends inside a row one by one.  The shapes here cross each of those edges:
columns around the vector widths and the narrow-row grouping, row counts
around multiples of 4, 8 and of g, and arrays above the threading threshold
whose thread slices start inside a row."""

import numpy as np
import pytest
from arrays import FLOAT_DTYPES

import int8q
from int8q import _kernels, reference

ROUNDINGS = ["half_even", "half_away"]
MIN = _kernels.MIN_PER_THREAD


DTYPES = [np.dtype(d) for d in FLOAT_DTYPES]  # float16, float32, float64, bfloat16


def columns(rows, cols, seed, dtype=np.float32):
    """Values whose columns each get one treatment, in turn: random, exact
    ties of the column's scale 1, the floats next to those ties, all zero, a
    subnormal abs-max (no exact reciprocal), huge, one non-zero value."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((rows, cols)).astype(np.float32)
    kind = (np.arange(cols) + seed) % 7
    ties = rng.integers(-126, 126, (rows, cols)) + np.float32(0.5)
    near = np.nextafter(ties, rng.choice([-np.inf, np.inf], (rows, cols))).astype(np.float32)
    x = np.where(kind == 1, ties, x)
    x = np.where(kind == 2, near, x)
    x = np.where((kind == 3) | (kind == 6), np.float32(0), x)
    x = np.where(kind == 4, x * np.float32(1e-39), x)
    x = np.where(kind == 5, x * np.float32(1e37), x).astype(np.float32)
    j = np.arange(cols)
    at = rng.integers(rows, size=cols)  # the abs-max of a tie column, the value of a single
    x[at, j] = np.where((kind == 1) | (kind == 2), np.float32(127), x[at, j])
    x[at, j] = np.where(kind == 6, rng.standard_normal(cols).astype(np.float32), x[at, j])
    if np.dtype(dtype).itemsize == 2:  # float16's range: no huge, no subnormal float32
        x = np.clip(x, -6e4, 6e4)
    return x.astype(dtype)


def spikes(rows, cols, dtype=np.float32):
    """Small values with one large value per column, in row (7 j + 3) mod
    rows of column j: a loop that skips or repeats a row, or folds a column
    into another, gets a column's scale wrong."""
    x = np.full((rows, cols), 0.25, np.float32)
    j = np.arange(cols)
    x[(7 * j + 3) % rows, j] = -(1.0 + j % 13)
    return x.astype(dtype)


def check(x, **kw):
    kw.setdefault("axis", -1)
    for rounding in ROUNDINGS:
        want_q, want_s = reference.quantize(x, rounding=rounding, **kw)
        want_d = reference.dequantize(want_q, want_s, **kw)
        qt = int8q.quantize(x, rounding=rounding, **kw)
        np.testing.assert_array_equal(qt.q, want_q)
        np.testing.assert_array_equal(qt.scale, want_s)
        out = np.full(x.shape, 99, np.int8)
        assert int8q.quantize(x, rounding=rounding, out=out, **kw).q is out
        np.testing.assert_array_equal(out, want_q)
        qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
        np.testing.assert_array_equal(qt.q, want_q)
        assert xhat.tobytes() == want_d.tobytes()  # +0.0 and -0.0 apart
    np.testing.assert_array_equal(int8q.absmax(x, **kw), reference.absmax(x, **kw))


# Columns: the narrow-row grouping (ROW_RUN 256: g = 256 // cols rows at a
# time below 128 columns, one row at a time from 129 on), the vector widths
# of float32 and float64 (4, 8, 16) and their neighbours, a wide row.
SMALL_COLS = [1, 2, 3, 5, 7, 8, 9, 16, 17, 31, 33, 85, 127, 128, 129, 255, 256, 257, 4096 + 5]
# Rows: around multiples of 8 and 4 (the abs-max loop) and of g.
SMALL_ROWS = [1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 37, 130]


@pytest.mark.parametrize("cols", SMALL_COLS)
def test_small_shapes(simd, cols):
    for rows in SMALL_ROWS:
        if rows * cols > 1 << 16:
            continue
        check(columns(rows, cols, rows + cols))
        check(spikes(rows, cols))


# (rows, cols) above the threading threshold for 3 threads, whose thread
# slices (n t / T, core/threads.c) start inside a row for T = 2 or 3.
THREADED = [(151, 2627), (140_000, 3), (80_000, 5), (3_100, 127), (3_050, 129), (2, 200_003)]


@pytest.mark.parametrize("shape", THREADED)
def test_thread_slices(simd, threads, shape):
    rows, cols = shape
    assert rows * cols >= 3 * MIN
    x = columns(rows, cols, cols)
    s = spikes(rows, cols)
    for t in (1, 2, 3):
        threads(t)
        check(x)
        check(s)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_dtypes(simd, threads, dtype):
    for t in (1, 3):
        threads(t)
        for rows, cols in [(9, 33), (130, 7), (151, 2627)]:
            check(columns(rows, cols, rows, dtype))
            check(spikes(rows, cols, dtype))


def test_layouts(simd, threads):
    # F order, reversed and strided views are gathered; a 3-d array with
    # the channels last is the same layout as its 2-d reshape.
    x = columns(700, 600, 4)
    threads(2)
    check(np.asfortranarray(x))
    check(x[::-1, ::-1])
    check(x[::2, ::3])
    check(x.reshape(7, 100, 600))
    check(x.reshape(7, 100, 600), axis=2)


def test_converted_dtypes_in_chunks(threads):
    # integer inputs go to the kernels a slab at a time, some of which start
    # inside a row (a row longer than a slab)
    rng = np.random.default_rng(2)
    for shape in [(3, (1 << 19) + 3), (2000, 300)]:
        x = rng.integers(-(10**6), 10**6, shape).astype(np.int32)
        for t in (1, 2):
            threads(t)
            check(x)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("shape", [(37, 3), (130, 129), (151, 2627), (140_000, 3)])
def test_nonfinite_anywhere_leaves_out_alone(simd, threads, bad, shape):
    rows, cols = shape
    x = columns(rows, cols, 1)
    n = rows * cols
    # the first and last element, the rows after the last group of narrow
    # rows, and the elements where 2 and 3 threads' slices start
    flat = sorted({0, n - 1, n - cols - 1, n // 2, n // 3, 2 * n // 3, n // 3 - 1})
    for t in (1, 2, 3):
        threads(t)
        for i in flat:
            where = divmod(i, cols)
            y = x.copy()
            y[where] = bad
            before = y.copy()
            out = np.full(y.shape, 42, np.int8)
            pattern = rf"x\[{where[0]}, {where[1]}\]"
            with pytest.raises(ValueError, match=pattern):
                int8q.quantize(y, axis=1, out=out)
            assert (out == 42).all()
            with pytest.raises(ValueError, match=pattern):
                int8q.quantize_dequantize(y, axis=1)
            with pytest.raises(ValueError, match=pattern):
                int8q.absmax(y, axis=1)
            np.testing.assert_array_equal(y, before)
