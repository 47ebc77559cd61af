"""The checks of the options only the configuration functions
(set_num_threads, set_simd) and the add-ons (int8q.dask, int8q.codec,
int8q.zarr, int8q.ggml) take, and their messages: the part of the intake
that int8q.quantize never needs.  What the add-ons share with int8q.quantize
(scales, rounding, block sizes, masked arrays, NaN positions) stays in
_checks.py, so a mistake reads the same from every entry point; the
add-ons reach both modules through _shared.

Same two kinds of function as _checks.py: checks, which return None or the
argument as the caller uses it, and ``*_error`` builders.
"""

import math
from typing import Any

import numpy as np
import numpy.typing as npt

from ._checks import DTYPE_ERRORS, integer, working_dtype

# What the codec's chunk header can name (3 characters of dtype.str).
CODEC_FLOATS = ("f2", "f4", "f8")
# The most threads set_num_threads takes: more hardware threads than any
# machine has (the largest have about a thousand).  The kernels take a C int,
# and OpenMP would try to start every thread asked for.
MAX_THREADS = 4096


# -- the configuration functions --------------------------------------------------


def thread_count(n: object) -> int:
    """A thread count as an int in [1, MAX_THREADS]: TypeError for bool and
    non-integers (2.7, "3"), ValueError outside the range."""
    count = integer(n, "number of threads")
    if not 1 <= count <= MAX_THREADS:
        raise ValueError(f"number of threads must be in [1, {MAX_THREADS}], got {count}")
    return count


def simd_unavailable_error(name: str, available: list[str]) -> ValueError:
    """The ValueError for a SIMD level int8q knows but this build or CPU lacks."""
    return ValueError(
        f"SIMD level {name!r} is not available on this CPU or build (available: {available})"
    )


# -- int8q.dask -------------------------------------------------------------------


def dask_array(x: object, array_type: type) -> None:
    """TypeError unless `x` is a dask.array.Array (`array_type`, passed in so
    that this module does not import dask)."""
    if not isinstance(x, array_type):
        raise TypeError(f"int8q.dask.quantize takes a dask.array.Array, got {type(x).__name__}")


def known_chunks(shape: tuple[float, ...]) -> None:
    """ValueError for a Dask array whose chunk sizes are unknown (NaN)."""
    if any(math.isnan(n) for n in shape):
        raise ValueError("x has unknown chunk sizes; call x.compute_chunk_sizes() first")


# -- int8q.codec and int8q.zarr -------------------------------------------------------


def codec_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    """The dtype of a chunk the codec stores; TypeError unless float16/32/64.

    The header keeps 3 characters of dtype.str, and decoding must give the
    original type back: plain IEEE floats only (bfloat16 has no dtype.str of
    its own, integers would need rounding back).
    """
    dtype = np.dtype(dtype)
    if dtype.kind != "f" or dtype.str[1:] not in CODEC_FLOATS:
        raise TypeError(f"the int8q codec stores float16/32/64 chunks, got dtype {dtype}")
    return dtype


def codec_buffer(
    found: np.dtype[Any], nbytes: int, dtype: np.dtype[Any] | None
) -> np.dtype[Any] | None:
    """How the codec reads a buffer whose items are of type `found`
    (`nbytes` bytes in all), the codec being configured with `dtype` (None
    when it has none): None to take its floats as they are, or the dtype to
    read its bytes as.

    Floats are taken as they are: TypeError unless float16/32/64, and unless
    of the configured type (either byte order; the chunk records which).
    Integer items are raw bytes (bytes, bytearray, array.array, memoryview,
    a uint8 array), read as `dtype`: TypeError naming the option when the
    codec has none, ValueError when `nbytes` is not a whole number of
    values.  Anything else is the codec's TypeError for its dtype.
    """
    if found.kind == "f":
        codec_dtype(found)
        if dtype is not None and found.newbyteorder("=") != dtype.newbyteorder("="):
            raise TypeError(
                f"this int8q codec reads {dtype.newbyteorder('=')} values "
                f"(dtype={dtype.str!r}), got dtype {found}"
            )
        return None
    if found.kind not in "iu":
        codec_dtype(found)  # its TypeError: object, bool, complex, strings...
    if dtype is None:
        raise TypeError(
            f"the int8q codec stores float16/32/64 chunks, got dtype {found}; "
            "to encode a raw buffer, give the codec the dtype to read it as "
            "(Int8QCodec(dtype='<f4'))"
        )
    if nbytes % dtype.itemsize:
        raise ValueError(
            f"a raw buffer of {nbytes} bytes is not a whole number of {dtype} values "
            f"({dtype.itemsize} bytes each)"
        )
    return dtype


def stored_dtype(dtype: object) -> None:
    """TypeError unless an array for int8q's Zarr storage holds float16/32/64:
    first int8q.quantize's TypeError for what is not real numbers (object,
    complex, strings), then the codec's for the other real types.  A dtype
    NumPy cannot read (a Zarr data type object) is left to Zarr and the
    codec's own check."""
    try:
        dt = np.dtype(dtype)  # type: ignore[call-overload]  # any caller's value
    except DTYPE_ERRORS:
        return
    working_dtype(dt)
    codec_dtype(dt)


def codec_out(out: object, dtype: np.dtype[Any]) -> np.dtype[Any] | None:
    """The dtype the codec's decode(out=) writes values in: out's, when `out`
    is an ndarray of floats (of the chunk's type, in either byte order);
    None for any other buffer, which receives raw bytes (numcodecs' rule).
    TypeError for floats of another type, whose bytes would be reinterpreted."""
    if not isinstance(out, np.ndarray) or out.dtype.kind not in "fc":
        return None
    if out.dtype.newbyteorder("=") != dtype.newbyteorder("="):
        raise TypeError(
            f"out must be an ndarray of {dtype.newbyteorder('=')} (either byte order) "
            f"or a byte buffer for this chunk, got {out.dtype}"
        )
    written: np.dtype[Any] = out.dtype  # (typed: NumPy's stubs give Any)
    return written


def fill_value(value: object, dtype: npt.DTypeLike | None) -> None:
    """ValueError unless a Zarr fill value is a number finite in the array's
    `dtype` (float64 when the dtype is not known yet): 1e39 is finite in
    float64 but inf in float32, and the fill takes part in a padded edge
    chunk's abs-max."""
    try:
        target = np.dtype(np.float64 if dtype is None else dtype)
    except DTYPE_ERRORS:
        target = np.dtype(np.float64)  # the dtype is refused on its own (codec_dtype)
    if target.kind != "f":
        target = np.dtype(np.float64)
    try:
        with np.errstate(over="ignore", invalid="ignore"):
            converted = np.asarray(value, dtype=target)
        finite = converted.size == 1 and bool(np.isfinite(converted).all())
    except (TypeError, ValueError, OverflowError):
        finite = False
    if not finite:
        raise ValueError(
            f"fill_value must be finite in the array's dtype ({target}) for int8q storage, "
            f"got {value!r}"
        )


def serializer_option(kwargs: dict[str, Any]) -> None:
    """TypeError when a caller of int8q.zarr.create_array names a serializer."""
    if "serializer" in kwargs:
        raise TypeError("int8q.zarr.create_array sets the serializer itself")


# -- int8q.ggml -----------------------------------------------------------------------


def q8_0_shape(shape: tuple[int, ...], unit: int, what: str) -> None:
    """ValueError unless the last axis of a Q8_0 operand is a multiple of
    `unit` (32 values, or 34 bytes)."""
    if not shape or shape[-1] % unit:
        raise ValueError(
            f"{what} needs the last axis to be a multiple of {unit}; got shape {shape}"
        )


def q8_0_bytes(dtype: np.dtype[Any]) -> None:
    """TypeError unless Q8_0 data is uint8."""
    if dtype != np.uint8:
        raise TypeError(f"Q8_0 data must be uint8 bytes, got {dtype}")
