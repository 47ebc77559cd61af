"""Small ONNX models built with onnx.helper, and the comparison of a model
int8q quantized with the one onnxruntime's quantize_dynamic writes."""

import logging
import warnings

import numpy as np


def weights(rng, shape, kind="normal"):
    """float32 weights of a kind that stresses the arithmetic."""
    if kind == "zero":
        return np.zeros(shape, np.float32)
    if kind == "ties":
        # multiples of absmax/254 land on .5 after division: round half even decides
        x = (rng.integers(-254, 255, size=shape) / 2.0).astype(np.float32)
        x.flat[0] = 127.0
        return x
    if kind == "tiny":
        return (rng.standard_normal(shape) * 1e-39).astype(np.float32)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape).astype(np.float32)
    return rng.standard_normal(shape).astype(np.float32)


def transformer_like(path, seed=0, kind="normal", opset=17, external=False, names=True, vocab=50):
    """input_ids -> Gather (embedding) -> MatMul+Add -> Relu -> MatMul (a
    weight shared with a Transpose), a second Gather of the same table to an
    output, an unnamed MatMul, and a MatMul reading an activation twice."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)
    d, h = 16, 24
    init = [
        numpy_helper.from_array(weights(rng, (vocab, d), kind), "emb"),
        numpy_helper.from_array(weights(rng, (d, h), kind), "w1"),
        numpy_helper.from_array(weights(rng, (h,), "normal"), "b1"),
        numpy_helper.from_array(weights(rng, (h, d), kind), "w2"),
        numpy_helper.from_array(weights(rng, (d, d), "positive"), "w3"),
        numpy_helper.from_array(weights(rng, (3,), "normal"), "unused"),
    ]

    def n(name):
        return name if names else ""

    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["x"], n("gather")),
        helper.make_node("MatMul", ["x", "w1"], ["h0"], n("mm1")),
        helper.make_node("Add", ["h0", "b1"], ["h1"], n("add1")),
        helper.make_node("Relu", ["h1"], ["h2"], n("relu")),
        helper.make_node("MatMul", ["h2", "w2"], ["y0"], n("mm2")),
        helper.make_node("MatMul", ["y0", "w3"], ["y1"], ""),
        helper.make_node("MatMul", ["y0", "w3"], ["y2"], n("mm4")),
        helper.make_node("Add", ["y1", "y2"], ["y"], n("add2")),
        helper.make_node("Transpose", ["w2"], ["w2t"], n("transpose"), perm=[1, 0]),
        helper.make_node("Gather", ["emb", "ids"], ["e2"], n("gather2")),
    ]
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["b", "s"])
    outs = [
        helper.make_tensor_value_info("y", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("w2t", TensorProto.FLOAT, None),
        helper.make_tensor_value_info("e2", TensorProto.FLOAT, None),
    ]
    graph = helper.make_graph(nodes, "g", [ids], outs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    if external:
        onnx.save(
            model,
            str(path),
            save_as_external_data=True,
            location=path.name + ".weights",
            size_threshold=256,
        )
    else:
        onnx.save(model, str(path))
    return path


def quantize_dynamic(src, dst, **kw):
    from onnxruntime.quantization import QuantType
    from onnxruntime.quantization import quantize_dynamic as qd

    logging.disable(logging.WARNING)  # its "consider pre-processing" advice
    try:
        kw.setdefault("weight_type", QuantType.QInt8)
        qd(str(src), str(dst), **kw)
    finally:
        logging.disable(logging.NOTSET)


def graph_bytes(path):
    """The graph's nodes (in order), every initializer by name, inputs,
    outputs and value_info, each as serialized bytes (external data loaded)."""
    import onnx

    g = onnx.load(str(path)).graph
    return {
        "nodes": [n.SerializeToString() for n in g.node],
        "initializers": {t.name: t.SerializeToString() for t in g.initializer},
        "order": [t.name for t in g.initializer],
        "inputs": [i.SerializeToString() for i in g.input],
        "outputs": [o.SerializeToString() for o in g.output],
        "value_info": [v.SerializeToString() for v in g.value_info],
    }


def run(path, feeds):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    session = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return session.run(None, feeds)


def both(tmp_path, src, ours=None, **theirs):
    """`src` quantized by int8q.io.quantize_file (options `ours`) and by
    quantize_dynamic (options `theirs`): the two output paths."""
    import int8q.io

    a, b = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    int8q.io.quantize_file(src, a, **(ours or {}))
    quantize_dynamic(src, b, **theirs)
    return a, b


def assert_same(ours, theirs, feeds):
    """The same model: nodes in order, every initializer byte for byte (by
    name, in order), inputs, outputs, value_info and opsets; onnxruntime's
    outputs on `feeds` bit for bit."""
    import onnx

    a, b = graph_bytes(ours), graph_bytes(theirs)
    assert a["nodes"] == b["nodes"]
    assert a["order"] == b["order"]
    for name, data in b["initializers"].items():
        assert a["initializers"][name] == data, name
    assert a == b
    ma, mb = (onnx.load(str(p), load_external_data=False) for p in (ours, theirs))
    assert list(ma.opset_import) == list(mb.opset_import)
    for x, y in zip(run(ours, feeds), run(theirs, feeds), strict=True):
        assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))


def assert_same_values(ours, theirs, feed_sets):
    """For models with external data (where the tensors' data_location
    fields may differ): the same nodes, the same initializers in the same
    order with equal arrays, and onnxruntime's outputs bit for bit on each
    of `feed_sets`."""
    import onnx
    from onnx import numpy_helper

    ta, tb = (onnx.load(str(p)).graph for p in (ours, theirs))
    assert [n.SerializeToString() for n in ta.node] == [n.SerializeToString() for n in tb.node]
    arrays = {t.name: numpy_helper.to_array(t) for t in ta.initializer}
    assert list(arrays) == [t.name for t in tb.initializer]
    for t in tb.initializer:
        want = numpy_helper.to_array(t)
        assert arrays[t.name].dtype == want.dtype and np.array_equal(arrays[t.name], want), t.name
    for feeds in feed_sets:
        for x, y in zip(run(ours, feeds), run(theirs, feeds), strict=True):
            assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))


def export_minilm(folder, path, eager=False):
    """all-MiniLM-L6-v2 (the model folder `folder`) exported with
    torch.onnx.export (TorchScript exporter: no onnxscript needed), inputs
    input_ids, attention_mask, token_type_ids, output last_hidden_state.
    `eager`: transformers' eager attention (not SDPA), the graph that
    onnxruntime's transformer optimizer fuses into Attention nodes."""
    import torch
    import transformers

    kw = {"attn_implementation": "eager"} if eager else {}
    model = transformers.AutoModel.from_pretrained(str(folder), **kw).eval()

    class Encoder(torch.nn.Module):
        def __init__(self, model):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids):
            out = self.model(
                input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
            )
            return out.last_hidden_state

    ids = torch.ones(1, 8, dtype=torch.long)
    names = ["input_ids", "attention_mask", "token_type_ids"]
    # (the TorchScript exporter is deprecated, with a warning, from torch 2.9:
    # the dynamo one needs onnxscript, which CI does not install)
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            Encoder(model),
            (ids, ids, torch.zeros_like(ids)),
            str(path),
            input_names=names,
            output_names=["last_hidden_state"],
            dynamic_axes={n: {0: "batch", 1: "seq"} for n in [*names, "last_hidden_state"]},
            opset_version=17,
            dynamo=False,
        )
    return path
