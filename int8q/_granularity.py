"""Turn (shape, axis, block_size) into scale shapes and kernel layouts.

`resolve` is the one place where a call's axis and block_size become its
geometry: each public function resolves once (the arguments checked by
_checks.granularity) and hands the Granularity to the engine, which reads
its fields and never recomputes them from axis and block_size.

The kernels see the input as its flat C-order index space; a layout tuple
(n_row, block, cmod, nb, rgrp, rblk) says which scale each flat index uses
(see src/core/kernels.h):  scale number = key(row) * nb + column // block,
with row, column = divmod(index, n_row) and key(row) = row % cmod, or for
blocks along a non-last axis (rblk > 0)
(row // rgrp) * ceil(rgrp / rblk) + (row % rgrp) // rblk.
"""

import functools
import math
from collections.abc import Sequence
from typing import Any, NamedTuple

from . import _checks
from ._typing import Layout

# A block of at most this many elements is quantized right after its abs-max,
# while it is still in cache (1 << 17 float32 = 512 KiB).
MAX_FUSED_BLOCK = 1 << 17
# Blocks along a non-last axis go fused where the rows of a block (each
# row's scales its own) hold at most this many elements (2 MiB of float32:
# still in a core's share of cache when they are read again).  Narrow rows
# go several at a time through the fused loops (src/core/drivers.h ROW_RUN).
MAX_FUSED_ROWS = 1 << 19


class Granularity(NamedTuple):
    # axis alone: per channel; block_size alone: blocks of the last axis;
    # both: blocks along that (non-last) axis.
    axis: int | None  # normalised (non-negative) axis, or None
    block_size: int | None
    scale_shape: tuple[int, ...]
    layout: Layout  # (n_row, block, cmod, nb, rgrp, rblk) for the kernels
    # each scale owns one contiguous, cache-sized block (see chunk_fused)
    fused: bool
    align: int  # chunk cuts inside a row fall on multiples of this

    @property
    def nscales(self) -> int:
        return math.prod(self.scale_shape)

    @property
    def block(self) -> int:
        """With block_size: the length of a full block, block_size capped at
        the blocked axis's length (at least 1); the last block may be shorter."""
        return self.layout[5] or self.layout[1]

    @property
    def chunk_fused(self) -> bool:
        """fused, for calls chunk by chunk too: chunk cuts at multiples of
        align keep blocks whole, except blocks along a non-last axis, which
        span rows (fused for one call over the whole array only)."""
        return self.fused and not self.layout[5]

    @property
    def blocked_axis(self) -> int:
        """With block_size: the axis blocks run along (the last one for
        block_size alone)."""
        return len(self.scale_shape) - 1 if self.axis is None else self.axis


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
    if axis is not None and block_size is not None:
        return _along(shape, axis, block_size)
    if axis is not None:
        pre = math.prod(shape[:axis])
        channels = shape[axis]
        post = math.prod(shape[axis + 1 :])
        if post == 1:
            # Channels on the last axis: every row uses all the scales in turn.
            layout: Layout = (max(channels, 1), 1, 1, max(channels, 1), 0, 0)
            fused = False
        else:
            layout = (max(post, 1), max(post, 1), max(channels, 1), 1, 0, 0)
            fused = pre == 1 and post <= MAX_FUSED_BLOCK
        return Granularity(axis, None, (channels,), layout, fused, max(post, 1))
    if block_size is not None:
        n = shape[-1]
        rows = math.prod(shape[:-1])
        nblocks = -(-n // block_size)
        block = max(min(block_size, n), 1)
        layout = (max(n, 1), block, max(rows, 1), max(nblocks, 1), 0, 0)
        # blocks of 1 too: one scale per element, each its own block
        fused = block <= MAX_FUSED_BLOCK
        return Granularity(None, block_size, shape[:-1] + (nblocks,), layout, fused, block)
    return per_tensor(math.prod(shape))


def per_tensor(size: int) -> Granularity:
    """One scale for all `size` elements: a call without axis and
    block_size, and the engine's whole-array pass that finds NaN/inf
    before a call writes into its caller's buffer (_engine.check_finite),
    which has no arguments to resolve."""
    return Granularity(None, None, (), (max(size, 1), max(size, 1), 1, 1, 0, 0), False, 1)


def _along(shape: tuple[int, ...], axis: int, block_size: int) -> Granularity:
    """Blocks of block_size along a non-last axis of an array (pre, A, post):
    the scale of element (p, a, i) is (p, a // block_size, i), its shape x's
    with that axis ceil-divided (ONNX's blocked QuantizeLinear)."""
    pre = math.prod(shape[:axis])
    length = shape[axis]
    post = math.prod(shape[axis + 1 :])
    nblocks = -(-length // block_size)
    block = max(min(block_size, length), 1)
    scale_shape = shape[:axis] + (nblocks,) + shape[axis + 1 :]
    if post == 1:
        # Trailing axes of length 1: the flat order is that of blocks along
        # the last axis, and so is the layout.
        layout: Layout = (max(length, 1), block, max(pre, 1), max(nblocks, 1), 0, 0)
        return Granularity(axis, block_size, scale_shape, layout, block <= MAX_FUSED_BLOCK, block)
    # Rows of post elements, one scale per column; rows of one block along
    # the axis share their scales (src/core/kernels.h, rblk).
    layout = (max(post, 1), 1, max(pre * nblocks, 1), max(post, 1), max(length, 1), block)
    fused = block * post <= MAX_FUSED_ROWS
    return Granularity(axis, block_size, scale_shape, layout, fused, max(post, 1))
