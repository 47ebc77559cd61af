"""A model folder's config.json and index are checked when it is quantized
(not first when the output is read back): a value of the wrong type is
refused in one line naming the file and the key, and a link loop in the
folder gives a short message, with nothing written (docs/semantics.md §6)."""

import json
import os

import numpy as np
import pytest
from checkpoints import listing
from cli import run_cli
from hf_folders import CONFIG, make_folder, tiny_tensors

import int8q.io
from int8q.io import FormatError


def folder_with(tmp_path, shards=1, **config):
    t = tiny_tensors(np.random.default_rng(0))
    return make_folder(tmp_path / "model", t, shards=shards, config={**CONFIG, **config})


def refused(tmp_path, src, *expected):
    before = listing(tmp_path)
    proc = run_cli("quantize", src, "-o", tmp_path / "out", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    err = proc.stderr.strip()
    assert len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert len(err) < 300, err  # a short line, not a repr of a list of errors
    for text in expected:
        assert text in err, err
    assert listing(tmp_path) == before  # nothing written, no temporary left
    return err


@pytest.mark.parametrize(
    "key, value",
    [
        ("torch_dtype", [1]),
        ("torch_dtype", {"float": 32}),
        ("dtype", 16),
    ],
)
def test_dtype_of_the_wrong_type(tmp_path, key, value):
    src = folder_with(tmp_path, **{key: value})
    refused(tmp_path, src, "config.json", key, json.dumps(value))
    with pytest.raises(FormatError, match=key):
        int8q.io.quantize_file(src, tmp_path / "api-out")


@pytest.mark.parametrize("value", [[1], "compressed-tensors", 3, None])
def test_quantization_config_not_an_object(tmp_path, value):
    src = folder_with(tmp_path, quantization_config=value)
    refused(tmp_path, src, "config.json", "quantization_config", "expected an object")


def test_weight_map_entry_not_a_file_name(tmp_path):
    src = folder_with(tmp_path, shards=2)
    index = src / "model.safetensors.index.json"
    data = json.loads(index.read_text())
    name = sorted(data["weight_map"])[0]
    data["weight_map"][name] = ["model-00001-of-00002.safetensors"]
    index.write_text(json.dumps(data))
    refused(tmp_path, src, "model.safetensors.index.json", f"weight_map[{name!r}]")


def test_valid_dtypes_still_quantize(tmp_path):
    src = folder_with(tmp_path, torch_dtype="bfloat16", dtype=None)
    int8q.io.quantize_file(src, tmp_path / "out")
    assert json.loads((tmp_path / "out" / "config.json").read_text())["torch_dtype"] == "bfloat16"


@pytest.mark.skipif(not hasattr(os, "symlink"), reason="no symbolic links")
@pytest.mark.parametrize(
    "make",
    [
        lambda src: os.symlink(".", src / "loop"),  # a folder linking to itself
        lambda src: os.symlink("..", src / "1_Pooling" / "up"),  # to its parent
        lambda src: os.symlink("selfloop", src / "selfloop"),  # a link to itself
    ],
)
def test_link_loop_is_a_short_message(tmp_path, make):
    src = folder_with(tmp_path)
    try:
        make(src)
    except OSError:
        pytest.skip("cannot make symbolic links here")
    refused(tmp_path, src, "symbolic link loop")


def test_dangling_link_is_a_short_message(tmp_path):
    src = folder_with(tmp_path)
    try:
        os.symlink("nowhere.txt", src / "vocab.txt")
    except OSError:
        pytest.skip("cannot make symbolic links here")
    refused(tmp_path, src, "vocab.txt")
