"""The fuzz targets: what tools/verify/fuzz_parsers.py (atheris) runs and what
tests/io/test_fuzz_regressions.py replays, with their seeds.

Each target takes the fuzzer's bytes and checks the parsers' invariant
(tests/support/file_seeds.py): a documented error (ValueError) or a correct
result; never another exception, a crash, a hang, a file left behind or an
existing output damaged.
"""

import json
import os
import shutil
import tempfile

import file_seeds as file_tests
import numpy as np
import test_fuzz_codec as codec_tests
from checkpoints import read_safetensors, write_sharded

GOLDEN = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "golden")
# Findings of the fuzzer kept as regression files: GOLDEN/fuzz/TARGET/NAME.
FINDINGS = os.path.join(GOLDEN, "fuzz")


def _metadata_file(data):
    """A valid safetensors file whose int8q metadata is `data`."""
    header, body = file_tests.metadata_seed()
    header = {**header, "__metadata__": {"int8q": data.decode("latin1")}}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    return len(blob).to_bytes(8, "little") + blob + body


def _index_check(data):
    folder = tempfile.mkdtemp()
    try:
        index = write_sharded(
            os.path.join(folder, "in"),
            [{"a.weight": np.ones((2, 3), np.float32)}, {"b.weight": np.ones((3, 2))}],
        )
        with open(index, "wb") as f:
            f.write(data)
        file_tests.run_all(folder, os.path.dirname(index))
    finally:
        shutil.rmtree(folder)


def _file_target(suffix):
    return lambda data: file_tests.in_folder("in" + suffix, data, file_tests.run_all)


def _seeds(*keys):
    return lambda: [file_tests.SEEDS[k][1] for k in keys]


# name: (check(bytes), seeds() -> [bytes], which golden files it reads)
TARGETS = {
    "safetensors": (
        _file_target(".safetensors"),
        _seeds("safetensors", "safetensors quantized"),
        lambda name: name.endswith(".safetensors"),
    ),
    "metadata": (
        lambda data: file_tests.in_folder(
            "in.safetensors", _metadata_file(data), file_tests.run_all
        ),
        lambda: [file_tests.metadata_seed()[0]["__metadata__"]["int8q"].encode()],
        None,  # the int8q metadata of the golden safetensors files
    ),
    "index": (
        _index_check,
        lambda: [
            b'{"metadata": {"total_size": 48}, "weight_map": '
            b'{"a.weight": "model-00001-of-00002.safetensors", '
            b'"b.weight": "model-00002-of-00002.safetensors"}}'
        ],
        None,
    ),
    "npy": (_file_target(".npy"), _seeds("npy", "npy fortran"), lambda n: n.endswith(".npy")),
    "npz": (
        _file_target(".npz"),
        _seeds("npz", "npz compressed", "npz quantized"),
        lambda name: name.endswith(".npz"),
    ),
    "codec": (
        codec_tests.check_decodes_or_value_error,
        lambda: list(codec_tests.SEEDS),
        lambda name: name.startswith("codec_") and name.endswith(".bin"),
    ),
    "gguf": (
        _file_target(".gguf"),
        lambda: [file_tests.gguf_seed()],
        lambda name: name.endswith(".gguf"),
    ),
    "onnx": (
        _file_target(".onnx"),
        lambda: _onnx_seeds(),
        lambda name: name.endswith(".onnx"),
    ),
}


def _onnx_seeds():
    """Small float models as bytes: Gather, MatMul, Transpose...; Conv;
    Gemm; a float16 Gather."""
    import pathlib

    from onnx_conv_models import conv_model, float16_gather, gemm_model
    from onnx_models import transformer_like

    folder = tempfile.mkdtemp()
    try:
        seeds = []
        for make in (
            transformer_like,
            conv_model,
            lambda p: gemm_model(p, attrs={"transB": 1}),
            float16_gather,
        ):
            with open(make(pathlib.Path(folder) / "seed.onnx"), "rb") as f:
                seeds.append(f.read())
        return seeds
    finally:
        shutil.rmtree(folder)


def golden_seeds(target):
    """The golden files `target` reads (bytes)."""
    names = sorted(n for n in os.listdir(GOLDEN) if os.path.isfile(os.path.join(GOLDEN, n)))
    reads = TARGETS[target][2]
    if target == "metadata":
        metas = [
            read_safetensors(os.path.join(GOLDEN, n))[1]
            for n in names
            if n.endswith(".safetensors")
        ]
        return [m["int8q"].encode() for m in metas if "int8q" in m]
    seeds = []
    for name in filter(reads, names) if reads else ():
        with open(os.path.join(GOLDEN, name), "rb") as f:
            seeds.append(f.read())
    return seeds


def findings(target):
    """(path, bytes) of the findings kept for `target`."""
    folder = os.path.join(FINDINGS, target)
    kept = []
    for name in sorted(os.listdir(folder)) if os.path.isdir(folder) else ():
        with open(os.path.join(folder, name), "rb") as f:
            kept.append((os.path.join(folder, name), f.read()))
    return kept
