"""The checks of the callers' arguments, and their messages: one check and one
message per mistake, wherever the mistake is made.

The API, the Calibrator and, through _shared, the command line, int8q.dask,
the codecs and the checkpoint layer call these (the options only the
configuration functions and the add-ons take: _checks_options.py),
so a mistake reads the same from every entry point.  The modules that do the
work keep their own job and call the checks: _operands turns inputs into
arrays, _granularity turns (shape, axis, block_size) into a Granularity, the
engine moves data.

Two kinds of function:

- checks, which return the argument as the caller uses it (or None) and
  raise TypeError, ValueError or AxisError for a mistake;
- ``*_error`` builders, which return the exception for a fault found
  elsewhere: NaN or inf met while the engine reads the data, or a test a
  small-call fast path keeps inline (one more Python call would cost a tenth
  of a 1-element call).

This module imports nothing of int8q but _dtypes and _typing, so that every
layer can call it.
"""

import operator
from collections.abc import Sequence
from typing import Any, SupportsInt

import numpy as np
import numpy.typing as npt
from numpy.exceptions import AxisError

from ._dtypes import COMMON_WORKING, INT8, ROUNDING_CODES, UINT8, computes_in, is_floating, is_real
from ._typing import FloatArray, WorkingDtype

# The names users pass (the kernels' codes for them: _dtypes.ROUNDING_CODES).
ROUNDINGS = tuple(ROUNDING_CODES)
# What np.dtype raises for a value it cannot read ("(,)": SyntaxError).
DTYPE_ERRORS = (TypeError, ValueError, SyntaxError, KeyError, OverflowError)
# NumPy's most dimensions: an axis beyond them names no axis of any array.
MAX_DIMS = 64
# The largest block size: the kernels' 64-bit layout holds it, and it is the
# one bound every writer and reader of int8q.io shares (a file written with a
# larger one could not be read back).
MAX_BLOCK_SIZE = 2**62


# -- option names and flags ---------------------------------------------------


def rounding_code(rounding: object) -> int:
    """The kernels' code for a rounding name; ValueError for anything else."""
    try:
        return ROUNDING_CODES[rounding]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(
            f"rounding must be one of {', '.join(ROUNDINGS)}; got {rounding!r}"
        ) from None


def one_of(value: object, choices: tuple[str, ...], name: str) -> None:
    """ValueError unless `value` is one of `choices` (a method, a SIMD level)."""
    # Strings only: `in` would compare an array element-wise.
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {choices}, got {value!r}")


def boolean(value: object, name: str) -> None:
    """TypeError unless `value` is True or False (NumPy's bool too)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")


def clip_option(clip: object) -> None:
    """ValueError unless `clip` is None or "mse"."""
    if clip not in (None, "mse"):
        raise ValueError(f"clip must be None or 'mse', got {clip!r}")


# -- integers and the granularity -------------------------------------------


def integer(value: Any, name: str) -> int:
    """`value` as a Python int (NumPy integers too); TypeError for bool and non-integers."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None


def check_block_size(value: object) -> int:
    """A block size as an int in [1, MAX_BLOCK_SIZE]; TypeError/ValueError
    naming the mistake (Python ints of any size included)."""
    value = integer(value, "block_size")
    if value < 1:
        raise ValueError(f"block_size must be >= 1, got {value}")
    if value > MAX_BLOCK_SIZE:
        raise ValueError(f"block_size must be <= 2**62 ({MAX_BLOCK_SIZE}), got {value}")
    return value


def granularity(ndim: int, axis: Any, block_size: Any) -> tuple[int | None, int | None]:
    """(axis normalised to [0, ndim), block_size as an int) for an array of
    `ndim` dimensions, either None; TypeError for non-integers, ValueError
    for a bad block_size, AxisError for an axis out of range or a
    block_size on a 0-d array.

    Both given: blocks of block_size along axis (ONNX's blocked
    granularity).  Blocks along the last axis are the block_size-only call,
    and come back as (None, block_size), so that one geometry has one
    spelling (in QTensor.axis too)."""
    if axis is not None and block_size is not None:
        block_size = check_block_size(block_size)
        axis = granularity(ndim, axis, None)[0]
        return (None, block_size) if axis == ndim - 1 else (axis, block_size)
    if axis is not None:
        axis = integer(axis, "axis")
        if not -ndim <= axis < ndim:
            raise AxisError(axis, ndim)
        return axis % ndim, None
    if block_size is not None:
        block_size = check_block_size(block_size)
        if ndim == 0:
            raise AxisError("block_size needs an array with at least one axis")
        return None, block_size
    return None, None


# -- dtypes ---------------------------------------------------------------------


def user_dtype(value: npt.DTypeLike, name: str) -> np.dtype[Any]:
    """np.dtype(value) for a caller's argument `name`; TypeError naming it
    for anything np.dtype cannot read."""
    try:
        return np.dtype(value)
    except DTYPE_ERRORS:
        raise TypeError(f"{name} must be a NumPy dtype, got {value!r}") from None


def working_dtype(dtype: npt.DTypeLike) -> WorkingDtype:
    """float32 for float16/bfloat16/float32, float64 for float64/integer/bool
    (_dtypes.computes_in).

    Raises TypeError for anything else (complex, object, strings, long double,
    datetimes...).
    """
    work = COMMON_WORKING.get(dtype)  # (without a call: small calls feel one)
    if work is None:
        work = computes_in(dtype)
    if work is None:
        raise TypeError(
            f"int8q quantizes real numbers (float16, bfloat16, float32, float64, "
            f"integer); got dtype {np.dtype(dtype)}"
        )
    return work


def qdtype_of(qdtype: npt.DTypeLike) -> np.dtype[Any]:
    """np.int8 or np.uint8 as a dtype; TypeError for anything else."""
    try:
        dt = np.dtype(qdtype)
    except DTYPE_ERRORS:
        dt = None
    if dt not in (INT8, UINT8):
        raise TypeError(f"qdtype must be numpy.int8 or numpy.uint8, got {qdtype!r}")
    return dt


def output_qdtype(qdtype: npt.DTypeLike | None, zero_point: object) -> npt.DTypeLike:
    """The type of q for quantize(qdtype=, zero_point=), as ONNX QuantizeLinear
    types it: `qdtype` when given, else the zero point's dtype when that is a
    NumPy int8 or uint8 array or scalar, else int8 (Python ints, lists).

    TypeError when `qdtype` is given and the zero point's int8/uint8 dtype
    differs from it.
    """
    zp_type = None
    if isinstance(zero_point, (np.ndarray, np.generic)) and zero_point.dtype in (INT8, UINT8):
        zp_type = zero_point.dtype.type
    if qdtype is None:
        return np.int8 if zp_type is None else zp_type
    if zp_type is not None and qdtype_of(qdtype) != zp_type:
        raise TypeError(
            f"qdtype={qdtype_of(qdtype)} conflicts with zero_point of dtype "
            f"{np.dtype(zp_type)}; the zero point's dtype sets the output type "
            "when qdtype is not given"
        )
    return qdtype


# -- the parameters of quantize ------------------------------------------------


def quantize_options(
    qdtype: npt.DTypeLike, scale: object, zero_point: object, symmetric: object, clip: object
) -> np.dtype[Any]:
    """The dtype of q for quantize()'s affine parameters; TypeError or
    ValueError for a combination it does not take."""
    qdtype = qdtype_of(qdtype)
    boolean(symmetric, "symmetric")
    clip_option(clip)
    if zero_point is not None and scale is None:
        raise ValueError("zero_point needs scale (or use symmetric=False to find both)")
    if clip is not None and (scale is not None or not symmetric):
        raise ValueError(
            "clip='mse' chooses symmetric scales; it takes no scale, zero_point or symmetric=False"
        )
    if qdtype == UINT8 and scale is None and symmetric:
        raise ValueError("uint8 needs a zero point: give scale (and zero_point) or symmetric=False")
    return qdtype


def _broadcast(value: npt.NDArray[Any], shape: tuple[int, ...], what: str) -> npt.NDArray[Any]:
    try:
        return np.broadcast_to(value, shape)
    except ValueError:
        pass
    broadcast_shape(value.shape, shape, what)  # raises: the one message
    raise AssertionError("unreachable")


def broadcast_shape(given: tuple[int, ...], shape: tuple[int, ...], what: str) -> None:
    """ValueError unless parameters of shape `given` broadcast to the scale
    shape `shape` (for arrays not in memory: a Dask scale)."""
    try:
        if np.broadcast_shapes(given, shape) == shape:
            return
    except ValueError:
        pass
    raise ValueError(f"{what} of shape {given} does not broadcast to the scale shape {shape}")


def scale_dtype(dtype: np.dtype[Any]) -> None:
    """TypeError unless given scales are real numbers (object arrays refused:
    int8q does not guess what their elements are)."""
    if not is_real(dtype):
        raise TypeError(f"scale must be real numbers, got dtype {dtype}")


def given_scales(
    scale: npt.ArrayLike,
    shape: tuple[int, ...],
    work: WorkingDtype,
    start: Sequence[int] = (),
) -> FloatArray:
    """The caller's scales, broadcast to the scale shape in the working dtype.

    TypeError for masked arrays and non-real scales; ValueError for a shape
    that does not broadcast, and for zero, negative, NaN or inf scales (a
    scale that becomes 0 or inf in the working dtype too).  `start`: where
    `scale` begins in the caller's array (a chunk of it), for the message.
    """
    refuse_masked(scale, "scale")
    scale = np.asarray(scale)
    scale_dtype(scale.dtype)
    if scale.shape != shape:
        scale = _broadcast(scale, shape, "scale")
    s: FloatArray
    if scale.dtype == work:  # a copy, no conversion (the common call)
        s = scale.copy()
    else:
        with np.errstate(over="ignore", under="ignore"):
            s = np.array(scale, dtype=work)
    bad = ~(np.isfinite(s) & (s > 0))
    if bad.any():
        where = np.unravel_index(int(np.flatnonzero(bad)[0]), s.shape) if s.ndim else ()
        value = scale[where] if scale.ndim else scale[()]
        named = [int(i) + int(s0) for i, s0 in zip(where, start)] + list(where[len(start) :])
        name = f"scale[{', '.join(map(str, named))}]" if named else "scale"
        raise ValueError(f"{name} is {value} ({s[where]} in {work}); scales must be finite and > 0")
    return s


def given_zero_points(
    zero_point: npt.ArrayLike, shape: tuple[int, ...], qdtype: np.dtype[Any]
) -> npt.NDArray[np.int32]:
    """The caller's zero points as int32 broadcast to the scale shape.

    TypeError for masked arrays and unless integers (object arrays refused,
    as for scales); ValueError outside the range of qdtype (Python ints of
    any size included, in object arrays too).
    """
    refuse_masked(zero_point, "zero_point")
    zp = np.asarray(zero_point)
    info = np.iinfo(qdtype)
    if zp.dtype == object:
        # Object arrays are refused below (TypeError), as for scales; but
        # NumPy keeps Python ints beyond int64/uint64 as objects, and those
        # are out of range first.
        beyond = [v for v in zp.flat if type(v) is int and not info.min <= v <= info.max]
        if beyond:
            raise ValueError(
                f"zero_point must lie in [{info.min}, {info.max}] for {qdtype}, "
                f"got {max(beyond, key=abs)}"
            )
    if zp.dtype.kind not in "iu":
        raise TypeError(f"zero_point must be integers, got dtype {zp.dtype}")
    if zp.shape != shape:
        zp = _broadcast(zp, shape, "zero_point")
    if zp.size and (zp.min() < info.min or zp.max() > info.max):
        raise ValueError(
            f"zero_point must lie in [{info.min}, {info.max}] for {qdtype}, "
            f"got values in [{zp.min()}, {zp.max()}]"
        )
    return np.array(zp, dtype=np.int32)


def scale_count(count: int, expected: int) -> None:
    """ValueError unless a flat scale array has the granularity's `expected` values."""
    if count != expected:
        raise ValueError(f"scale has {count} values, expected {expected}")


# -- dequantize ---------------------------------------------------------------


def dequantize_call_error(qtensor: bool) -> TypeError:
    """The TypeError for dequantize(qtensor) given parameters too
    (`qtensor`), or for q without a scale."""
    if qtensor:
        return TypeError("dequantize(qtensor) takes no scale, zero_point, axis or block_size")
    return TypeError("dequantize needs a QTensor, or q and scale")


def q_dtype(dtype: np.dtype[Any], zero_point: object) -> None:
    """TypeError unless q is int8, or uint8 with a zero point."""
    if dtype != np.int8 and not (dtype == np.uint8 and zero_point is not None):
        raise TypeError(f"q must be int8 (or uint8 with a zero_point), got {dtype}")


def scale_working_dtype(dtype: np.dtype[Any]) -> WorkingDtype:
    """The working dtype of dequantize's scales; TypeError unless floating."""
    if not is_floating(dtype):
        raise TypeError(f"scale must be floating point, got {dtype}")
    return working_dtype(dtype)


def scale_shape(
    shape: tuple[int, ...], expected: tuple[int, ...], q_shape: tuple[int, ...]
) -> None:
    """ValueError unless dequantize's scales have the granularity's scale shape."""
    if shape != expected:
        raise ValueError(f"scale has shape {shape}, expected {expected} for q of shape {q_shape}")


def result_dtype(dtype: npt.DTypeLike | None, out: Any, work: WorkingDtype) -> np.dtype[Any]:
    """dequantize's result dtype: `dtype`, else out's, else the working one;
    TypeError unless floating."""
    out_dtype = work if dtype is None else user_dtype(dtype, "dtype")
    if out is not None and dtype is None:
        out_dtype = getattr(out, "dtype", out_dtype)
    if not is_floating(out_dtype):
        raise TypeError(f"dtype must be a floating dtype, got {out_dtype}")
    return out_dtype


def nonfinite_scale_error() -> ValueError:
    """The ValueError for given scales holding NaN or inf (dequantize)."""
    return ValueError("scale contains NaN or inf")


def finite_scales(scales: FloatArray) -> None:
    """ValueError (nonfinite_scale_error) unless every scale is finite."""
    if not np.isfinite(scales).all():
        raise nonfinite_scale_error()


# -- the Calibrator -------------------------------------------------------------


def calibrator_options(
    method: object,
    axis: Any,
    symmetric: object,
    qdtype: npt.DTypeLike,
    percentile: object,
    bins: Any,
    methods: tuple[str, ...],
    max_bins: int,
    block_size: Any = None,
) -> tuple[int | None, int | None, np.dtype[Any], int]:
    """The Calibrator's (axis, block_size, qdtype, bins) as it keeps them;
    TypeError or ValueError naming the first parameter it does not take
    (`methods` and `max_bins` are the Calibrator's).  qdtype, symmetric,
    block_size and the type of axis are checked as quantize checks them;
    the axis against each batch's dimensions (`granularity`, at update).
    block_size is for "minmax" only: a histogram per block would take
    16 * bins bytes for each block."""
    one_of(method, methods, "method")
    boolean(symmetric, "symmetric")
    qdtype = qdtype_of(qdtype)
    if symmetric and qdtype == UINT8:
        raise ValueError("qdtype uint8 needs symmetric=False")
    if isinstance(percentile, (bool, np.bool_)) or not isinstance(
        percentile, (int, float, np.integer, np.floating)
    ):
        raise TypeError(f"percentile must be a number, got {percentile!r}")
    if not 0 < percentile <= 100:
        raise ValueError(f"percentile must be a number in (0, 100], got {percentile!r}")
    bins = integer(bins, "bins")
    if not 2 <= bins <= max_bins or bins & (bins - 1):
        raise ValueError(f"bins must be a power of two in [2, {max_bins}], got {bins!r}")
    if block_size is not None:
        block_size = check_block_size(block_size)
        if method != "minmax":
            raise ValueError(
                f'block_size is for method "minmax" only; method {method!r} keeps a '
                "histogram per channel, and one per block would take 16 * bins bytes "
                "for each block"
            )
    return None if axis is None else integer(axis, "axis"), block_size, qdtype, bins


# -- operands and out= ----------------------------------------------------------


def refuse_masked(x: object, what: str) -> None:
    """TypeError when `x` is a masked array (its mask would be ignored)."""
    if isinstance(x, np.ma.MaskedArray):
        raise TypeError(
            f"{what} is a masked array; int8q would ignore its mask: pass "
            f"{what}.filled(value) or {what}.compressed() instead"
        )


def cpu_tensor(t: Any, what: str) -> None:
    """TypeError for a torch tensor int8q cannot read: on another device than
    the CPU, or not strided (sparse, for one)."""
    import torch  # already imported: `t` is one of its tensors

    if t.device.type != "cpu":
        hint = "it holds no values" if t.device.type == "meta" else f"pass {what}.cpu()"
        raise TypeError(
            f"{what} is a torch tensor on device {t.device.type!r}; int8q reads CPU memory ({hint})"
        )
    if t.layout != torch.strided:
        raise TypeError(f"{what} is a torch tensor with layout {t.layout}; pass {what}.to_dense()")


def check_out_type(out: object, what: str = "out") -> None:
    """TypeError for an `out` that is not an ndarray or cannot be written flat."""
    if not isinstance(out, np.ndarray):
        raise TypeError(f"{what} must be an ndarray, got {type(out).__name__}")
    refuse_masked(out, what)
    if isinstance(out, np.matrix):
        raise TypeError(
            f"{what} must be an ndarray, not np.matrix (which is always "
            f"2-D): pass np.asarray(m) to write into its memory"
        )


def check_out(
    out: npt.NDArray[Any], shape: tuple[int, ...], dtype: npt.DTypeLike, name: str = "out"
) -> None:
    """TypeError/ValueError unless `out` is a writeable C-contiguous ndarray of
    `dtype` and `shape`: the one rule for every out= of int8q."""
    check_out_type(out, name)
    dtype = np.dtype(dtype)
    if out.dtype != dtype:
        raise TypeError(f"{name} must be an ndarray of {dtype}, got {out.dtype}")
    if out.shape != shape:
        raise ValueError(f"{name} has shape {out.shape}, expected {shape}")
    if not out.flags.c_contiguous or not out.flags.writeable:
        raise ValueError(f"{name} must be C-contiguous and writeable")


def out_pair(out: object) -> tuple[Any, Any]:
    """quantize_dequantize's out=: None or a pair (q, xhat), either None."""
    if out is None:
        return None, None
    if isinstance(out, tuple) and len(out) == 2:
        return out[0], out[1]
    raise TypeError("out must be a pair (q, xhat); either may be None")


# -- the data -------------------------------------------------------------------


def nonfinite_error(
    where: Sequence[SupportsInt],
    value: object,
    what: str = "x",
    by: str = "int8q",
    start: Sequence[SupportsInt] = (),
) -> ValueError:
    """The ValueError for a NaN or inf found at index tuple `where` of `what`;
    `start`: where the piece searched (a chunk, a slab of rows) begins in
    `what`, so that the message names the place in the caller's array."""
    named = [int(i) + int(s) for i, s in zip(where, start)] + [int(i) for i in where[len(start) :]]
    index = ", ".join(map(str, named))
    return ValueError(f"{what}[{index}] is {value}; {by} quantizes finite numbers only")
