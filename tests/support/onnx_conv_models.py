"""Small ONNX models with Conv and Gemm nodes, built with onnx.helper (and
a tiny CNN exported with torch), for the comparisons with onnxruntime's
quantize_dynamic."""

import warnings

import numpy as np
from onnx_models import weights


def _save(path, nodes, inputs, outputs, init, opset=17):
    import onnx
    from onnx import helper

    graph = helper.make_graph(nodes, "g", inputs, outputs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def conv_model(path, seed=0, kind="normal", bias=True, group=1, dims=2, names=True):
    """x (1, 4, 6[, 6]) -> Conv (bias or not, `group`) -> Relu -> Conv
    (no bias, a second reader of the same weight kind) -> y, and a third
    Conv reading x again (x quantized once)."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    k = (3,) * dims
    init = [
        numpy_helper.from_array(weights(rng, (8, 4 // group, *k), kind), "w1"),
        numpy_helper.from_array(weights(rng, (5, 8, *(1,) * dims), kind), "w2"),
        numpy_helper.from_array(weights(rng, (5, 4, *k), kind), "w3"),
    ]
    b1 = ["b1"] if bias else []
    if bias:
        init.append(numpy_helper.from_array(weights(rng, (8,), "normal"), "b1"))
        init.append(numpy_helper.from_array(weights(rng, (5,), "normal"), "b3"))

    def n(name):
        return name if names else ""

    pads = [1] * (2 * dims)
    nodes = [
        helper.make_node("Conv", ["x", "w1", *b1], ["h"], n("conv1"), group=group, pads=pads),
        helper.make_node("Relu", ["h"], ["h2"], n("relu")),
        helper.make_node("Conv", ["h2", "w2"], ["y"], n("conv2"), strides=[1] * dims),
        helper.make_node(
            "Conv",
            ["x", "w3", *(["b3"] if bias else [])],
            ["z"],
            n("conv3"),
            auto_pad="SAME_UPPER",
            dilations=[1] * dims,
        ),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, *(6,) * dims])
    outs = [helper.make_tensor_value_info(v, TensorProto.FLOAT, None) for v in ("y", "z")]
    return _save(path, nodes, [x], outs, init)


def conv_feeds(dims=2, seed=1):
    rng = np.random.default_rng(seed)
    return {"x": rng.standard_normal((1, 4, *(6,) * dims)).astype(np.float32)}


def conv_weight_input(path, bias=False):
    """A Conv whose weight is a graph input, not an initializer."""
    from onnx import TensorProto, helper, numpy_helper

    init = [numpy_helper.from_array(np.ones(3, np.float32), "b")] if bias else []
    nodes = [helper.make_node("Conv", ["x", "w", *(["b"] if bias else [])], ["y"], "conv")]
    inputs = [
        helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5]),
        helper.make_tensor_value_info("w", TensorProto.FLOAT, [3, 2, 3, 3]),
    ]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    return _save(path, nodes, inputs, outs, init)


def gemm_model(path, seed=0, kind="normal", attrs=None, bias=True, b_input=False, names=True):
    """x (3, 8) -> Gemm(`attrs`, C or not) -> Relu -> Gemm(transB=1, sharing
    nothing) -> y, and a second Gemm reading the first one's B (transposed
    once); with `b_input` the first Gemm's B is a graph input."""
    from onnx import TensorProto, helper, numpy_helper

    attrs = dict(attrs or {})
    rng = np.random.default_rng(seed)
    trans_b = attrs.get("transB", 0)
    trans_a = attrs.get("transA", 0)
    b_shape = (6, 8) if trans_b else (8, 6)
    init = [numpy_helper.from_array(weights(rng, (5, 6), kind), "w2")]
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, [8, 3] if trans_a else [3, 8])]
    if b_input:
        inputs.append(helper.make_tensor_value_info("w1", TensorProto.FLOAT, list(b_shape)))
    else:
        init.append(numpy_helper.from_array(weights(rng, b_shape, kind), "w1"))
    c = []
    if bias:
        init.append(numpy_helper.from_array(weights(rng, (6,), "normal"), "c1"))
        c = ["c1"]

    def n(name):
        return name if names else ""

    nodes = [
        helper.make_node("Gemm", ["x", "w1", *c], ["h"], n("gemm1"), **attrs),
        helper.make_node("Relu", ["h"], ["h2"], n("relu")),
        helper.make_node("Gemm", ["h2", "w2"], ["y"], n("gemm2"), transB=1),
    ]
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    if not b_input and not trans_a:
        # a second reader of w1, through the same rewrite
        nodes.append(helper.make_node("Gemm", ["x", "w1"], ["z"], n("gemm3"), **attrs))
        outs.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, None))
    return _save(path, nodes, inputs, outs, init)


def gemm_feeds(attrs=None, b_input=False, seed=2):
    rng = np.random.default_rng(seed)
    attrs = attrs or {}
    x = rng.standard_normal((8, 3) if attrs.get("transA") else (3, 8)).astype(np.float32)
    feeds = {"x": x}
    if b_input:
        shape = (6, 8) if attrs.get("transB") else (8, 6)
        feeds["w1"] = rng.standard_normal(shape).astype(np.float32)
    return feeds


def gemm_taken_name(path):
    """A Gemm (transB=1) whose B's transposed name is already a value's:
    onnxruntime picks ``w_Transposed_1``."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(5)
    init = [numpy_helper.from_array(weights(rng, (6, 8)), "w")]
    nodes = [
        helper.make_node("Relu", ["x"], ["w_Transposed_scale"], "r"),
        helper.make_node("Gemm", ["w_Transposed_scale", "w"], ["y"], "g", transB=1),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [3, 8])
    outs = [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)]
    return _save(path, nodes, [x], outs, init)


def float16_model(path, op, opset=21):
    """One float16 MatMul, Gather or Conv with a float16 initializer."""
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(0)
    h = TensorProto.FLOAT16
    if op == "Gather":
        w = rng.standard_normal((5, 3)).astype(np.float16)
        node = helper.make_node("Gather", ["w", "x"], ["y"], "n")
        x = helper.make_tensor_value_info("x", TensorProto.INT64, [2])
    elif op == "MatMul":
        w = rng.standard_normal((4, 3)).astype(np.float16)
        node = helper.make_node("MatMul", ["x", "w"], ["y"], "n")
        x = helper.make_tensor_value_info("x", h, [2, 4])
    else:
        w = rng.standard_normal((3, 2, 3, 3)).astype(np.float16)
        node = helper.make_node("Conv", ["x", "w"], ["y"], "n")
        x = helper.make_tensor_value_info("x", h, [1, 2, 5, 5])
    outs = [helper.make_tensor_value_info("y", h, None)]
    return _save(path, [node], [x], outs, [numpy_helper.from_array(w, "w")], opset)


def export_cnn(path, seed=0):
    """A tiny CNN (Conv2d with and without bias, a grouped Conv2d, Conv1d
    through a reshape, Linear layers that export as Gemm) exported with
    torch.onnx.export (TorchScript exporter); input "x" (2, 3, 8, 8)."""
    import torch

    torch.manual_seed(seed)

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.c1 = torch.nn.Conv2d(3, 8, 3, padding=1)
            self.c2 = torch.nn.Conv2d(8, 8, 3, padding=1, groups=2, bias=False)
            self.c3 = torch.nn.Conv1d(8, 4, 3)
            self.fc1 = torch.nn.Linear(4 * 62, 16)
            self.fc2 = torch.nn.Linear(16, 5)

        def forward(self, x):
            h = torch.relu(self.c1(x))
            h = torch.relu(self.c2(h))
            h = self.c3(h.flatten(2))
            return self.fc2(torch.relu(self.fc1(h.flatten(1))))

    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Net().eval(),
            (torch.zeros(2, 3, 8, 8),),
            str(path),
            input_names=["x"],
            output_names=["y"],
            opset_version=17,
            dynamo=False,
        )
    return path


def float16_gather(path, kind="normal", opset=21, storage="raw", seed=0):
    """ids -> Gather of a float16 table -> y, a second Gather -> Transpose ->
    t; the table stored as raw_data, int32_data ("bits") or external data."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    table = weights(rng, (40, 6), kind).astype(np.float16)
    if kind == "subnormal":  # a float16 subnormal scale
        table = (rng.standard_normal((40, 6)) * 1e-5).astype(np.float16)
    if storage == "bits":
        w = helper.make_tensor("emb", TensorProto.FLOAT16, table.shape, table.reshape(-1).tolist())
    else:
        w = numpy_helper.from_array(table, "emb")
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["y"], "gather"),
        helper.make_node("Gather", ["emb", "ids"], ["e"], "gather2"),
        helper.make_node("Transpose", ["e"], ["t"], "transpose", perm=[1, 0]),
    ]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, [4])
    h = TensorProto.FLOAT16
    outs = [helper.make_tensor_value_info(v, h, None) for v in ("y", "t")]
    graph = helper.make_graph(nodes, "g", [ids], outs, [w])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 10
    if storage == "external":
        onnx.save(model, str(path), save_as_external_data=True, location="w", size_threshold=0)
    else:
        onnx.save(model, str(path))
    return path
