"""What `import int8q`, `import int8q.io` and the command line load.

The command line starts in a tenth of a second only if it imports nothing it
does not need for the job at hand: ml_dtypes alone takes about half a second
to import, and is installed wherever jax, tensorflow or onnx are.  Each case
runs in a fresh interpreter, which reports every module it ended with.
"""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

# Optional peers and heavy packages that none of these jobs needs.
OPTIONAL = (
    "ml_dtypes",
    "tqdm",
    "huggingface_hub",
    "matplotlib",
    "dask",
    "distributed",
    "zarr",
    "numcodecs",
    "onnx",
    "onnxruntime",
    "torch",
    "safetensors",
    "gguf",
    "scipy",
    "pandas",
    "jax",
    "numba",
    "requests",
)
# int8q's add-ons for other libraries, each imported only by its user
# (int8q.ggml is also int8q.io's Q8_0 for GGUF files).
ADDONS = ("int8q.dask", "int8q.zarr", "int8q.codec")

# Runs argv[1] ("import" and a module, "-m" and the command line's arguments,
# or "script" and them: the installed console script), then writes the
# module names on a last line of stderr.
RUNNER = """
import json, runpy, sys
how, args = sys.argv[1], sys.argv[2:]
try:
    if how == "import":
        __import__(args[0])
    elif how == "-m":
        sys.argv = ["int8q", *args]
        runpy.run_module("int8q", run_name="__main__", alter_sys=True)
    else:
        sys.argv = [how, *args]
        runpy.run_path(how, run_name="__main__")
except SystemExit as exc:
    assert exc.code in (0, None), exc.code
sys.stderr.write("\\nMODULES " + json.dumps(sorted(sys.modules)) + "\\n")
"""


def loaded(how, *args, cwd):
    """The modules a fresh interpreter holds after running `how` with `args`."""
    proc = subprocess.run(
        [sys.executable, "-c", RUNNER, how, *map(str, args)],
        capture_output=True,
        text=True,
        cwd=cwd,  # not a source checkout, whose int8q/ would shadow the installed one
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    last = proc.stderr.rstrip().rsplit("\n", 1)[-1]
    assert last.startswith("MODULES "), proc.stderr
    return set(json.loads(last[len("MODULES ") :]))


def unneeded(modules):
    """The optional packages and add-ons among `modules`."""
    return sorted(
        m
        for m in modules
        if m.split(".")[0] in OPTIONAL or any(m == a or m.startswith(a + ".") for a in ADDONS)
    )


def write_bf16(path, tensors):
    """A safetensors file of bfloat16 tensors, from their float32 values
    (truncated to bfloat16 bits: written without ml_dtypes)."""
    header, data, position = {}, [], 0
    for name, values in tensors.items():
        bits = (np.asarray(values, np.float32).view(np.uint32) >> 16).astype("<u2")
        header[name] = {
            "dtype": "BF16",
            "shape": list(bits.shape),
            "data_offsets": [position, position + bits.nbytes],
        }
        data.append(bits.tobytes())
        position += bits.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(data))


def test_import_int8q_loads_no_addon_and_no_optional_package(tmp_path):
    modules = loaded("import", "int8q", cwd=tmp_path)
    assert "int8q._kernels" in modules  # (the runner saw the import)
    assert unneeded(modules) == []
    assert not {"int8q.io", "int8q.cli", "int8q.ggml"} & modules


def test_import_int8q_io_loads_no_optional_package(tmp_path):
    modules = loaded("import", "int8q.io", cwd=tmp_path)
    assert "int8q.io" in modules
    assert unneeded(modules) == []


def test_help_loads_no_optional_package(tmp_path):
    modules = loaded("-m", "--help", cwd=tmp_path)
    assert "int8q.cli" in modules
    assert unneeded(modules) == []


def test_console_script_help_loads_no_optional_package(tmp_path):
    script = os.path.join(os.path.dirname(sys.executable), "int8q")
    if not os.path.isfile(script):
        pytest.skip("no int8q console script beside this interpreter")
    modules = loaded(script, "--help", cwd=tmp_path)
    assert "int8q.cli" in modules
    assert unneeded(modules) == []


@pytest.mark.parametrize("folder", [False, True], ids=["file", "model-folder"])
def test_quantizing_bfloat16_needs_no_ml_dtypes(tmp_path, folder):
    rng = np.random.default_rng(0)
    tensors = {"model.layers.0.mlp.up_proj.weight": rng.standard_normal((16, 32))}
    if folder:
        src = tmp_path / "model"
        src.mkdir()
        (src / "config.json").write_text(json.dumps({"torch_dtype": "bfloat16"}))
        write_bf16(src / "model.safetensors", tensors)
        dst = tmp_path / "model-int8"
    else:
        src, dst = tmp_path / "m.safetensors", tmp_path / "q.safetensors"
        write_bf16(src, tensors)
    modules = loaded("-m", "quantize", src, "-o", dst, "--quiet", cwd=tmp_path)
    assert dst.exists()
    assert unneeded(modules) == []


def test_restoring_bfloat16_loads_ml_dtypes_where_installed(tmp_path):
    # The other side of the tests above: a job that writes bfloat16 from
    # float32 values imports ml_dtypes, where installed, and the check sees it.
    pytest.importorskip("ml_dtypes")
    src, q = tmp_path / "m.safetensors", tmp_path / "q.safetensors"
    write_bf16(src, {"w": np.random.default_rng(1).standard_normal((4, 8))})
    loaded("-m", "quantize", src, "-o", q, "--quiet", cwd=tmp_path)
    modules = loaded("-m", "dequantize", q, "-o", tmp_path / "b.safetensors", "-q", cwd=tmp_path)
    assert "ml_dtypes" in unneeded(modules)
