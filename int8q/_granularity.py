"""Turn (shape, axis, block_size) into scale shapes and kernel layouts.

`resolve` is the one place where a call's axis and block_size become its
geometry: each public function resolves once (the arguments checked by
_checks.granularity) and hands the Granularity to the engine, which reads
its fields and never recomputes them from axis and block_size.

The kernels see the input as its flat C-order index space; a layout tuple
(n_row, block, cmod, nb) says which scale each flat index uses (see
src/core/kernels.h):  scale number = (row % cmod) * nb + column // block,
with row, column = divmod(index, n_row).
"""

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import _checks

# A block of at most this many elements is quantized right after its abs-max,
# while it is still in cache (1 << 17 float32 = 512 KiB).
MAX_FUSED_BLOCK = 1 << 17


class Granularity(NamedTuple):
    axis: int | None  # normalised (non-negative) axis, or None
    block_size: int | None
    scale_shape: tuple[int, ...]
    layout: tuple[int, int, int, int]  # (n_row, block, cmod, nb) for the kernels
    fused: bool  # each scale owns one contiguous, cache-sized block
    align: int  # chunk cuts inside a row fall on multiples of this

    @property
    def nscales(self) -> int:
        return math.prod(self.scale_shape)

    @property
    def block(self) -> int:
        """With block_size: the length of a full block, block_size capped at
        the last axis's length (at least 1); a row's last block may be shorter."""
        return self.layout[1]


@functools.lru_cache(maxsize=256)
def _resolve_cached(
    shape: tuple[int, ...], axis: int | None, block_size: int | None
) -> Granularity:
    return _resolve(shape, axis, block_size)


def resolve(shape: Sequence[int], axis: Any = None, block_size: Any = None) -> Granularity:
    """The Granularity for an array of `shape`; raises for bad arguments."""
    if (axis is None or type(axis) is int) and (block_size is None or type(block_size) is int):
        return _resolve_cached(tuple(shape), axis, block_size)
    return _resolve(tuple(shape), axis, block_size)


def _resolve(shape: tuple[int, ...], axis: Any, block_size: Any) -> Granularity:
    ndim = len(shape)
    axis, block_size = _checks.granularity(ndim, axis, block_size)
    if axis is not None:
        pre = math.prod(shape[:axis])
        channels = shape[axis]
        post = math.prod(shape[axis + 1 :])
        if post == 1:
            # Channels on the last axis: every row uses all the scales in turn.
            layout = (max(channels, 1), 1, 1, max(channels, 1))
            fused = False
        else:
            layout = (max(post, 1), max(post, 1), max(channels, 1), 1)
            fused = pre == 1 and post <= MAX_FUSED_BLOCK
        return Granularity(axis, None, (channels,), layout, fused, max(post, 1))
    if block_size is not None:
        n = shape[-1]
        rows = math.prod(shape[:-1])
        nblocks = -(-n // block_size)
        block = max(min(block_size, n), 1)
        layout = (max(n, 1), block, max(rows, 1), max(nblocks, 1))
        fused = 1 < block <= MAX_FUSED_BLOCK
        return Granularity(None, block_size, shape[:-1] + (nblocks,), layout, fused, block)
    n = math.prod(shape)
    return Granularity(None, None, (), (max(n, 1), max(n, 1), 1, 1), False, 1)
