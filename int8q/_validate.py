"""Argument checks shared by the API, the command line, int8q.dask, the codecs
and the checkpoint layer: one check and one message per mistake, wherever the
mistake is made.
"""

import operator
from collections.abc import Sequence
from typing import Any, SupportsInt

from ._dtypes import ROUNDING_CODES as _ROUNDING_CODES

# The names users pass (the kernels' codes for them: _dtypes.ROUNDING_CODES).
ROUNDINGS = tuple(_ROUNDING_CODES)


def rounding_code(rounding: object) -> int:
    """The kernels' code for a rounding name; ValueError for anything else."""
    try:
        return _ROUNDING_CODES[rounding]  # type: ignore[index]
    except (KeyError, TypeError):
        raise ValueError(
            f"rounding must be one of {', '.join(ROUNDINGS)}; got {rounding!r}"
        ) from None


def integer(value: Any, name: str) -> int:
    """`value` as a Python int (NumPy integers too); TypeError for bool and non-integers."""
    if isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, not bool")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{name} must be an integer, not {type(value).__name__}") from None


def block_size(value: object) -> int:
    """A block size as a positive int; TypeError/ValueError naming the mistake."""
    value = integer(value, "block_size")
    if value < 1:
        raise ValueError(f"block_size must be >= 1, got {value}")
    return value


def nonfinite_error(
    where: Sequence[SupportsInt], value: object, what: str = "x", by: str = "int8q"
) -> ValueError:
    """The ValueError for a NaN or inf found at index tuple `where` of `what`."""
    index = ", ".join(str(int(i)) for i in where)
    return ValueError(f"{what}[{index}] is {value}; {by} quantizes finite numbers only")
