"""Affine INT8: given scales and zero points, asymmetric ranges, clip="mse".

The rules (docs/semantics.md §7; the plain
NumPy oracle is int8q.reference):

- given parameters: ``q = saturate(round(x / scale) + zero_point)``, a true
  division in the working dtype, saturating to the output range, never
  wrapping: ONNX ``QuantizeLinear``;
- asymmetric: ``rmin = min(0, min x)``, ``rmax = max(0, max x)``,
  ``scale = (rmax - rmin) / 255`` (1 where that is 0) and
  ``zero_point = saturate(round(qmin - rmin / scale))`` with qmin 0 for uint8
  (ONNX ``DynamicQuantizeLinear``) and -128 for int8, per tensor, channel or
  block;
- clip="mse": per scale, the candidate clipping range ``absmax * (S - c) / S``
  (c = 0 .. S-1, S = CLIP_CANDIDATES) whose symmetric INT8 quantization has the
  smallest squared error, ties to the widest.

The functions here move data: _plan.py decides a call's path and checks its
parameters (through _checks.py), and _api.py shapes results.
"""

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from . import _engine, _kernels
from ._chunks import chunk_threads, chunks
from ._config import get_num_threads
from ._dtypes import UINT8
from ._granularity import Granularity
from ._typing import FloatArray, WorkingDtype

# Number of clipping candidates clip="mse" scores exactly on the data, per
# scale: fractions 1.00, 0.99, ..., 0.01 of the abs-max.  (The Calibrator's
# "mse" is another search, over its histogram: _calibration_methods.py.)
CLIP_CANDIDATES = 100

# The integer type of the order keys (core/affine.h: int8q_minmax) of each
# working dtype, and the magnitude bits a negative value's key flips.
_KEYS_F32 = (np.int32, np.int32(0x7FFFFFFF))
_KEYS_F64 = (np.int64, np.int64(0x7FFFFFFFFFFFFFFF))


def qrange(qdtype: np.dtype[Any], full: bool) -> tuple[int, int]:
    """(qmin, qmax) of the output: int8's symmetric [-127, 127] unless `full`
    (a zero point given, or an asymmetric scheme), then the whole type."""
    if qdtype == UINT8:
        return 0, 255
    return (-128, 127) if full else (-127, 127)


def quantize_direct(
    x: npt.NDArray[Any],
    gran: Granularity,
    scales: FloatArray,
    zero_points: npt.NDArray[np.int32] | None,
    qmin: int,
    qmax: int,
    mode: int,
    qdtype: np.dtype[Any],
) -> npt.NDArray[Any]:
    """A new q of qdtype (int8 or uint8) from x, C-contiguous of its working
    dtype (the plan says so: _plan.Plan.direct), in one kernel call; the
    scales (of x's dtype) in the scale shape, flat int32 zero points (None:
    zeros), the output range [qmin, qmax] (uint8's when qmin is 0).  NaN/inf
    in x raise ValueError."""
    q = np.empty(x.shape, qdtype)
    zps = np.zeros(scales.size, np.int32) if zero_points is None else zero_points
    if _kernels.affine_into(
        x.reshape(-1),
        0,
        gran.layout,
        scales.reshape(-1),
        zps,
        qmin,
        qmax,
        mode,
        qmin == 0,
        q.reshape(-1).view(np.uint8),
        get_num_threads(),
    ):
        _engine.raise_nonfinite(x, x.dtype)
    return q


def quantize_given(
    x: npt.NDArray[Any],
    work: WorkingDtype,
    gran: Granularity,
    scales: npt.ArrayLike,
    zero_points: npt.ArrayLike,
    qmin: int,
    qmax: int,
    mode: int,
    q_flat: npt.NDArray[Any],
    check_first: bool,
) -> None:
    """Fill q_flat (int8 or uint8, flat C order) from flat scales and int32
    zero points in one pass over x.

    NaN/inf raise ValueError.  The kernel finds them while it writes; with
    check_first (q_flat is the caller's out=) a reading pass finds them
    before anything is written.
    """
    if check_first:
        _engine.check_finite(x, work)
    scales = np.ascontiguousarray(scales, dtype=work).reshape(-1)
    zps = np.ascontiguousarray(zero_points, dtype=np.int32).reshape(-1)
    q_bytes = q_flat.view(np.uint8)
    unsigned = q_flat.dtype == UINT8
    threads = get_num_threads()
    for start, chunk in chunks(x, work):
        stop = start + chunk.shape[0]
        if _kernels.affine_into(
            chunk,
            start,
            gran.layout,
            scales,
            zps,
            qmin,
            qmax,
            mode,
            unsigned,
            q_bytes[start:stop],
            chunk_threads(chunk, x, threads),
        ):
            _engine.raise_nonfinite(x, work)


def ranges(
    x: npt.NDArray[Any], work: WorkingDtype, gran: Granularity
) -> tuple[FloatArray, FloatArray]:
    """Flat `min(0, min x)` and `max(0, max x)` of each scale's elements, in
    the working dtype, in one compiled pass (core/affine.h: int8q_minmax);
    NaN or inf in x leaves a non-finite value in them.

    The pass keeps order keys (integers ordered as the floats), whose
    min/max vectorize: NumPy's reductions over short blocks along the last
    axis run block by block."""
    keys, mag = _KEYS_F64 if work.itemsize == 8 else _KEYS_F32
    both = np.zeros((2, math.prod(gran.scale_shape)), keys)  # zero keys: +0, the ranges' start
    lo, hi = both
    threads = get_num_threads()
    for start, chunk in chunks(x, work):
        _kernels.minmax_into(chunk, start, gran.layout, lo, hi, chunk_threads(chunk, x, threads))
    # the order key map is its own inverse: back to bit patterns, then floats
    both ^= (both >> (both.itemsize * 8 - 1)) & mag
    lo_f, hi_f = both.view(work)
    return lo_f, hi_f


def range_params(
    rmin: npt.ArrayLike, rmax: npt.ArrayLike, qdtype: np.dtype[Any], work: WorkingDtype
) -> tuple[FloatArray, npt.NDArray[Any]]:
    """(scale, zero_point) of the asymmetric rule (src/core/rules.h) for
    ranges rmin <= 0 <= rmax given in the working dtype (any shape).
    ValueError when rmax - rmin overflows the working dtype."""
    lo, hi = np.broadcast_arrays(np.asarray(rmin, dtype=work), np.asarray(rmax, dtype=work))
    lo, hi = lo.copy(), hi.copy()  # C-contiguous, 0-d arrays keeping their shape
    qmin, qmax = qrange(qdtype, full=True)
    scale = np.empty_like(lo)
    zp32 = np.empty(lo.shape, np.int32)
    if not _kernels.asymmetric_params_into(
        lo.reshape(-1),
        hi.reshape(-1),
        qmin,
        qmax,
        scale.reshape(-1),
        zp32.reshape(-1),
        work == np.float64,
    ):
        raise ValueError(
            "the range max(x) - min(x) overflows the working dtype "
            f"{work}; quantize float64 input or rescale x"
        )
    zp = zp32.astype(qdtype)
    return scale, zp


def asymmetric_params(
    x: npt.NDArray[Any], work: WorkingDtype, gran: Granularity, qdtype: np.dtype[Any]
) -> tuple[FloatArray, npt.NDArray[Any]]:
    """Flat (scales, zero points) of the asymmetric rule; ValueError on NaN/inf."""
    rmin, rmax = ranges(x, work, gran)
    if not (np.isfinite(rmin).all() and np.isfinite(rmax).all()):
        _engine.raise_nonfinite(x, work)
    return range_params(rmin, rmax, qdtype, work)


def clip_candidates(m: FloatArray, work: WorkingDtype) -> FloatArray:
    """Candidate scales (nscales, CLIP_CANDIDATES) from flat abs-maxes m: column c
    is ``absmax * ((S - c) / S) / 127`` in the working dtype, 1 where 0."""
    steps = work.type(CLIP_CANDIDATES)
    fractions = (steps - np.arange(CLIP_CANDIDATES, dtype=work)) / steps
    with np.errstate(under="ignore"):
        cand = (m[:, None] * fractions[None, :]) / work.type(127)
    scales: FloatArray = np.where(cand == 0, work.type(1), cand).astype(work)
    return scales  # (typed: NumPy's stubs give Any for this arithmetic)


def clip_mse_scales(
    x: npt.NDArray[Any], work: WorkingDtype, gran: Granularity, mode: int
) -> FloatArray:
    """Flat symmetric scales chosen by clip="mse" (see the module docstring).

    One abs-max pass (which raises ValueError for NaN/inf), then one pass
    that sums every candidate's squared error per scale in compiled code.
    """
    m = _engine.absmax(x, work, gran)
    cand = clip_candidates(m, work)
    err = np.zeros(cand.size, dtype=np.float64)
    flat = cand.reshape(-1)
    threads = get_num_threads()
    for start, chunk in chunks(x, work, align=gran.align):
        _kernels.mse_errors_into(
            chunk,
            start,
            gran.layout,
            flat,
            CLIP_CANDIDATES,
            mode,
            err,
            gran.chunk_fused,
            chunk_threads(chunk, x, threads),
        )
    best = np.argmin(err.reshape(cand.shape), axis=1)  # first minimum: the widest range
    chosen: FloatArray = cand[np.arange(cand.shape[0]), best]
    return chosen  # (typed: NumPy's stubs give Any for fancy indexing)


def dequantize(
    q: npt.NDArray[Any],
    scales: FloatArray,
    zero_points: npt.ArrayLike,
    gran: Granularity,
    out_flat: npt.NDArray[Any],
) -> None:
    """out_flat = (q - zero_point) * scale computed in the scales' dtype (flat
    scales, q int8 or uint8 of any layout) by the compiled kernel
    (core/affine.h: int8q_dequantize_affine), then cast to out_flat's dtype
    chunk by chunk: q - zero_point is exact and the product the one
    rounding; a product or cast beyond a dtype's range is inf, as NumPy's.
    The caller checks the scales (finite) and zero points first."""
    zps = np.ascontiguousarray(zero_points, dtype=np.int32).reshape(-1)
    unsigned = q.dtype == UINT8

    def fill(start: int, chunk: npt.NDArray[Any], target: FloatArray, threads: int) -> None:
        _kernels.affine_dequantize_into(
            chunk.view(np.uint8), unsigned, start, gran.layout, scales, zps, target, threads
        )

    _engine.dequantize_chunks(q, scales.dtype, out_flat, fill)
