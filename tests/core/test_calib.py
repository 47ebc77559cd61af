"""int8q.Calibrator: streaming ranges, exact minmax, order-free histograms,
bounded memory, saving and reloading."""

import json
import tracemalloc

import numpy as np
import pytest

import int8q
from int8q import reference


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def data(seed=0, n=6000, dim=24, dtype=np.float32):
    rng = np.random.default_rng(seed)
    x = rng.standard_t(4, (n, dim)) * np.linspace(0.1, 5, dim) + np.linspace(-1, 2, dim)
    return x.astype(dtype)


def feed(cal, x, sizes):
    start = 0
    for size in sizes:
        cal.update(x[start : start + size])
        start += size
    assert start >= len(x)
    return cal


@pytest.mark.parametrize("axis", [None, 1, -1])
@pytest.mark.parametrize(
    "symmetric, qdtype", [(True, np.int8), (False, np.int8), (False, np.uint8)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_minmax_equals_quantize_of_all_batches(axis, symmetric, qdtype, dtype):
    x = data(dtype=dtype)
    cal = feed(
        int8q.Calibrator("minmax", axis=axis, symmetric=symmetric, qdtype=qdtype),
        x,
        [1, 999, 2500, 2500],
    )
    whole = int8q.quantize(x, axis=axis, symmetric=symmetric, qdtype=qdtype)
    assert same_bits(cal.scale, whole.scale)
    if symmetric:
        assert cal.zero_point is None
    else:
        assert same_bits(cal.zero_point, whole.zero_point)
    assert same_bits(cal.quantize(x).q, whole.q)
    assert cal.count == x.size


@pytest.mark.parametrize("method", ["percentile", "mse"])
@pytest.mark.parametrize("axis, symmetric", [(None, True), (-1, True), (None, False), (1, False)])
def test_histogram_results_do_not_depend_on_batching_or_order(method, axis, symmetric):
    x = data(seed=1)
    kw = dict(axis=axis, symmetric=symmetric, percentile=99.5, bins=256)
    a = feed(int8q.Calibrator(method, **kw), x, [6000])
    b = feed(int8q.Calibrator(method, **kw), x[::-1], [3, 97, 900, 5000])
    c = int8q.Calibrator(method, **kw)
    # Small values first: the range doubles many times while bins merge.
    order = np.argsort(np.abs(x).max(axis=1))
    feed(c, x[order], [10] * 600)
    for other in (b, c):
        assert same_bits(a.scale, other.scale)
        if not symmetric:
            assert same_bits(a.zero_point, other.zero_point)


def order_statistics(values, p):
    """The sorted values around rank p% (the histogram answers the bin of
    the sample of rank ceil(p% of n), so it lies within a bin of these)."""
    v = np.sort(values.astype(np.float64))
    r = p / 100 * v.size
    return v[max(int(np.floor(r)) - 1, 0)], v[min(int(np.ceil(r)), v.size - 1)]


@pytest.mark.parametrize("p", [90.0, 99.0, 99.9])
def test_percentile_is_within_one_bin_of_the_order_statistic(p):
    x = data(seed=2, n=20000, dim=3)[:, 2]
    bins = 1024
    cal = feed(int8q.Calibrator("percentile", percentile=p, bins=bins), x, [7000, 7000, 6000])
    width = 2.0 ** np.ceil(np.log2(np.abs(x).max())) / bins
    lo, hi = order_statistics(np.abs(x), p)
    got = float(cal.scale) * 127
    assert lo - width <= got <= hi + width, (got, lo, hi, width)
    asym = feed(
        int8q.Calibrator("percentile", percentile=p, bins=bins, symmetric=False, qdtype=np.uint8),
        x,
        [20000],
    )
    top = order_statistics(x, p)
    bottom = order_statistics(x, 100 - p)
    span = float(asym.scale) * 255
    assert (
        max(top[0], 0) - min(bottom[1], 0) - 2 * width
        <= span
        <= max(top[1], 0) - min(bottom[0], 0) + 2 * width
    ), span


def test_mse_calibration_is_near_the_exact_search():
    """The histogram search lands within a few percent of the exact
    per-tensor search of quantize(clip="mse"), and never above minmax."""
    rng = np.random.default_rng(3)
    heavy = rng.standard_t(2, 200000).astype(np.float32)
    outliers = rng.standard_normal(200000).astype(np.float32)
    outliers[::20000] = 200.0
    for x in (heavy, outliers):
        errs = {}
        for method in ("minmax", "mse"):
            cal = feed(int8q.Calibrator(method), x, [50000] * 4)
            errs[method] = float(np.mean((cal.quantize(x).dequantize() - x) ** 2))
        exact = float(np.mean((int8q.quantize(x, clip="mse").dequantize() - x) ** 2))
        assert errs["mse"] <= 1.03 * exact, errs
        assert errs["mse"] <= errs["minmax"], errs


def test_generator_dask_and_iterator_inputs():
    x = data(seed=4, n=3000)
    ref = int8q.Calibrator("percentile", axis=-1).update(x)
    gen = int8q.Calibrator("percentile", axis=-1).update(
        x[i : i + 128] for i in range(0, 3000, 128)
    )
    it = int8q.Calibrator("percentile", axis=-1).update(iter([x[:1000], x[1000:]]))
    assert same_bits(ref.scale, gen.scale) and same_bits(ref.scale, it.scale)
    da = pytest.importorskip("dask.array")
    lazy = da.from_array(x, chunks=(500, 10))
    dk = int8q.Calibrator("percentile", axis=-1).update(lazy)
    assert same_bits(ref.scale, dk.scale)
    assert dk.count == x.size


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
@pytest.mark.parametrize("symmetric, axis", [(True, None), (False, -1)])
def test_to_dict_round_trips_through_json(method, symmetric, axis):
    x = data(seed=5)
    cal = int8q.Calibrator(method, axis=axis, symmetric=symmetric).update(x)
    text = json.dumps(cal.to_dict(), allow_nan=False)
    loaded = int8q.Calibrator.from_dict(json.loads(text))
    assert same_bits(loaded.scale, cal.scale)
    if symmetric:
        assert loaded.zero_point is None
    else:
        assert same_bits(loaded.zero_point, cal.zero_point)
    query = x[17]  # one query, quantized with the saved ranges
    assert same_bits(loaded.quantize(query).q, cal.quantize(query).q)
    assert np.count_nonzero(loaded.quantize(query).q) > 0
    if method == "minmax":  # a minmax calibrator keeps streaming after reloading
        more = x * 3
        loaded.update(more)
        assert same_bits(
            loaded.scale,
            int8q.Calibrator("minmax", axis=axis, symmetric=symmetric).update(x).update(more).scale,
        )
    else:
        with pytest.raises(ValueError, match="from_dict"):
            loaded.update(x)


def test_single_query_is_never_all_zero():
    """The failure the saved ranges avoid: abs-max of one small query alone is
    fine, but a range taken from one query and reused zeroes the others."""
    corpus = data(seed=6, n=4000)
    cal = int8q.Calibrator("percentile", axis=-1, percentile=99.9).update(corpus)
    rng = np.random.default_rng(7)
    for scale in (1.0, 0.05):
        query = (corpus[rng.integers(0, 4000)] * scale).astype(np.float32)
        q = cal.quantize(query).q
        assert np.count_nonzero(q) > query.size // 4


@pytest.mark.parametrize("axis", [None, -1])
def test_memory_is_bounded_by_the_histogram(axis):
    """Peak memory of update() beyond the batch stays a few MiB and does not
    grow with the number of batches (tracemalloc sees NumPy's buffers)."""
    rng = np.random.default_rng(8)
    batch = rng.standard_normal((1 << 16, 16)).astype(np.float32)  # 4 MiB
    cal = int8q.Calibrator("percentile", axis=axis)
    hist_bytes = 16 * 2048 * (1 if axis is None else 16)
    peaks = []
    for rounds in (2, 8):
        tracemalloc.start()
        for _ in range(rounds):
            cal.update(batch)
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        peaks.append(peak)
    assert peaks[1] <= 4 * 2**20 + hist_bytes, peaks
    assert peaks[1] <= peaks[0] + 2**16, peaks


def test_errors():
    with pytest.raises(ValueError, match="method"):
        int8q.Calibrator("kl")
    with pytest.raises(ValueError, match="uint8"):
        int8q.Calibrator(qdtype=np.uint8)
    with pytest.raises(ValueError, match="percentile"):
        int8q.Calibrator("percentile", percentile=0)
    with pytest.raises(ValueError, match="bins"):
        int8q.Calibrator("mse", bins=1000)
    with pytest.raises(ValueError, match="no data"):
        _ = int8q.Calibrator().scale
    cal = int8q.Calibrator("percentile", axis=-1).update(np.ones((3, 4), np.float32))
    with pytest.raises(ValueError, match="channels"):
        cal.update(np.ones((3, 5), np.float32))
    with pytest.raises(TypeError, match="float32"):
        cal.update(np.ones((3, 4)))
    bad = np.ones((3, 4), np.float32)
    bad[1, 2] = np.nan
    before = cal.to_dict()
    with pytest.raises(ValueError, match=r"batch\[1, 2\]"):
        cal.update(bad)
    assert cal.to_dict() == before
    with pytest.raises(TypeError):
        cal.update(np.array(["a"]))
    with pytest.raises(ValueError, match="Calibrator"):
        int8q.Calibrator.from_dict({"format": "other"})


def test_reference_agrees_on_minmax_asymmetric():
    x = data(seed=9)
    cal = int8q.Calibrator("minmax", axis=0, symmetric=False, qdtype=np.uint8).update(x)
    s, z = reference.asymmetric_params(x, np.uint8, axis=0)
    assert same_bits(cal.scale, s) and same_bits(cal.zero_point, z)


@pytest.mark.parametrize("method", ["percentile", "mse"])
@pytest.mark.parametrize("axis", [None, -1])
def test_subnormal_ranges(method, axis):
    """A channel whose abs-max is subnormal: the bins' factor 2^(log2(bins) - e)
    once overflowed to inf and indexed the histogram with garbage."""
    tiny = np.finfo(np.float64).smallest_subnormal
    x = np.array([[tiny, 0.0], [-tiny, 3 * tiny], [0.0, 1.0]])
    for bins in (2, 2048, 65536):
        cal = int8q.Calibrator(method, axis=axis, bins=bins).update(x[:2]).update(x[2:])
        assert cal._hist.sum() == x.size
        again = int8q.Calibrator(method, axis=axis, bins=bins).update(x)
        assert same_bits(cal.scale, again.scale)
        assert (cal.scale > 0).all()


@pytest.mark.parametrize("method", ["minmax", "percentile", "mse"])
def test_symmetric_range_covers_the_longer_side(method):
    """A symmetric calibration looks at |x|: x and -x calibrate alike, the
    longer (negative or positive) side setting the range."""
    rng = np.random.default_rng(6)
    x = np.concatenate([rng.uniform(-10, 0, 20000), rng.uniform(0, 1, 20000)])
    x = x.astype(np.float32)
    a = int8q.Calibrator(method).update(x)
    b = int8q.Calibrator(method).update(-x)
    np.testing.assert_allclose(a.scale, b.scale, rtol=0.02)
    assert 127 * float(np.max(a.scale)) > 5.0
