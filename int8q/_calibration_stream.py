"""How a Calibrator reads its batches: one array's range, a Dask array's blocks.

`reduce` takes one array through the intake int8q.quantize uses (working
dtype, geometry from _granularity.resolve, so that a bad axis raises the
same AxisError or TypeError) and finds its range per channel, outside the
calibrator's lock.

`dask_part` reads a Dask array one block at a time, whatever its chunking:
each block is merged into the channels it holds (a block cut along the
channel axis holds some of them) of a private calibrator, which the caller
merges into its own state at the end.  The result is the in-memory one bit
for bit (min and max are exact; histograms merge exactly), and an error in
any block leaves the caller's state as it was.
"""

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _affine, _engine
from ._calibration_methods import Histogram
from ._calibration_state import check_batch
from ._checks import nonfinite_error, working_dtype
from ._chunks import chunks
from ._granularity import Granularity, resolve
from ._operands import as_input
from ._typing import FloatArray

E_EMPTY = -1100  # histogram exponent of a channel that has seen only zeros
SLICE = 1 << 16  # elements of a batch histogrammed at a time


def is_dask(batch: object) -> bool:
    """Whether `batch` is a Dask array (dask is looked up, never imported)."""
    return type(batch).__module__.split(".")[0] == "dask" and hasattr(batch, "blocks")


def reduce(
    x: npt.NDArray[Any],
    axis: int | None,
    origin: tuple[int, ...] | None = None,
    block_size: int | None = None,
) -> tuple[np.dtype[Any], Granularity, FloatArray, FloatArray]:
    """(working dtype, geometry, min, max) of batch x: the running range
    ``[min(0, min x), max(0, max x)]`` of each channel (or block), flat, in
    the working dtype.  ValueError for NaN or inf, at its index in the whole
    array (x is the block at `origin` of it, when given)."""
    work = working_dtype(x.dtype)
    gran = resolve(x.shape, axis, block_size)
    lo, hi = _affine.ranges(x, work, gran)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        found = _engine.find_nonfinite(x, work)
        assert found is not None  # for mypy: lo or hi is not finite
        where, value = found
        if origin is not None:
            where = tuple(int(i) + o for i, o in zip(where, origin))
        raise nonfinite_error(where, value, what="batch")
    return work, gran, lo, hi


def exponents(amax: FloatArray, bins: int) -> npt.NDArray[np.int64]:
    """Per channel, the e of the histogram range 2^e above amax (E_EMPTY for
    a channel of zeros).  e is at least log2(bins) - 1023, so that the bins'
    factor 2^(log2(bins) - e) stays finite for subnormal ranges."""
    _, e = np.frexp(amax.astype(np.float64))  # amax < 2^e
    e = np.maximum(e, int(math.log2(bins)) - 1023)
    return np.where(amax > 0, e, E_EMPTY).astype(np.int64)


def dask_part(cal: Any, arr: Any) -> Any:
    """A private calibrator with `cal`'s options fed every block of Dask
    array `arr` (cal._absorb merges it)."""
    work = working_dtype(arr.dtype)
    if any(math.isnan(n) for n in arr.shape):
        raise ValueError("batch has unknown chunk sizes; call batch.compute_chunk_sizes() first")
    gran = resolve(arr.shape, cal.axis, cal.block_size)
    shape = tuple(arr.shape) if cal.block_size is not None else None
    with cal._lock:  # fail before computing anything
        check_batch(cal, work, gran.nscales, shape)
    part = cal._fresh()
    part._start(work, gran.nscales, shape)
    if shape is not None:
        _dask_blocks(part, arr, gran)
        return part
    if arr.ndim == 0:
        x = as_input(arr.compute(), "batch")
        part._merge(x, *reduce(x, cal.axis))
        return part
    # One row of blocks along axis 0 at a time: Dask computes the blocks of
    # a row in parallel, and memory holds one row.  A row spans every other
    # axis, so only its first index along axis 0 places it in the array.
    start = 0
    for i, rows in enumerate(arr.chunks[0]):
        origin = (start,) + (0,) * (arr.ndim - 1)
        x = as_input(arr.blocks[i].compute(), "batch")
        first = origin[gran.axis] if gran.axis is not None else 0
        part._merge(x, *reduce(x, cal.axis, origin), first, gran.nscales)
        start += rows
    return part


def _dask_blocks(part: Any, arr: Any, gran: Granularity) -> None:
    """Feed calibrator `part` (blocks of gran) Dask array `arr`, one row of
    chunks along axis 0 at a time.  A row holds the scales of its rows of
    the scale shape, except where the blocks run along axis 0 itself: then
    the row is cut where a block starts, and each piece holds whole blocks
    (its first one possibly the end of a block an earlier row began)."""
    along0 = gran.blocked_axis == 0
    b = gran.block
    start = 0
    for i, rows in enumerate(arr.chunks[0]):
        x = as_input(arr.blocks[i].compute(), "batch")
        cuts = [0, rows]
        if along0:  # the first block start inside the row
            cuts.insert(1, min(-start % b, rows))
        for lo_row, hi_row in zip(cuts, cuts[1:]):
            if hi_row == lo_row:  # (a row that starts a block)
                continue
            piece = x[lo_row:hi_row]
            origin = (start + lo_row,) + (0,) * (arr.ndim - 1)
            g0 = (start + lo_row) // b if along0 else start + lo_row
            n0 = -(-piece.shape[0] // b) if along0 else piece.shape[0]
            # (a piece's blocks along axis 0 are the array's g0, g0 + 1, ...:
            # it starts on a block boundary or lies inside one block)
            where = slice(g0, g0 + n0)
            work, _, lo, hi = reduce(piece, part.axis, origin, part.block_size)
            part._merge_blocks(piece, work, lo, hi, where)
        start += rows


def histogram(
    counts: npt.NDArray[np.int64], exp: npt.NDArray[np.int64], lo: Any, hi: Any, n: int
) -> Histogram:
    """The methods' view of a calibrator's histogram: `counts` (channels,
    2 n) over ``[-2^e, 2^e)`` per channel (e in `exp`), ranges lo, hi."""
    # A channel of zeros only gets width 1 (its counts are all in the bin
    # of 0, whatever the width).
    w = np.where(exp == E_EMPTY, 1.0, np.ldexp(1.0, exp - int(math.log2(n))))[:, None]
    return Histogram(counts, w, lo.astype(np.float64), hi.astype(np.float64), n)


def grow(
    hist: npt.NDArray[np.int64], exp: npt.NDArray[np.int64], e: npt.NDArray[np.int64], rows: slice
) -> None:
    """Raise channels `rows` of the histogram to the range 2^e where e is
    above their own exponent, merging bins exactly."""
    grown = np.flatnonzero(e > exp[rows])
    if not grown.size:
        return
    n = hist.shape[1] // 2
    where = np.arange(exp.shape[0])[rows][grown]
    e = e[grown]
    # A jump of more than log2(2 * bins) doublings sends every old bin
    # to one of the two central ones: cap it (the merge is the same).
    d = np.minimum(e - exp[where], int(math.log2(n)) + 1)
    f = (np.int64(1) << d)[:, None]
    new_index = (n * (f - 1) + np.arange(2 * n)[None, :]) // f
    merged = np.zeros((where.size, 2 * n), dtype=np.int64)
    np.add.at(merged, (np.arange(where.size)[:, None], new_index), hist[where])
    hist[where] = merged
    exp[where] = e


def add(
    hist: npt.NDArray[np.int64],
    exp: npt.NDArray[np.int64],
    x: npt.NDArray[Any],
    gran: Granularity,
    first: int,
    work: np.dtype[Any],
) -> None:
    """Histogram x (gran: its geometry) into the bins of channels first,
    first + 1, ..., SLICE elements at a time."""
    n = hist.shape[1] // 2
    # bins / R as a power of two: the multiplication below is exact.  A
    # channel of zeros only (E_EMPTY) takes 1: its values all fall in the
    # bin of 0 whatever the factor, and 2^(log2(bins) + 1100) overflows.
    own = exp[first : first + gran.nscales]
    factor = np.ldexp(1.0, np.where(own == E_EMPTY, 0, int(math.log2(n)) - own))
    # (histograms are per tensor or channel, block_size being for minmax
    # only: no blocks along an axis, rblk 0)
    n_row, block, cmod, nb, _, _ = gran.layout
    flat_hist = hist[first : first + gran.nscales].reshape(-1)
    for start, chunk in chunks(x, work):
        for s in range(0, chunk.shape[0], SLICE):
            v = chunk[s : s + SLICE].astype(np.float64)
            if gran.nscales == 1:
                ch = 0
                idx = np.floor(v * factor[0])
            else:
                i = np.arange(start + s, start + s + v.shape[0], dtype=np.int64)
                row, col = np.divmod(i, n_row)
                ch = (row % cmod) * nb + col // block
                idx = np.floor(v * factor[ch])
            idx = np.clip(idx + n, 0, 2 * n - 1).astype(np.int64) + ch * (2 * n)
            if flat_hist.size <= 4 * idx.size:
                flat_hist += np.bincount(idx, minlength=flat_hist.size)
            else:  # no histogram-sized temporary per slice
                np.add.at(flat_hist, idx, 1)
