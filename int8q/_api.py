"""The bulk API: quantize, dequantize, quantize_dequantize, absmax, QTensor
(docs/semantics.md §2)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _affine, _engine
from ._checks import (
    check_out,
    out_pair,
    rounding_code,
    scale_count,
    working_dtype,
)
from ._config import get_num_threads
from ._granularity import Granularity, resolve
from ._operands import apart, as_input
from ._plan import ASYMMETRIC, CLIP_MSE, GIVEN, SYMMETRIC, quantize_plan
from ._qtensor import QTensor, dequantize
from ._typing import (
    ArrayLike,
    Axis,
    BlockSize,
    Clip,
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
    (``axis``), per block of the last axis (``block_size``) or per block
    along another axis (both, as ONNX's blocked QuantizeLinear), computed in the
    working dtype (float32 for float16/bfloat16/float32 input, float64 for
    float64 and integer input); ``q = clip(round(x / scale), -127, 127)``.

    Parameters
    ----------
    x : array_like of real numbers, any shape, dtype, layout or byte order,
        or a CPU torch tensor (read in place, bfloat16 included; the results
        are NumPy arrays, which ``torch.from_numpy`` wraps without a copy)
    axis : int, optional
        One scale per index along `axis`, reducing over all other axes.
        With `block_size`: the axis the blocks run along.
    block_size : int, optional
        One scale per `block_size` consecutive elements of the last axis (the
        last block of each row may be shorter), or of `axis` when given: the
        scale then has x's shape with that axis ceil-divided by `block_size`.
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
        `block_size`, unknown `rounding`, `out`
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
    >>> int8q.quantize(np.array([[1.0, 2.0], [3.0, 4.0], [127.0, 0.0]]), axis=0,
    ...                block_size=2).scale
    array([[0.02362205, 0.03149606],
           [1.        , 1.        ]])
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
            # into out=, NaN/inf must be found before anything is written:
            # the asymmetric ranges and the clip abs-max have found them
            # already (they raise), given scales have not read x yet
            check_first=out is not None and path is GIVEN,
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
