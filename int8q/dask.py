"""Quantize Dask arrays chunk by chunk, bit-identical to `int8q.quantize`.

Needs the optional dependency dask (``pip install "int8q[dask]"``); works with
any Dask scheduler, ``dask.distributed`` included (the tasks are plain
module-level functions of int8q, so workers only need int8q installed).

    >>> import dask.array as da, numpy as np, int8q.dask
    >>> x = da.from_array(np.arange(12, dtype=np.float32).reshape(3, 4), chunks=2)
    >>> qt = int8q.dask.quantize(x, axis=0)
    >>> qt.q.chunks == x.chunks
    True
    >>> qt.scale.compute()
    array([0.02362205, 0.05511811, 0.08661418], dtype=float32)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, SupportsIndex

import dask.array as da
import numpy as np
import numpy.typing as npt
from dask.layers import ArraySliceDep

from . import QTensor, absmax, dequantize
from ._shared import (
    FloatArray,
    Granularity,
    Int8Array,
    QuantizedBase,
    WorkingDtype,
    broadcast_shape,
    dask_array,
    find_nonfinite,
    given_scales,
    known_chunks,
    nonfinite_error,
    quantize_with_scale,
    refuse_masked,
    resolve,
    rounding_code,
    scale_dtype,
    scales_from_absmax,
    working_dtype,
)
from ._typing import Rounding

__all__ = ["DaskQTensor", "quantize"]


class DaskQTensor(QuantizedBase):
    """Lazy int8 tensor and its scales, as Dask arrays.

    Attributes
    ----------
    q : dask.array.Array of int8
        x's shape and chunks (per block: the chunks of the blocked axis
        moved onto multiples of `block_size` where they were not).
    scale : dask.array.Array of the working dtype
        Shaped as `int8q.quantize` shapes it: ``()``, ``(x.shape[axis],)``,
        ``x.shape[:-1] + (ceil(n / block_size),)``, or x's shape with `axis`
        ceil-divided by `block_size` for blocks along `axis`.
    axis, block_size, rounding : as given to `quantize` (axis normalised)

    Examples
    --------
    >>> import dask.array as da, numpy as np, int8q.dask
    >>> x = da.ones((4, 6), chunks=2, dtype=np.float32)
    >>> int8q.dask.quantize(x, block_size=3)
    DaskQTensor(shape=(4, 6), block_size=3, rounding='half_even', scale dtype=float32, chunks=(2, 3))
    """

    __slots__ = ()
    q: da.Array
    scale: da.Array

    def dequantize(self, dtype: npt.DTypeLike | None = None) -> da.Array:
        """``q * scale`` as a Dask array (working dtype, or `dtype`).

        Chunk by chunk with `int8q.dequantize`, so it is bit-identical to
        ``int8q.quantize(x).dequantize(dtype)``.

        Parameters
        ----------
        dtype : data-type, optional
            The result's dtype (default: the scale's).

        Returns
        -------
        dask.array.Array

        Examples
        --------
        >>> import dask.array as da, numpy as np, int8q.dask
        >>> x = da.from_array(np.array([1.0, -0.5, 0.25, 2.0]), chunks=2)
        >>> int8q.dask.quantize(x).dequantize().compute()
        array([ 1.00787402, -0.50393701,  0.2519685 ,  2.        ])
        """
        out = np.dtype(self.scale.dtype if dtype is None else dtype)
        return _blockwise(
            _dequantize_block, out, self.q, self.scale, self.axis, self.block_size, out_dtype=out
        )

    def compute(self, **kwargs: Any) -> QTensor:
        """Compute q and scale together and return an `int8q.QTensor`.

        Parameters
        ----------
        **kwargs
            Passed to ``dask.compute`` (``scheduler=``, for one).

        Returns
        -------
        QTensor

        Examples
        --------
        >>> import dask.array as da, numpy as np, int8q.dask
        >>> x = da.from_array(np.array([1.0, -0.5, 0.25, 2.0]), chunks=2)
        >>> int8q.dask.quantize(x).compute().q
        array([ 64, -32,  16, 127], dtype=int8)
        """
        import dask

        q, scale = dask.compute(self.q, self.scale, **kwargs)
        return QTensor(q, scale, self.axis, self.block_size, self.rounding)

    def _repr_extra(self) -> str:
        return f", chunks={self.q.chunksize}"


def quantize(
    x: da.Array,
    *,
    axis: SupportsIndex | None = None,
    block_size: SupportsIndex | None = None,
    rounding: Rounding = "half_even",
    scale: npt.ArrayLike | da.Array | None = None,
    split_every: int | dict[int, int] | None = None,
) -> DaskQTensor:
    """Symmetric INT8 quantization of a Dask array, lazily.

    Same contract as `int8q.quantize` and bit-identical to it on the same
    data: the abs-max of each chunk comes from int8q's kernel, the maxima
    are combined exactly (a max does not depend on order), and each chunk is
    quantized with the global scales.

    - per tensor: a tree reduction of per-chunk abs-maxima to one scale,
      then every chunk is quantized with it;
    - per channel (`axis`): the same, keeping the `axis` dimension; works
      on any chunking;
    - per block (`block_size`): blocks must not straddle chunks, so the last
      axis (or `axis`, when given with `block_size`: blocks along it) is
      rechunked onto multiples of `block_size` when its chunk boundaries
      are not already there; each chunk then finds its own scales.

    Parameters
    ----------
    x : dask.array.Array
        Real numbers (float16, bfloat16, float32, float64, integer) with
        known chunk sizes.
    axis, block_size, rounding
        As for `int8q.quantize`.
    scale : array_like or dask.array.Array, optional
        The scales, when already known: typically ``quantize(x, ...).scale``
        computed in a first pass.  Checked as `int8q.quantize` checks a
        given scale (it must broadcast to the shape `int8q.quantize` gives
        its scale, and be finite and > 0 in the working dtype): at once when
        in memory; a Dask array's dtype and shape at once, its values when
        computed, naming their position in it.  Must be what `int8q.quantize`
        computes for `x` for the results to be identical.  See Notes.
    split_every : int or dict, optional
        Fan-in of the abs-max tree reduction (Dask's default otherwise).

    Returns
    -------
    DaskQTensor

    Raises
    ------
    ValueError, TypeError, numpy.exceptions.AxisError
        For bad arguments, at once, as `int8q.quantize` raises them (masked
        chunks: TypeError, at once when x's meta is a masked array, else
        when computed).
    ValueError
        NaN or inf in `x`, when computed; the message names its position in
        `x`.

    Notes
    -----
    Each chunk of `x` feeds both the abs-max and its quantization, and the
    quantization waits for the scales of the chunk's channels.  Per tensor
    that is the abs-max of all of `x`, so one graph holds every chunk (in
    memory, or spilled to disk by dask.distributed) until the last one is
    read; per channel, until the chunks sharing its channels are read
    (``axis=0``: one row of chunks at a time); per block, nothing.
    For arrays larger than memory, compute the scale first: the second pass
    reads `x` again chunk by chunk::

        scale = int8q.dask.quantize(x, axis=0).scale.compute()
        qt = int8q.dask.quantize(x, axis=0, scale=scale)

    Examples
    --------
    >>> import dask.array as da, numpy as np, int8q, int8q.dask
    >>> x = da.random.default_rng(0).standard_normal((100, 64), chunks=(25, 32))
    >>> qt = int8q.dask.quantize(x, axis=0)
    >>> expected = int8q.quantize(x.compute(), axis=0)
    >>> bool((qt.q.compute() == expected.q).all())
    True
    """
    dask_array(x, da.Array)
    known_chunks(x.shape)
    # A Dask array of masked chunks says so in its meta (its chunk type).
    refuse_masked(x._meta, "x")
    rounding_code(rounding)
    work = working_dtype(x.dtype)
    gran = resolve(x.shape, axis, block_size)
    if gran.block_size is not None:
        x = _block_aligned(x, gran)
    if scale is not None:
        scale = _given_scales(scale, x, gran, work)
    elif gran.block_size is not None:
        scale = _per_block_scales(x, gran, work)
    else:
        scale = _reduced_scales(x, gran.axis, work, split_every)
    q = _blockwise(
        _quantize_block,
        np.dtype(np.int8),
        x,
        scale,
        gran.axis,
        gran.block_size,
        located=True,
        rounding=rounding,
    )
    return DaskQTensor(q, scale, gran.axis, gran.block_size, rounding)


def _blockwise(
    func: Callable[..., npt.NDArray[Any]],
    dtype: np.dtype[Any],
    x: da.Array,
    scale: da.Array,
    axis: int | None,
    block_size: int | None,
    located: bool = False,
    **kwargs: Any,
) -> da.Array:
    """func(x_chunk, scale_chunk, axis=..., block_size=..., **kwargs) over
    matching chunks of x (or q) and its scales; with `located`, the chunk's
    slices of x come third (func(x_chunk, scale_chunk, slices, ...))."""
    ind = tuple(range(x.ndim))
    if block_size is not None:
        # Scale chunks pair with x chunks one to one but are shorter on the
        # blocked axis: no chunk unification.
        scale_ind, align = ind, False
    elif axis is not None:
        scale_ind, align = (axis,), True
    else:
        scale_ind, align = (), True
    if align:  # first, so that the slices are those of the chunks func gets
        _, (x, scale) = da.unify_chunks(x, ind, scale, scale_ind)
    where = (ArraySliceDep(x.chunks), ind) if located else ()
    return da.blockwise(
        func,
        ind,
        x,
        ind,
        scale,
        scale_ind,
        *where,
        dtype=dtype,
        align_arrays=False,
        axis=axis,
        block_size=block_size,
        meta=np.empty((0,) * x.ndim, dtype),
        **kwargs,
    )


def _quantize_block(
    x: npt.NDArray[Any],
    scale: FloatArray,
    slices: tuple[slice, ...],
    axis: int | None,
    block_size: int | None,
    rounding: str,
) -> Int8Array:
    try:
        return quantize_with_scale(x, scale, axis=axis, block_size=block_size, rounding=rounding)
    except ValueError:
        _raise_located(x, [s.start for s in slices])
        raise


def _dequantize_block(
    q: Int8Array,
    scale: FloatArray,
    axis: int | None,
    block_size: int | None,
    out_dtype: np.dtype[Any],
) -> FloatArray:
    # Not `dtype`: da.blockwise would take that keyword for itself.
    return dequantize(q, scale, axis=axis, block_size=block_size, dtype=out_dtype)


def _chunk_absmax(
    x: npt.NDArray[Any],
    axis: int | None = None,
    block_size: int | None = None,
    keepdims: bool = False,
    block_info: dict[int | None, dict[str, Any]] | None = None,
) -> FloatArray:
    """int8q.absmax of one chunk; a NaN/inf is named by its place in the
    whole array, not in the chunk."""
    try:
        m = absmax(x, axis=axis, block_size=block_size)
    except ValueError:
        if block_info is None:
            raise
        _raise_located(x, [start for start, _ in block_info[0]["array-location"]])
        raise
    if keepdims:  # (per tensor or channel only)
        shape = [1] * x.ndim
        if axis is not None:
            shape[axis] = x.shape[axis]
        m = m.reshape(shape)
    return m


def _raise_located(x: npt.NDArray[Any], starts: Sequence[int]) -> None:
    """Raise the ValueError naming the first NaN or inf of chunk `x` by its
    place in the whole array (the chunk begins at `starts`); return when the
    chunk is finite (the error was another)."""
    found = find_nonfinite(np.asarray(x), working_dtype(x.dtype))
    if found is not None:
        raise nonfinite_error(*found, start=starts) from None


def _max(
    m: FloatArray, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
) -> FloatArray:
    # initial=0 keeps empty inputs (Dask's meta probes) from raising; every
    # abs-max is >= 0 so it never changes a result.
    return np.max(m, axis=axis, keepdims=keepdims, initial=0)


def _scales(
    m: FloatArray, axis: int | tuple[int, ...] | None = None, keepdims: bool = False
) -> FloatArray:
    # absmax / 127, 1 where that is 0: the engine's own rule.
    return scales_from_absmax(_max(m, axis=axis, keepdims=keepdims))


def _reduced_scales(
    x: da.Array, axis: int | None, work: WorkingDtype, split_every: int | dict[int, int] | None
) -> da.Array:
    """Per tensor (axis None) or per channel: per-chunk abs-max by int8q's
    kernel, then Dask's tree reduction over the chunks."""
    chunks = tuple((1,) * len(c) if i != axis else c for i, c in enumerate(x.chunks))
    # da.map_blocks(f, x): what x.map_blocks(f) calls, and typed right by dask.
    partial = da.map_blocks(
        _chunk_absmax,
        x,
        axis=axis,
        keepdims=True,
        chunks=chunks,
        dtype=work,
        meta=np.empty((0,) * x.ndim, work),
    )
    reduced = tuple(i for i in range(x.ndim) if i != axis)
    return da.reduction(
        partial,
        _max,
        _scales,
        axis=reduced,
        combine=_max,
        dtype=work,
        split_every=split_every,
        meta=np.empty((0,) * (x.ndim - len(reduced)), work),
    )


def block_aligned_chunks(chunks: Sequence[int], n: int, block_size: int) -> tuple[int, ...]:
    """The chunks of the blocked axis with every inner boundary moved down to a multiple
    of `block_size` (merging chunks where needed); unchanged if aligned."""
    edges, pos = [0], 0
    for c in chunks[:-1]:
        pos += c
        cut = pos - pos % block_size
        if edges[-1] < cut < n:
            edges.append(cut)
    edges.append(n)
    return tuple(b - a for a, b in zip(edges, edges[1:]))


def _scale_chunks(x: da.Array, gran: Granularity) -> tuple[tuple[int, ...], ...]:
    """The chunks of the scale array that pair with x's chunks."""
    if gran.block_size is not None:
        # Each chunk of a block-aligned x holds its own blocks: the scales of
        # a chunk are those int8q.quantize gives the chunk (one geometry).
        k = gran.blocked_axis
        blocks = tuple(resolve((c,), block_size=gran.block_size).nscales for c in x.chunks[k])
        return x.chunks[:k] + (blocks,) + x.chunks[k + 1 :]
    if gran.axis is not None:
        return (x.chunks[gran.axis],)
    return ()


def _given_scales(
    scale: npt.ArrayLike | da.Array, x: da.Array, gran: Granularity, work: WorkingDtype
) -> da.Array:
    """A caller's scales, checked as int8q.quantize checks them, as a Dask
    array chunked to pair with x.

    In memory: checked at once.  A Dask array: its type, dtype and shape at
    once, its values chunk by chunk when computed (computing them here could
    run a whole pass over x), each named by its place in the caller's array.
    """
    chunks = _scale_chunks(x, gran)
    if not isinstance(scale, da.Array):
        return da.from_array(given_scales(scale, gran.scale_shape, work), chunks=chunks)
    refuse_masked(scale._meta, "scale")
    scale_dtype(scale.dtype)
    broadcast_shape(scale.shape, gran.scale_shape, "scale")
    checked = da.map_blocks(
        _checked_scales, scale, work=work, dtype=work, meta=np.empty((0,) * scale.ndim, work)
    )
    return da.broadcast_to(checked, gran.scale_shape).rechunk(chunks)


def _checked_scales(
    scale: npt.NDArray[Any],
    work: WorkingDtype,
    block_info: dict[int | None, dict[str, Any]] | None = None,
) -> FloatArray:
    """One chunk of a caller's Dask scale array, checked (int8q's own check)
    and in the working dtype."""
    starts = () if block_info is None else [a for a, _ in block_info[0]["array-location"]]
    return given_scales(scale, scale.shape, work, starts)


def _block_aligned(x: da.Array, gran: Granularity) -> da.Array:
    """x with chunk boundaries on multiples of block_size along the axis
    the blocks run along (the last one, or `axis` when given with it)."""
    k = gran.blocked_axis
    assert gran.block_size is not None
    if x.ndim and x.shape[k]:
        aligned = block_aligned_chunks(x.chunks[k], x.shape[k], gran.block_size)
        if aligned != x.chunks[k]:
            x = x.rechunk(x.chunks[:k] + (aligned,) + x.chunks[k + 1 :])
    return x


def _per_block_scales(x: da.Array, gran: Granularity, work: WorkingDtype) -> da.Array:
    """The scales of each chunk of a block-aligned x: blocks never straddle
    chunks, so each chunk's own abs-max per block is the global one."""
    maxima = da.map_blocks(
        _chunk_absmax,
        x,
        axis=gran.axis,
        block_size=gran.block_size,
        chunks=_scale_chunks(x, gran),
        dtype=work,
        meta=np.empty((0,) * x.ndim, work),
    )
    return maxima.map_blocks(scales_from_absmax, dtype=work)
