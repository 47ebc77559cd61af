"""The containers int8q.io knows, and which one an input path belongs to.

A container is a module of this package with the same interface:

    NAME            what `detect_format` returns
    DESCRIPTION     how the input is named, for the "unknown format" message
    OUTPUT_IS_DIR   whether the output is a directory (else a file)
    OUTPUT_SUFFIX   the quantized output's suffix (_suffix.FOLDER for a directory)
    claims(path)    whether an existing input path is this container's,
                    told from its name (and, for directories, their listing)
    inputs(path)    the paths an output must never overwrite
    quantize(src, dst, opts, progress)
    dequantize(src, dst, progress)
    inspect(path)   one row dict per tensor (see int8q.io.inspect_file)
    originals(path) a context manager giving a reader of the float
                    checkpoint's tensors by name (None where it lacks one);
                    FormatError (`already_quantized`) for a quantized one
    quantized(path) the quantized tensors (name, codes, q * scale), one at
                    a time, through the same checks as dequantize

`progress` is a factory ``(total_bytes, description) -> Progress``.  To add
a format, write such a module and list it below (int8q compare then
reads it through originals and quantized); order matters only where
two containers could claim the same path (the first wins).
"""

import os

from .._support._errors import FormatError
from . import _gguf, _hf, _npy, _npz, _onnx, _safetensors_file, _sharded
from ._container import Container

# _hf before _sharded: a model folder (config.json inside) is also a directory.
CONTAINERS: tuple[Container, ...] = (_safetensors_file, _hf, _sharded, _npy, _npz, _gguf, _onnx)


def container_for(path: str) -> Container:
    """The container module for an existing input path.

    FileNotFoundError when `path` does not exist; FormatError when no
    container claims it.
    """
    if not os.path.exists(path):
        raise FileNotFoundError(f"no such file or directory: {path}")
    for container in CONTAINERS:
        if container.claims(path):
            return container
    expected = ", ".join(c.DESCRIPTION for c in CONTAINERS[:-1])
    raise FormatError(
        f"{path}: unknown format (expected {expected} or {CONTAINERS[-1].DESCRIPTION})"
    )
