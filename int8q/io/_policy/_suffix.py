"""What an output path is called: its suffix names the container written.

A file output ends with its container's suffix (``.safetensors``, ``.npz``,
``.npy``, ``.gguf``, ``.onnx``; any case); a folder output (a sharded checkpoint, a
Hugging Face model folder) ends with none of them, so that a folder is
never written under a file's name, nor one container's bytes under
another's.  docs/semantics.md §4 states the rule.
"""

import os

from .._support._errors import FormatError

FOLDER = ""  # the "suffix" of a folder output
# Each file container's suffix, spelled here only (the containers import it).
SAFETENSORS = ".safetensors"
NPZ = ".npz"
NPY = ".npy"
GGUF = ".gguf"
ONNX = ".onnx"
JSON = ".json"
# The index of a sharded checkpoint, as Hugging Face names it (model.safetensors.index.json).
SHARDED_INDEX = SAFETENSORS + ".index" + JSON
FILE_SUFFIXES = (SAFETENSORS, NPZ, NPY, GGUF, ONNX, JSON)


def has_suffix(path: str, suffix: str) -> bool:
    """Whether the name `path` ends with `suffix`, in any case."""
    return os.fspath(path).lower().endswith(suffix)


def check_suffix(dst: str, suffix: str) -> None:
    """FormatError unless `dst` is named for what is written there: a file
    with `suffix`, or a folder (`suffix` FOLDER) without a file suffix."""
    name = os.path.basename(os.path.normpath(os.fspath(dst))).lower()
    if suffix == FOLDER:
        found = next((s for s in FILE_SUFFIXES if name.endswith(s)), None)
        if found:
            raise FormatError(
                f"{dst}: the output is a folder; give it a name without a file suffix (not {found})"
            )
    elif not name.endswith(suffix) or os.fspath(dst).endswith(("/", os.sep)):
        raise FormatError(f"{dst}: the output is a {suffix} file; give it the {suffix} suffix")
