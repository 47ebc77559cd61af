"""Attention, EmbedLayerNormalization (the com.microsoft operators of a
BERT graph after onnxruntime's transformer optimizer) and LSTM, through
int8q.io and the command line, against onnxruntime's quantize_dynamic: the
same nodes in order, every initializer byte for byte, the same opsets, and
onnxruntime's outputs bit for bit.  Skips without onnx and onnxruntime."""

import os

import numpy as np
import pytest
from onnx_models import assert_same, assert_same_values, both, quantize_dynamic, weights

import int8q.io
from int8q.io import FormatError

onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

MS = "com.microsoft"
# quantize_dynamic stops on a MatMul downstream of a com.microsoft node
# (onnx shape inference does not type its output) unless told the type:
FLOAT_DEFAULT = {"extra_options": {"DefaultTensorType": TensorProto.FLOAT}}
H, HEADS, VOCAB, POSITIONS = 16, 2, 30, 8


def _save(path, nodes, inputs, outputs, init, ms=True, opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, init)
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid(MS, 1)] if ms else [])
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def bert_like(path, seed=0, kind="normal", segments=True, names=True, tail=True):
    """EmbedLayerNormalization -> Attention -> Attention (unnamed, the same
    input quantized once for it and a MatMul) -> an Attention with
    qkv_hidden_sizes (left in float) -> MatMul (with `tail`)."""
    rng = np.random.default_rng(seed)
    t = numpy_helper.from_array
    init = [
        t(weights(rng, (VOCAB, H), kind), "word"),
        t(weights(rng, (POSITIONS, H), kind), "pos"),
        t(weights(rng, (H,), "positive"), "gamma"),
        t(weights(rng, (H,), "normal"), "beta"),
        t(weights(rng, (H, 3 * H), kind), "qkv1"),
        t(weights(rng, (3 * H,), "normal"), "bias1"),
        t(weights(rng, (H, 3 * H), kind), "qkv2"),
        t(weights(rng, (3 * H,), "normal"), "bias2"),
        t(weights(rng, (H, 3 * H), kind), "qkv3"),
        t(weights(rng, (H, H), kind), "wo"),
    ]
    if segments:
        init.append(t(weights(rng, (2, H), kind), "seg"))

    def n(name):
        return name if names else ""

    seg_in = ["segment_ids", "seg"] if segments else ["", ""]
    eln_in = ["input_ids", seg_in[0], "word", "pos", seg_in[1], "gamma", "beta", "mask"]
    nodes = [
        helper.make_node(
            "EmbedLayerNormalization", eln_in, ["e", "mi"], n("eln"), domain=MS, epsilon=1e-5
        ),
        helper.make_node(
            "Attention", ["e", "qkv1", "bias1", "mi"], ["a1"], n("att1"), domain=MS, num_heads=HEADS
        ),
        helper.make_node(
            "Attention", ["a1", "qkv2", "bias2", "mi"], ["a2"], "", domain=MS, num_heads=HEADS
        ),
        helper.make_node(
            "Attention",
            ["a2", "qkv3", "bias1"],
            ["a3"],
            n("att3"),
            domain=MS,
            num_heads=HEADS,
            qkv_hidden_sizes=[H, H, H],
        ),
    ]
    ints = [
        helper.make_tensor_value_info(name, TensorProto.INT32, ["b", "s"])
        for name in ("input_ids", "segment_ids", "mask")
        if segments or name != "segment_ids"
    ]
    outs = [helper.make_tensor_value_info("a3", TensorProto.FLOAT, ["b", "s", H])]
    if tail:
        nodes.append(helper.make_node("MatMul", ["a1", "wo"], ["y"], n("mm")))
        outs.append(helper.make_tensor_value_info("y", TensorProto.FLOAT, None))
    else:
        init.pop(-2 if segments else -1)  # wo
    return _save(path, nodes, ints, outs, init)


def bert_feeds(segments=True):
    rng = np.random.default_rng(5)
    ids = rng.integers(0, VOCAB, size=(2, 5)).astype(np.int32)
    mask = np.ones_like(ids)
    mask[1, 3:] = 0
    feeds = {"input_ids": ids, "mask": mask}
    if segments:
        feeds["segment_ids"] = (np.arange(10).reshape(2, 5) % 2).astype(np.int32)
    return feeds


def ops(path):
    return [n.op_type for n in onnx.load(str(path)).graph.node]


def test_the_peer_quantizes_the_contrib_operators(tmp_path):
    # Else the comparisons below would be vacuous.
    src = bert_like(tmp_path / "m.onnx")
    quantize_dynamic(src, tmp_path / "q.onnx", **FLOAT_DEFAULT)
    found = ops(tmp_path / "q.onnx")
    assert found.count("QAttention") == 2 and found.count("Attention") == 1
    assert "QEmbedLayerNormalization" in found and "MatMulInteger" in found


@pytest.mark.parametrize("kind", ["normal", "ties", "zero", "tiny"])
@pytest.mark.parametrize("segments", [True, False])
def test_bert_graph_matches_quantize_dynamic(tmp_path, kind, segments):
    src = bert_like(tmp_path / "m.onnx", seed=len(kind), kind=kind, segments=segments)
    assert_same(*both(tmp_path, src, **FLOAT_DEFAULT), bert_feeds(segments))


def test_with_quantize_dynamics_defaults_where_they_apply(tmp_path):
    # No MatMul after a com.microsoft node: quantize_dynamic needs no extra option.
    src = bert_like(tmp_path / "m.onnx", tail=False, names=False)
    assert_same(*both(tmp_path, src), bert_feeds())


OPTIONS = [
    ({"per_channel": True}, {"per_channel": True}),
    ({"reduce_range": True}, {"reduce_range": True}),
    ({"per_channel": True, "reduce_range": True}, {"per_channel": True, "reduce_range": True}),
    ({"op_types": ["Attention"]}, {"op_types_to_quantize": ["Attention"]}),
    (
        {"op_types": ["EmbedLayerNormalization", "MatMul"]},
        {"op_types_to_quantize": ["EmbedLayerNormalization", "MatMul"]},
    ),
    ({"skip": ["att1", "eln"]}, {"nodes_to_exclude": ["att1", "eln"]}),
]


@pytest.mark.parametrize("ours, theirs", OPTIONS)
@pytest.mark.parametrize("weight_type", ["QInt8", "QUInt8"])
def test_bert_options_match_quantize_dynamic(tmp_path, ours, theirs, weight_type):
    from onnxruntime.quantization import QuantType

    src = bert_like(tmp_path / "m.onnx", seed=11, kind="ties")
    ours = dict(ours, weight_type=weight_type)
    theirs = dict(theirs, weight_type=getattr(QuantType, weight_type), **FLOAT_DEFAULT)
    assert_same(*both(tmp_path, src, ours, **theirs), bert_feeds())


def test_command_line_quantizes_a_bert_graph(tmp_path, capsys):
    from cli import run as cli

    src = bert_like(tmp_path / "m.onnx", seed=2)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    code, _, err = cli(capsys, "quantize", src, "-o", ours, "--per-channel")
    assert code == 0, err
    quantize_dynamic(src, theirs, per_channel=True, **FLOAT_DEFAULT)
    assert_same(ours, theirs, bert_feeds())
    code, out, _ = cli(capsys, "compare", src, ours)
    assert code == 0 and "qkv1" in out and "word" in out


def test_contrib_operators_outside_their_domain_are_refused(tmp_path):
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2, H])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.ones((H, 3 * H), np.float32), "w")
    b = numpy_helper.from_array(np.ones(3 * H, np.float32), "b")
    for node, match in (
        (helper.make_node("Attention", ["x", "w", "b"], ["y"], "att", num_heads=2), "domain"),
        (helper.make_node("Attention", ["x", "w"], ["y"], "att", domain=MS), "too few"),
    ):
        src = _save(tmp_path / "m.onnx", [node], [x], [y], [w, b], opset=17)
        with pytest.raises(FormatError, match=match):
            int8q.io.quantize_file(src, tmp_path / "q.onnx")
        assert not os.path.exists(tmp_path / "q.onnx")
    # left out of the op types, the node is copied as it is
    int8q.io.quantize_file(src, tmp_path / "q.onnx", op_types=["MatMul"])
    assert ops(tmp_path / "q.onnx") == ["Attention"]


IN, HL, SEQ = 6, 5, 4  # LSTM input size, hidden size, sequence length


def lstm_like(path, seed=0, kind="normal", names=True):
    """Gather (an embedding) -> a bidirectional LSTM with bias and initial
    state -> MatMul; a forward LSTM on a graph input (with layout=0, which
    onnxruntime drops); an LSTM whose W is 2-d (left in float)."""
    rng = np.random.default_rng(seed)
    t = numpy_helper.from_array
    init = [
        t(weights(rng, (20, IN), kind), "emb"),
        t(weights(rng, (2, 4 * HL, IN), kind), "W"),
        t(weights(rng, (2, 4 * HL, HL), kind), "R"),
        t(weights(rng, (2, 8 * HL), "normal"), "B"),
        t(weights(rng, (2, 1, HL), "normal"), "h0"),
        t(weights(rng, (HL, 3), kind), "wo"),
        t(weights(rng, (1, 4 * HL, IN), kind), "W2"),
        t(weights(rng, (1, 4 * HL, HL), kind), "R2"),
    ]

    def n(name):
        return name if names else ""

    nodes = [
        helper.make_node("Gather", ["emb", "ids"], ["x"], n("gather")),
        helper.make_node(
            "LSTM",
            ["x", "W", "R", "B", "", "h0"],
            ["y", "y_h"],
            n("lstm"),
            hidden_size=HL,
            direction="bidirectional",
        ),
        helper.make_node("MatMul", ["y_h", "wo"], ["out"], n("mm")),
        helper.make_node("LSTM", ["x2", "W2", "R2"], ["", "", "c2"], "", hidden_size=HL, layout=0),
    ]
    inputs = [
        helper.make_tensor_value_info("ids", TensorProto.INT64, [SEQ, 1]),
        helper.make_tensor_value_info("x2", TensorProto.FLOAT, [SEQ, 1, IN]),
    ]
    outs = [
        helper.make_tensor_value_info(name, TensorProto.FLOAT, None) for name in ("out", "y", "c2")
    ]
    return _save(path, nodes, inputs, outs, init, ms=False)


def lstm_feeds():
    rng = np.random.default_rng(3)
    return {
        "ids": rng.integers(0, 20, size=(SEQ, 1)),
        "x2": rng.standard_normal((SEQ, 1, IN)).astype(np.float32),
    }


def test_the_peer_quantizes_lstm(tmp_path):
    src = lstm_like(tmp_path / "m.onnx")
    quantize_dynamic(src, tmp_path / "q.onnx")
    assert ops(tmp_path / "q.onnx").count("DynamicQuantizeLSTM") == 2


@pytest.mark.parametrize("kind", ["normal", "ties", "zero", "tiny"])
@pytest.mark.parametrize("names", [True, False])
def test_lstm_matches_quantize_dynamic(tmp_path, kind, names):
    src = lstm_like(tmp_path / "m.onnx", seed=len(kind), kind=kind, names=names)
    assert_same(*both(tmp_path, src), lstm_feeds())


@pytest.mark.parametrize(
    "ours, theirs", OPTIONS[:3] + [({"skip": ["lstm"]}, {"nodes_to_exclude": ["lstm"]})]
)
@pytest.mark.parametrize("weight_type", ["QInt8", "QUInt8"])
def test_lstm_options_match_quantize_dynamic(tmp_path, ours, theirs, weight_type):
    from onnxruntime.quantization import QuantType

    src = lstm_like(tmp_path / "m.onnx", seed=4, kind="ties")
    ours = dict(ours, weight_type=weight_type)
    theirs = dict(theirs, weight_type=getattr(QuantType, weight_type))
    assert_same(*both(tmp_path, src, ours, **theirs), lstm_feeds())


def test_command_line_quantizes_lstm_and_compares(tmp_path, capsys):
    from cli import run as cli

    src = lstm_like(tmp_path / "m.onnx", seed=9)
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    code, _, err = cli(capsys, "quantize", src, "-o", ours, "--per-channel", "--reduce-range")
    assert code == 0, err
    quantize_dynamic(src, theirs, per_channel=True, reduce_range=True)
    assert_same(ours, theirs, lstm_feeds())
    rows = {r["name"]: r for r in int8q.io.compare_files(src, ours)}
    assert {"W", "R", "W2", "R2", "emb", "wo"} <= set(rows)
    assert all(r["sqnr_db"] > 20 for r in rows.values())


def test_external_data_contrib_models_match(tmp_path):
    # The codes written as made (LSTM's after its scales), the rest copied.
    for name, build, feeds in (
        ("lstm", lstm_like, lstm_feeds()),
        ("bert", bert_like, bert_feeds()),
    ):
        plain = build(tmp_path / f"{name}.onnx", seed=8)
        model = onnx.load(str(plain))
        src = tmp_path / f"{name}-ext.onnx"
        onnx.save(
            model, str(src), save_as_external_data=True, location=f"{name}.w", size_threshold=64
        )
        ours, theirs = tmp_path / f"{name}-int8q.onnx", tmp_path / f"{name}-ort.onnx"
        int8q.io.quantize_file(src, ours)
        quantize_dynamic(src, theirs, **FLOAT_DEFAULT)
        assert os.path.exists(str(ours) + ".data")
        assert_same_values(ours, theirs, [feeds])
