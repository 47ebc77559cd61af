"""Models with If, Loop and Scan nodes through int8q.io and the command
line, against onnxruntime's quantize_dynamic with its defaults (which
quantizes nothing inside subgraphs): the same graph, subgraphs included,
byte for byte, and onnxruntime's outputs bit for bit.  Skips without onnx
and onnxruntime."""

import os

import numpy as np
import pytest
from onnx_models import assert_same_values, graph_bytes, quantize_dynamic, run, weights

import int8q.io
from int8q.io import FormatError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

D = 4
SCAN = {"num_scan_inputs": 1, "scan_input_axes": [0]}


def _info(name, elem=TensorProto.FLOAT, shape=None):
    return helper.make_tensor_value_info(name, elem, shape)


def with_subgraphs(path, seed=0, kind="normal", else_reads="h", external=False):
    """Gather -> MatMul -> If (a MatMul on a subgraph initializer, an unused
    one, an outer initializer read only there; attributes then before
    else) -> Loop (whose body holds an If reading an initializer two graphs
    out) -> Scan."""
    rng = np.random.default_rng(seed)
    t = numpy_helper.from_array
    then_g = helper.make_graph(
        [
            helper.make_node("MatMul", ["h", "wt"], ["t0"], "then_mm"),
            helper.make_node("Add", ["t0", "b"], ["t"], "then_add"),
        ],
        "then",
        [],
        [_info("t")],
        [t(weights(rng, (D, D), kind), "wt"), t(weights(rng, (3,), kind), "dead")],
    )
    else_g = helper.make_graph(
        [helper.make_node("Relu", [else_reads], ["t"], "else_relu")], "else", [], [_info("t")]
    )
    inner = [
        helper.make_graph([helper.make_node("Add", ["v", "b2"], ["r"], n)], n, [], [_info("r")])
        for n in ("inner_then", "inner_else")
    ]
    body = helper.make_graph(
        [
            helper.make_node("Identity", ["c"], ["c_out"], "id"),
            helper.make_node(
                "If", ["c"], ["v_out"], "", then_branch=inner[0], else_branch=inner[1]
            ),
            helper.make_node("MatMul", ["v_out", "wl"], ["s"], "body_mm"),
        ],
        "body",
        [_info("i", TensorProto.INT64, []), _info("c", TensorProto.BOOL, []), _info("v")],
        [_info("c_out", TensorProto.BOOL, []), _info("v_out"), _info("s")],
        [t(weights(rng, (D, D), kind), "wl")],
    )
    scan_body = helper.make_graph(
        [
            helper.make_node("Add", ["acc", "row"], ["acc_out"], "scan_add"),
            helper.make_node("Identity", ["acc_out"], ["row_out"], "scan_id"),
        ],
        "scan_body",
        [_info("acc", shape=[D]), _info("row", shape=[D])],
        [_info("acc_out", shape=[D]), _info("row_out", shape=[D])],
    )
    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["x"], "gather"),
        helper.make_node("MatMul", ["x", "w"], ["h"], "mm"),
        helper.make_node("If", ["cond"], ["z"], "if", then_branch=then_g, else_branch=else_g),
        helper.make_node("Loop", ["trip", "", "z"], ["v_final", "loop_s"], "loop", body=body),
        helper.make_node(
            "Scan", ["zero", "h"], ["acc_final", "rows"], "scan", body=scan_body, **SCAN
        ),
    ]
    init = [
        t(weights(rng, (10, D), kind), "emb"),
        t(weights(rng, (D, D), kind), "w"),
        t(weights(rng, (D,), "normal"), "b"),
        t(weights(rng, (D,), "normal"), "b2"),
        t(np.zeros(D, np.float32), "zero"),
        t(np.array(3, np.int64), "trip"),
    ]
    inputs = [_info("ids", TensorProto.INT64, [2]), _info("cond", TensorProto.BOOL, [])]
    outs = [_info(n) for n in ("v_final", "loop_s", "acc_final", "rows")]
    graph = helper.make_graph(nodes, "g", inputs, outs, init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    if external:  # (size_threshold: the subgraphs' 4x4 weights stay in the model)
        threshold = 0 if external == "all" else 100
        onnx.save(
            model,
            str(path),
            save_as_external_data=True,
            location="w.data",
            size_threshold=threshold,
        )
    else:
        onnx.save(model, str(path))
    return path


def feeds(cond):
    return {"ids": np.array([1, 7]), "cond": np.array(cond)}


def assert_same(ours, theirs):
    a, b = graph_bytes(ours), graph_bytes(theirs)
    assert a["nodes"] == b["nodes"]
    assert a == b
    for cond in (True, False):
        for x, y in zip(run(ours, feeds(cond)), run(theirs, feeds(cond)), strict=True):
            assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8))


def test_the_peer_leaves_subgraphs_in_float_and_cleans_them(tmp_path):
    src = with_subgraphs(tmp_path / "m.onnx")
    quantize_dynamic(src, tmp_path / "q.onnx")
    g = onnx.load(str(tmp_path / "q.onnx")).graph
    node = next(n for n in g.node if n.op_type == "If")
    assert [a.name for a in node.attribute] == ["else_branch", "then_branch"]
    then_g = node.attribute[1].g
    assert [t.name for t in then_g.initializer] == ["wt"] and then_g.node[0].op_type == "MatMul"
    assert {"b", "b2"} <= {t.name for t in g.initializer}


@pytest.mark.parametrize("kind", ["normal", "ties", "zero"])
def test_subgraph_models_match_quantize_dynamic(tmp_path, kind):
    src = with_subgraphs(tmp_path / "m.onnx", seed=len(kind), kind=kind)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    int8q.io.quantize_file(src, ours)
    quantize_dynamic(src, theirs)
    assert_same(ours, theirs)


def test_external_data_main_graph_with_subgraphs(tmp_path):
    src = with_subgraphs(tmp_path / "m.onnx", external=True)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    int8q.io.quantize_file(src, ours)
    quantize_dynamic(src, theirs)
    assert os.path.exists(str(ours) + ".data")
    assert_same_values(ours, theirs, [feeds(True), feeds(False)])


def test_command_line_with_options(tmp_path, capsys):
    from cli import run as cli
    from onnxruntime.quantization import QuantType

    src = with_subgraphs(tmp_path / "m.onnx", seed=5)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    code, _, err = cli(
        capsys, "quantize", src, "-o", ours, "--per-channel", "--weight-type", "QUInt8"
    )
    assert code == 0, err
    quantize_dynamic(src, theirs, per_channel=True, weight_type=QuantType.QUInt8)
    assert_same(ours, theirs)


def test_a_quantized_value_only_a_subgraph_reads_is_refused(tmp_path):
    # onnxruntime: RuntimeError "Invalid model with unknown initializers/tensors"
    src = with_subgraphs(tmp_path / "m.onnx", else_reads="x")
    with pytest.raises(RuntimeError, match="unknown"):
        quantize_dynamic(src, tmp_path / "ort.onnx")
    with pytest.raises(FormatError, match="subgraph reads 'x'"):
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    assert not os.path.exists(tmp_path / "q.onnx")
    int8q.io.quantize_file(src, tmp_path / "q.onnx", skip=["gather"])  # left in float: fine


def test_subgraph_tensors_in_external_data_are_refused(tmp_path):
    src = with_subgraphs(tmp_path / "m.onnx", external="all")
    with pytest.raises(FormatError, match="subgraph .* in external data"):
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    assert sorted(os.listdir(tmp_path)) == ["m.onnx", "w.data"]


def test_malformed_subgraph_nodes_are_refused_in_one_line(tmp_path, capsys):
    from cli import run as cli

    model = onnx.load(str(with_subgraphs(tmp_path / "m.onnx")))
    node = next(n for n in model.graph.node if n.op_type == "If")
    node.attribute.add().name = "untyped"  # AttributeProto type 0
    onnx.save(model, str(tmp_path / "a.onnx"))
    del node.attribute[-1]
    then_g = next(a.g for a in node.attribute if a.name == "then_branch")
    then_g.node[0].input[0] = "nowhere"
    onnx.save(model, str(tmp_path / "b.onnx"))
    for name, match in (("a.onnx", "'untyped' has no usable type"), ("b.onnx", "'nowhere'")):
        code, _, err = cli(capsys, "quantize", tmp_path / name, "-o", tmp_path / "q.onnx")
        assert code == 2 and match in err and len(err.strip().splitlines()) == 1, err
        assert not os.path.exists(tmp_path / "q.onnx")
