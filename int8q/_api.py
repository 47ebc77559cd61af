"""The bulk API: quantize, dequantize, quantize_dequantize, absmax, QTensor
(docs/semantics.md §2)."""
from typing import Any, SupportsIndex

import numpy as np
import numpy.typing as npt

from . import _engine
from ._validate import rounding_code
from ._dtypes import working_dtype
from ._granularity import resolve
from ._operands import apart, as_input, check_out, refuse_masked
from ._typing import FloatArray, Int8Array, WorkingDtype

__all__ = ["QTensor", "quantize", "dequantize", "quantize_dequantize", "absmax"]


class QuantizedBase:
    """What every int8q quantized tensor holds: q, its scales and how they were
    made.  QTensor (NumPy) and int8q.dask.DaskQTensor (Dask) add dequantize;
    they share no other base so that a lazy tensor is never taken for an
    in-memory one."""

    __slots__ = ("q", "scale", "axis", "block_size", "rounding")
    # Each subclass says which arrays: NumPy (QTensor) or Dask (DaskQTensor).
    q: Any
    scale: Any
    axis: int | None
    block_size: int | None
    rounding: str

    def __init__(self, q: Any, scale: Any, axis: int | None = None,
                 block_size: int | None = None, rounding: str = "half_even") -> None:
        self.q = q
        self.scale = scale
        self.axis = axis
        self.block_size = block_size
        self.rounding = rounding

    @property
    def shape(self) -> tuple[int, ...]:
        shape: tuple[int, ...] = self.q.shape  # (q is typed by the subclasses)
        return shape

    def _repr_extra(self) -> str:
        return ""

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(shape={self.q.shape}, "
                f"{granularity_text(self.axis, self.block_size)}, "
                f"rounding={self.rounding!r}, scale dtype={self.scale.dtype}"
                f"{self._repr_extra()})")


class QTensor(QuantizedBase):
    """An int8 tensor with its scales.

    Attributes
    ----------
    q : ndarray of int8, the input's shape
    scale : ndarray of the working dtype (float32 or float64); shape ``()``
        per tensor, ``(x.shape[axis],)`` per channel, or
        ``x.shape[:-1] + (ceil(n / block_size),)`` per block
    axis, block_size : the granularity (both None per tensor)
    rounding : "half_even" or "half_away"
    """

    __slots__ = ()
    q: Int8Array
    scale: FloatArray

    def dequantize(self, dtype: npt.DTypeLike | None = None) -> FloatArray:
        """``q * scale`` in the scale's dtype, or cast to `dtype`."""
        return dequantize(self, dtype=dtype)


def granularity_text(axis: int | None, block_size: int | None) -> str:
    """How a tensor is quantized, for reprs: axis=k, block_size=B or per-tensor."""
    if axis is not None:
        return f"axis={axis}"
    if block_size is not None:
        return f"block_size={block_size}"
    return "per-tensor"


def _as_input(x: npt.ArrayLike) -> tuple[npt.NDArray[Any], WorkingDtype]:
    """x as an ndarray and its working dtype; TypeError for unsupported dtypes
    and masked arrays."""
    x = as_input(x)
    return x, working_dtype(x.dtype)


def quantize(x: npt.ArrayLike, *, axis: SupportsIndex | None = None,
             block_size: SupportsIndex | None = None, rounding: str = "half_even",
             out: Int8Array | None = None) -> QTensor:
    """Symmetric INT8 quantization.

    ``scale = absmax / 127`` (1 where that is 0) per tensor, per channel
    (``axis``) or per block of the last axis (``block_size``), computed in the
    working dtype (float32 for float16/bfloat16/float32 input, float64 for
    float64 and integer input); ``q = clip(round(x / scale), -127, 127)``.

    Parameters
    ----------
    x : array_like of real numbers, any shape, dtype, layout or byte order
    axis : int, optional
        One scale per index along `axis`, reducing over all other axes.
    block_size : int, optional
        One scale per `block_size` consecutive elements of the last axis (the
        last block of each row may be shorter).
    rounding : {"half_even", "half_away"}
    out : ndarray of int8, optional
        C-contiguous, x's shape; receives q.  Left untouched on any error.
        It may share memory with `x` (`x` is then copied first, as NumPy
        does); np.matrix and masked arrays are refused.

    Returns
    -------
    QTensor

    Raises
    ------
    ValueError
        NaN or inf in `x` (the message names the first one), a bad
        `block_size`, both `axis` and `block_size`, unknown `rounding`, `out`
        of the wrong shape.
    TypeError
        complex, object or string input; a masked array; `out` not an int8
        ndarray (or an np.matrix).
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
    """
    qt, _ = _quantize(x, axis, block_size, rounding, out, want_dequantized=False)
    return qt


def quantize_dequantize(
        x: npt.ArrayLike, *, axis: SupportsIndex | None = None,
        block_size: SupportsIndex | None = None, rounding: str = "half_even",
        out: tuple[Int8Array | None, FloatArray | None] | None = None,
) -> tuple[QTensor, FloatArray]:
    """``(quantize(x, ...), q * scale)`` computed in one pass over `x`.

    The dequantized array has x's shape and the working dtype.  ``out=(q,
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
    if out is None:
        q_out = d_out = None
    elif isinstance(out, tuple) and len(out) == 2:
        q_out, d_out = out
    else:
        raise TypeError("out must be a pair (q, xhat); either may be None")
    qt, d = _quantize(x, axis, block_size, rounding, q_out, want_dequantized=True, d_out=d_out)
    assert d is not None  # want_dequantized: always made
    return qt, d


def _quantize(x: npt.ArrayLike, axis: SupportsIndex | None, block_size: SupportsIndex | None,
              rounding: str, out: Int8Array | None, want_dequantized: bool,
              d_out: FloatArray | None = None) -> tuple[QTensor, FloatArray | None]:
    mode = rounding_code(rounding)
    x, work = _as_input(x)
    gran = resolve(x.shape, axis, block_size)
    if out is not None:
        check_out(out, x.shape, np.int8)
    if d_out is not None:
        check_out(d_out, x.shape, work, "xhat")
    x = apart(x, out, d_out)
    q = np.empty(x.shape, dtype=np.int8) if out is None else out
    d = None if not want_dequantized else np.empty(x.shape, dtype=work) if d_out is None else d_out
    # Writing into the caller's buffers goes through the two-pass path, which
    # finds NaN/inf before writing anything.
    scales = _engine.quantize(x, work, gran, mode, q.reshape(-1),
                              None if d is None else d.reshape(-1),
                              fused=out is None and d_out is None)
    qt = QTensor(q, scales.reshape(gran.scale_shape), gran.axis, gran.block_size, rounding)
    return qt, d


def quantize_with_scale(x: npt.ArrayLike, scale: npt.ArrayLike, *,
                        axis: SupportsIndex | None = None,
                        block_size: SupportsIndex | None = None,
                        rounding: str = "half_even") -> Int8Array:
    """``clip(round(x / scale), -127, 127)`` as int8 for a given `scale`.

    For engines that find the scales themselves (int8q.dask takes a global
    abs-max over chunks first): `scale` must have the shape and working dtype
    `quantize` would give it for `x`, and every ``|x| <= 127 * scale`` must
    hold up to rounding, as it does when the scales come from `absmax` of a
    superset of x.  Not part of the public API.
    """
    mode = rounding_code(rounding)
    x, work = _as_input(x)
    gran = resolve(x.shape, axis, block_size)
    scales = np.ascontiguousarray(scale, dtype=work).reshape(-1)
    if scales.shape != (gran.nscales,):
        raise ValueError(f"scale has {scales.size} values, expected {gran.nscales}")
    q = np.empty(x.shape, dtype=np.int8)
    _engine.quantize_given(x, work, gran, scales, mode, q.reshape(-1))
    return q


def absmax(x: npt.ArrayLike, *, axis: SupportsIndex | None = None,
           block_size: SupportsIndex | None = None) -> FloatArray:
    """``max(|x|)`` per tensor, channel or block, in the working dtype.

    The result has the shape `quantize` gives its scale.  NaN/inf raise
    ValueError.

    Examples
    --------
    >>> import int8q
    >>> int8q.absmax([[1, -5], [3, 2]], axis=1)
    array([3., 5.])
    """
    x, work = _as_input(x)
    gran = resolve(x.shape, axis, block_size)
    return _engine.absmax(x, work, gran).reshape(gran.scale_shape)


_INT8 = np.dtype(np.int8)
_WORK_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def dequantize(q: QTensor | npt.ArrayLike, scale: npt.ArrayLike | None = None, *,
               axis: SupportsIndex | None = None, block_size: SupportsIndex | None = None,
               dtype: npt.DTypeLike | None = None,
               out: npt.NDArray[Any] | None = None) -> FloatArray:
    """``q * scale`` in the scale's working dtype (or cast to `dtype`).

    Call it as ``dequantize(qtensor)`` or ``dequantize(q, scale, axis=...,
    block_size=...)`` with `scale` shaped as `quantize` makes it.  float16 and
    bfloat16 scales compute in float32.  `out`, a C-contiguous writeable
    floating array of q's shape (and of `dtype` when given), receives the
    result cast to its dtype; it is left untouched on any error.

    Examples
    --------
    >>> import numpy as np, int8q
    >>> int8q.dequantize(np.array([127, -64], dtype=np.int8), np.float32(0.5))
    array([ 63.5, -32. ], dtype=float32)
    """
    if isinstance(q, QTensor):
        if scale is not None or axis is not None or block_size is not None:
            raise TypeError("dequantize(qtensor) takes no scale, axis or block_size")
        # q last: mypy types a tuple assignment item by item.
        scale, axis, block_size, q = q.scale, q.axis, q.block_size, q.q
    elif scale is None:
        raise TypeError("dequantize needs a QTensor, or q and scale")
    if (dtype is None and out is None and type(q) is np.ndarray and type(scale) is np.ndarray
            and q.dtype == _INT8 and scale.dtype in _WORK_DTYPES and q.flags.c_contiguous
            and scale.flags.c_contiguous):
        # The common call, with no conversion to make: the fast path (plain
        # ndarrays only, so masked arrays never get here).
        gran = resolve(q.shape, axis, block_size)
        if scale.shape == gran.scale_shape:
            return _engine.dequantize_fast(q, scale, gran)
    refuse_masked(q, "q")
    refuse_masked(scale, "scale")
    q = np.asarray(q)
    if q.dtype != np.int8:
        raise TypeError(f"q must be int8, got {q.dtype}")
    scale = np.asarray(scale)
    if scale.dtype.kind != "f" and scale.dtype.name != "bfloat16":
        raise TypeError(f"scale must be floating point, got {scale.dtype}")
    work = working_dtype(scale.dtype)
    gran = resolve(q.shape, axis, block_size)
    if scale.shape != gran.scale_shape:
        raise ValueError(f"scale has shape {scale.shape}, expected {gran.scale_shape} "
                         f"for q of shape {q.shape}")
    scales = np.ascontiguousarray(scale, dtype=work).reshape(-1)
    out_dtype = work if dtype is None else np.dtype(dtype)
    if out is not None and dtype is None:
        out_dtype = getattr(out, "dtype", out_dtype)
    if out_dtype.kind != "f" and out_dtype.name != "bfloat16":
        raise TypeError(f"dtype must be a floating dtype, got {out_dtype}")
    if out is None:
        out = np.empty(q.shape, dtype=out_dtype)
    else:
        check_out(out, q.shape, out_dtype)
        q, scales = apart(q, out), apart(scales, out)
    # The kernels check the scales for NaN/inf before writing anything.
    if not _engine.dequantize(q, scales, gran, out.reshape(-1)):
        raise ValueError("scale contains NaN or inf")
    return out
