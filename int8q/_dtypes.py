"""Which dtypes int8q accepts, the working dtype each one computes in, and the
codes the kernels take for them and for the roundings."""

from typing import Any

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._typing import WorkingDtype

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)
# The types of q: int8 (symmetric, or with zero points) and uint8 (with zero points).
INT8 = np.dtype(np.int8)
UINT8 = np.dtype(np.uint8)
# The working dtypes: every scale and quotient is computed in one of them.
WORKING_DTYPES = (FLOAT32, FLOAT64)

# The rounding names users pass, and the kernels' codes for them (the C enum
# int8q_rounding of src/core/kernels.h).
ROUNDING_CODES = {"half_even": _kernels.HALF_EVEN, "half_away": _kernels.HALF_AWAY}


def is_bfloat16(dtype: np.dtype[Any]) -> bool:
    """Whether `dtype` is ml_dtypes' bfloat16 (the one spelling of that test)."""
    # ml_dtypes is optional; its bfloat16 is recognised by name so that int8q
    # never has to import it.
    # (Typed here: NumPy's stubs say LiteralString, which Python 3.10 lacks.)
    name: str = dtype.name
    return name == "bfloat16"


def is_real(dtype: np.dtype[Any]) -> bool:
    """Whether `dtype` holds real numbers: bool, integers, floats, bfloat16."""
    return dtype.kind in "biuf" or is_bfloat16(dtype)


def is_floating(dtype: np.dtype[Any]) -> bool:
    """Whether `dtype` is a floating dtype, bfloat16 included."""
    return dtype.kind == "f" or is_bfloat16(dtype)


def bf16_to_float32(bits: npt.ArrayLike) -> npt.NDArray[np.float32]:
    """float32 values of bfloat16 bit patterns (uint16): exact, for readers
    without ml_dtypes."""
    return (np.asarray(bits, np.uint32) << 16).view(np.float32)


# The common cases, looked up before anything else (small calls feel it).
COMMON_WORKING: dict[object, WorkingDtype] = {
    np.dtype(np.float32): FLOAT32,
    np.dtype(np.float64): FLOAT64,
    np.dtype(np.float16): FLOAT32,
}


def computes_in(dtype: npt.DTypeLike) -> WorkingDtype | None:
    """The working dtype of `dtype`: float32 for float16/bfloat16/float32,
    float64 for float64/integer/bool; None for the dtypes int8q does not
    quantize (complex, object, strings, long double, datetimes...), which
    _checks.working_dtype refuses."""
    work = COMMON_WORKING.get(dtype)
    if work is not None:
        return work
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4 or is_bfloat16(dtype):
        return FLOAT32
    if dtype.kind == "f" and dtype.itemsize == 8 or dtype.kind in "biu":
        return FLOAT64
    return None


def is_direct(a: npt.NDArray[Any], work: np.dtype[Any]) -> bool:
    """True when `a` already is C-contiguous native `work` (no conversion)."""
    return a.dtype == work and a.dtype.isnative and a.flags.c_contiguous


# Native dtypes the kernels read in place, with the kernels' input kind:
# float16 and bfloat16 are widened to float32 inside the kernels.
_KINDS: dict[np.dtype[Any], int] = {
    np.dtype(np.float32): _kernels.INPUT_F32,
    np.dtype(np.float64): _kernels.INPUT_F64,
    np.dtype(np.float16): _kernels.INPUT_F16,
}


def working_kind(work: WorkingDtype) -> int:
    """The input kind of an array already converted to the working dtype."""
    return _kernels.INPUT_F64 if work == FLOAT64 else _kernels.INPUT_F32


def read_kind(a: npt.NDArray[Any], work: WorkingDtype) -> int | None:
    """The kernels' input kind for reading `a` without a NumPy conversion, or
    None when it must be converted first (another dtype, or float16 under a
    float64 working dtype).  Any layout and byte order: an array that is not
    C-contiguous and native is gathered inside the kernels, a few thousand
    elements at a time, and its kind then carries INPUT_SWAPPED when its
    bytes are reversed."""
    dtype = a.dtype
    swapped = 0
    if not dtype.isnative:
        dtype = dtype.newbyteorder("=")
        swapped = _kernels.INPUT_SWAPPED
    kind = _KINDS.get(dtype)
    if kind is None:
        # bfloat16 in reversed byte order is not bfloat16 to NumPy ('>V2')
        return _kernels.INPUT_BF16 if is_bfloat16(dtype) else None
    return kind | swapped if (kind == _kernels.INPUT_F64) == (work == FLOAT64) else None


def direct_kind(a: npt.NDArray[Any], work: WorkingDtype) -> int | None:
    """The kernels' input kind for reading `a` in place (C-contiguous, native
    byte order), or None."""
    if not a.flags.c_contiguous:
        return None
    kind = read_kind(a, work)
    return None if kind is None or kind & _kernels.INPUT_SWAPPED else kind
