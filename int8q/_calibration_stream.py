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
from ._checks import nonfinite_error, working_dtype
from ._granularity import Granularity, resolve
from ._operands import as_input
from ._typing import FloatArray

E_EMPTY = -1100  # histogram exponent of a channel that has seen only zeros


def is_dask(batch: object) -> bool:
    """Whether `batch` is a Dask array (dask is looked up, never imported)."""
    return type(batch).__module__.split(".")[0] == "dask" and hasattr(batch, "blocks")


def reduce(
    x: npt.NDArray[Any], axis: int | None, origin: tuple[int, ...] | None = None
) -> tuple[np.dtype[Any], Granularity, FloatArray, FloatArray]:
    """(working dtype, geometry, min, max) of batch x: the running range
    ``[min(0, min x), max(0, max x)]`` of each channel, flat, in the working
    dtype.  ValueError for NaN or inf, at its index in the whole array
    (x is the block at `origin` of it, when given)."""
    work = working_dtype(x.dtype)
    gran = resolve(x.shape, axis, None)
    with np.errstate(invalid="ignore"):
        lo = np.asarray(_affine._reduce(x, gran, np.min)).astype(work).reshape(-1)
        hi = np.asarray(_affine._reduce(x, gran, np.max)).astype(work).reshape(-1)
    if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
        found = _engine.find_nonfinite(x, work)
        assert found is not None  # for mypy: lo or hi is not finite
        where, value = found
        if origin is not None:
            where = tuple(int(i) + o for i, o in zip(where, origin))
        raise nonfinite_error(where, value, what="batch")
    # -0.0 becomes 0.0: which zero a reduction keeps depends on the order it
    # meets them, and the state must not depend on how the data was cut.
    lo += 0
    hi += 0
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
    gran = resolve(arr.shape, cal.axis, None)
    with cal._lock:  # fail before computing anything
        cal._check_fits(work, gran.nscales)
    part = cal._fresh()
    part._start(work, gran.nscales)
    if arr.ndim == 0:
        x = as_input(arr.compute(), "batch")
        part._merge(x, *reduce(x, cal.axis))
        return part
    starts = [np.cumsum((0,) + c[:-1]) for c in arr.chunks]
    for index in np.ndindex(*arr.numblocks):
        origin = tuple(int(starts[d][i]) for d, i in enumerate(index))
        x = as_input(arr.blocks[index].compute(), "batch")
        first = 0 if gran.axis is None else origin[gran.axis]
        part._merge(x, *reduce(x, cal.axis, origin), first, gran.nscales)
    return part
