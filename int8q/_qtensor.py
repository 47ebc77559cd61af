"""QTensor, the in-memory result of quantize, and dequantize, its inverse
(docs/semantics.md §2).  int8q/_api.py re-exports both with quantize."""

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
    q_dtype,
    result_dtype,
    scale_shape,
    scale_working_dtype,
)
from ._dtypes import WORKING_DTYPES
from ._granularity import Granularity, resolve
from ._operands import apart, as_input
from ._typing import (
    ArrayLike,
    Axis,
    BlockSize,
    DTypeLike,
    FloatArray,
)

# Looked up once: the small-call fast paths test them on every call.
_NDARRAY = np.ndarray


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
        ``x.shape[:-1] + (ceil(n / block_size),)`` per block of the last
        axis, x's shape with `axis` ceil-divided by `block_size` per block
        along another axis
    axis, block_size : the granularity (both None per tensor; axis None for
        blocks along the last axis)
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
    """How a tensor is quantized, for reprs: axis=k, block_size=B, both
    (blocks along axis k) or per-tensor."""
    if axis is not None and block_size is not None:
        return f"axis={axis}, block_size={block_size}"
    if axis is not None:
        return f"axis={axis}"
    if block_size is not None:
        return f"block_size={block_size}"
    return "per-tensor"


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
    block_size=...)`` with `scale` shaped as `quantize` makes it (with both
    `axis` and `block_size`: blocks along `axis`, ONNX DequantizeLinear's
    blocked form).  float16 and
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
    >>> q = np.array([[1, 2], [3, 4], [5, 6]], dtype=np.int8)
    >>> int8q.dequantize(q, np.array([[1.0, 2.0], [10.0, 20.0]]), axis=0, block_size=2)
    array([[  1.,   4.],
           [  3.,   8.],
           [ 50., 120.]])
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
    zps = None
    if zero_point is not None:
        finite_scales(scales)
        zps = given_zero_points(zero_point, gran.scale_shape, q.dtype)
    if out is None:
        out = np.empty(q.shape, dtype=out_dtype)
    else:
        check_out(out, q.shape, out_dtype)
        q, scales = apart(q, out), apart(scales, out)
    if zps is not None:
        _affine.dequantize(q, scales, zps, gran, out.reshape(-1))
        return out
    # The kernels check the scales for NaN/inf before writing anything.
    if not _engine.dequantize(q, scales, gran, out.reshape(-1)):
        raise nonfinite_scale_error()
    return out
