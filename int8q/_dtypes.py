"""Which dtypes int8q accepts, and the working dtype each one computes in."""
from typing import Any

import numpy as np
import numpy.typing as npt

from ._typing import WorkingDtype

FLOAT32 = np.dtype(np.float32)
FLOAT64 = np.dtype(np.float64)


def is_bfloat16(dtype: np.dtype[Any]) -> bool:
    # ml_dtypes is optional; its bfloat16 is recognised by name so that int8q
    # never has to import it.
    # (Typed here: NumPy's stubs say LiteralString, which Python 3.10 lacks.)
    name: str = dtype.name
    return name == "bfloat16"


def working_dtype(dtype: npt.DTypeLike) -> WorkingDtype:
    """float32 for float16/bfloat16/float32, float64 for float64/integer/bool.

    Raises TypeError for anything else (complex, object, strings, long double,
    datetimes...).
    """
    dtype = np.dtype(dtype)
    if dtype.kind == "f" and dtype.itemsize <= 4 or is_bfloat16(dtype):
        return FLOAT32
    if dtype.kind == "f" and dtype.itemsize == 8 or dtype.kind in "biu":
        return FLOAT64
    raise TypeError(
        f"int8q quantizes real numbers (float16, bfloat16, float32, float64, "
        f"integer); got dtype {dtype}")


def is_direct(a: npt.NDArray[Any], work: np.dtype[Any]) -> bool:
    """True when the kernels can read `a` in place, with no conversion."""
    return a.dtype == work and a.dtype.isnative and a.flags.c_contiguous
