"""The bulk API: quantize, dequantize, quantize_dequantize, absmax, QTensor
(docs/semantics.md §2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _affine, _engine
from ._checks import (
    check_out,
    dequantize_call_error,
    finite_scales,
    given_zero_points,
    nonfinite_scale_error,
    out_pair,
    q_dtype,
    result_dtype,
    rounding_code,
    scale_count,
    scale_shape,
    scale_working_dtype,
    working_dtype,
)
from ._config import get_num_threads
from ._dtypes import WORKING_DTYPES
from ._granularity import Granularity, resolve
from ._operands import apart, as_input
from ._plan import ASYMMETRIC, CLIP_MSE, SYMMETRIC, quantize_plan
from ._typing import (
    ArrayLike,
    Axis,
    BlockSize,
    Clip,
    DTypeLike,
    FloatArray,
    Int8Array,
    OutArray,
    QDtype,
    Rounding,
    WorkingDtype,
)

__all__ = ["QTensor", "quantize", "dequantize", "quantize_dequantize", "absmax"]

# Looked up once: the small-call fast paths test them on every call.
_NDARRAY = np.ndarray
_INT8_TYPE = np.int8


class QuantizedBase:
    """What every int8q quantized tensor holds: q, its scales and how they were
    made.  QTensor (NumPy) and int8q.dask.DaskQTensor (Dask) add dequantize;
    they share no other base so that a lazy tensor is never taken for an
    in-memory one."""

    __slots__ = ("q", "scale", "axis", "block_size", "rounding", "zero_point", "qdtype")
    # Each subclass says which arrays: NumPy (QTensor) or Dask (DaskQTensor).
    q: Any
    scale: Any
    axis: int | None
    block_size: int | None
    rounding: str
    zero_point: Any
    qdtype: np.dtype[Any]

    def __init__(
        self,
        q: Any,
        scale: Any,
        axis: int | None = None,
        block_size: int | None = None,
        rounding: str = "half_even",
        zero_point: Any = None,
        qdtype: DTypeLike | None = None,
    ) -> None:
        self.q = q
        self.scale = scale
        self.axis = axis
        self.block_size = block_size
        self.rounding = rounding
        # None for the symmetric scheme (zero point 0, int8 in [-127, 127]).
        self.zero_point = zero_point
        self.qdtype = q.dtype if qdtype is None else np.dtype(qdtype)

    @property
    def shape(self) -> tuple[int, ...]:
        shape: tuple[int, ...] = self.q.shape  # (q is typed by the subclasses)
        return shape

    def _repr_extra(self) -> str:
        if self.zero_point is None:
            return ""
        return f", qdtype={self.qdtype}, with zero points"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(shape={self.q.shape}, "
            f"{granularity_text(self.axis, self.block_size)}, "
            f"rounding={self.rounding!r}, scale dtype={self.scale.dtype}"
            f"{self._repr_extra()})"
        )


class QTensor(QuantizedBase):
    """An int8 tensor with its scales.

    Attributes
    ----------
    q : ndarray of int8 (or uint8, see qdtype), the input's shape
    scale : ndarray of the working dtype (float32 or float64); shape ``()``
        per tensor, ``(x.shape[axis],)`` per channel, or
        ``x.shape[:-1] + (ceil(n / block_size),)`` per block
    axis, block_size : the granularity (both None per tensor)
    rounding : "half_even" or "half_away"
    zero_point : ndarray of qdtype shaped like scale, or None (symmetric)
    qdtype : numpy.dtype, int8 or uint8 (q's dtype)

    Examples
    --------
    >>> import numpy as np, int8q
    >>> qt = int8q.quantize(np.array([[1.0, -2.0], [0.5, 4.0]]), axis=0)
    >>> qt
    QTensor(shape=(2, 2), axis=0, rounding='half_even', scale dtype=float64)
    >>> qt.q
    array([[  64, -127],
           [  16,  127]], dtype=int8)
    >>> qt.dequantize(dtype=np.float32)
    array([[ 1.007874, -2.      ],
           [ 0.503937,  4.      ]], dtype=float32)
    """

    __slots__ = ()
    q: npt.NDArray[np.integer[Any]]  # int8, or uint8 with zero points
    scale: FloatArray
    zero_point: npt.NDArray[np.integer[Any]] | None

    def dequantize(self, dtype: DTypeLike | None = None) -> FloatArray:
        """``(q - zero_point) * scale`` in the scale's dtype, or cast to `dtype`.

        Parameters
        ----------
        dtype : data-type, optional
            The result's dtype (default: the scale's, float32 or float64).

        Returns
        -------
        ndarray
            The shape of `q`.

        Examples
        --------
        >>> import int8q
        >>> int8q.quantize([1.0, -0.5]).dequantize()
        array([ 1.        , -0.50393701])
        """
        return dequantize(self, dtype=dtype)


def granularity_text(axis: int | None, block_size: int | None) -> str:
    """How a tensor is quantized, for reprs: axis=k, block_size=B or per-tensor."""
    if axis is not None:
        return f"axis={axis}"
    if block_size is not None:
        return f"block_size={block_size}"
    return "per-tensor"


def _operands(
    x: ArrayLike, axis: Axis, block_size: BlockSize
) -> tuple[npt.NDArray[Any], WorkingDtype, Granularity]:
    """x as an ndarray, its working dtype and its geometry, resolved once for
    the whole call; TypeError for unsupported dtypes and masked arrays, and
    whatever _granularity.resolve raises for axis and block_size."""
    x = as_input(x)
    work = working_dtype(x.dtype)
    return x, work, resolve(x.shape, axis, block_size)


def quantize(
    x: ArrayLike,
    *,
    axis: Axis = None,
    block_size: BlockSize = None,
    rounding: Rounding = "half_even",
    out: OutArray = None,
    scale: ArrayLike | None = None,
    zero_point: ArrayLike | None = None,
    symmetric: bool = True,
    qdtype: QDtype | None = None,
    clip: Clip = None,
) -> QTensor:
    """INT8 quantization: symmetric abs-max by default, or with given scales
    and zero points, asymmetric ranges, or MSE clipping.


    ``scale = absmax / 127`` (1 where that is 0) per tensor, per channel
    (``axis``) or per block of the last axis (``block_size``), computed in the
    working dtype (float32 for float16/bfloat16/float32 input, float64 for
    float64 and integer input); ``q = clip(round(x / scale), -127, 127)``.

    Parameters
    ----------
    x : array_like of real numbers, any shape, dtype, layout or byte order,
        or a CPU torch tensor (read in place, bfloat16 included; the results
        are NumPy arrays, which ``torch.from_numpy`` wraps without a copy)
    axis : int, optional
        One scale per index along `axis`, reducing over all other axes.
    block_size : int, optional
        One scale per `block_size` consecutive elements of the last axis (the
        last block of each row may be shorter).
    rounding : {"half_even", "half_away"}
    out : ndarray of int8 (of `qdtype`), optional
        C-contiguous, x's shape; receives q.  Left untouched on any error.
        It may share memory with `x` (`x` is then copied first, as NumPy
        does); np.matrix and masked arrays are refused.
    scale : array_like, optional
        Given scales (finite, > 0), broadcastable to the scale shape of the
        granularity: ``q = saturate(round(x / scale) + zero_point)`` with a
        true division in the working dtype, exactly ONNX QuantizeLinear.
    zero_point : array_like of integers, optional
        With `scale`: zero points in the range of `qdtype` (default 0).
        Giving one (or ``symmetric=False``) makes the int8 range
        [-128, 127]; otherwise it is the symmetric [-127, 127].
    symmetric : bool
        False: asymmetric ranges ``[min(0, min x), max(0, max x)]`` per
        tensor, channel or block, with a zero point (ONNX
        DynamicQuantizeLinear for uint8 per tensor).
    qdtype : {"int8", "uint8"}, numpy.int8 or numpy.uint8, optional
        The type of q.  Default: the dtype of `zero_point` when it is a
        NumPy int8 or uint8 array or scalar (as ONNX QuantizeLinear types its
        output), else int8.  uint8 needs a zero point: `scale` or
        ``symmetric=False``.
    clip : None or "mse"
        "mse": symmetric scales whose clipping range (a fraction
        1.00, 0.99, ..., 0.01 of the abs-max) minimises the squared error of
        each tensor, channel or block.

    Returns
    -------
    QTensor

    Raises
    ------
    ValueError
        NaN or inf in `x` (the message names the first one), a bad
        `block_size`, both `axis` and `block_size`, unknown `rounding`, `out`
        of the wrong shape; a zero, negative or non-finite `scale`, a
        `zero_point` out of range, either not broadcasting to the scale
        shape; unknown `clip` or one combined with given or asymmetric
        parameters.
    TypeError
        complex, object or string input; a masked array; `out` not an ndarray
        of `qdtype` (or an np.matrix); `qdtype` not int8 or uint8, or not
        the dtype of an int8/uint8 `zero_point`; non-integer `zero_point`.
    numpy.exceptions.AxisError
        `axis` out of range.

    Examples
    --------
    >>> import numpy as np, int8q
    >>> qt = int8q.quantize(np.array([1.0, -1.0, 0.5, -0.5], dtype=np.float32))
    >>> qt.q
    array([ 127, -127,   64,  -64], dtype=int8)
    >>> qt.scale
    array(0.00787402, dtype=float32)
    >>> int8q.quantize(np.array([[1.0, 2.0], [3.0, 4.0]]), axis=0).scale
    array([0.01574803, 0.03149606])
    >>> qt = int8q.quantize(np.array([0.0, 1.0, 2.0, 3.0], np.float32), scale=0.5,
    ...                     zero_point=-128)
    >>> qt.q
    array([-128, -126, -124, -122], dtype=int8)
    >>> qt = int8q.quantize(np.array([-1.0, 0.0, 3.0]), symmetric=False, qdtype=np.uint8)
    >>> qt.q, qt.zero_point
    (array([  0,  64, 255], dtype=uint8), array(64, dtype=uint8))
    """
    if (
        type(x) is _NDARRAY
        and axis is None
        and block_size is None
        and zero_point is None
        and symmetric is True
        and clip is None
        and (qdtype is None or qdtype is _INT8_TYPE)
    ):
        # The common calls (the scale from the abs-max, or one given float)
        # on an array the kernels read in place, in one compiled step that
        # returns None for anything else, which the plan then takes and
        # checks (_plan.py).  _engine re-exports the compiled step itself:
        # at 1 element (about 1 us) a Python wrapper would cost a tenth of
        # the time.  With out= an abs-max pass comes first, so NaN/inf
        # leaves it untouched.
        made = _engine.quantize_tensor(x, rounding_code(rounding), out, get_num_threads(), scale)
        if type(made) is tuple:
            return QTensor(made[0], made[1], None, None, rounding)
        if made is not None:
            _engine.raise_nonfinite(x, working_dtype(x.dtype))
    # The plan: the path and geometry of the call, every operand checked
    # (int8q/_plan.py); what follows executes it with the engine.
    plan = quantize_plan(
        x, axis, block_size, rounding, out, scale, zero_point, symmetric, qdtype, clip
    )
    path, x, work, gran, mode, q_type, qmin, qmax, scales, zps, zp32, out, direct = plan
    if direct:  # (first: the common given call is a few microseconds)
        assert scales is not None  # direct plans are given ones
        q = _affine.quantize_direct(x, gran, scales, zp32, qmin, qmax, mode, q_type)
    elif path is SYMMETRIC:
        return _quantize(x, work, gran, mode, rounding, out, False)[0]
    else:
        if path is ASYMMETRIC:
            # (flat, zero points of q_type, which quantize_given reads as int32)
            scales, zp32 = _affine.asymmetric_params(x, work, gran, q_type)
            scales, zps = scales.reshape(gran.scale_shape), zp32.reshape(gran.scale_shape)
        elif path is CLIP_MSE:
            scales = _affine.clip_mse_scales(x, work, gran, mode).reshape(gran.scale_shape)
        assert scales is not None  # given, or made above
        if zp32 is None:
            zp32 = np.zeros(scales.size, np.int32)
        q = np.empty(x.shape, dtype=q_type) if out is None else out
        _affine.quantize_given(
            x,
            work,
            gran,
            scales,
            zp32,
            qmin,
            qmax,
            mode,
            q.reshape(-1),
            check_first=out is not None,
        )
    # (q's dtype is q_type: QTensor takes it from q)
    return QTensor(q, scales, gran.axis, gran.block_size, rounding, zps)


def quantize_dequantize(
    x: ArrayLike,
    *,
    axis: Axis = None,
    block_size: BlockSize = None,
    rounding: Rounding = "half_even",
    out: tuple[Int8Array | None, FloatArray | None] | None = None,
) -> tuple[QTensor, FloatArray]:
    """``(quantize(x, ...), q * scale)`` computed in one pass over `x`.

    The dequantized array has x's shape and the working dtype.  `x` may be
    a CPU torch tensor, as for `quantize`.  ``out=(q,
    xhat)`` (either may be None) receives them: q as in `quantize`, xhat a
    C-contiguous writeable array of the working dtype and x's shape; both are
    left untouched on any error.

    Examples
    --------
    >>> import int8q
    >>> qt, xhat = int8q.quantize_dequantize([1.0, -1.0, 0.5, -0.5])
    >>> xhat.round(4)
    array([ 1.    , -1.    ,  0.5039, -0.5039])
    """
    q_out, d_out = (None, None) if out is None else out_pair(out)
    mode = rounding_code(rounding)
    x, work, gran = _operands(x, axis, block_size)
    if q_out is not None:
        check_out(q_out, x.shape, np.int8)
    if d_out is not None:
        check_out(d_out, x.shape, work, "xhat")
    x = apart(x, q_out, d_out)
    qt, d = _quantize(x, work, gran, mode, rounding, q_out, want_dequantized=True, d_out=d_out)
    assert d is not None  # want_dequantized: always made
    return qt, d


def _quantize(
    x: npt.NDArray[Any],
    work: WorkingDtype,
    gran: Granularity,
    mode: int,
    rounding: str,
    out: npt.NDArray[Any] | None,
    want_dequantized: bool,
    d_out: FloatArray | None = None,
) -> tuple[QTensor, FloatArray | None]:
    """The symmetric abs-max quantize of x (and q * scale) into new arrays or
    the caller's, checked by the caller and apart from x."""
    q = np.empty(x.shape, dtype=np.int8) if out is None else out
    d = None if not want_dequantized else np.empty(x.shape, dtype=work) if d_out is None else d_out
    # Writing into the caller's buffers goes through the two-pass path, which
    # finds NaN/inf before writing anything.
    scales = _engine.quantize(
        x,
        work,
        gran,
        mode,
        q.reshape(-1),
        None if d is None else d.reshape(-1),
        fused=out is None and d_out is None,
    )
    qt = QTensor(q, scales.reshape(gran.scale_shape), gran.axis, gran.block_size, rounding)
    return qt, d


def quantize_with_scale(
    x: ArrayLike,
    scale: ArrayLike,
    *,
    axis: Axis = None,
    block_size: BlockSize = None,
    rounding: str = "half_even",
) -> Int8Array:
    """``clip(round(x / scale), -127, 127)`` as int8 for a given `scale`.

    For engines that find the scales themselves (int8q.dask takes a global
    abs-max over chunks first): `scale` must have the shape and working dtype
    `quantize` would give it for `x` (finite and > 0, as scales from
    `absmax` are).  The given-scale kernel of ``quantize(x, scale=...)``
    without its checks.  Not part of the public API.
    """
    mode = rounding_code(rounding)
    x, work, gran = _operands(x, axis, block_size)
    scales = np.ascontiguousarray(scale, dtype=work).reshape(-1)
    scale_count(scales.size, gran.nscales)
    q = np.empty(x.shape, dtype=np.int8)
    _affine.quantize_given(
        x,
        work,
        gran,
        scales,
        np.zeros(gran.nscales, np.int32),
        -127,
        127,
        mode,
        q.reshape(-1),
        check_first=False,
    )
    return q


def absmax(x: ArrayLike, *, axis: Axis = None, block_size: BlockSize = None) -> FloatArray:
    """``max(|x|)`` per tensor, channel or block, in the working dtype.

    The result has the shape `quantize` gives its scale.  NaN/inf raise
    ValueError.  `x` may be a CPU torch tensor, as for `quantize`.

    Examples
    --------
    >>> import int8q
    >>> int8q.absmax([[1, -5], [3, 2]], axis=1)
    array([3., 5.])
    """
    x, work, gran = _operands(x, axis, block_size)
    return _engine.absmax(x, work, gran).reshape(gran.scale_shape)


_INT8 = np.dtype(np.int8)
# Per-tensor scales the compiled dequantize step reads (a Python float
# computes in float64, as np.asarray(scale) would).
_ONE_SCALE_TYPES = (_NDARRAY, float, np.float32, np.float64)


def dequantize(
    q: QTensor | ArrayLike,
    scale: ArrayLike | None = None,
    *,
    axis: Axis = None,
    block_size: BlockSize = None,
    dtype: DTypeLike | None = None,
    out: npt.NDArray[Any] | None = None,
    zero_point: ArrayLike | None = None,
) -> FloatArray:
    """``q * scale`` in the scale's working dtype (or cast to `dtype`).

    Call it as ``dequantize(qtensor)`` or ``dequantize(q, scale, axis=...,
    block_size=...)`` with `scale` shaped as `quantize` makes it.  float16 and
    bfloat16 scales compute in float32.  `out`, a C-contiguous writeable
    floating array of q's shape (and of `dtype` when given), receives the
    result cast to its dtype; it is left untouched on any error.
    With a zero point (or uint8 q) it is ``(q - zero_point) * scale``.
    `q` and `scale` may be CPU torch tensors; the result is a NumPy array
    (``torch.from_numpy`` wraps it without a copy).

    Examples
    --------
    >>> import numpy as np, int8q
    >>> int8q.dequantize(np.array([127, -64], dtype=np.int8), np.float32(0.5))
    array([ 63.5, -32. ], dtype=float32)
    """
    if isinstance(q, QTensor):
        if (
            scale is not None
            or axis is not None
            or block_size is not None
            or zero_point is not None
        ):
            raise dequantize_call_error(qtensor=True)
        # q last: mypy types a tuple assignment item by item.
        scale, axis, block_size, zero_point, q = (q.scale, q.axis, q.block_size, q.zero_point, q.q)
    elif scale is None:
        raise dequantize_call_error(qtensor=False)
    gran: Granularity | None = None  # resolved once: by the fast path's test if it gets there
    if dtype is None and zero_point is None and type(q) is _NDARRAY:
        # The common calls, with no conversion to make: the fast paths (plain
        # ndarrays and scalars only, so masked arrays never get here).
        if axis is None and block_size is None:
            if type(scale) in _ONE_SCALE_TYPES:
                made = _engine.dequantize_tensor(q, scale, out)
                if made is not None:
                    return made
        elif (
            type(scale) is _NDARRAY
            and out is None
            and q.dtype == _INT8
            and scale.dtype in WORKING_DTYPES
            and q.flags.c_contiguous
            and scale.flags.c_contiguous
        ):
            gran = resolve(q.shape, axis, block_size)
            if scale.shape == gran.scale_shape:
                return _engine.dequantize_fast(q, scale, gran)
    q = as_input(q, "q")
    q_dtype(q.dtype, zero_point)
    scale = as_input(scale, "scale")
    work = scale_working_dtype(scale.dtype)
    if gran is None:
        gran = resolve(q.shape, axis, block_size)
    scale_shape(scale.shape, gran.scale_shape, q.shape)
    scales = np.ascontiguousarray(scale, dtype=work).reshape(-1)
    out_dtype = result_dtype(dtype, out, work)
    if zero_point is not None:
        finite_scales(scales)
        zps = given_zero_points(zero_point, gran.scale_shape, q.dtype)
        with np.errstate(over="ignore"):  # like astype: overflow gives inf
            result = _affine.dequantize(
                q, scales.reshape(gran.scale_shape), zps, gran, work
            ).astype(out_dtype, copy=False)
        if out is None:
            return result
        check_out(out, q.shape, out_dtype)
        out[...] = result
        return out
    if out is None:
        out = np.empty(q.shape, dtype=out_dtype)
    else:
        check_out(out, q.shape, out_dtype)
        q, scales = apart(q, out), apart(scales, out)
    # The kernels check the scales for NaN/inf before writing anything.
    if not _engine.dequantize(q, scales, gran, out.reshape(-1)):
        raise nonfinite_scale_error()
    return out
