"""The interface of a container module, as types (described in _registry).

Each container module (_safetensors_file, _sharded, _npy, _npz...) matches
`Container`; mypy checks that when _registry lists it.
"""

from collections.abc import Callable
from typing import Protocol, TypedDict

from .._policy._convention import Options
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
