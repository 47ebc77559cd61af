"""Hugging Face model folders in compressed-tensors format, without the peers.

The layout is checked against the format's definition written out here by
hand (compressed-tensors' pack_to_int32: q + 128 as bytes, four to a
little-endian int32 word), the values against int8q.reference; the real
clients (transformers, compressed-tensors) are tests/peers/test_hf_clients.py.
"""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from checkpoints import listing, read_safetensors, write_safetensors
from cli import run, run_cli
from hf_folders import CONFIG, LINEAR, make_folder, tiny_tensors

import int8q.io
from int8q import reference

try:
    import ml_dtypes
except ImportError:
    ml_dtypes = None


def pack_by_hand(q):
    """pack_to_int32(q, 8) from its definition, one Python int at a time."""
    rows, cols = q.shape
    words = np.zeros((rows, -(-cols // 4)), np.int64)
    for r in range(rows):
        for i in range(cols):
            words[r, i // 4] += (int(q[r, i]) + 128) << (8 * (i % 4))
    return words.astype(np.uint32).view(np.int32)


def read_folder(path):
    tensors = {}
    for name in sorted(os.listdir(path)):
        if name.endswith(".safetensors"):
            tensors.update(read_safetensors(path / name)[0])
    with open(path / "config.json") as f:
        return tensors, json.load(f)


@pytest.fixture
def folder(tmp_path):
    t = tiny_tensors(np.random.default_rng(0))
    return make_folder(tmp_path / "model", t), t


def test_w8a16_layout_values_and_config(tmp_path, folder):
    src, t = folder
    int8q.io.quantize_file(src, tmp_path / "out")
    out = tmp_path / "out"
    tensors, config = read_folder(out)
    assert int8q.io.detect_format(src) == "hf"
    for name in LINEAR:
        m = name[: -len(".weight")]
        q, scale = reference.quantize(t[name], axis=0)
        np.testing.assert_array_equal(tensors[m + ".weight_packed"], pack_by_hand(q))
        assert tensors[m + ".weight_scale"].dtype == np.float32
        np.testing.assert_array_equal(tensors[m + ".weight_scale"], scale[:, None])
        assert tensors[m + ".weight_shape"].dtype == np.int64
        assert tensors[m + ".weight_shape"].tolist() == list(t[name].shape)
        assert name not in tensors
    kept = set(t) - set(LINEAR)
    for name in kept:  # embeddings, norms, biases, lm_head, ids: byte for byte
        assert tensors[name].tobytes() == t[name].tobytes(), name
    assert len(tensors) == len(kept) + 3 * len(LINEAR)
    qc = config.pop("quantization_config")
    assert config == CONFIG
    assert qc["quant_method"] == "compressed-tensors" and qc["format"] == "pack-quantized"
    assert qc["quantization_status"] == "compressed" and qc["ignore"] == ["lm_head"]
    group = qc["config_groups"]["group_0"]
    assert group["targets"] == ["Linear"] and group["input_activations"] is None
    assert group["weights"] == {
        "num_bits": 8,
        "type": "int",
        "symmetric": True,
        "strategy": "channel",
        "dynamic": False,
    }
    # every other file copied as it was, nothing else left
    assert listing(out) == listing(src)
    for rel in ("tokenizer.json", "README.md", "1_Pooling/config.json"):
        assert (out / rel).read_bytes() == (src / rel).read_bytes()
    assert [p for p in os.listdir(tmp_path) if "int8q-tmp" in p] == []


def test_w8a8_layout_and_config(tmp_path, folder):
    src, t = folder
    int8q.io.quantize_file(src, tmp_path / "out", scheme="W8A8", skip=["*.up.weight"])
    tensors, config = read_folder(tmp_path / "out")
    qc = config["quantization_config"]
    assert qc["format"] == "int-quantized"
    group = qc["config_groups"]["group_0"]
    assert group["weights"]["strategy"] == "channel"
    assert group["input_activations"] == {
        "num_bits": 8,
        "type": "int",
        "symmetric": True,
        "strategy": "token",
        "dynamic": True,
    }
    # the skipped Linear is listed in ignore, so the "Linear" target leaves it alone
    assert qc["ignore"] == ["layers.0.mlp.up", "lm_head"]
    assert tensors["layers.0.mlp.up.weight"].tobytes() == t["layers.0.mlp.up.weight"].tobytes()
    for name in ("layers.0.attn.q_proj.weight", "layers.1.mlp.down.weight"):
        q, scale = reference.quantize(t[name], axis=0)
        assert tensors[name].dtype == np.int8
        np.testing.assert_array_equal(tensors[name], q)
        np.testing.assert_array_equal(tensors[name + "_scale"], scale[:, None])


def test_group_and_tensor_strategies(tmp_path, folder):
    src, t = folder
    int8q.io.quantize_file(src, tmp_path / "g", block_size=4, rounding="half_away")
    tensors, config = read_folder(tmp_path / "g")
    weights = config["quantization_config"]["config_groups"]["group_0"]["weights"]
    assert (weights["strategy"], weights["group_size"]) == ("group", 4)
    name = "layers.1.mlp.down.weight"
    q, scale = reference.quantize(t[name], block_size=4, rounding="half_away")
    np.testing.assert_array_equal(tensors["layers.1.mlp.down.weight_packed"], pack_by_hand(q))
    np.testing.assert_array_equal(tensors["layers.1.mlp.down.weight_scale"], scale)

    int8q.io.quantize_file(src, tmp_path / "t", scheme="W8A8", per_tensor=True)
    tensors, config = read_folder(tmp_path / "t")
    assert (
        config["quantization_config"]["config_groups"]["group_0"]["weights"]["strategy"] == "tensor"
    )
    q, scale = reference.quantize(t[name])
    np.testing.assert_array_equal(tensors[name], q)
    assert tensors[name + "_scale"].shape == (1,) and tensors[name + "_scale"][0] == scale


def test_lm_head_on_request(tmp_path, folder):
    src, t = folder
    int8q.io.quantize_file(src, tmp_path / "out", all_tensors=True)
    tensors, config = read_folder(tmp_path / "out")
    assert config["quantization_config"]["ignore"] == []
    q, _ = reference.quantize(t["lm_head.weight"], axis=0)
    np.testing.assert_array_equal(tensors["lm_head.weight_packed"], pack_by_hand(q))
    assert tensors["embed_tokens.weight"].dtype == np.float32  # never an embedding


def test_no_int8_lm_head_with_w8a8(tmp_path, folder):
    """vLLM refuses a W8A8 folder whose lm_head is int8 ("no module or parameter
    named 'lm_head.weight_scale'"), so int8q does not write one."""
    src, _ = folder
    with pytest.raises(ValueError, match="vLLM loads no int8 lm_head.*--all is for W8A16"):
        int8q.io.quantize_file(src, tmp_path / "out", all_tensors=True, scheme="W8A8")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("scheme", ["W8A16", "W8A8"])
def test_sharded_round_trip(tmp_path, scheme):
    t = tiny_tensors(np.random.default_rng(1))
    src = make_folder(tmp_path / "model", t, shards=3)
    int8q.io.quantize_file(src, tmp_path / "q", scheme=scheme)
    q_dir = tmp_path / "q"
    assert listing(q_dir) == listing(src)
    with open(q_dir / "model.safetensors.index.json") as f:
        index = json.load(f)
    tensors = {}
    for shard in sorted(set(index["weight_map"].values())):
        part = read_safetensors(q_dir / shard)[0]
        assert {n for n, s in index["weight_map"].items() if s == shard} == set(part)
        tensors.update(part)
    assert index["metadata"]["total_size"] == sum(a.nbytes for a in tensors.values())

    int8q.io.dequantize_file(q_dir, tmp_path / "back")
    back, config = read_folder(tmp_path / "back")
    assert config == CONFIG and listing(tmp_path / "back") == listing(src)
    assert set(back) == set(t)
    for name, x in t.items():
        if name in LINEAR:
            q, scale = reference.quantize(x, axis=0)
            np.testing.assert_array_equal(back[name], reference.dequantize(q, scale, axis=0))
        else:
            assert back[name].tobytes() == x.tobytes(), name


@pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes")
def test_bfloat16_model(tmp_path):
    t = tiny_tensors(np.random.default_rng(2), ml_dtypes.bfloat16)
    src = make_folder(tmp_path / "model", t, config={**CONFIG, "torch_dtype": "bfloat16"})
    int8q.io.quantize_file(src, tmp_path / "q")
    tensors, _ = read_folder(tmp_path / "q")
    name = "layers.1.mlp.down.weight"
    q, scale = reference.quantize(t[name], axis=0)  # working dtype float32
    assert tensors[name + "_scale"].dtype == np.float32
    np.testing.assert_array_equal(tensors[name + "_scale"], scale[:, None])
    int8q.io.dequantize_file(tmp_path / "q", tmp_path / "back")
    back, _ = read_folder(tmp_path / "back")
    assert back[name].dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(
        back[name], reference.dequantize(q, scale, axis=0).astype(ml_dtypes.bfloat16)
    )


def test_inspect(tmp_path, folder):
    src, _ = folder
    int8q.io.quantize_file(src, tmp_path / "g", block_size=4)
    rows = {r["name"]: r for r in int8q.io.inspect_file(tmp_path / "g")}
    r = rows["layers.0.mlp.up.weight_packed"]
    assert (r["scheme"], r["strategy"], r["dtype"], r["shape"], r["size"]) == (
        "W8A16",
        "group:4",
        "I32",
        (24, 3),
        24 * 3 * 4,
    )
    assert r["original_dtype"] == "F32" and r["file"] == "model.safetensors"
    assert rows["layers.0.mlp.up.weight_scale"]["scheme"] == "scale"
    assert rows["layers.0.mlp.up.weight_shape"]["scheme"] == "shape"
    assert rows["lm_head.weight"]["scheme"] == "none"
    assert {r["scheme"] for r in int8q.io.inspect_file(src)} == {"none"}


def test_cli_and_python_m(tmp_path, folder, capsys):
    src, _ = folder
    code, out, err = run(capsys, "quantize", src, "-o", tmp_path / "q", "--scheme", "W8A8", "-q")
    assert (code, out, err) == (0, "", "")
    code, out, err = run(capsys, "inspect", tmp_path / "q")
    assert code == 0 and "W8A8 channel" in out and "layers.0.mlp.up.weight_scale" in out
    proc = subprocess.run(
        [sys.executable, "-m", "int8q", "inspect", tmp_path / "q", "--json"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert {r["scheme"] for r in json.loads(proc.stdout)} == {"W8A8", "scale", "none"}
    proc = subprocess.run(
        [sys.executable, "-m", "int8q", "quantize", "1", "-1"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert json.loads(proc.stdout)["quantized"] == [127, -127]


def foreign_w4a16(path, rng):
    """A 4-bit group-128 pack-quantized folder, as llm-compressor's W4A16 writes
    it, built from the format's definition (bf16 scales)."""
    q = rng.integers(-8, 8, size=(3, 256)).astype(np.int8)
    u = (q.astype(np.int64) + 8).reshape(3, 32, 8)  # offset 1 << (4 - 1)
    words = (u << (4 * np.arange(8))).sum(axis=2).astype(np.uint32).view(np.int32)
    scale = (rng.random((3, 2)) + 0.5).astype(ml_dtypes.bfloat16)
    tensors = {
        "dense.weight_packed": words,
        "dense.weight_scale": scale,
        "dense.weight_shape": np.array([3, 256], np.int64),
        "dense.bias": np.ones(3, ml_dtypes.bfloat16),
    }
    group = {
        "targets": ["Linear"],
        "format": "pack-quantized",
        "input_activations": None,
        "weights": {
            "num_bits": 4,
            "type": "int",
            "symmetric": True,
            "strategy": "group",
            "group_size": 128,
            "dynamic": False,
            "actorder": None,
        },
    }
    config = {
        **CONFIG,
        "torch_dtype": "bfloat16",
        "quantization_config": {
            "quant_method": "compressed-tensors",
            "format": "pack-quantized",
            "quantization_status": "compressed",
            "config_groups": {"group_0": group},
            "ignore": ["lm_head"],
            "sparsity_config": {},
            "version": "0.20.0",
        },
    }
    make_folder(path, tensors, config=config)
    expected = q.astype(np.float32) * np.repeat(scale.astype(np.float32), 128, axis=1)
    return expected.astype(ml_dtypes.bfloat16)


@pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes")
def test_dequantize_other_tools_4bit(tmp_path):
    expected = foreign_w4a16(tmp_path / "w4", np.random.default_rng(3))
    rows = {r["name"]: r for r in int8q.io.inspect_file(tmp_path / "w4")}
    assert (rows["dense.weight_packed"]["scheme"], rows["dense.weight_packed"]["strategy"]) == (
        "W4A16",
        "group:128",
    )
    int8q.io.dequantize_file(tmp_path / "w4", tmp_path / "back")
    back, config = read_folder(tmp_path / "back")
    assert "quantization_config" not in config and set(back) == {"dense.weight", "dense.bias"}
    np.testing.assert_array_equal(back["dense.weight"], expected)


def test_errors_exit_2_and_leave_nothing(tmp_path, folder, capsys):
    src, t = folder
    before = listing(tmp_path)

    def fails(*args, message):
        code, out, err = run(capsys, *args)
        assert (code, out) == (2, ""), err
        assert err.startswith("int8q: error: ") and err.count("\n") == 1 and message in err
        assert listing(tmp_path) == before

    fails(
        "quantize",
        src,
        "-o",
        tmp_path / "o",
        "--scheme",
        "W8A16",
        "--per-tensor",
        message="--per-tensor is for W8A8",
    )
    fails(
        "quantize",
        src,
        "-o",
        tmp_path / "o",
        "--scheme",
        "W8A8",
        "--block-size",
        "4",
        message="--block-size is for W8A16",
    )
    fails(
        "quantize",
        src,
        "-o",
        tmp_path / "o",
        "--scheme",
        "W8A8",
        "--all",
        message="vLLM loads no int8 lm_head",
    )
    fails(
        "quantize",
        src,
        "-o",
        tmp_path / "o",
        "--block-size",
        "5",
        message="not a multiple of --block-size 5",
    )
    fails(
        "quantize",
        src / "model.safetensors",
        "-o",
        tmp_path / "o.safetensors",
        "--scheme",
        "W8A8",
        message="applies to Hugging Face model folders",
    )
    fails("dequantize", src, "-o", tmp_path / "o", message="no quantization_config")
    fails("quantize", src, "-o", tmp_path / "o", "--skip", "*", message="no linear-layer")

    int8q.io.quantize_file(src, tmp_path / "q")
    before = listing(tmp_path)
    fails("quantize", tmp_path / "q", "-o", tmp_path / "o", message="already quantized")
    (tmp_path / "nonempty").mkdir()
    (tmp_path / "nonempty" / "x").write_text("")
    before = listing(tmp_path)
    fails("quantize", src, "-o", tmp_path / "nonempty", message="not empty; pass force=True")
    os.remove(src / "model.safetensors")
    before = listing(tmp_path)
    fails("quantize", src, "-o", tmp_path / "o", message="needs one .safetensors file")
    with open(src / "config.json", "w") as f:
        f.write("{not json")
    fails("quantize", src, "-o", tmp_path / "o", message="corrupt JSON")


def test_nan_is_named_and_nothing_written(tmp_path):
    t = tiny_tensors(np.random.default_rng(4))
    t["layers.0.mlp.up.weight"][3, 5] = np.nan
    src = make_folder(tmp_path / "model", t)
    before = listing(tmp_path)
    with pytest.raises(ValueError, match=r"layers\.0\.mlp\.up\.weight.*nan"):
        int8q.io.quantize_file(src, tmp_path / "q")
    assert listing(tmp_path) == before


def test_output_inside_the_model_folder(tmp_path, folder):
    src, _ = folder
    int8q.io.quantize_file(src, src / "int8")
    assert listing(src / "int8") == [n for n in listing(src) if not n.startswith("int8")]


def test_console_script(tmp_path, folder):
    src, _ = folder
    proc = run_cli("quantize", src, "-o", tmp_path / "q", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    proc = run_cli("dequantize", tmp_path / "q", "-o", tmp_path / "b", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_links_followed_other_weights_and_dot_folders_left_out(tmp_path, folder):
    """A hub cache folder links its files to blobs; a clone carries .git; a
    pytorch_model.bin is the float model again (transformers could load it
    under the quantized config): only the first is copied."""
    src, _ = folder
    (tmp_path / "blob").write_text("vocab")
    try:
        os.symlink(tmp_path / "blob", src / "vocab.txt")
    except (OSError, NotImplementedError):
        pytest.skip("cannot make a link here")
    (src / "pytorch_model.bin").write_bytes(b"float weights")
    (src / ".git").mkdir()
    (src / ".git" / "HEAD").write_text("ref")
    int8q.io.quantize_file(src, tmp_path / "q")
    out = tmp_path / "q"
    assert not (out / "vocab.txt").is_symlink() and (out / "vocab.txt").read_text() == "vocab"
    assert not (out / "pytorch_model.bin").exists() and not (out / ".git").exists()


@pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes")
@pytest.mark.parametrize(
    "change, message",
    [
        ({"symmetric": False}, "asymmetric"),
        ({"actorder": "group"}, "activation ordering"),
        ({"type": "float"}, "float weights"),
        ({"strategy": "block"}, "weight strategy"),
        ({"group_size": None}, "group size"),
    ],
)
def test_dequantize_refuses_what_it_cannot_restore(tmp_path, capsys, change, message):
    foreign_w4a16(tmp_path / "w4", np.random.default_rng(5))
    config = json.loads((tmp_path / "w4" / "config.json").read_text())
    config["quantization_config"]["config_groups"]["group_0"]["weights"].update(change)
    (tmp_path / "w4" / "config.json").write_text(json.dumps(config))
    before = listing(tmp_path)
    code, out, err = run(capsys, "dequantize", tmp_path / "w4", "-o", tmp_path / "back")
    assert (code, out) == (2, "") and message in err and err.count("\n") == 1
    assert listing(tmp_path) == before


@pytest.mark.skipif(ml_dtypes is None, reason="needs ml_dtypes")
def test_dequantize_refuses_other_formats_and_zero_points(tmp_path, capsys):
    foreign_w4a16(tmp_path / "w4", np.random.default_rng(6))
    path = tmp_path / "w4" / "config.json"
    config = json.loads(path.read_text())
    config["quantization_config"]["format"] = "nvfp4-pack-quantized"
    del config["quantization_config"]["config_groups"]["group_0"]["format"]
    path.write_text(json.dumps(config))
    code, _, err = run(capsys, "dequantize", tmp_path / "w4", "-o", tmp_path / "back")
    assert code == 2 and "format 'nvfp4-pack-quantized'" in err

    config["quantization_config"]["format"] = "pack-quantized"
    path.write_text(json.dumps(config))
    tensors, metadata = read_safetensors(tmp_path / "w4" / "model.safetensors")
    write_safetensors(
        tmp_path / "w4" / "model.safetensors",
        {**tensors, "dense.weight_zero_point": np.zeros((3, 2), np.int8)},
        metadata,
    )
    code, _, err = run(capsys, "dequantize", tmp_path / "w4", "-o", tmp_path / "back")
    assert code == 2 and "zero points" in err
    assert not (tmp_path / "back").exists()


@pytest.mark.parametrize(
    "name, linear",
    [
        ("model.layers.0.self_attn.q_proj.weight", True),  # Llama
        ("model.layers.0.mlp.gate_proj.weight", True),
        ("encoder.layer.0.attention.self.query.weight", True),  # BERT
        ("pooler.dense.weight", True),
        ("encoder.block.0.layer.0.SelfAttention.q.weight", True),  # T5
        ("model.embed_tokens.weight", False),
        ("embeddings.word_embeddings.weight", False),
        ("transformer.wte.weight", False),  # GPT-2
        ("transformer.wpe.weight", False),
        ("shared.weight", False),  # T5
        ("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", False),
        ("model.decoder.embed_positions.weight", False),
        ("model.norm.weight", False),
        ("lm_head.weight", False),
        ("model.layers.0.self_attn.q_proj.bias", False),
    ],
)
def test_which_tensors_are_linear_weights(name, linear):
    from int8q.io._policy import _compressed_tensors as ct

    assert ct.is_linear_weight(name, "float", (8, 8)) is linear
    assert ct.is_linear_weight(name, "integer", (8, 8)) is False
    assert ct.is_linear_weight(name, "float", (8,)) is False


def test_weights_beside_an_index_are_refused(tmp_path, capsys):
    t = tiny_tensors(np.random.default_rng(7))
    src = make_folder(tmp_path / "model", t, shards=2)
    write_safetensors(src / "model.safetensors", t)
    before = listing(tmp_path)
    code, _, err = run(capsys, "quantize", src, "-o", tmp_path / "q")
    assert code == 2 and "model.safetensors is not in model.safetensors.index.json" in err
    assert listing(tmp_path) == before


def test_an_lm_head_under_a_prefix_is_not_a_linear_weight():
    """The lm_head module is found by its last name, whatever it sits under."""
    from int8q.io._policy import _compressed_tensors

    assert _compressed_tensors.is_linear_weight(
        "model.layers.0.mlp.up_proj.weight", "float", (8, 4)
    )
    for name in ("lm_head.weight", "language_model.lm_head.weight"):
        assert not _compressed_tensors.is_linear_weight(name, "float", (8, 4)), name
