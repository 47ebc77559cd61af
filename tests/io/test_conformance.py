"""What every registered container must do (int8q/io/_containers/_registry.py CONTAINERS).

The checks run over the registry, the way numcodecs' test helpers run over
every codec: a new format gets them by registering and by adding a builder
of a small float input below (test_every_container_has_a_builder fails until
it does).  Each container's own tests check its bytes exactly; these check
the shared promises: it claims its input, quantizes it close to the
original (int8q compare's figures), inspects it, refuses an existing output
unless forced, refuses a truncated input, and leaves nothing behind when a
write fails.  `compare` reads every container through its interface
(`originals`, `quantized`) and nothing else, so these checks cover it too.
"""

import json
import os

import numpy as np
import pytest
from checkpoints import listing, write_safetensors, write_sharded

import int8q.io
from int8q.io import FormatError
from int8q.io._containers._registry import CONTAINERS, container_for

RNG = np.random.default_rng(7)
TENSORS = {
    "layers.0.mlp.weight": RNG.standard_normal((32, 64)).astype(np.float32),
    "layers.0.attn.weight": RNG.standard_normal((64, 64)).astype(np.float32),
    "layers.0.norm.weight": np.ones(64, np.float32),
}


def make_safetensors(d):
    write_safetensors(d / "model.safetensors", TENSORS, {"format": "pt"})
    return d / "model.safetensors", d / "model.safetensors", "out.safetensors"


def make_sharded(d):
    names = list(TENSORS)
    write_sharded(d / "ckpt", [{n: TENSORS[n]} for n in names])
    return d / "ckpt", d / "ckpt" / "model-00001-of-00003.safetensors", "out"


def make_hf(d):
    folder = d / "model"
    folder.mkdir()
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 64}
    (folder / "config.json").write_text(json.dumps({**config, "torch_dtype": "float32"}))
    write_safetensors(folder / "model.safetensors", TENSORS, {"format": "pt"})
    return folder, folder / "model.safetensors", "out"


def make_npy(d):
    np.save(d / "w.npy", TENSORS["layers.0.mlp.weight"])
    return d / "w.npy", d / "w.npy", "out.npz"


def make_npz(d):
    np.savez(d / "w.npz", **{n.replace(".", "_"): a for n, a in TENSORS.items()})
    return d / "w.npz", d / "w.npz", "out.npz"


def make_gguf(d):
    gguf = pytest.importorskip("gguf")
    w = gguf.GGUFWriter(str(d / "model-f32.gguf"), "llama")
    w.add_name("conformance")
    w.add_tensor("token_embd.weight", TENSORS["layers.0.mlp.weight"])
    w.add_tensor("blk.0.attn_q.weight", TENSORS["layers.0.attn.weight"])
    w.add_tensor("blk.0.attn_norm.weight", TENSORS["layers.0.norm.weight"])
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return d / "model-f32.gguf", d / "model-f32.gguf", "out.gguf"


def make_onnx(d):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper, numpy_helper

    init = [numpy_helper.from_array(a, n) for n, a in TENSORS.items()]
    nodes = [
        helper.make_node("MatMul", ["x", "layers.0.mlp.weight"], ["h"], "mlp"),
        helper.make_node("MatMul", ["h", "layers.0.attn.weight"], ["a"], "attn"),
        helper.make_node("Mul", ["a", "layers.0.norm.weight"], ["y"], "norm"),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n", 32])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    graph = helper.make_graph(nodes, "conformance", [x], [y], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    # weights in external data: a truncated input is a short data file
    onnx.save(model, str(d / "model.onnx"), save_as_external_data=True, location="model.onnx.data")
    return d / "model.onnx", d / "model.onnx.data", "out.onnx"


# name -> builder(folder) -> (input path, its file holding tensor data, output name)
BUILDERS = {
    "safetensors": make_safetensors,
    "sharded": make_sharded,
    "hf": make_hf,
    "npy": make_npy,
    "npz": make_npz,
    "gguf": make_gguf,
    "onnx": make_onnx,
}


def test_every_container_has_a_builder():
    assert {c.NAME for c in CONTAINERS} <= set(BUILDERS)


INTERFACE = ("claims", "inputs", "quantize", "dequantize", "inspect", "originals", "quantized")


def test_every_container_has_the_whole_interface():
    for c in CONTAINERS:
        missing = [m for m in INTERFACE if not callable(getattr(c, m, None))]
        assert not missing, f"{c.NAME} lacks {missing}"


@pytest.fixture(params=[c.NAME for c in CONTAINERS])
def case(request, tmp_path):
    """(container name, input, its data file, output path) in a fresh folder."""
    src, data, out_name = BUILDERS[request.param](tmp_path)
    return request.param, src, data, tmp_path / out_name


def test_claims_its_input(case):
    name, src, _, _ = case
    assert container_for(str(src)).NAME == name


def test_quantizes_close_to_the_original_and_inspects(case):
    _, src, _, dst = case
    int8q.io.quantize_file(src, dst)
    rows = int8q.io.inspect_file(dst)
    assert rows and all(r["size"] >= 0 for r in rows)
    compared = int8q.io.compare_files(src, dst)
    assert compared, "nothing was quantized"
    for row in compared:
        # symmetric INT8 of Gaussian rows: about 40 dB; never below 30
        assert row["sqnr_db"] > 30 and row["cosine"] > 0.999, row


def test_compare_refuses_the_checkpoints_the_wrong_way_round(case):
    # A float checkpoint holds no quantized tensor; a quantized one is no
    # original: FormatError from the container's interface, never a guess.
    _, src, _, dst = case
    int8q.io.quantize_file(src, dst)
    for original, quantized in ((src, src), (dst, dst), (dst, src)):
        with pytest.raises(FormatError):
            int8q.io.compare_files(original, quantized)


def test_existing_output_refused_unless_forced(case):
    _, src, _, dst = case
    int8q.io.quantize_file(src, dst)
    before = listing(dst.parent)
    with pytest.raises(FormatError):
        int8q.io.quantize_file(src, dst)
    assert listing(dst.parent) == before
    int8q.io.quantize_file(src, dst, force=True)
    assert listing(dst.parent) == before


def test_truncated_input_is_refused_and_leaves_nothing(case):
    _, src, data, dst = case
    raw = data.read_bytes()
    data.write_bytes(raw[: len(raw) * 2 // 3])
    before = listing(dst.parent)
    with pytest.raises((FormatError, ValueError)):
        int8q.io.quantize_file(src, dst)
    assert listing(dst.parent) == before


def test_failed_write_leaves_nothing(case, monkeypatch):
    _, src, _, dst = case
    before = listing(dst.parent)

    def fail(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(os, "fsync", fail)
    with pytest.raises(OSError):
        int8q.io.quantize_file(src, dst)
    assert listing(dst.parent) == before
