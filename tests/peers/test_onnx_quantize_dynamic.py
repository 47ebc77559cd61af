"""ONNX models through int8q.io against onnxruntime's quantize_dynamic (the
peer the ONNX container follows): the same graph (nodes in order, every
initializer byte for byte, value_info) and onnxruntime's outputs bit for bit.
Skips without onnx and onnxruntime (test extras; CI installs both)."""

import os

import numpy as np
import onnx_models
import pytest
from onnx_models import graph_bytes, quantize_dynamic, run, transformer_like

import int8q.io
from int8q.io import FormatError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

FEEDS = {"ids": np.array([[0, 3, 7, 49], [12, 12, 1, 0]], np.int64)}


def both(tmp_path, src, **kw):
    """(int8q's output, quantize_dynamic's output) for `src`."""
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    int8q.io.quantize_file(src, ours, **kw.pop("int8q", {}))
    quantize_dynamic(src, theirs, **kw)
    return ours, theirs


def assert_same(ours, theirs, feeds=FEEDS):
    onnx_models.assert_same(ours, theirs, feeds)


def test_the_peer_quantizes_the_synthetic_model(tmp_path):
    # Else every comparison below would be vacuous.
    src = transformer_like(tmp_path / "m.onnx")
    quantize_dynamic(src, tmp_path / "q.onnx")
    ops = [n.op_type for n in onnx.load(str(tmp_path / "q.onnx")).graph.node]
    assert {"MatMulInteger", "DynamicQuantizeLinear", "DequantizeLinear"} <= set(ops)
    assert "Transpose" in ops


@pytest.mark.parametrize("kind", ["normal", "ties", "zero", "tiny"])
@pytest.mark.parametrize("names", [True, False])
def test_graph_and_outputs_match_quantize_dynamic(tmp_path, kind, names):
    src = transformer_like(tmp_path / "m.onnx", seed=len(kind), kind=kind, names=names)
    assert_same(*both(tmp_path, src))


def test_skip_excludes_nodes_as_nodes_to_exclude(tmp_path):
    src = transformer_like(tmp_path / "m.onnx")
    ours, theirs = both(
        tmp_path,
        src,
        int8q={"skip": ["mm[24]", "gather2"]},
        nodes_to_exclude=["mm2", "mm4", "gather2"],
    )
    assert_same(ours, theirs)
    ops = [n.op_type for n in onnx.load(str(ours)).graph.node]
    assert ops.count("MatMul") == 2


def test_external_data_model_matches_and_is_written_with_external_data(tmp_path):
    src = transformer_like(tmp_path / "m.onnx", external=True, vocab=300)
    ours, theirs = both(tmp_path, src)
    assert os.path.exists(str(ours) + ".data")
    raw = onnx.load(str(ours), load_external_data=False)
    assert any(t.data_location == TensorProto.EXTERNAL for t in raw.graph.initializer)
    a, b = graph_bytes(ours), graph_bytes(theirs)
    # (onnx.load resets data_location on what it loads: compare the data itself)
    ta, tb = (onnx.load(str(p)).graph for p in (ours, theirs))
    assert [t.name for t in ta.initializer] == [t.name for t in tb.initializer]
    arrays = {t.name: numpy_helper.to_array(t) for t in ta.initializer}
    for t in tb.initializer:
        want = numpy_helper.to_array(t)
        assert arrays[t.name].dtype == want.dtype and np.array_equal(arrays[t.name], want), t.name
    assert a["nodes"] == b["nodes"]
    for x, y in zip(run(ours, FEEDS), run(theirs, FEEDS), strict=True):
        assert np.array_equal(x.view(np.uint8), y.view(np.uint8))


def test_inputs_are_never_modified_and_output_refused_when_it_exists(tmp_path):
    src = transformer_like(tmp_path / "m.onnx", external=True)
    before = {p: p.read_bytes() for p in tmp_path.iterdir()}
    int8q.io.quantize_file(src, tmp_path / "q.onnx")
    with pytest.raises(FormatError, match="exists"):
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    os.unlink(tmp_path / "q.onnx")
    with pytest.raises(FormatError, match="data file exists"):
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    int8q.io.quantize_file(src, tmp_path / "q.onnx", force=True)
    assert {p: p.read_bytes() for p in before} == before
    with pytest.raises(FormatError, match="suffix"):
        int8q.io.quantize_file(src, tmp_path / "q.bin")


def _model(tmp_path, nodes, init, opset=17, name="r.onnx"):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "g", [x], [y], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    path = tmp_path / name
    onnx.save(model, str(path))
    return path


W = np.ones((4, 4), np.float32)


@pytest.mark.parametrize(
    "nodes, init, opset, match",
    [
        ([helper.make_node("MatMul", ["x", "w"], ["y"], "m")], [W], 10, "opset 10"),
        (
            [helper.make_node("MatMul", ["x", "w"], ["y"], "m")],
            [W.astype(np.float16)],
            17,
            "float16",
        ),
    ],
)
def test_what_int8q_does_not_reproduce_is_refused(tmp_path, nodes, init, opset, match):
    src = _model(tmp_path, nodes, [numpy_helper.from_array(w, "w") for w in init], opset)
    with pytest.raises(FormatError, match=match):
        int8q.io.quantize_file(src, tmp_path / "q.onnx")
    assert not os.path.exists(tmp_path / "q.onnx")


def test_conv_left_out_by_skip_is_copied_and_matches(tmp_path):
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["h"], "m"),
        helper.make_node("Relu", ["h"], ["y"], "c"),
    ]
    src = _model(tmp_path, nodes, [numpy_helper.from_array(W * 0.3, "w")])
    feeds = {"x": np.arange(8, dtype=np.float32).reshape(2, 4)}
    assert_same(*both(tmp_path, src), feeds)


def test_options_that_do_not_apply_are_refused(tmp_path):
    src = transformer_like(tmp_path / "m.onnx")
    for kw in (
        {"block_size": 32},
        {"rounding": "half_away"},
        {"all_tensors": True},
        {"clip": "mse"},
    ):
        with pytest.raises(FormatError, match="quantize_dynamic"):
            int8q.io.quantize_file(src, tmp_path / "q.onnx", **kw)


def test_inspect_and_compare(tmp_path):
    src = transformer_like(tmp_path / "m.onnx")
    dst = tmp_path / "q.onnx"
    int8q.io.quantize_file(src, dst)
    assert int8q.io.detect_format(dst) == "onnx"
    rows = {r["name"]: r for r in int8q.io.inspect_file(dst)}
    assert rows["w1_quantized"]["scheme"] == "int8" and rows["w1_quantized"]["dtype"] == "int8"
    assert rows["emb_quantized"]["scheme"] == "uint8"
    assert rows["w1_scale"]["scheme"] == "scale" and rows["b1"]["scheme"] == "none"
    compared = {r["name"]: r for r in int8q.io.compare_files(src, dst)}
    assert set(compared) == {"emb", "w1", "w2", "w3"}
    assert all(r["sqnr_db"] > 30 for r in compared.values())
    with pytest.raises(FormatError, match="quantized"):
        int8q.io.compare_files(dst, dst)


OPTIONS = [
    (
        {"per_channel": True, "op_types": ["MatMul", "Gather"]},
        {"per_channel": True, "op_types_to_quantize": ["MatMul", "Gather"]},
    ),
    ({"reduce_range": True}, {"reduce_range": True}),
    (
        {"per_channel": True, "reduce_range": True, "op_types": ["MatMul"]},
        {"per_channel": True, "reduce_range": True, "op_types_to_quantize": ["MatMul"]},
    ),
    ({"op_types": ["Gather", "Transpose"]}, {"op_types_to_quantize": ["Gather", "Transpose"]}),
    ({"per_tensor": True}, {}),
]


@pytest.mark.parametrize("kind", ["normal", "ties", "zero"])
@pytest.mark.parametrize("ours, theirs", OPTIONS)
@pytest.mark.parametrize("weight_type", ["QInt8", "QUInt8"])
def test_options_match_quantize_dynamic(tmp_path, kind, ours, theirs, weight_type):
    from onnxruntime.quantization import QuantType

    src = transformer_like(tmp_path / "m.onnx", seed=7, kind=kind)
    ours = dict(ours, weight_type=weight_type)
    theirs = dict(theirs, weight_type=getattr(QuantType, weight_type))
    assert_same(*both(tmp_path, src, int8q=ours, **theirs))


def test_per_channel_through_a_transpose_is_refused(tmp_path):
    src = transformer_like(tmp_path / "m.onnx")
    with pytest.raises(FormatError, match="per channel"):
        int8q.io.quantize_file(src, tmp_path / "q.onnx", per_channel=True)
    assert not os.path.exists(tmp_path / "q.onnx")


def test_onnx_options_are_refused_for_other_containers(tmp_path):
    src = tmp_path / "w.npy"
    np.save(src, np.ones((2, 2), np.float32))
    for kw in (
        {"per_channel": True},
        {"reduce_range": True},
        {"weight_type": "QUInt8"},
        {"op_types": ["MatMul"]},
    ):
        with pytest.raises(ValueError, match="ONNX"):
            int8q.io.quantize_file(src, tmp_path / "q.npz", **kw)
    with pytest.raises(ValueError, match="weight_type"):
        int8q.io.quantize_file(src, tmp_path / "q.npz", weight_type="int8")


def test_command_line_flags_match_quantize_dynamic(tmp_path, capsys):
    from cli import run
    from onnxruntime.quantization import QuantType

    src = transformer_like(tmp_path / "m.onnx", seed=3)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    flags = ["--per-channel", "--reduce-range", "--weight-type", "quint8"]
    flags += ["--op-types", "MatMul,Gather", "--skip", "mm4"]
    code, _, err = run(capsys, "quantize", src, "-o", ours, *flags)
    assert code == 0, err
    assert "quantized 4 tensors" in err  # w1, w2, w3 and emb: zero points are companions
    quantize_dynamic(
        src,
        theirs,
        per_channel=True,
        reduce_range=True,
        weight_type=QuantType.QUInt8,
        op_types_to_quantize=["MatMul", "Gather"],
        nodes_to_exclude=["mm4"],
    )
    assert_same(ours, theirs)
    code, out, _ = run(capsys, "inspect", ours)
    assert code == 0 and "w1_quantized" in out
    code, out, _ = run(capsys, "compare", src, ours)
    assert code == 0 and "w1" in out
    code, _, err = run(capsys, "quantize", src, "-o", tmp_path / "x.onnx", "--skip", "nope")
    assert code == 2 and "--skip 'nope'" in err
