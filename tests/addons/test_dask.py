"""int8q.dask against int8q.quantize, bit for bit: threads scheduler and a
real two-process LocalCluster."""

import doctest
import os

import numpy as np
import pytest
from numpy.exceptions import AxisError

da = pytest.importorskip("dask.array")
import dask  # noqa: E402

import int8q  # noqa: E402
import int8q.dask  # noqa: E402
from int8q.dask import block_aligned_chunks  # noqa: E402

GRANULARITIES = [
    {},
    {"axis": 0},
    {"axis": 1},
    {"axis": -1},
    {"block_size": 1},
    {"block_size": 4},
    {"block_size": 7},
    {"block_size": 64},
    # blocks along axis 0 (ONNX's blocked granularity): chunks of axis 0 move
    {"axis": 0, "block_size": 4},
    {"axis": -2, "block_size": 1},
    {"axis": 0, "block_size": 64},
]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def data(shape, dtype, seed=0):
    """Normal values plus half-integers, so that the per-tensor scale is 1
    and ``x / scale`` has exact ties: rounding mode matters."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 20
    x.flat[::3] = rng.integers(-254, 255, x.size)[::3] / 2
    x.flat[5] = 127
    if np.dtype(dtype).kind in "iu":
        return np.round(x).astype(dtype)
    return x.astype(dtype)


def check(x_np, chunks, kw, rounding="half_even", scheduler="threads"):
    want = int8q.quantize(x_np, rounding=rounding, **kw)
    qt = int8q.dask.quantize(da.from_array(x_np, chunks=chunks), rounding=rounding, **kw)
    q, scale, d = dask.compute(qt.q, qt.scale, qt.dequantize(), scheduler=scheduler)
    msg = f"{x_np.dtype} {x_np.shape} chunks={chunks} {kw} {rounding}"
    assert same_bits(q, want.q), msg
    assert same_bits(scale, want.scale), msg
    assert same_bits(d, want.dequantize()), msg
    return qt


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16, np.int16])
@pytest.mark.parametrize("rounding", ["half_even", "half_away"])
def test_bit_identical_to_in_memory(dtype, rounding):
    x = data((37, 50), dtype)
    for chunks in [(10, 7), (37, 50), (1, 16), (37, 3)]:
        for kw in GRANULARITIES:
            check(x, chunks, kw, rounding)


def test_three_dimensions_and_odd_chunks():
    x = data((5, 6, 33), np.float32, seed=1)
    for kw in [{}, {"axis": 0}, {"axis": 1}, {"axis": 2}, {"block_size": 8}, {"block_size": 10}]:
        check(x, ((2, 3), (1, 4, 1), (10, 10, 13)), kw)
    for kw in [
        {"axis": 1, "block_size": 4},
        {"axis": 0, "block_size": 2},
        {"axis": 1, "block_size": 7},
    ]:
        check(x, ((2, 3), (1, 4, 1), (10, 10, 13)), kw)


def test_zero_chunks_and_tiny_values():
    x = np.zeros((6, 20), np.float32)
    x[4, 3:9] = 1e-40  # subnormal, in one chunk only
    for kw in [{}, {"axis": 0}, {"block_size": 5}]:
        check(x, (2, 5), kw)


def test_chunks_kept_unless_blocks_demand_it():
    x = da.from_array(data((8, 48), np.float32), chunks=(3, 16))
    assert int8q.dask.quantize(x).q.chunks == x.chunks
    assert int8q.dask.quantize(x, axis=0).q.chunks == x.chunks
    assert int8q.dask.quantize(x, axis=1).q.chunks == x.chunks
    assert int8q.dask.quantize(x, block_size=8).q.chunks == x.chunks
    # 16 and 32 are not multiples of 5: the cuts move down to 15 and 30.
    assert int8q.dask.quantize(x, block_size=5).q.chunks == ((3, 3, 2), (15, 15, 18))
    assert int8q.dask.quantize(x, block_size=5).scale.shape == (8, 10)
    # blocks along axis 0: its cuts 3 and 6 move down to multiples of 2
    assert int8q.dask.quantize(x, axis=0, block_size=2).q.chunks == ((2, 4, 2), (16, 16, 16))
    assert int8q.dask.quantize(x, axis=0, block_size=2).scale.shape == (4, 48)
    assert int8q.dask.quantize(x, axis=0, block_size=3).q.chunks == x.chunks


def test_block_aligned_chunks():
    assert block_aligned_chunks((16, 16, 16), 48, 8) == (16, 16, 16)
    assert block_aligned_chunks((16, 16, 16), 48, 5) == (15, 15, 18)
    assert block_aligned_chunks((3, 3, 3, 3), 12, 8) == (8, 4)  # merged
    assert block_aligned_chunks((4, 4), 8, 32) == (8,)
    assert block_aligned_chunks((10,), 10, 4) == (10,)


def test_given_scale_second_pass():
    x_np = data((20, 30), np.float32, seed=2)
    x = da.from_array(x_np, chunks=(7, 11))
    for kw in [{}, {"axis": 0}, {"axis": 1}, {"block_size": 4}, {"axis": 0, "block_size": 4}]:
        want = int8q.quantize(x_np, **kw)
        scale = int8q.dask.quantize(x, **kw).scale.compute(scheduler="threads")
        for given in (scale, da.from_array(scale)):
            qt = int8q.dask.quantize(x, scale=given, **kw)
            assert same_bits(qt.q.compute(scheduler="threads"), want.q), kw
    with pytest.raises(ValueError, match=r"scale of shape \(3,\) does not broadcast"):
        int8q.dask.quantize(x, axis=0, scale=np.ones(3, np.float32))


def test_compute_returns_qtensor():
    x_np = data((9, 12), np.float64)
    qt = int8q.dask.quantize(da.from_array(x_np, chunks=4), axis=1)
    got = qt.compute(scheduler="threads")
    assert isinstance(got, int8q.QTensor) and got.axis == 1
    want = int8q.quantize(x_np, axis=1)
    assert same_bits(got.q, want.q) and same_bits(got.scale, want.scale)
    assert same_bits(
        qt.dequantize(np.float16).compute(scheduler="threads"), want.dequantize(np.float16)
    )
    assert "axis=1" in repr(qt)
    assert repr(qt).startswith("DaskQTensor(") and "chunks=" in repr(qt)
    assert not isinstance(qt, int8q.QTensor)  # a lazy tensor is not an in-memory one


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"block_size": 4}, {"axis": 0, "block_size": 4}])
def test_nonfinite_raises_at_compute_time(kw):
    x_np = data((12, 10), np.float32)
    x_np[9, 7] = np.nan
    qt = int8q.dask.quantize(da.from_array(x_np, chunks=(5, 5)), **kw)  # lazy: no error yet
    with pytest.raises(ValueError, match=r"x\[9, 7\] is nan"):
        qt.q.compute(scheduler="threads")


def test_bad_arguments_raise_at_once():
    x = da.ones((4, 6), chunks=2)
    with pytest.raises(AxisError):
        int8q.dask.quantize(x, axis=2)
    with pytest.raises(AxisError):
        int8q.dask.quantize(x, axis=2, block_size=2)
    with pytest.raises(ValueError, match="rounding"):
        int8q.dask.quantize(x, rounding="up")
    with pytest.raises(TypeError):
        int8q.dask.quantize(x.astype(np.complex64))
    with pytest.raises(TypeError, match="dask.array.Array"):
        int8q.dask.quantize(np.ones(3))
    with pytest.raises(ValueError, match="unknown chunk sizes"):
        int8q.dask.quantize(x[x[:, 0] > 0])


def test_docstring_examples():
    result = doctest.testmod(int8q.dask, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# --- a real cluster: two worker processes on loopback -----------------------


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    distributed = pytest.importorskip("distributed")
    # Dask's scratch space (worker directories, locks) goes with the test's tmp.
    scratch = str(tmp_path_factory.mktemp("dask"))
    with (
        dask.config.set({"temporary-directory": scratch}),
        distributed.LocalCluster(
            processes=True,
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            # A free port: None means Dask's default :8787, and a port taken
            # by another process turns Dask's warning into a test error.
            dashboard_address=":0",
        ) as cluster,
        distributed.Client(cluster, set_as_default=False) as c,
    ):
        yield c


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1}, {"block_size": 16}])
def test_local_cluster_bit_identical(client, kw):
    x_np = data((64, 200), np.float32, seed=3)
    want = int8q.quantize(x_np, **kw)
    qt = int8q.dask.quantize(da.from_array(x_np, chunks=(16, 50)), **kw)
    q, scale = client.compute([qt.q, qt.scale], sync=True)
    assert same_bits(q, want.q) and same_bits(scale, want.scale)
    # Two worker processes, neither of them this one.
    pids = set(client.run(os.getpid).values())
    assert len(pids) == 2 and os.getpid() not in pids


def test_local_cluster_nonfinite(client):
    x_np = data((16, 16), np.float64)
    x_np[3, 12] = -np.inf
    qt = int8q.dask.quantize(da.from_array(x_np, chunks=4))
    with pytest.raises(ValueError, match=r"x\[3, 12\] is -inf"):
        client.compute(qt.q, sync=True)
