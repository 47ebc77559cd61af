"""Calibrator(block_size=...): one range per block, along the last axis or
along `axis`, as int8q.quantize's blocks; batches of one shape; saved and
loaded; the same state from a Dask array, whatever its chunking."""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from numpy.exceptions import AxisError

import int8q

# (shape, axis, block_size): last-axis blocks, blocks along axis 0 and a
# middle axis, remainders, a block longer than its axis, 1-D.
CASES = [
    ((6, 32), None, 8),
    ((6, 30), None, 7),
    ((6, 30), -1, 4),
    ((10, 5), 0, 4),
    ((10, 5), 0, 3),
    ((10, 5), 0, 64),
    ((3, 7, 4), 1, 2),
    ((3, 7, 4), 1, 5),
    ((5, 4, 1), 0, 2),
    ((9,), None, 4),
    ((9,), 0, 2),
    ((4, 6), None, 100),
]
VARIANTS = [(True, np.int8), (False, np.int8), (False, np.uint8)]


def sample(shape, seed=0, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(3, shape) * np.linspace(0.5, 8, shape[-1])
    x.flat[::5] = 0.0
    x.flat[1::7] = -0.0
    return x.astype(dtype)


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def block_ranges(batches, axis, block_size):
    """Per block, [min(0, min), max(0, max)] over every batch: NumPy's
    reduceat along the blocked axis, an oracle independent of int8q."""
    k = batches[0].ndim - 1 if axis is None else axis % batches[0].ndim
    starts = np.arange(0, batches[0].shape[k], block_size)
    lo = np.minimum.reduce([np.minimum.reduceat(b, starts, axis=k) for b in batches])
    hi = np.maximum.reduce([np.maximum.reduceat(b, starts, axis=k) for b in batches])
    return np.minimum(lo, 0), np.maximum(hi, 0)


@pytest.mark.parametrize("shape, axis, block_size", CASES)
@pytest.mark.parametrize("symmetric, qdtype", VARIANTS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_one_batch_equals_quantize(shape, axis, block_size, symmetric, qdtype, dtype):
    x = sample(shape, dtype=dtype)
    kw = dict(axis=axis, block_size=block_size, symmetric=symmetric, qdtype=qdtype)
    cal = int8q.Calibrator("minmax", **kw).update(x)
    whole = int8q.quantize(x, **kw)
    assert same_bits(cal.scale, whole.scale)
    if symmetric:
        assert cal.zero_point is None
    else:
        assert same_bits(cal.zero_point, whole.zero_point)
    assert same_bits(cal.quantize(x).q, whole.q)
    # the calibrated scales given back to quantize, as a user would
    given_ = int8q.quantize(x, scale=cal.scale, zero_point=cal.zero_point, **kw)
    assert same_bits(given_.q, whole.q)
    assert cal.count == x.size


@pytest.mark.parametrize("shape, axis, block_size", CASES)
@pytest.mark.parametrize("symmetric, qdtype", VARIANTS)
def test_batches_merge_per_block(shape, axis, block_size, symmetric, qdtype):
    batches = [sample(shape, seed=s) * (s + 1) for s in range(3)]
    kw = dict(axis=axis, block_size=block_size, symmetric=symmetric, qdtype=qdtype)
    cal = int8q.Calibrator("minmax", **kw)
    for b in batches:
        cal.update(b)
    lo, hi = block_ranges(batches, axis, block_size)
    # Each block's range as a channel of a (2, blocks) array: quantize's own
    # rule on it gives the scale (and zero point) of that range.
    per_channel = int8q.quantize(
        np.stack([lo.reshape(-1), hi.reshape(-1)]), axis=1, symmetric=symmetric, qdtype=qdtype
    )
    assert cal.scale.shape == lo.shape
    assert same_bits(cal.scale.reshape(-1), per_channel.scale)
    if not symmetric:
        assert same_bits(cal.zero_point.reshape(-1), per_channel.zero_point)
    assert cal.count == 3 * batches[0].size


def test_batch_of_another_shape_is_refused_and_leaves_the_state():
    cal = int8q.Calibrator(axis=0, block_size=2).update(sample((4, 3)))
    before = cal.to_dict()
    for other in (sample((4, 4)), sample((5, 3)), sample((4, 3, 1)), sample((12,))):
        with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
            cal.update(other)
    assert cal.to_dict() == before
    with pytest.raises(ValueError, match="shape"):  # (quantize's own message)
        cal.quantize(sample((4, 4)))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(block_size=0), ValueError, "block_size must be >= 1"),
        (dict(block_size=2.0), TypeError, "block_size"),
        (dict(block_size=True), TypeError, "block_size"),
        (dict(block_size=4, method="percentile"), ValueError, "minmax"),
        (dict(block_size=4, method="mse"), ValueError, "minmax"),
    ],
)
def test_bad_options(kwargs, error, match):
    with pytest.raises(error, match=match):
        int8q.Calibrator(**kwargs)


@pytest.mark.parametrize("axis, x", [(2, sample((4, 3))), (None, np.float32(1.0))])
def test_axis_errors_as_quantize(axis, x):
    with pytest.raises(AxisError) as want:
        int8q.quantize(x, axis=axis, block_size=2)
    with pytest.raises(AxisError) as got:
        int8q.Calibrator(axis=axis, block_size=2).update(x)
    assert str(got.value) == str(want.value)


@pytest.mark.parametrize("shape, axis, block_size", CASES[:6])
@pytest.mark.parametrize("symmetric, qdtype", VARIANTS)
def test_to_dict_round_trips(shape, axis, block_size, symmetric, qdtype):
    x = sample(shape)
    kw = dict(axis=axis, block_size=block_size, symmetric=symmetric, qdtype=qdtype)
    cal = int8q.Calibrator(**kw).update(x)
    d = json.loads(json.dumps(cal.to_dict()))
    assert d["block_size"] == block_size and d["shape"] == list(shape)
    again = int8q.Calibrator.from_dict(d)
    assert same_bits(again.scale, cal.scale)
    assert same_bits(again.quantize(x).q, cal.quantize(x).q)
    assert again.to_dict() == cal.to_dict()
    # a loaded minmax calibrator takes more batches, of the same shape
    more = 3 * x
    assert again.update(more).to_dict() == cal.update(more).to_dict()
    with pytest.raises(ValueError, match="shape"):
        again.update(x[:1])


def test_dict_without_block_size_loads_as_before():
    x = sample((4, 3))
    d = int8q.Calibrator(axis=1).update(x).to_dict()
    assert d["block_size"] is None
    old = {k: v for k, v in d.items() if k not in ("block_size", "shape")}
    cal = int8q.Calibrator.from_dict(old)
    assert cal.block_size is None
    assert same_bits(cal.quantize(x).q, int8q.quantize(x, axis=1).q)


@pytest.mark.parametrize(
    "change, error, match",
    [
        ({"shape": None}, TypeError, "shape must be a list"),
        ({"shape": [4.0, 8]}, TypeError, "shape must be a list"),
        ({"shape": [4, -8]}, ValueError, "non-negative"),
        ({"shape": []}, ValueError, "non-negative"),
        ({"shape": [4, 16]}, ValueError, "scale has 8 values, expected 16"),
        ({"block_size": 0}, ValueError, "block_size"),
        ({"method": "mse"}, ValueError, "minmax"),
    ],
)
def test_bad_dicts_are_refused(change, error, match):
    d = int8q.Calibrator(block_size=4).update(sample((4, 8))).to_dict()
    d.update(change)
    with pytest.raises(error, match=match):
        int8q.Calibrator.from_dict(d)


def test_shape_without_block_size_is_refused():
    d = int8q.Calibrator(axis=1).update(sample((4, 3))).to_dict()
    d["shape"] = [4, 3]
    with pytest.raises(ValueError, match="shape must be null"):
        int8q.Calibrator.from_dict(d)


def test_dict_without_shape_is_refused():
    d = int8q.Calibrator(block_size=4).update(sample((4, 8))).to_dict()
    del d["shape"]
    with pytest.raises(ValueError, match="'shape'"):
        int8q.Calibrator.from_dict(d)


# -- Dask --------------------------------------------------------------------
DASK_CASES = [
    ((10, 5), 0, 4, (3, 2)),  # chunks cut blocks along axis 0
    ((10, 5), 0, 4, ((1, 6, 3), (5,))),
    ((10, 5), 0, 4, (4, 5)),  # aligned
    ((10, 5), 0, 64, (3, 2)),
    ((6, 30), None, 7, (4, 8)),  # chunks cut last-axis blocks
    ((3, 7, 4), 1, 2, (2, 3, 3)),
    ((3, 7, 4), 1, 3, ((1, 2), (7,), (1, 3))),
    ((9,), None, 4, (3,)),
    ((9,), 0, 2, ((1, 1, 5, 2),)),
]


@pytest.mark.parametrize("shape, axis, block_size, chunks", DASK_CASES)
@pytest.mark.parametrize("symmetric, qdtype", VARIANTS)
def test_dask_equals_numpy(shape, axis, block_size, chunks, symmetric, qdtype):
    da = pytest.importorskip("dask.array")
    x = sample(shape, seed=3)
    kw = dict(axis=axis, block_size=block_size, symmetric=symmetric, qdtype=qdtype)
    want = int8q.Calibrator(**kw).update(x)
    got = int8q.Calibrator(**kw).update(da.from_array(x, chunks=chunks))
    assert got.to_dict() == want.to_dict()
    assert same_bits(got.scale, want.scale)


def test_dask_of_another_shape_is_refused_before_computing():
    da = pytest.importorskip("dask.array")
    cal = int8q.Calibrator(axis=0, block_size=2).update(sample((4, 3)))
    before = cal.to_dict()
    with pytest.raises(ValueError, match=r"shape \(4, 3\)"):
        cal.update(da.from_array(sample((6, 3)), chunks=2))
    assert cal.to_dict() == before


def test_dask_nonfinite_names_its_index_in_the_whole_array():
    da = pytest.importorskip("dask.array")
    x = sample((10, 5))
    x[7, 3] = np.nan
    cal = int8q.Calibrator(axis=0, block_size=4)
    with pytest.raises(ValueError, match=r"\[7, 3\]"):
        cal.update(da.from_array(x, chunks=(3, 2)))
    with pytest.raises(ValueError, match="no data"):
        cal.to_dict()


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.data())
def test_dask_any_chunking(data):
    da = pytest.importorskip("dask.array")
    ndim = data.draw(st.integers(1, 3))
    shape = tuple(data.draw(st.lists(st.integers(1, 7), min_size=ndim, max_size=ndim)))
    axis = data.draw(st.sampled_from([None, *range(-ndim, ndim)]))
    block_size = data.draw(st.integers(1, 9))
    chunks = tuple(data.draw(st.integers(1, n)) for n in shape)
    x = sample(shape, seed=data.draw(st.integers(0, 9)))
    kw = dict(axis=axis, block_size=block_size, symmetric=False, qdtype=np.uint8)
    want = int8q.Calibrator(**kw).update(x)
    assert same_bits(want.scale, int8q.quantize(x, **kw).scale)
    got = int8q.Calibrator(**kw).update(da.from_array(x, chunks=chunks))
    assert got.to_dict() == want.to_dict()


def test_threads_sharing_a_block_calibrator_lose_no_update():
    from concurrent.futures import ThreadPoolExecutor

    batches = [sample((10, 5), seed=s) * (1 + s % 5) for s in range(40)]
    kw = dict(axis=0, block_size=3, symmetric=False, qdtype=np.uint8)
    shared = int8q.Calibrator(**kw)
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(shared.update, batches))
    alone = int8q.Calibrator(**kw)
    for b in batches:
        alone.update(b)
    assert shared.to_dict() == alone.to_dict()
