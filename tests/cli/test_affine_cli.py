"""clip="mse" for checkpoints: `int8q quantize IN -o OUT --clip mse` and
int8q.io.quantize_file(clip="mse")."""

import json

import numpy as np
import pytest
from checkpoints import read_safetensors, write_safetensors
from cli import run_cli

import int8q


def test_cli_clip_mse_stores_the_mse_scales_and_restores(tmp_path):
    rng = np.random.default_rng(0)
    w = rng.standard_t(3, (40, 96)).astype(np.float32)
    t = {"w": w, "b": rng.standard_normal(40).astype(np.float32)}
    src, q_path, back = (
        tmp_path / n for n in ("m.safetensors", "q.safetensors", "back.safetensors")
    )
    write_safetensors(src, t, {"format": "pt"})
    for args in (
        ["quantize", src, "-o", q_path, "--clip", "mse", "-q"],
        ["dequantize", q_path, "-o", back, "-q"],
    ):
        proc = run_cli(*args, cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr
    stored, meta = read_safetensors(q_path)
    want = int8q.quantize(w, axis=0, clip="mse")
    np.testing.assert_array_equal(stored["w"], want.q)
    np.testing.assert_array_equal(stored["w_scale"].reshape(-1), want.scale)
    assert json.loads(meta["int8q"])["tensors"]["w"]["clip"] == "mse"
    restored, _ = read_safetensors(back)
    np.testing.assert_array_equal(restored["w"], want.dequantize())
    err_mse = np.sum((restored["w"] - w) ** 2)
    err_abs = np.sum((int8q.quantize(w, axis=0).dequantize() - w) ** 2)
    assert err_mse < err_abs


def test_cli_clip_rejects_unknown_method(tmp_path):
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"w": np.ones((2, 3), np.float32)})
    proc = run_cli("quantize", src, "-o", tmp_path / "q.safetensors", "--clip", "kl", cwd=tmp_path)
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "q.safetensors").exists()


def test_quantize_file_clip_checked_before_any_file(tmp_path):
    from int8q import io

    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"w": np.ones((2, 3), np.float32)})
    with pytest.raises(ValueError, match="clip"):
        io.quantize_file(src, tmp_path / "q.safetensors", clip="max")
    assert not (tmp_path / "q.safetensors").exists()
