"""Calibrator.update on Dask arrays: any axis, any chunking (uneven, cut along
the channel axis and the others), every method, symmetric or not: the state
is the one the computed NumPy array gives, bit for bit."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.exceptions import AxisError

import int8q
from int8q import _calibrate

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

SETTINGS = settings(
    max_examples=int(os.environ.get("INT8Q_CALIB_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

# (shape, chunks): even, uneven, one element, cut along every axis.
CHUNKINGS = [
    ((4, 2), (2, 2)),  # the two cases
    ((4, 2), (3, 2)),
    ((4, 2), (1, 1)),
    ((4, 2), (4, 1)),
    ((7, 5), (3, 2)),
    ((7, 5), ((1, 4, 2), (2, 3))),
    ((7, 5), (7, 5)),
    ((6, 4, 3), (4, 3, 2)),
    ((6, 4, 3), ((1, 5), (1, 1, 2), (3,))),
    ((5, 0), (2, 1)),
    ((9,), (4,)),
]
VARIANTS = [
    (method, symmetric, qdtype)
    for method in _calibrate.METHODS
    for symmetric, qdtype in ((True, np.int8), (False, np.int8), (False, np.uint8))
]


def sample(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, shape) * np.linspace(0.5, 8, shape[-1] if shape else 1)
    x.flat[::5] = 0.0
    x.flat[1::7] = -0.0  # signed zeros: the state must not depend on their order
    return x.astype(dtype)


def state(cal):
    d = cal.to_dict()
    hist = None if cal._hist is None else (cal._hist.tobytes(), cal._exp.tobytes())
    return d, hist, repr(cal)


def assert_same_state(a, b):
    da_, ha, ra = state(a)
    db_, hb, rb = state(b)
    assert ra == rb
    assert da_ == db_
    assert ha == hb
    for name in ("scale", "zero_point"):
        x, y = getattr(a, name), getattr(b, name)
        assert (x is None and y is None) or (x.dtype == y.dtype and x.tobytes() == y.tobytes())


def axes(ndim):
    return [None] + list(range(-ndim, ndim))


@pytest.mark.parametrize("shape, chunks", CHUNKINGS)
@pytest.mark.parametrize("method, symmetric, qdtype", VARIANTS)
def test_dask_equals_numpy_for_every_chunking(shape, chunks, method, symmetric, qdtype):
    x = sample(shape, seed=len(shape) + shape[0])
    lazy = da.from_array(x, chunks=chunks)
    kw = dict(symmetric=symmetric, qdtype=qdtype, bins=64, percentile=90.0)
    for axis in axes(len(shape)):
        ref = int8q.Calibrator(method, axis=axis, **kw).update(x)
        got = int8q.Calibrator(method, axis=axis, **kw).update(lazy)
        assert_same_state(ref, got)


@pytest.mark.parametrize("method", _calibrate.METHODS)
def test_dask_then_numpy_batches_mix(method):
    """A Dask array merged into a state that already holds batches (the
    histogram ranges meet at the larger one) equals all batches in NumPy."""
    x = sample((40, 6), seed=3)
    small = x[:10] * 1e-3
    ref = int8q.Calibrator(method, axis=1).update(small).update(x).update(small * 1e4)
    got = int8q.Calibrator(method, axis=1).update(small)
    got.update(da.from_array(x, chunks=((7, 20, 13), (4, 2)))).update(small * 1e4)
    assert_same_state(ref, got)


@st.composite
def chunked(draw):
    ndim = draw(st.integers(1, 3))
    shape = tuple(draw(st.integers(1, 6)) for _ in range(ndim))
    chunks = []
    for n in shape:
        cuts = sorted(draw(st.sets(st.integers(1, n - 1), max_size=3))) if n > 1 else []
        edges = [0, *cuts, n]
        chunks.append(tuple(b - a for a, b in zip(edges, edges[1:])))
    axis = draw(st.sampled_from(axes(ndim)))
    method = draw(st.sampled_from(_calibrate.METHODS))
    symmetric = draw(st.booleans())
    dtype = draw(st.sampled_from([np.float16, np.float32, np.float64, np.int16]))
    scale = draw(st.sampled_from([1e-30, 1.0, 1e20]))
    seed = draw(st.integers(0, 2**16))
    return shape, tuple(chunks), axis, method, symmetric, dtype, scale, seed


@SETTINGS
@given(chunked())
def test_dask_equals_numpy_property(case):
    shape, chunks, axis, method, symmetric, dtype, scale, seed = case
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * scale
    if np.dtype(dtype).kind == "f":
        with np.errstate(over="ignore"):
            x = x.astype(dtype)
        x[~np.isfinite(x)] = 0
    else:
        x = np.clip(x * 1e3, -1000, 1000).astype(dtype)
    kw = dict(axis=axis, symmetric=symmetric, bins=16)
    ref = int8q.Calibrator(method, **kw).update(x)
    got = int8q.Calibrator(method, **kw).update(da.from_array(x, chunks=chunks))
    assert_same_state(ref, got)


def test_nonfinite_is_reported_in_array_coordinates_and_state_kept():
    x = sample((8, 6), seed=5)
    cal = int8q.Calibrator("percentile", axis=1).update(x)
    before = state(cal)
    bad = x.copy()
    bad[6, 4] = np.inf
    with pytest.raises(ValueError, match=r"batch\[6, 4\] is inf"):
        cal.update(da.from_array(bad, chunks=(3, 2)))
    assert state(cal) == before  # blocks read before the bad one are not kept


def test_dask_errors_are_numpy_errors_before_computing():
    x = sample((4, 3))
    computed = []

    def mark(block):
        if block.size:  # (map_blocks also calls it on an empty meta block)
            computed.append(1)
        return block

    lazy = da.from_array(x, chunks=2).map_blocks(mark, dtype=x.dtype)
    for axis in (2, -3):
        with pytest.raises(AxisError) as expected:
            int8q.quantize(x, axis=axis)
        with pytest.raises(AxisError) as got:
            int8q.Calibrator(axis=axis).update(lazy)
        assert str(got.value) == str(expected.value)
    complex_x = x.astype(np.complex64)
    with pytest.raises(TypeError) as expected:
        int8q.quantize(complex_x)
    with pytest.raises(TypeError) as got:
        int8q.Calibrator().update(da.from_array(complex_x).map_blocks(mark, dtype=complex_x.dtype))
    assert str(got.value) == str(expected.value)
    cal = int8q.Calibrator(axis=1).update(x)
    with pytest.raises(ValueError, match="channels"):
        cal.update(lazy.T)
    with pytest.raises(TypeError, match="float32"):
        cal.update(lazy.astype(np.float64))
    assert computed == []


def test_dask_with_unknown_chunk_sizes_is_refused():
    x = sample((6, 2))
    lazy = da.from_array(x, chunks=2)
    unknown = lazy[lazy[:, 0] > -1e9]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        int8q.Calibrator(axis=1).update(unknown)
    unknown.compute_chunk_sizes()
    assert_same_state(int8q.Calibrator(axis=1).update(x), int8q.Calibrator(axis=1).update(unknown))


def test_zero_dimensional_dask_array():
    x = np.float32(-2.5)
    with dask.config.set(scheduler="synchronous"):
        got = int8q.Calibrator("mse").update(da.from_array(np.asarray(x)))
    assert_same_state(int8q.Calibrator("mse").update(x), got)
