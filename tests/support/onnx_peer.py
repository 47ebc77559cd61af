"""onnxruntime as the peer of int8q's affine path: one-node ONNX models run
on the CPU.  Importing this module needs onnxruntime and onnx: import it after
``pytest.importorskip``."""

import numpy as np
import onnxruntime as ort
from onnx import TensorProto, helper

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
        # blocks along `axis` (ONNX opset 21), the last axis by default
        attrs["axis"] = x.ndim - 1 if axis is None else axis
        attrs["block_size"] = block_size
    node = helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs)
    qtype = ONNX_TYPES[zero_point.dtype]
    inputs = [
        helper.make_tensor_value_info("x", ONNX_TYPES[x.dtype], x.shape),
        helper.make_tensor_value_info("s", ONNX_TYPES[scale.dtype], scale.shape),
        helper.make_tensor_value_info("z", qtype, zero_point.shape),
    ]
    outputs = [helper.make_tensor_value_info("y", qtype, x.shape)]
    return run_model([node], inputs, outputs, {"x": x, "s": scale, "z": zero_point})[0]


def ort_dequantize_linear(q, scale, zero_point, axis=None, block_size=None):
    """onnxruntime's DequantizeLinear (opset 21): blocks along `axis` with
    block_size, per channel with axis alone."""
    attrs = {}
    if axis is not None:
        attrs["axis"] = axis
    if block_size is not None:
        attrs["axis"] = q.ndim - 1 if axis is None else axis
        attrs["block_size"] = block_size
    node = helper.make_node("DequantizeLinear", ["q", "s", "z"], ["y"], **attrs)
    inputs = [
        helper.make_tensor_value_info("q", ONNX_TYPES[q.dtype], q.shape),
        helper.make_tensor_value_info("s", ONNX_TYPES[scale.dtype], scale.shape),
        helper.make_tensor_value_info("z", ONNX_TYPES[zero_point.dtype], zero_point.shape),
    ]
    outputs = [helper.make_tensor_value_info("y", ONNX_TYPES[scale.dtype], q.shape)]
    return run_model([node], inputs, outputs, {"q": q, "s": scale, "z": zero_point})[0]


def inputs(rng, shape):
    """Normal data, exact ties, large values that saturate, and zeros."""
    x = rng.standard_normal(shape).astype(np.float32) * 4
    flat = x.reshape(-1)
    flat[::7] = (rng.integers(-300, 300, flat[::7].shape) + 0.5) * 0.25  # ties at scale 0.25
    flat[::11] = rng.choice([-1e6, 1e6, 0.0, -0.0], flat[::11].shape)
    return x
