"""Conv, Gemm and float16 models through int8q.io against onnxruntime's
quantize_dynamic: the same nodes in order, every initializer byte for byte,
onnxruntime's outputs bit for bit; and a clear refusal where
quantize_dynamic fails or writes a model onnxruntime does not load.
Skips without onnx and onnxruntime (test extras; CI installs both)."""

import os

import numpy as np
import pytest
from onnx_conv_models import (
    conv_feeds,
    conv_model,
    conv_weight_input,
    export_cnn,
    float16_gather,
    float16_model,
    gemm_feeds,
    gemm_model,
    gemm_taken_name,
)
from onnx_models import assert_same, both, graph_bytes, quantize_dynamic, run

import int8q.io
from int8q.io import FormatError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


# ---- Conv ----


@pytest.mark.parametrize(
    "bias, group, dims, names",
    [
        (True, 1, 2, True),
        (False, 1, 2, True),
        (True, 2, 2, False),
        (False, 4, 1, True),
        (True, 1, 1, False),
        (True, 2, 3, True),
    ],
)
@pytest.mark.parametrize("kind", ["normal", "ties", "zero"])
def test_conv_matches_quantize_dynamic(tmp_path, bias, group, dims, names, kind):
    src = conv_model(
        tmp_path / "m.onnx", seed=group, kind=kind, bias=bias, group=group, dims=dims, names=names
    )
    ours, theirs = both(tmp_path, src)
    assert ops(theirs).count("ConvInteger") == 3  # else the comparison is vacuous
    assert_same(ours, theirs, conv_feeds(dims))


OPTIONS = [
    ({"per_channel": True}, {"per_channel": True}),
    ({"reduce_range": True}, {"reduce_range": True}),
    ({"weight_type": "QUInt8"}, {"weight_type": "QUInt8"}),
    (
        {"weight_type": "QUInt8", "per_channel": True, "reduce_range": True},
        {"weight_type": "QUInt8", "per_channel": True, "reduce_range": True},
    ),
    ({"op_types": ["MatMul"]}, {"op_types_to_quantize": ["MatMul"]}),
    ({"skip": ["conv[13]"]}, {"nodes_to_exclude": ["conv1", "conv3"]}),
]


@pytest.mark.parametrize("ours, theirs", OPTIONS)
def test_conv_options_match_quantize_dynamic(tmp_path, ours, theirs):
    from onnxruntime.quantization import QuantType

    if "weight_type" in theirs:
        theirs = dict(theirs, weight_type=getattr(QuantType, theirs["weight_type"]))
    src = conv_model(tmp_path / "m.onnx", seed=4)
    assert_same(*both(tmp_path, src, ours, **theirs), conv_feeds())


def test_conv_weight_that_is_not_an_initializer(tmp_path):
    src = conv_weight_input(tmp_path / "m.onnx")
    ours, theirs = both(tmp_path, src)
    assert ops(theirs).count("DynamicQuantizeLinear") == 2
    rng = np.random.default_rng(0)
    feeds = {
        "x": rng.standard_normal((1, 2, 5, 5)).astype(np.float32),
        "w": rng.standard_normal((3, 2, 3, 3)).astype(np.float32),
    }
    assert_same(ours, theirs, feeds)


def test_conv_bias_with_a_weight_that_is_not_an_initializer_is_refused(tmp_path):
    # quantize_dynamic fails on it (add_bias: "Expected w to be an initializer")
    src = conv_weight_input(tmp_path / "m.onnx", bias=True)
    with pytest.raises(ValueError, match="initializer"):
        quantize_dynamic(src, tmp_path / "ort.onnx")
    with pytest.raises(FormatError, match="not an initializer"):
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    assert not os.path.exists(tmp_path / "q.onnx")


def test_conv_with_an_empty_bias_input_is_refused(tmp_path):
    # quantize_dynamic writes a Reshape of "" there: onnxruntime does not load it
    import onnxruntime as ort
    from onnx import TensorProto, helper, numpy_helper

    w = numpy_helper.from_array(np.ones((3, 2, 3, 3), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(
        [helper.make_node("Conv", ["x", "w", ""], ["y"], "c")], "g", [x], [y], [w]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "m.onnx"))
    with pytest.raises(FormatError, match="empty bias"):
        int8q.io.quantize_file(tmp_path / "m.onnx", tmp_path / "q.onnx")
    quantize_dynamic(tmp_path / "m.onnx", tmp_path / "ort.onnx")
    with pytest.raises(Exception, match="Reshape"):
        ort.InferenceSession(str(tmp_path / "ort.onnx"), providers=["CPUExecutionProvider"])


# ---- Gemm ----

GEMMS = [
    {},
    {"transB": 1},
    {"transB": 0, "alpha": 1.0, "beta": 1.0, "transA": 0},
    {"alpha": 0.5},
    {"beta": 2.0, "transB": 1},
    {"transA": 1},
]


@pytest.mark.parametrize("attrs", GEMMS)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("names", [True, False])
def test_gemm_matches_quantize_dynamic(tmp_path, attrs, bias, names):
    src = gemm_model(tmp_path / "m.onnx", seed=len(attrs), attrs=attrs, bias=bias, names=names)
    ours, theirs = both(tmp_path, src)
    assert "MatMulInteger" in ops(theirs)
    assert_same(ours, theirs, gemm_feeds(attrs))


@pytest.mark.parametrize("attrs", [{}, {"transB": 1}])
def test_gemm_whose_b_is_not_an_initializer(tmp_path, attrs):
    src = gemm_model(tmp_path / "m.onnx", attrs=attrs, b_input=True)
    ours, theirs = both(tmp_path, src)
    assert_same(ours, theirs, gemm_feeds(attrs, b_input=True))


def test_gemm_transposed_name_taken(tmp_path):
    src = gemm_taken_name(tmp_path / "m.onnx")
    ours, theirs = both(tmp_path, src)
    assert "w_Transposed_1_quantized" in graph_bytes(theirs)["initializers"]
    feeds = {"x": np.random.default_rng(0).standard_normal((3, 8)).astype(np.float32)}
    assert_same(ours, theirs, feeds)


@pytest.mark.parametrize(
    "ours, theirs",
    [
        # the MatMul a Gemm becomes stays float: its B_Transposed is kept
        ({"op_types": ["Gather"]}, {"op_types_to_quantize": ["Gather"]}),
        ({"skip": ["gemm1_MatMul"]}, {"nodes_to_exclude": ["gemm1_MatMul"]}),
        # a Gemm's own name excludes nothing: its MatMul is named otherwise
        ({"skip": ["gemm1"]}, {"nodes_to_exclude": ["gemm1"]}),
        ({"per_channel": True}, {"per_channel": True}),
        ({"reduce_range": True, "weight_type": "QUInt8"}, {"reduce_range": True}),
    ],
)
def test_gemm_options_match_quantize_dynamic(tmp_path, ours, theirs):
    from onnxruntime.quantization import QuantType

    if ours.get("weight_type") == "QUInt8":
        theirs = dict(theirs, weight_type=QuantType.QUInt8)
    attrs = {"transB": 1}
    src = gemm_model(tmp_path / "m.onnx", seed=9, attrs=attrs)
    assert_same(*both(tmp_path, src, ours, **theirs), gemm_feeds(attrs))


def test_gemm_model_with_external_data(tmp_path):
    src = gemm_model(tmp_path / "m.onnx", attrs={"transB": 1})
    model = onnx.load(str(src))
    onnx.save(model, str(src), save_as_external_data=True, location="m.w", size_threshold=64)
    for ours, theirs in [
        ({}, {}),
        ({"op_types": ["Gather"]}, {"op_types_to_quantize": ["Gather"]}),
    ]:
        a, b = both(tmp_path, src, dict(ours, force=True), **theirs)
        assert os.path.exists(str(a) + ".data")
        ta, tb = (onnx.load(str(p)).graph for p in (a, b))
        assert [t.name for t in ta.initializer] == [t.name for t in tb.initializer]
        for x, y in zip(ta.initializer, tb.initializer, strict=True):
            want = onnx.numpy_helper.to_array(y)
            assert np.array_equal(onnx.numpy_helper.to_array(x), want), x.name
        assert [n.SerializeToString() for n in ta.node] == [n.SerializeToString() for n in tb.node]
        for x, y in zip(run(a, gemm_feeds()), run(b, gemm_feeds()), strict=True):
            assert np.array_equal(x.view(np.uint8), y.view(np.uint8))


# ---- float16 ----


@pytest.mark.parametrize(
    "op, opset, why",
    [
        ("MatMul", 17, "DynamicQuantizeLinear"),
        ("MatMul", 21, "DynamicQuantizeLinear"),
        ("Conv", 17, "DynamicQuantizeLinear"),
        ("Conv", 21, "DynamicQuantizeLinear"),
        ("Gather", 17, "DequantizeLinear"),
        ("Gather", 18, "DequantizeLinear"),
    ],
)
def test_float16_that_quantize_dynamic_makes_unloadable_is_refused(tmp_path, op, opset, why):
    import onnxruntime as ort

    src = float16_model(tmp_path / "m.onnx", op, opset=opset)
    with pytest.raises(FormatError, match="float16") as info:
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    assert why in str(info.value) and "\n" not in str(info.value)
    assert not os.path.exists(tmp_path / "q.onnx")
    # the reason: onnxruntime does not load what quantize_dynamic writes
    quantize_dynamic(src, tmp_path / "ort.onnx")
    with pytest.raises(Exception, match=why):
        ort.InferenceSession(str(tmp_path / "ort.onnx"), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("kind", ["normal", "ties", "zero", "subnormal", "positive"])
@pytest.mark.parametrize("opset", [19, 21])
def test_float16_gather_matches_quantize_dynamic(tmp_path, kind, opset):
    src = float16_gather(tmp_path / "m.onnx", kind=kind, opset=opset)
    feeds = {"ids": np.array([0, 7, 39, 7], np.int64)}
    ours, theirs = both(tmp_path, src)
    assert graph_bytes(theirs)["initializers"]["emb_scale"] is not None
    assert_same(ours, theirs, feeds)


@pytest.mark.parametrize("storage", ["bits", "external"])
def test_float16_gather_stored_otherwise(tmp_path, storage):
    src = float16_gather(tmp_path / "m.onnx", storage=storage, seed=3)
    feeds = {"ids": np.array([1, 2, 3, 39], np.int64)}
    ours, theirs = both(tmp_path, src)
    ta, tb = (onnx.load(str(p)).graph for p in (ours, theirs))
    assert [t.name for t in ta.initializer] == [t.name for t in tb.initializer]
    for x, y in zip(ta.initializer, tb.initializer, strict=True):
        want = onnx.numpy_helper.to_array(y)
        got = onnx.numpy_helper.to_array(x)
        assert got.dtype == want.dtype and np.array_equal(got, want), x.name
    assert [n.SerializeToString() for n in ta.node] == [n.SerializeToString() for n in tb.node]
    for x, y in zip(run(ours, feeds), run(theirs, feeds), strict=True):
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8))


# ---- the command line, and a real exported CNN ----


def test_command_line_on_conv_and_gemm(tmp_path, capsys):
    from cli import run as cli

    src = conv_model(tmp_path / "m.onnx", seed=2)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    code, _, err = cli(capsys, "quantize", src, "-o", ours, "--skip", "conv2")
    assert code == 0, err
    quantize_dynamic(src, theirs, nodes_to_exclude=["conv2"])
    assert_same(ours, theirs, conv_feeds())
    src = gemm_model(tmp_path / "g.onnx", attrs={"transB": 1})
    ours = tmp_path / "int8q-g.onnx"
    code, _, err = cli(capsys, "quantize", src, "-o", ours, "--skip", "gemm2_MatMul")
    assert code == 0, err
    quantize_dynamic(src, theirs, nodes_to_exclude=["gemm2_MatMul"])
    assert_same(ours, theirs, gemm_feeds({"transB": 1}))


def test_exported_cnn_matches_quantize_dynamic(tmp_path):
    pytest.importorskip("torch")
    src = export_cnn(tmp_path / "cnn.onnx")
    assert {"Conv", "Gemm"} <= set(ops(src))
    feeds = {"x": np.random.default_rng(0).standard_normal((2, 3, 8, 8)).astype(np.float32)}
    for ours, theirs in [({}, {}), ({"per_channel": True}, {"per_channel": True})]:
        a, b = both(tmp_path, src, dict(ours, force=True), **theirs)
        assert {"ConvInteger", "MatMulInteger"} <= set(ops(b))
        assert_same(a, b, feeds)


def test_inspect_and_compare_conv_gemm_and_float16(tmp_path):
    # compare finds each quantized weight's original: B_Transposed is B transposed
    for src, names in [
        (gemm_model(tmp_path / "g.onnx", attrs={"transB": 1}), {"w1_Transposed", "w2_Transposed"}),
        (conv_model(tmp_path / "c.onnx"), {"w1", "w2", "w3"}),
        (float16_gather(tmp_path / "f.onnx"), {"emb"}),
    ]:
        dst = tmp_path / ("q-" + src.name)
        int8q.io.quantize_file(src, dst)
        rows = {r["name"]: r for r in int8q.io.compare_files(src, dst)}
        assert set(rows) == names
        assert all(r["sqnr_db"] > 30 for r in rows.values())
    w = onnx.numpy_helper.to_array(onnx.load(str(tmp_path / "g.onnx")).graph.initializer[1])
    rows = {r["name"]: r for r in int8q.io.inspect_file(tmp_path / "q-g.onnx")}
    assert rows["w1_Transposed_quantized"]["shape"] == w.T.shape
    rows = {r["name"]: r for r in int8q.io.inspect_file(tmp_path / "q-f.onnx")}
    assert rows["emb_quantized"]["original_dtype"] == "float16"
    assert rows["emb_scale"]["dtype"] == "float16"


@pytest.mark.parametrize(
    "trans_b, b_inside, main_gemm_first",
    [(0, False, False), (1, False, False), (1, True, False), (1, False, True), (1, True, True)],
)
def test_gemm_inside_a_subgraph_matches_quantize_dynamic(
    tmp_path, trans_b, b_inside, main_gemm_first
):
    # quantize_dynamic rewrites Gemm in subgraphs too (into MatMul, a B
    # transposed into the subgraph), and quantizes nothing there
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    rng = np.random.default_rng(trans_b)
    shape = (300, 4) if trans_b else (4, 300)  # 4.8 KB: past the 1 KiB round trip
    w = numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32), "w")
    inner_init = [w] if b_inside else []
    out = [helper.make_tensor_value_info("b", f, None)]
    gemm = helper.make_node("Gemm", ["x", "w"], ["b"], "inner", transB=trans_b)
    then = helper.make_graph([gemm], "t", [], out, inner_init)
    other = helper.make_graph([helper.make_node("Relu", ["x"], ["r"], "r")], "e", [], [])
    other.output.extend([helper.make_tensor_value_info("r", f, None)])
    nodes = [helper.make_node("If", ["c"], ["y"], "if", then_branch=then, else_branch=other)]
    outs = [helper.make_tensor_value_info("y", f, None)]
    init = [] if b_inside else [w]
    if main_gemm_first:
        v = numpy_helper.from_array(
            rng.standard_normal(shape).astype(np.float32), "w" if not b_inside else "v"
        )
        if b_inside:
            init.append(v)
        else:
            init[0] = v
        nodes.insert(0, helper.make_node("Gemm", ["x", v.name], ["z"], "outer", transB=trans_b))
        outs.append(helper.make_tensor_value_info("z", f, None))
    inputs = [
        helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        helper.make_tensor_value_info("x", f, [2, 4]),
    ]
    graph = helper.make_graph(nodes, "g", inputs, outs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "m.onnx"))
    ours, theirs = both(tmp_path, tmp_path / "m.onnx")
    (node,) = [n for n in onnx.load(str(theirs)).graph.node if n.op_type == "If"]
    branches = node.attribute
    assert "MatMul" in [n.op_type for a in branches for n in a.g.node]
    x = rng.standard_normal((2, 4)).astype(np.float32)
    for c in (True, False):
        assert_same(ours, theirs, {"c": np.array(c), "x": x})


def test_subgraph_initializers_of_a_kibibyte_and_more_match(tmp_path):
    # quantize_dynamic's save-and-reload round trip (external data past
    # 1 KiB) sets their data_location, inside subgraphs too
    from onnx import TensorProto, helper, numpy_helper

    f = TensorProto.FLOAT
    rng = np.random.default_rng(1)
    big = numpy_helper.from_array(rng.standard_normal((4, 300)).astype(np.float32), "inner_w")
    w = numpy_helper.from_array(rng.standard_normal((4, 300)).astype(np.float32), "w")
    out = [helper.make_tensor_value_info("b", f, None)]
    then = helper.make_graph(
        [helper.make_node("MatMul", ["x", "inner_w"], ["b"], "i")], "t", [], out, [big]
    )
    other = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["b"], "o")], "e", [], out)
    node = helper.make_node("If", ["c"], ["y"], "if", then_branch=then, else_branch=other)
    inputs = [
        helper.make_tensor_value_info("c", TensorProto.BOOL, []),
        helper.make_tensor_value_info("x", f, [2, 4]),
    ]
    graph = helper.make_graph(
        [node], "g", inputs, [helper.make_tensor_value_info("y", f, None)], [w]
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(tmp_path / "m.onnx"))
    ours, theirs = both(tmp_path, tmp_path / "m.onnx")
    x = rng.standard_normal((2, 4)).astype(np.float32)
    for c in (True, False):
        assert_same(ours, theirs, {"c": np.array(c), "x": x})
