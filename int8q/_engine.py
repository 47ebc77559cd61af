"""Drive the compiled kernels over an array of any layout, chunk by chunk.

The public functions in _api.py validate arguments and shape results; the
functions here only move data: each takes an array, its working dtype and a
Granularity, and fills flat C-order outputs.
"""

import zlib
from collections.abc import Callable
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._checks import nonfinite_error, nonfinite_scale_error
from ._chunks import chunk_threads, chunks, input_chunks
from ._config import get_num_threads
from ._dtypes import FLOAT32, FLOAT64, read_kind, working_kind
from ._granularity import Granularity, per_tensor
from ._typing import FloatArray, Int8Array, WorkingDtype

# The compiled steps of the small-call fast paths, re-exported as they are (a
# Python wrapper would cost a tenth of a 1-element call): _api's quantize of
# one tensor, and the seed function's list path.  So _api reaches the
# kernels through _engine's names only, two of which are compiled functions.
quantize_tensor = _kernels.quantize_tensor
seed_quantize = _kernels.seed_quantize
# all_finite(a, positive): whether every value of a C-contiguous float32 or
# float64 array is finite (and > 0 with positive=True), False for any other
# array: the plan's test of the common given-scale call (_plan.py).
all_finite = _kernels.all_finite


def find_nonfinite(
    x: npt.NDArray[Any], work: WorkingDtype
) -> tuple[tuple[int, ...], np.floating[Any]] | None:
    """(index tuple, value) of the first NaN or inf of x in C order, or None."""
    for start, chunk in chunks(x, work):
        bad = np.flatnonzero(~np.isfinite(chunk))
        if bad.size:
            where = np.unravel_index(start + int(bad[0]), x.shape) if x.ndim else ()
            return tuple(int(i) for i in where), chunk[bad[0]]
    return None


def raise_nonfinite(x: npt.NDArray[Any], work: WorkingDtype) -> NoReturn:
    """Raise ValueError naming the first NaN or inf of x (C order)."""
    found = find_nonfinite(x, work)
    if found is None:
        raise AssertionError("raise_nonfinite called on finite data")
    raise nonfinite_error(*found)


def absmax(x: npt.NDArray[Any], work: WorkingDtype, gran: Granularity) -> FloatArray:
    """Flat abs-max per scale, in the working dtype; ValueError on NaN/inf."""
    m = np.zeros(gran.nscales, dtype=work)
    threads = get_num_threads()
    for start, chunk, kind in input_chunks(x, work):
        _kernels.absmax_into(
            chunk, kind, chunk.size, start, gran.layout, m, chunk_threads(chunk, x, threads)
        )
    if not _kernels.all_finite(m):
        raise_nonfinite(x, work)
    return m


def check_finite(x: npt.NDArray[Any], work: WorkingDtype) -> None:
    """ValueError naming the first NaN or inf of x, found by a reading pass
    before a call writes into its caller's buffer.  One abs-max over the
    whole of x, so nothing per block or channel is allocated: with an
    abs-max per block of 32, a 2^24-element call allocated, zeroed and
    unmapped 2 MiB and per-thread rows in C every time, and two threads
    took 1.5x one thread's time."""
    absmax(x, work, per_tensor(x.size))


def scales_from_absmax(m: npt.ArrayLike) -> FloatArray:
    """absmax / 127 in m's dtype (float32 or float64), 1 where that is 0 (any
    shape, 0-d too): the scale rule of src/core/rules.h."""
    m = np.asarray(m)
    scale = np.empty(m.shape, m.dtype)
    m = m.copy() if not m.flags.c_contiguous else m  # (0-d arrays keep their shape)
    _kernels.scales_from_absmax_into(m.reshape(-1), scale.reshape(-1), m.dtype == FLOAT64)
    return scale


def quantize(
    x: npt.NDArray[Any],
    work: WorkingDtype,
    gran: Granularity,
    mode: int,
    q_flat: Int8Array,
    d_flat: FloatArray | None = None,
    fused: bool = True,
) -> FloatArray:
    """Fill q_flat (and d_flat) and return the flat scales.

    With fused=True and a granularity whose blocks fit in cache, each block is
    read once: abs-max then quantize while it is in cache.  Otherwise a full
    abs-max pass comes first, so NaN/inf is found before anything is written.
    """
    threads = get_num_threads()
    kind = read_kind(x, work)
    fused = fused and gran.fused
    # Ones: the scale of an empty block or channel (never visited) is 1.
    scales = np.empty(gran.nscales, dtype=work)
    if x.size == 0:
        scales.fill(1)
        return scales
    if kind is not None:
        # The whole array in one call (read in place or gathered by the
        # kernels): one parallel region, no Python loop.
        if _kernels.quantize_all(
            x, kind, x.size, 0, gran.layout, scales, fused, mode, q_flat, d_flat, threads
        ):
            raise_nonfinite(x, work)
        return scales
    # Other dtypes (integers, bool): converted to `work` slab by slab.
    kind = working_kind(work)
    if fused and gran.chunk_fused:
        # every scale belongs to one block, which one chunk call visits
        for start, chunk in chunks(x, work, align=gran.align):
            stop = start + chunk.size
            d_part = None if d_flat is None else d_flat[start:stop]
            if _kernels.quantize_all(
                chunk,
                kind,
                chunk.size,
                start,
                gran.layout,
                scales,
                True,
                mode,
                q_flat[start:stop],
                d_part,
                chunk_threads(chunk, x, threads),
            ):
                raise_nonfinite(x, work)
        return scales
    scales = scales_from_absmax(absmax(x, work, gran))
    for start, chunk in chunks(x, work):
        stop = start + chunk.size
        d_part = None if d_flat is None else d_flat[start:stop]
        _kernels.quantize_into(
            chunk,
            kind,
            chunk.size,
            start,
            gran.layout,
            scales,
            True,
            mode,
            q_flat[start:stop],
            d_part,
            chunk_threads(chunk, x, threads),
        )
    return scales


def dequantize_tensor(
    q: Int8Array, scale: object, out: FloatArray | None = None
) -> FloatArray | None:
    """q * scale for a C-contiguous int8 q and one float32/float64 scale (a
    0-d array, a NumPy scalar, or a Python float, which computes in float64):
    the common per-tensor call, in one compiled step, into `out` when it
    is a plain writeable C-contiguous array of the scale's dtype and q's
    shape apart from both; None for any other call (the general path takes
    it); ValueError, writing nothing, for a NaN/inf scale."""
    made = _kernels.dequantize_tensor(q, scale, out, get_num_threads())
    if isinstance(made, int):
        raise nonfinite_scale_error()
    return made


def dequantize_fast(q: Int8Array, scale: FloatArray, gran: Granularity) -> FloatArray:
    """q * scale for the common call (q C-contiguous int8, scale a
    C-contiguous float32/float64 array of the granularity's scale shape), or
    None when the call is not that; ValueError for NaN/inf scales.  Small
    calls feel every NumPy call, so this path makes as few as it can."""
    out = np.empty(q.shape, scale.dtype)
    status = _kernels.dequantize_into(
        q, q.size, 0, gran.layout, scale, scale.size, scale.dtype == FLOAT64, out, get_num_threads()
    )
    if status != _kernels.OK:
        raise nonfinite_scale_error()
    return out


def dequantize(
    q: Int8Array, scales: FloatArray, gran: Granularity, out_flat: npt.NDArray[Any]
) -> bool:
    """out_flat = q * scale computed in the scales' dtype, then cast to
    out_flat's dtype chunk by chunk (no full-size temporary).  Returns False,
    writing nothing, when a scale is NaN or inf."""
    threads = get_num_threads()
    f64 = scales.dtype == FLOAT64
    nscales = scales.size
    if out_flat.dtype == scales.dtype and q.flags.c_contiguous:
        return (
            _kernels.dequantize_into(
                q, q.size, 0, gran.layout, scales, nscales, f64, out_flat, threads
            )
            == _kernels.OK
        )
    if not np.isfinite(scales).all():
        return False

    def fill(start: int, chunk: npt.NDArray[Any], target: FloatArray, threads: int) -> None:
        _kernels.dequantize_into(
            chunk, chunk.size, start, gran.layout, scales, nscales, f64, target, threads
        )

    dequantize_chunks(q, scales.dtype, out_flat, fill)
    return True


def dequantize_chunks(
    q: npt.NDArray[Any],
    work: WorkingDtype,
    out_flat: npt.NDArray[Any],
    fill: Callable[[int, npt.NDArray[Any], FloatArray, int], None],
) -> None:
    """fill(start, chunk, target, threads) over q chunk by chunk (C-contiguous,
    flat, q's dtype), target the chunk's part of out_flat when that has the
    working dtype, else a chunk of it cast into out_flat (no full-size
    temporary): the dequantize drivers, with zero points (_affine) or
    without, compute in the working dtype and cast so."""
    threads = get_num_threads()
    direct = out_flat.dtype == work
    for start, chunk in chunks(q, q.dtype):
        stop = start + chunk.size
        target = out_flat[start:stop] if direct else np.empty(chunk.size, work)
        fill(start, chunk, target, chunk_threads(chunk, q, threads))
        if not direct:
            with np.errstate(over="ignore"):  # like astype: overflow gives inf
                out_flat[start:stop] = target


# GGML Q8_0 blocks: float32 values per block, and bytes per block (a float16
# scale and 32 int8).
Q8_0_BLOCK = 32
Q8_0_BYTES = 34


def q8_0_quantize(x: npt.NDArray[Any], flat_out: npt.NDArray[np.uint8]) -> None:
    """Q8_0 bytes of x (last axis a multiple of Q8_0_BLOCK) into flat_out;
    ValueError at NaN/inf or at a scale that overflows float16."""
    threads = get_num_threads()
    for start, chunk, kind in input_chunks(x, FLOAT32, align=Q8_0_BLOCK):
        first = start // Q8_0_BLOCK * Q8_0_BYTES
        stop = first + chunk.size // Q8_0_BLOCK * Q8_0_BYTES
        code = _kernels.q8_0_quantize_into(
            chunk, kind, chunk.size, flat_out[first:stop], chunk_threads(chunk, x, threads)
        )
        if code:
            _raise_q8_0_error(x, code)


def _raise_q8_0_error(x: npt.NDArray[Any], code: int) -> NoReturn:
    found = find_nonfinite(x, FLOAT32)
    if found is not None:
        where, value = found
        raise nonfinite_error(where, value, by="Q8_0")
    raise ValueError(
        "a Q8_0 block's scale (absmax / 127) overflows float16: "
        "absmax must stay below about 65504 * 127"
    )


def q8_0_dequantize(raw: npt.NDArray[np.uint8], flat_out: npt.NDArray[np.float32]) -> None:
    """Float32 values of Q8_0 bytes (last axis a multiple of Q8_0_BYTES) into
    flat_out."""
    threads = get_num_threads()
    for start, chunk in chunks(raw, np.dtype(np.uint8), align=Q8_0_BYTES):
        first = start // Q8_0_BYTES * Q8_0_BLOCK
        stop = first + chunk.shape[0] // Q8_0_BYTES * Q8_0_BLOCK
        _kernels.q8_0_dequantize_into(
            chunk, flat_out[first:stop], chunk_threads(chunk, raw, threads)
        )


def crc32(data: npt.NDArray[np.uint8] | bytes, value: int = 0) -> int:
    """zlib.crc32(data, value) for a contiguous byte array or bytes: on the
    SIMD level's CRC-32 where it has one (the x86 levels: 12 GB/s against
    zlib's 3.7 on an AMD EPYC, Zen 3), otherwise zlib's.  Either releases
    the GIL."""
    crc = _kernels.crc32(data, value)
    if crc is None:
        return zlib.crc32(data.data if isinstance(data, np.ndarray) else data, value)
    return crc
