"""The interface of a container module, as types (described in _registry),
and the error every container's `originals` gives for a quantized checkpoint.

Each container module (_safetensors_file, _sharded, _npy, _npz...) matches
`Container`; mypy checks that when _registry lists it.
"""

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from typing import Any, NamedTuple, Protocol, TypedDict

import numpy as np
import numpy.typing as npt

from .._policy._convention import Options
from .._support._errors import FormatError
from .._support._progress import Progress

# (total bytes, description) -> a progress bar to use as a context manager.
ProgressFactory = Callable[[int, str], Progress]


class _RowKeys(TypedDict):
    file: str
    name: str
    shape: tuple[int, ...]
    dtype: str
    scheme: str
    size: int
    original_dtype: str | None


class Row(_RowKeys, total=False):
    """One tensor, as int8q.io.inspect_file lists it."""

    strategy: str | None  # Hugging Face folders only: "channel", "tensor", "group:G"


class Quantized(NamedTuple):
    """One quantized tensor: its name in the original checkpoint, its int8
    codes and ``q * scale`` (float32), both in the tensor's shape."""

    name: str
    q: npt.NDArray[np.int8]
    values: npt.NDArray[Any]


# name -> the original tensor's values, or None when the checkpoint lacks it
Originals = Callable[[str], "npt.NDArray[Any] | None"]


def already_quantized(path: str) -> FormatError:
    """What `originals` raises for a checkpoint that is itself quantized."""
    return FormatError(
        f"{path}: quantized; give the float checkpoint it was made from first, then the quantized one"
    )


class Container(Protocol):
    NAME: str
    DESCRIPTION: str
    OUTPUT_IS_DIR: bool
    OUTPUT_SUFFIX: str

    def claims(self, path: str) -> bool: ...
    def inputs(self, path: str) -> list[str]: ...
    def quantize(self, src: str, dst: str, opts: Options, progress: ProgressFactory) -> None: ...
    def dequantize(self, src: str, dst: str, progress: ProgressFactory) -> None: ...
    def inspect(self, path: str) -> list[Row]: ...
    def originals(self, path: str) -> AbstractContextManager[Originals]: ...
    def quantized(self, path: str) -> Iterator[Quantized]: ...
