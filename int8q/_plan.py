"""One quantize call's plan: its path and geometry, decided once.

`quantize_plan` reads every keyword of int8q.quantize together with the
operands, makes every check (through _checks, _operands and
_granularity.resolve) and returns a Plan.  _api executes the plan with the
engine (_engine for abs-max scales, _affine for the rest), which takes the
plan's fields as they are and decides nothing again.

Before any plan, _api hands the commonest call (one symmetric int8 scale
for a plain ndarray, from the abs-max or one given float) to the compiled
per-tensor step (_engine.quantize_tensor), which reads the operands'
buffers and either quantizes or returns None, leaving the call to this
module: at one element a call takes about a microsecond, and every Python
test of an operand would cost a tenth of it.  So a new keyword is read
here and in that step's guard in _api.quantize, which sends any call with
a keyword it does not pass on to the plan (tests/core/test_fast_paths.py
fails for a keyword it has no sample of).
"""

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ._affine import qrange
from ._checks import (
    check_out,
    given_scales,
    given_zero_points,
    output_qdtype,
    quantize_options,
    rounding_code,
    working_dtype,
)
from ._dtypes import FLOAT32, INT8, UINT8, WORKING_DTYPES
from ._engine import all_finite
from ._granularity import Granularity, resolve
from ._operands import apart, as_input
from ._typing import FloatArray, WorkingDtype

# The paths of a quantize call.
SYMMETRIC = "symmetric"  # scales from the abs-max (_engine.quantize)
GIVEN = "given"  # the caller's scales and zero points, checked here
ASYMMETRIC = "asymmetric"  # scales and zero points from each range
CLIP_MSE = "clip_mse"  # symmetric scales chosen by their squared error


class Plan(NamedTuple):
    path: str
    x: npt.NDArray[Any]  # the input as the kernels read it, apart from `out`
    work: WorkingDtype
    gran: Granularity
    mode: int  # the rounding's kernel code
    qdtype: np.dtype[Any]  # q's dtype, int8 or uint8
    qmin: int  # the output range
    qmax: int
    scales: FloatArray | None  # GIVEN: checked, of `work` and the scale shape
    zero_points: npt.NDArray[Any] | None  # checked, of qdtype and the scale shape; None: symmetric
    zp32: npt.NDArray[np.int32] | None  # the same as the kernels read them: int32, flat
    out: npt.NDArray[Any] | None  # checked: receives q
    direct: bool  # x is C-contiguous of `work`: one kernel call reads it whole


_NDARRAY = np.ndarray
_INT8_TYPE = np.int8
# Plans are made as tuples, without NamedTuple's Python-level __new__: at a
# few microseconds a call, it cost 5% of a small given-scale quantize.
_new = tuple.__new__


def quantize_plan(
    x: Any,
    axis: Any,
    block_size: Any,
    rounding: Any,
    out: Any,
    scale: Any,
    zero_point: Any,
    symmetric: Any,
    qdtype: Any,
    clip: Any,
) -> Plan:
    """The Plan of int8q.quantize(x, ...) with these keywords; raises what
    quantize raises for bad arguments, in the same order whatever the path."""
    mode = rounding_code(rounding)
    resolved: Granularity | None = None
    if (
        scale is None
        and zero_point is None
        and symmetric is True
        and clip is None
        and (qdtype is None or qdtype is _INT8_TYPE)
    ):
        path, q_type = SYMMETRIC, INT8
    else:
        qdtype = output_qdtype(qdtype, zero_point)
        if (
            type(x) is _NDARRAY
            and scale is not None
            and symmetric is True
            and clip is None
            and out is None
            and (qdtype is _INT8_TYPE or qdtype is np.uint8)
            # Other dtypes may be refused (TypeError), which comes before any
            # AxisError: the general checks resolve after converting x.
            and x.dtype in WORKING_DTYPES
        ):
            gran = resolve(x.shape, axis, block_size)
            common = _common_given(x, gran, mode, scale, zero_point, qdtype)
            if common is not None:
                return common
            resolved = gran  # (as_input gives this x back as it is)
        q_type = quantize_options(qdtype, scale, zero_point, symmetric, clip)
        if scale is not None:
            path = GIVEN
        elif not symmetric:
            path = ASYMMETRIC
        elif clip is not None:
            path = CLIP_MSE
        else:  # int8 spelled as "int8"
            path = SYMMETRIC
    x = as_input(x)
    work = working_dtype(x.dtype)
    gran = resolve(x.shape, axis, block_size) if resolved is None else resolved
    if path is SYMMETRIC:
        if out is not None:
            check_out(out, x.shape, INT8)
            x = apart(x, out)
        return _new(
            Plan, (path, x, work, gran, mode, INT8, *_SYMMETRIC, None, None, None, out, False)
        )
    full = zero_point is not None or not symmetric
    scales = zps = zp32 = None
    if path is GIVEN:
        scales = given_scales(scale, gran.scale_shape, work)
        if zero_point is not None:
            zp32 = given_zero_points(zero_point, gran.scale_shape, q_type)
        elif full:
            zp32 = np.zeros(gran.scale_shape, dtype=np.int32)
        if zp32 is not None:
            zps, zp32 = zp32.astype(q_type), zp32.reshape(-1)
    if out is not None:
        check_out(out, x.shape, q_type)
        x = apart(x, out)
    qmin, qmax = qrange(q_type, full)
    return _new(
        Plan, (path, x, work, gran, mode, q_type, qmin, qmax, scales, zps, zp32, out, False)
    )


# What the common given-parameter call passes (_common_given).
_FLOAT_SCALARS = (float, np.float32, np.float64)
_INT_SCALARS = (int, np.int8, np.uint8, np.int16, np.int32, np.int64)
# Python floats that stay finite and nonzero as float32 (others: the general
# checks, which explain what they become).
_F32_KEEPS = (float(np.finfo(np.float32).smallest_subnormal), float(np.finfo(np.float32).max))
_QDTYPES = {np.int8: INT8, np.uint8: UINT8}
_SYMMETRIC = qrange(INT8, False)  # int8 without zero points


def _common_given(
    x: npt.NDArray[Any], gran: Granularity, mode: int, scale: Any, zero_point: Any, qdtype: Any
) -> Plan | None:
    """The direct GIVEN plan of the common given-parameter call, in a few
    NumPy calls where the general checks make dozens (a small call: 37 ->
    ~10 us): x a non-empty C-contiguous
    native float32/float64 ndarray; the scales a float (per tensor) or an
    ndarray of x's dtype and the scale shape, all finite and > 0; no zero
    point (int8) or one of the scale shape, an integer in range per tensor
    or an array of qdtype, the caller's own int8 or uint8.  None for anything
    else, which the general checks then take (and refuse with their errors
    where it is wrong): each operand is accepted here or checked there,
    never both."""
    work = x.dtype
    if not (x.flags.c_contiguous and x.size):
        return None
    shape = gran.scale_shape
    if type(scale) is np.ndarray and scale.dtype == work and scale.shape == shape:
        s = scale.copy()  # the QTensor never aliases the caller's array
    elif shape == () and type(scale) in _FLOAT_SCALARS:
        if work == FLOAT32 and type(scale) is not np.float32:
            if not _F32_KEEPS[0] <= scale <= _F32_KEEPS[1]:
                return None
        s = np.array(scale, dtype=work)
    else:
        return None
    if not all_finite(s, True):
        return None
    if zero_point is None:
        if qdtype is not np.int8:
            return None
        return _new(
            Plan, (GIVEN, x, work, gran, mode, INT8, *_SYMMETRIC, s, None, None, None, True)
        )
    q_type = _QDTYPES[qdtype]
    qmin, qmax = qrange(q_type, True)  # the type's range
    if type(zero_point) is np.ndarray and zero_point.dtype == qdtype and zero_point.shape == shape:
        zp = zero_point.copy()  # the QTensor never aliases the caller's array
        zp32 = zp.astype(np.int32).reshape(-1)
    elif shape == () and type(zero_point) in _INT_SCALARS:
        if not qmin <= zero_point <= qmax:
            return None
        zp = np.array(zero_point, dtype=q_type)
        zp32 = np.array([zero_point], dtype=np.int32)
    else:
        return None
    return _new(Plan, (GIVEN, x, work, gran, mode, q_type, qmin, qmax, s, zp, zp32, None, True))
