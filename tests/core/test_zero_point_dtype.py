"""ONNX typing of given zero points, and out-of-range zero points of any size.

Without ``qdtype=``, an int8 or uint8 NumPy zero point sets the type of q, as
ONNX QuantizeLinear takes its output type from the zero point: the same
parameters give onnxruntime's result bit for bit, per tensor, per axis and per
block.  Python ints keep the int8 default; a conflicting ``qdtype=`` is an
error.
"""

import numpy as np
import pytest

import int8q
from int8q import reference

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")
from onnx_peer import inputs, ort_quantize_linear  # noqa: E402

CASES = [
    ((1000,), {}),
    ((64, 130), {"axis": 0}),
    ((6, 5, 40), {"axis": 1}),
    ((64, 130), {"block_size": 32}),
    ((7, 3, 70), {"block_size": 16}),
    ((7, 3, 70), {"axis": 0, "block_size": 3}),
]


@pytest.mark.parametrize("shape, kw", CASES)
@pytest.mark.parametrize("zp_dtype", [np.uint8, np.int8])
def test_zero_point_dtype_sets_the_output_type_as_onnxruntime(shape, kw, zp_dtype):
    rng = np.random.default_rng(sum(shape) + 7)
    x = inputs(rng, shape)
    gran_shape = int8q.absmax(x, **kw).shape
    scale = rng.uniform(1e-3, 0.2, gran_shape).astype(np.float32)
    info = np.iinfo(zp_dtype)
    zp = rng.integers(info.min, info.max, gran_shape, endpoint=True).astype(zp_dtype)
    if zp_dtype == np.uint8:
        zp.reshape(-1)[0] = 128  # beyond int8: refused before
    want = ort_quantize_linear(x, scale, zp, axis=kw.get("axis"), block_size=kw.get("block_size"))
    assert want.dtype == zp_dtype
    got = int8q.quantize(x, scale=scale, zero_point=zp, **kw)  # no qdtype=
    assert got.q.dtype == want.dtype and got.qdtype == want.dtype
    assert got.q.tobytes() == want.tobytes(), (shape, kw)
    assert got.zero_point.dtype == zp_dtype
    np.testing.assert_array_equal(got.zero_point, zp)
    # The general path (out=) types it the same way.
    out = np.empty(x.shape, zp_dtype)
    got = int8q.quantize(x, scale=scale, zero_point=zp, out=out, **kw)
    assert got.q is out and out.tobytes() == want.tobytes()


@pytest.mark.parametrize("zp", [np.uint8(200), np.array(200, np.uint8), np.int8(-5)])
def test_numpy_scalar_zero_point_per_tensor(zp):
    x = inputs(np.random.default_rng(3), (500,))
    scale = np.array(0.05, np.float32)
    want = ort_quantize_linear(x, scale, np.asarray(zp))
    for s in (scale, 0.05, np.float32(0.05)):
        got = int8q.quantize(x, scale=s, zero_point=zp)
        assert got.q.dtype == want.dtype and got.q.tobytes() == want.tobytes()


def test_python_ints_keep_the_int8_default():
    x = np.linspace(-3, 3, 50, dtype=np.float32)
    qt = int8q.quantize(x, scale=0.1, zero_point=5)
    assert qt.q.dtype == np.int8
    np.testing.assert_array_equal(qt.q, reference.quantize_given(x, 0.1, 5, qdtype=np.int8))
    lists = int8q.quantize(x.reshape(5, 10), axis=0, scale=0.1, zero_point=[5, 0, 1, 2, 3])
    assert lists.q.dtype == np.int8
    # Other integer dtypes are not ONNX output types: the default stays.
    assert int8q.quantize(x, scale=0.1, zero_point=np.int32(5)).q.dtype == np.int8
    with pytest.raises(ValueError, match=r"zero_point must lie in \[-128, 127\]"):
        int8q.quantize(x, scale=0.1, zero_point=200)
    assert int8q.quantize(x, scale=0.1, zero_point=200, qdtype=np.uint8).q.dtype == np.uint8


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"block_size": 2}])
def test_conflicting_qdtype_is_an_error(kw):
    x = np.ones((4, 4), np.float32)
    shape = int8q.absmax(x, **kw).shape
    for zp, qdtype in (
        (np.full(shape, 128, np.uint8), np.int8),
        (np.full(shape, -1, np.int8), np.uint8),
        (np.full(shape, 1, np.int8), "uint8"),
    ):
        with pytest.raises(TypeError, match="qdtype"):
            int8q.quantize(x, scale=0.5, zero_point=zp, qdtype=qdtype, **kw)
    # A matching qdtype is fine, spelled either way.
    zp = np.full(shape, 128, np.uint8)
    for qdtype in (np.uint8, "uint8", np.dtype(np.uint8)):
        assert int8q.quantize(x, scale=0.5, zero_point=zp, qdtype=qdtype, **kw).q.dtype == np.uint8


@pytest.mark.parametrize(
    "zp", [2**70, -(2**70), [0, 2**64], np.array(2**70, dtype=object), 2**63, 2**64 - 1]
)
@pytest.mark.parametrize("qdtype", [None, np.uint8])
def test_out_of_range_zero_points_of_any_size_are_value_errors(zp, qdtype):
    x = np.ones(2, np.float32)
    kw = {} if qdtype is None else {"qdtype": qdtype}
    with pytest.raises(ValueError, match="zero_point must lie in"):
        int8q.quantize(x, scale=0.1, zero_point=zp, **kw)
    with pytest.raises(ValueError, match="zero_point must lie in"):
        int8q.dequantize(np.zeros(2, np.uint8), 0.1, zero_point=zp)


@pytest.mark.parametrize("qdtype", ["(,)", "i1,", "int16", 2**70, object, "<U3", "[("])
def test_hostile_qdtype_is_a_type_error_naming_it(qdtype):
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="qdtype"):
        int8q.quantize(x, scale=0.5, zero_point=0, qdtype=qdtype)
    with pytest.raises(TypeError, match="qdtype"):
        int8q.Calibrator(symmetric=False, qdtype=qdtype)


@pytest.mark.parametrize("dtype", ["(,)", "[(", 2**70])
def test_dequantize_dtype_np_dtype_cannot_read_is_a_type_error(dtype):
    with pytest.raises(TypeError, match="dtype"):
        int8q.dequantize(np.zeros(3, np.int8), np.float32(0.5), dtype=dtype)
