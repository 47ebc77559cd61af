"""Given scales, zero points and asymmetric uint8 against onnxruntime, the
peer whose operators int8q's affine path follows (ONNX QuantizeLinear,
opset 21 for blocks, and DynamicQuantizeLinear).  Skips without
onnxruntime and onnx (test extras)."""

import numpy as np
import pytest

import int8q

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
from onnx import TensorProto, helper  # noqa: E402

ONNX_TYPES = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.float16): TensorProto.FLOAT16,
    np.dtype(np.int8): TensorProto.INT8,
    np.dtype(np.uint8): TensorProto.UINT8,
}


def run_model(nodes, inputs, outputs, feeds):
    graph = helper.make_graph(nodes, "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    options = ort.SessionOptions()
    options.log_severity_level = 3
    session = ort.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )
    return session.run(None, feeds)


def ort_quantize_linear(x, scale, zero_point, axis=None, block_size=None):
    attrs = {}
    if axis is not None:
        attrs["axis"] = axis
    if block_size is not None:
        attrs["axis"], attrs["block_size"] = x.ndim - 1, block_size
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs)
    qtype = ONNX_TYPES[zero_point.dtype]
    inputs = [
        helper.make_tensor_value_info("x", ONNX_TYPES[x.dtype], x.shape),
        helper.make_tensor_value_info("s", ONNX_TYPES[scale.dtype], scale.shape),
        helper.make_tensor_value_info("z", qtype, zero_point.shape),
    ]
    outputs = [helper.make_tensor_value_info("y", qtype, x.shape)]
    return run_model([node], inputs, outputs, {"x": x, "s": scale, "z": zero_point})[0]


def test_onnxruntime_quantize_linear_is_fully_covered():
    # The peer runs; otherwise every comparison below would be vacuous.
    x = np.array([0.0, 1.0, 2.6], np.float32)
    y = ort_quantize_linear(x, np.array(0.5, np.float32), np.array(1, np.uint8))
    assert y.tolist() == [1, 3, 6]


def inputs(rng, shape):
    """Normal data, exact ties, large values that saturate, and zeros."""
    x = rng.standard_normal(shape).astype(np.float32) * 4
    flat = x.reshape(-1)
    flat[::7] = (rng.integers(-300, 300, flat[::7].shape) + 0.5) * 0.25  # ties at scale 0.25
    flat[::11] = rng.choice([-1e6, 1e6, 0.0, -0.0], flat[::11].shape)
    return x


CASES = [
    ((1000,), {}),
    ((64, 130), {"axis": 0}),
    ((64, 130), {"axis": 1}),
    ((6, 5, 40), {"axis": 1}),
    ((64, 130), {"block_size": 32}),
    ((7, 3, 70), {"block_size": 16}),
    ((5, 33), {"block_size": 33}),
]


@pytest.mark.parametrize("shape, kw", CASES)
@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
def test_quantize_linear_matches_onnxruntime(shape, kw, qdtype):
    rng = np.random.default_rng(sum(shape))
    x = inputs(rng, shape)
    gran_shape = int8q.absmax(x, **kw).shape
    for scale_kind in ("quarter", "random"):
        if scale_kind == "quarter":
            scale = np.full(gran_shape, 0.25, np.float32)
        else:
            scale = (rng.uniform(1e-3, 0.2, gran_shape)).astype(np.float32)
        info = np.iinfo(qdtype)
        zp = rng.integers(info.min, info.max, gran_shape, endpoint=True).astype(qdtype)
        axis = kw.get("axis")
        want = ort_quantize_linear(
            x, scale, zp, axis=None if axis is None else axis, block_size=kw.get("block_size")
        )
        got = int8q.quantize(x, scale=scale, zero_point=zp, qdtype=qdtype, **kw)
        assert got.q.dtype == want.dtype
        np.testing.assert_array_equal(got.q, want, err_msg=f"{shape} {kw} {scale_kind}")


def test_quantize_linear_float16_input_matches_onnxruntime():
    rng = np.random.default_rng(4)
    x = inputs(rng, (300,)).clip(-60000, 60000).astype(np.float16)
    scale = np.array(0.037, np.float16)
    zp = np.array(-17, np.int8)
    want = ort_quantize_linear(x, scale, zp)
    np.testing.assert_array_equal(int8q.quantize(x, scale=scale, zero_point=zp).q, want)


@pytest.mark.parametrize("shift", [0.0, 2.5, -2.5, 100.0])
def test_asymmetric_uint8_matches_dynamic_quantize_linear(shift):
    rng = np.random.default_rng(int(shift * 10) + 50)
    node = helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"])
    for shape in [(1,), (257,), (40, 96)]:
        x = (rng.standard_normal(shape) * 3 + shift).astype(np.float32)
        ins = [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)]
        outs = [
            helper.make_tensor_value_info("y", TensorProto.UINT8, shape),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, ()),
            helper.make_tensor_value_info("z", TensorProto.UINT8, ()),
        ]
        y, s, z = run_model([node], ins, outs, {"x": x})
        qt = int8q.quantize(x, symmetric=False, qdtype=np.uint8)
        assert qt.scale.tobytes() == s.tobytes(), (shape, qt.scale, s)
        assert qt.zero_point.tobytes() == z.tobytes(), (shape, qt.zero_point, z)
        np.testing.assert_array_equal(qt.q, y)


def test_dequantize_matches_onnxruntime_dequantize_linear():
    rng = np.random.default_rng(8)
    q = rng.integers(0, 256, (20, 30)).astype(np.uint8)
    scale = rng.uniform(1e-3, 1, 30).astype(np.float32)
    zp = rng.integers(0, 256, 30).astype(np.uint8)
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], axis=1)
    ins = [
        helper.make_tensor_value_info("q", TensorProto.UINT8, q.shape),
        helper.make_tensor_value_info("s", TensorProto.FLOAT, scale.shape),
        helper.make_tensor_value_info("z", TensorProto.UINT8, zp.shape),
    ]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, q.shape)]
    (want,) = run_model([node], ins, outs, {"q": q, "s": scale, "z": zp})
    got = int8q.dequantize(q, scale, zero_point=zp, axis=1)
    assert got.tobytes() == want.tobytes()
