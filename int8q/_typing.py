"""Type aliases for int8q's annotations (one home for what the arrays hold).

The public modules use ``from __future__ import annotations``, so their
signatures print these names (``rounding: 'Rounding'``), not the expanded
unions; the documentation lists what each name allows.  The working dtype
is float32 or float64 (see _dtypes.computes_in); the kernels' layout tuple
is described in _granularity.
"""

from typing import Any, Literal, SupportsIndex, TypedDict

import numpy as np
import numpy.typing as npt
from numpy.typing import ArrayLike, DTypeLike

__all__ = [
    "ArrayLike",
    "Axis",
    "BlockSize",
    "CalibrationMethod",
    "Clip",
    "DTypeLike",
    "DictForm",
    "FloatArray",
    "Int8Array",
    "IntArray",
    "Layout",
    "OutArray",
    "QDtype",
    "Rounding",
    "Scheme",
    "WorkingDtype",
]

# Per-channel scales along this axis, or None.
Axis = SupportsIndex | None
# Per-block scales of this many elements of the last axis, or None.
BlockSize = SupportsIndex | None
# The type of the quantized values: int8, or uint8 (with zero points).
QDtype = Literal["int8", "uint8"] | type[np.int8] | type[np.uint8] | np.dtype[Any]
# How ties round: half to even (NumPy, PyTorch, ONNX) or away from zero (C, TFLite).
Rounding = Literal["half_even", "half_away"]
# The compressed-tensors scheme of a Hugging Face model folder.
Scheme = Literal["W8A16", "W8A8"]
# Clipping of symmetric ranges: "mse" minimises the squared error; None: abs-max.
Clip = Literal["mse"] | None
CalibrationMethod = Literal["minmax", "percentile", "mse"]

# float32 or float64: scales and dequantized values.
WorkingDtype = np.dtype[np.floating[Any]]
FloatArray = npt.NDArray[np.floating[Any]]
Int8Array = npt.NDArray[np.int8]
# int8, or uint8 with zero points.
IntArray = npt.NDArray[np.integer[Any]]
# The array quantize writes q into, or None to allocate one.
OutArray = IntArray | None
# (n_row, block, cmod, nb, rgrp, rblk): which scale each flat index uses.
Layout = tuple[int, int, int, int, int, int]


class DictForm(TypedDict):
    """What int8_quantize returns: the int8 values, the scale rounded to 6
    decimals and the dequantized values rounded to 4."""

    quantized: list[int]
    scale: float
    dequantized: list[float]
