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
from onnx_peer import inputs, ort_quantize_linear, run_model  # noqa: E402


def test_onnxruntime_quantize_linear_is_fully_covered():
    # The peer runs; otherwise every comparison below would be vacuous.
    x = np.array([0.0, 1.0, 2.6], np.float32)
    y = ort_quantize_linear(x, np.array(0.5, np.float32), np.array(1, np.uint8))
    assert y.tolist() == [1, 3, 6]


CASES = [
    ((1000,), {}),
    ((64, 130), {"axis": 0}),
    ((64, 130), {"axis": 1}),
    ((6, 5, 40), {"axis": 1}),
    ((64, 130), {"block_size": 32}),
    ((7, 3, 70), {"block_size": 16}),
    ((5, 33), {"block_size": 33}),
    # blocks along a non-last axis (opset 21)
    ((64, 130), {"axis": 0, "block_size": 32}),
    ((7, 3, 70), {"axis": 1, "block_size": 2}),
    ((6, 5, 40), {"axis": -3, "block_size": 4}),
    ((5, 33), {"axis": 0, "block_size": 9}),
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
