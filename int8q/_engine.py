"""Drive the compiled kernels over an array of any layout, chunk by chunk.

The public functions in _api.py validate arguments and shape results; the
functions here only move data: each takes an array, its working dtype and a
Granularity, and fills flat C-order outputs.
"""
import numpy as np

from . import _kernels
from ._chunks import chunks
from ._dtypes import FLOAT32, is_direct
from ._config import get_num_threads
from ._validate import nonfinite_error


def find_nonfinite(x, work):
    """(index tuple, value) of the first NaN or inf of x in C order, or None."""
    for start, chunk in chunks(x, work):
        bad = np.flatnonzero(~np.isfinite(chunk))
        if bad.size:
            where = np.unravel_index(start + int(bad[0]), x.shape) if x.ndim else ()
            return tuple(int(i) for i in where), chunk[bad[0]]
    return None


def raise_nonfinite(x, work):
    """Raise ValueError naming the first NaN or inf of x (C order)."""
    found = find_nonfinite(x, work)
    if found is None:
        raise AssertionError("raise_nonfinite called on finite data")
    raise nonfinite_error(*found)


def absmax(x, work, gran):
    """Flat abs-max per scale, in the working dtype; ValueError on NaN/inf."""
    m = np.zeros(gran.nscales, dtype=work)
    threads = get_num_threads()
    for start, chunk in chunks(x, work):
        _kernels.absmax_into(chunk, start, gran.layout, m, threads)
    if not np.isfinite(m).all():
        raise_nonfinite(x, work)
    return m


def scales_from_absmax(m):
    """absmax / 127 in m's dtype, 1 where that is 0 (any shape, 0-d too)."""
    m = np.asarray(m)
    scale = np.asarray(m / m.dtype.type(127), dtype=m.dtype)
    return np.where(scale == 0, m.dtype.type(1), scale).astype(m.dtype, copy=False)


def quantize(x, work, gran, mode, q_flat, d_flat=None, fused=True):
    """Fill q_flat (and d_flat) and return the flat scales.

    With fused=True and a granularity whose blocks fit in cache, each block is
    read once: abs-max then quantize while it is in cache.  Otherwise a full
    abs-max pass comes first, so NaN/inf is found before anything is written.
    """
    threads = get_num_threads()
    if is_direct(x, work):
        whole = _kernels.quantize_whole_f32 if work == FLOAT32 else _kernels.quantize_whole_f64
        scales = whole(x.reshape(-1), gran.layout, gran.nscales, fused and gran.fused,
                       mode, q_flat, d_flat, threads)
        if scales is None:
            raise_nonfinite(x, work)
        return scales
    if fused and gran.fused:
        # Ones: the scale of an empty channel (never visited) is 1.
        scales = np.ones(gran.nscales, dtype=work)
        for start, chunk in chunks(x, work, align=gran.align):
            stop = start + chunk.shape[0]
            d_part = None if d_flat is None else d_flat[start:stop]
            if _kernels.fused_into(chunk, start, gran.layout, scales, mode,
                                   q_flat[start:stop], d_part, threads):
                raise_nonfinite(x, work)
        return scales
    scales = scales_from_absmax(absmax(x, work, gran))
    for start, chunk in chunks(x, work):
        stop = start + chunk.shape[0]
        d_part = None if d_flat is None else d_flat[start:stop]
        _kernels.quantize_into(chunk, start, gran.layout, scales, mode,
                               q_flat[start:stop], d_part, threads)
    return scales


def dequantize(q, scales, gran, out_flat):
    """out_flat = q * scale computed in the scales' dtype, then cast to
    out_flat's dtype chunk by chunk (no full-size temporary)."""
    threads = get_num_threads()
    direct = out_flat.dtype == scales.dtype
    for start, chunk in chunks(q, np.dtype(np.int8)):
        stop = start + chunk.shape[0]
        target = out_flat[start:stop] if direct else np.empty(chunk.shape, scales.dtype)
        _kernels.dequantize_into(chunk, start, gran.layout, scales, target, threads)
        if not direct:
            with np.errstate(over="ignore"):  # like astype: overflow gives inf
                out_flat[start:stop] = target
