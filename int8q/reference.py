"""The contract in plain NumPy: slow, obvious, and the oracle for the tests.

Every fast path of int8q must give bit-identical results to these functions.
They take already-valid input (no error handling beyond what NumPy does) and
are written to be checked by eye against the specification,
https://int8q.readthedocs.io/en/latest/semantics.html.  They import nothing
of int8q, so that an error in int8q's own spelling of a rule cannot hide
in the oracle too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Literal, SupportsFloat, TypedDict

import numpy as np
import numpy.typing as npt

# The annotations, spelled here (int8q._typing has the same names).
Rounding = Literal["half_even", "half_away"]
WorkingDtype = np.dtype[np.floating[Any]]
FloatArray = npt.NDArray[np.floating[Any]]
Int8Array = npt.NDArray[np.int8]


class DictForm(TypedDict):
    """What int8_quantize returns."""

    quantized: list[int]
    scale: float
    dequantized: list[float]


__all__ = [
    "working_dtype",
    "round_to_int",
    "absmax",
    "expand_scale",
    "quantize",
    "dequantize",
    "int8_quantize",
    "quantize_given",
    "asymmetric_params",
    "quantize_asymmetric",
    "dequantize_affine",
    "mse_scales",
    "quantize_q8_0",
    "dequantize_q8_0",
]


def working_dtype(dtype: npt.DTypeLike) -> WorkingDtype:
    """The dtype int8q computes in for input of `dtype`.

    float32 for float16, bfloat16 and float32; float64 for everything else.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> reference.working_dtype(np.float16), reference.working_dtype(np.int32)
    (dtype('float32'), dtype('float64'))
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4 or dtype.name == "bfloat16":
        return np.dtype(np.float32)
    return np.dtype(np.float64)


def round_to_int(v: FloatArray, rounding: Rounding = "half_even") -> FloatArray:
    """Round a float array to integral values (same dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> reference.round_to_int(np.array([0.5, 1.5, -2.5]))
    array([ 0.,  2., -2.])
    >>> reference.round_to_int(np.array([0.5, 1.5, -2.5]), "half_away")
    array([ 1.,  2., -3.])
    """
    if rounding == "half_even":
        return np.rint(v)
    # half_away: rint is right except at exact ties, which go away from zero.
    t = np.trunc(v)
    tie = np.abs(v - t) == 0.5
    return np.where(tie, t + np.sign(v), np.rint(v))


def _blocked(x: npt.NDArray[Any], block_size: int) -> tuple[npt.NDArray[Any], int]:
    """x with its last axis split into (nblocks, block_size), zero padded."""
    n = x.shape[-1]
    block_size = max(1, min(block_size, n))  # a block never outgrows its row
    nblocks = -(-n // block_size)
    pad = nblocks * block_size - n
    padded = np.concatenate([x, np.zeros(x.shape[:-1] + (pad,), x.dtype)], axis=-1)
    return padded.reshape(x.shape[:-1] + (nblocks, block_size)), pad


def _blocks_along(
    x: npt.NDArray[Any], axis: int, block_size: int, func: Callable[..., npt.NDArray[Any]]
) -> npt.NDArray[Any]:
    """func over each block of `block_size` along `axis` (ONNX's blocked
    granularity): x's shape with that axis ceil-divided.  The axis is moved
    last, blocked as the last axis is, and moved back."""
    axis = axis % x.ndim
    blocks, _ = _blocked(np.moveaxis(x, axis, -1), block_size)
    return np.moveaxis(func(blocks, axis=-1, initial=0), -1, axis)


def absmax(x: npt.ArrayLike, axis: int | None = None, block_size: int | None = None) -> FloatArray:
    """Abs-max in the working dtype, shaped like quantize's scale.

    Per tensor, per channel (`axis`), per block of the last axis
    (`block_size`) or, with both, per block of `block_size` along `axis`.

    Examples
    --------
    >>> from int8q import reference
    >>> reference.absmax([[1.0, -5.0], [3.0, 2.0]], axis=0)
    array([5., 3.])
    >>> reference.absmax([[1.0, -5.0], [3.0, 2.0], [4.0, 0.0]], axis=0, block_size=2)
    array([[3., 5.],
           [4., 0.]])
    """
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    a = np.abs(xw)
    if axis is not None and block_size is not None:
        along: FloatArray = _blocks_along(a, axis, block_size, np.max).astype(xw.dtype)
        return along
    if axis is not None:
        axis = axis % x.ndim
        others = tuple(i for i in range(x.ndim) if i != axis)
        # np.max with an axis is typed Any: name the result's type.
        per_channel: FloatArray = np.max(a, axis=others, initial=0).astype(xw.dtype)
        return per_channel
    if block_size is not None:
        blocks, _ = _blocked(a, block_size)
        per_block: FloatArray = np.max(blocks, axis=-1, initial=0).astype(xw.dtype)
        return per_block
    return np.asarray(np.max(a, initial=0), dtype=xw.dtype)


def expand_scale(
    scale: FloatArray,
    shape: tuple[int, ...],
    axis: int | None = None,
    block_size: int | None = None,
) -> FloatArray:
    """The scale broadcast to `shape`, element by element.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> reference.expand_scale(np.array([1.0, 2.0]), (2, 3), axis=0)
    array([[1., 1., 1.],
           [2., 2., 2.]])
    >>> reference.expand_scale(np.array([[1.0], [2.0]]), (3, 1), axis=0, block_size=2)
    array([[1.],
           [1.],
           [2.]])
    """
    if axis is not None and block_size is not None:
        axis = axis % len(shape)
        block_size = max(1, min(block_size, shape[axis]))
        repeated = np.repeat(scale, block_size, axis=axis)
        return repeated[(slice(None),) * axis + (slice(0, shape[axis]),)]
    if axis is not None:
        axis = axis % len(shape)
        view = [1] * len(shape)
        view[axis] = shape[axis]
        return np.broadcast_to(scale.reshape(view), shape)
    if block_size is not None:
        block_size = max(1, min(block_size, shape[-1]))
        return np.repeat(scale, block_size, axis=-1)[..., : shape[-1]]
    return np.broadcast_to(scale, shape)


def quantize(
    x: npt.ArrayLike,
    axis: int | None = None,
    block_size: int | None = None,
    rounding: Rounding = "half_even",
) -> tuple[Int8Array, FloatArray]:
    """(q, scale) exactly as the contract defines them.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> q, scale = reference.quantize(np.array([1.0, -0.5, 0.25], dtype=np.float32))
    >>> q
    array([127, -64,  32], dtype=int8)
    """
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    scale = absmax(x, axis, block_size) / xw.dtype.type(127)
    scale = np.where(scale == 0, xw.dtype.type(1), scale).astype(xw.dtype)
    v = xw / expand_scale(scale, x.shape, axis, block_size)
    q = np.clip(round_to_int(v, rounding), -127, 127).astype(np.int8)
    return q, scale


def dequantize(
    q: Int8Array, scale: npt.ArrayLike, axis: int | None = None, block_size: int | None = None
) -> FloatArray:
    """q * scale in the scale's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> q, scale = reference.quantize(np.array([1.0, -0.5]))
    >>> reference.dequantize(q, scale)
    array([ 1.        , -0.50393701])
    """
    scale = np.asarray(scale)
    # 127 * RN(absmax / 127) can exceed the largest finite float when absmax is
    # within an ulp or so of it: the contract's product is then inf.
    with np.errstate(over="ignore"):
        return q.astype(scale.dtype) * expand_scale(scale, q.shape, axis, block_size)


def int8_quantize(x: Iterable[SupportsFloat]) -> DictForm:
    """int8_quantize (the dict form), written the obvious NumPy way.

    Examples
    --------
    >>> from int8q import reference
    >>> reference.int8_quantize([1.0, -1.0, 0.5, -0.5])
    {'quantized': [127, -127, 64, -64], 'scale': 0.007874, 'dequantized': [1.0, -1.0, 0.5039, -0.5039]}
    """
    a = np.asarray(list(x), dtype=np.float64)
    absmax_value = float(np.max(np.abs(a))) if a.size else 0.0
    scale = absmax_value / 127
    if scale == 0:
        scale = 1.0
    q = np.clip(np.rint(a / scale), -127, 127)
    with np.errstate(over="ignore"):  # inf at the very top of the range, as in dequantize
        d = q * scale
    return {
        "quantized": [int(v) for v in q],
        "scale": round(scale, 6),
        "dequantized": [round(float(v), 4) for v in d],
    }


# --- Given scales, zero points, asymmetric ranges, clip="mse" ---------------
# (specification, section 7)


def quantize_given(
    x: npt.ArrayLike,
    scale: npt.ArrayLike,
    zero_point: npt.ArrayLike | None = None,
    axis: int | None = None,
    block_size: int | None = None,
    qdtype: npt.DTypeLike = np.int8,
    rounding: Rounding = "half_even",
    full: bool | None = None,
) -> npt.NDArray[np.integer[Any]]:
    """ONNX QuantizeLinear: saturate(round(x / scale) + zero_point).

    `scale` and `zero_point` are shaped like quantize's scale (already valid);
    the division is in the working dtype.  The int8 range is [-128, 127] when
    `full` (default: a zero point is given), else [-127, 127]; uint8 is
    [0, 255].

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> reference.quantize_given(np.array([0.1, -0.2, 300.0]), 0.01, zero_point=3)
    array([ 13, -17, 127], dtype=int8)
    """
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    qdtype = np.dtype(qdtype)
    if full is None:
        full = zero_point is not None
    info = np.iinfo(qdtype)
    qmin = info.min if full or qdtype == np.uint8 else -127
    s = expand_scale(np.asarray(scale, xw.dtype), x.shape, axis, block_size)
    z = (
        0
        if zero_point is None
        else expand_scale(np.asarray(zero_point).astype(np.int64), x.shape, axis, block_size)
    )
    with np.errstate(over="ignore"):
        v = round_to_int(xw / s, rounding)
    # Clip in float before the integer conversion: v may be huge or inf.
    v = np.clip(v, qmin - np.int64(2) ** 20, info.max + np.int64(2) ** 20)
    q: npt.NDArray[np.integer[Any]] = np.clip(v.astype(np.int64) + z, qmin, info.max).astype(qdtype)
    return q  # (typed: NumPy's stubs give Any here)


def _reduce_range(
    xw: FloatArray, func: Callable[..., npt.NDArray[Any]], axis: int | None, block_size: int | None
) -> FloatArray:
    """min(0, min) or max(0, max) per tensor, channel or block."""
    if axis is not None and block_size is not None:
        return _blocks_along(xw, axis, block_size, func)  # zero padding: as below
    if axis is not None:
        axis = axis % xw.ndim
        others = tuple(i for i in range(xw.ndim) if i != axis)
        return func(xw, axis=others, initial=0)
    if block_size is not None:
        blocks, _ = _blocked(xw, block_size)  # zero padding never changes min(0, ..)
        return func(blocks, axis=-1, initial=0)
    return np.asarray(func(xw, initial=0))


def asymmetric_params(
    x: npt.ArrayLike,
    qdtype: npt.DTypeLike = np.uint8,
    axis: int | None = None,
    block_size: int | None = None,
) -> tuple[FloatArray, npt.NDArray[np.integer[Any]]]:
    """(scale, zero_point): ONNX DynamicQuantizeLinear's rule on each slice.

    rmin = min(0, min x), rmax = max(0, max x), scale = (rmax - rmin) / 255
    (1 where 0), zero_point = saturate(round_half_even(qmin - rmin / scale))
    with qmin = 0 for uint8, -128 for int8.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> scale, zero_point = reference.asymmetric_params(np.array([-1.0, 0.0, 3.0]))
    >>> float(scale) == 4 / 255, int(zero_point)
    (True, 64)
    """
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    qdtype = np.dtype(qdtype)
    qmin, qmax = np.iinfo(qdtype).min, np.iinfo(qdtype).max
    rmin = _reduce_range(xw, np.min, axis, block_size).astype(xw.dtype)
    rmax = _reduce_range(xw, np.max, axis, block_size).astype(xw.dtype)
    scale = ((rmax - rmin) / xw.dtype.type(qmax - qmin)).astype(xw.dtype)
    scale = np.where(scale == 0, xw.dtype.type(1), scale).astype(xw.dtype)
    with np.errstate(over="ignore"):
        zp = np.clip(np.rint(xw.dtype.type(qmin) - rmin / scale), qmin, qmax)
    return scale, zp.astype(qdtype)


def quantize_asymmetric(
    x: npt.ArrayLike,
    qdtype: npt.DTypeLike = np.uint8,
    axis: int | None = None,
    block_size: int | None = None,
    rounding: Rounding = "half_even",
) -> tuple[npt.NDArray[np.integer[Any]], FloatArray, npt.NDArray[np.integer[Any]]]:
    """(q, scale, zero_point) of the asymmetric scheme.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> q, scale, zero_point = reference.quantize_asymmetric(np.array([-1.0, 0.0, 3.0]))
    >>> q
    array([  0,  64, 255], dtype=uint8)
    """
    scale, zp = asymmetric_params(x, qdtype, axis, block_size)
    q = quantize_given(x, scale, zp, axis, block_size, qdtype, rounding)
    return q, scale, zp


def dequantize_affine(
    q: npt.NDArray[np.integer[Any]],
    scale: npt.ArrayLike,
    zero_point: npt.ArrayLike,
    axis: int | None = None,
    block_size: int | None = None,
) -> FloatArray:
    """(q - zero_point) * scale in the scale's dtype.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> q, scale, zero_point = reference.quantize_asymmetric(np.array([-1.0, 0.0, 3.0]))
    >>> reference.dequantize_affine(q, scale, zero_point)
    array([-1.00392157,  0.        ,  2.99607843])
    """
    scale = np.asarray(scale)
    z = expand_scale(np.asarray(zero_point).astype(np.int64), q.shape, axis, block_size)
    with np.errstate(over="ignore"):
        return (q.astype(np.int64) - z).astype(scale.dtype) * expand_scale(
            scale, q.shape, axis, block_size
        )


MSE_STEPS = 100


def _slices(xw: FloatArray, axis: int | None, block_size: int | None) -> FloatArray:
    """xw as (nscales, n): each row the elements of one scale in C order
    (blocks zero padded at the end, which adds nothing to an error sum).
    Blocks along a non-last axis: rows in the order of (pre, post, block),
    each in C order; mse_scales puts the results back in scale order."""
    if axis is not None and block_size is not None:
        blocks, _ = _blocked(np.moveaxis(xw, axis % xw.ndim, -1), block_size)
        return blocks.reshape(-1, blocks.shape[-1])
    if axis is not None:
        axis = axis % xw.ndim
        return np.moveaxis(xw, axis, 0).reshape(xw.shape[axis], xw.size // max(xw.shape[axis], 1))
    if block_size is not None:
        blocks, _ = _blocked(xw, block_size)
        return blocks.reshape(-1, blocks.shape[-1])
    return xw.reshape(1, -1)


def mse_scales(
    x: npt.ArrayLike,
    axis: int | None = None,
    block_size: int | None = None,
    rounding: Rounding = "half_even",
) -> FloatArray:
    """clip="mse": per scale, the candidate absmax * ((S - c) / S) / 127
    (c = 0 .. S-1, 1 where 0) with the smallest sum of squared errors
    (x - q * s)^2, summed in float64 in C order; ties to the smallest c.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> x = np.random.default_rng(0).standard_t(3, 1000)
    >>> bool(reference.mse_scales(x) <= reference.absmax(x) / 127)
    True
    """
    x = np.asarray(x)
    xw = x.astype(working_dtype(x.dtype))
    t = xw.dtype.type
    amax = absmax(x, axis, block_size)
    along = axis is not None and block_size is not None
    # blocks along a non-last axis: in _slices' row order (that axis last)
    m = (np.moveaxis(amax, axis % x.ndim, -1) if along else amax).reshape(-1)  # type: ignore[operator]
    cand = np.empty((m.size, MSE_STEPS), xw.dtype)  # (nscales, S)
    for c in range(MSE_STEPS):
        # absmax * ((S - c) / S) / 127, each step in the working dtype
        with np.errstate(under="ignore"):
            cand[:, c] = m * (t(MSE_STEPS - c) / t(MSE_STEPS)) / t(127)
    cand[cand == 0] = 1
    rows = _slices(xw, axis, block_size)  # (nscales, n)
    q = np.clip(round_to_int(rows[:, :, None] / cand[:, None, :], rounding), -127, 127)
    d = rows[:, :, None].astype(np.float64) - (q.astype(xw.dtype) * cand[:, None, :])
    err = np.cumsum(d * d, axis=1)[:, -1, :] if rows.shape[1] else np.zeros(cand.shape)
    best = np.argmin(err, axis=1)
    chosen: FloatArray = cand[np.arange(cand.shape[0]), best]  # (fancy indexing: Any)
    if along:
        moved = np.moveaxis(amax, axis % x.ndim, -1).shape  # type: ignore[operator]
        return np.moveaxis(chosen.reshape(moved), -1, axis % x.ndim)  # type: ignore[operator]
    return chosen.reshape(amax.shape)


# --- GGML Q8_0 (specification, section 3) -----------------------------------


def quantize_q8_0(x: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """GGML Q8_0 bytes of x (last axis a multiple of 32; finite values).

    x is converted to float32; per block of 32: ``d = amax / 127`` and
    ``id = 1 / d`` in float32 (``id = 0`` where d is 0 or 1 / d overflows),
    ``q = round(x * id)`` half away from zero; the block is d as float16
    (little-endian, rounded to nearest even) followed by the 32 int8 q.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> raw = reference.quantize_q8_0(np.linspace(-1, 1, 32))
    >>> raw.shape, raw[2:5].view(np.int8)
    ((34,), array([-127, -119, -111], dtype=int8))
    """
    x = np.asarray(x)
    blocks = x.astype(np.float32).reshape(-1, 32)
    amax = np.max(np.abs(blocks), axis=1, initial=0).astype(np.float32)
    d = amax / np.float32(127)
    with np.errstate(divide="ignore", over="ignore"):
        inverse = np.float32(1) / d
    inverse[np.isinf(inverse)] = 0
    q = round_to_int(blocks * inverse[:, None], "half_away").astype(np.int8)
    out = np.empty((blocks.shape[0], 34), np.uint8)
    out[:, :2] = d.astype("<f2").view(np.uint8).reshape(-1, 2)
    out[:, 2:] = q.view(np.uint8)
    return out.reshape(x.shape[:-1] + (x.shape[-1] // 32 * 34,))


def dequantize_q8_0(raw: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """float32 values of GGML Q8_0 bytes (last axis a multiple of 34):
    each int8 q times its block's float16 d, in float32.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import reference
    >>> x = np.linspace(-1, 1, 32)
    >>> float(np.abs(reference.dequantize_q8_0(reference.quantize_q8_0(x)) - x).max()) < 0.005
    True
    """
    raw = np.asarray(raw, np.uint8)
    blocks = raw.reshape(-1, 34)
    d = blocks[:, :2].copy().view("<f2").astype(np.float32)  # (nblocks, 1)
    q = blocks[:, 2:].view(np.int8).astype(np.float32)
    values: npt.NDArray[np.float32] = q * d
    return values.reshape(raw.shape[:-1] + (raw.shape[-1] // 34 * 32,))
