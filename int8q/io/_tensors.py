"""Tensors one at a time, for `compare`: originals by name, quantized ones
as their codes and ``q * scale``.

Every container reads its own files through its `originals` and `quantized`
(the Container interface, _containers._registry): the same checks as
`dequantize`, one tensor at a time, so memory holds the tensor in hand,
never the checkpoint.  Nothing here knows one container from another.
"""

import contextlib
from collections.abc import Iterator

from ._containers._container import Originals, Quantized
from ._containers._registry import container_for
from ._support._errors import FormatError

__all__ = ["Originals", "Quantized", "originals", "quantized"]


@contextlib.contextmanager
def originals(path: str) -> Iterator[Originals]:
    """A reader of the float checkpoint `path`, tensor by name."""
    with container_for(path).originals(path) as read:
        yield read


def quantized(path: str) -> Iterator[Quantized]:
    """Every quantized tensor of `path`, in file order.

    FormatError for a checkpoint that holds none, or that int8q cannot
    dequantize (the same checks as `dequantize_file`).
    """
    empty = True
    for tensor in container_for(path).quantized(path):
        empty = False
        yield tensor
    if empty:
        raise FormatError(f"{path}: holds no quantized tensor (give ORIGINAL, then QUANTIZED)")
