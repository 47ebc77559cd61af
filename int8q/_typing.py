"""Type aliases for int8q's annotations (one home for what the arrays hold).

The working dtype is float32 or float64 (see _dtypes.working_dtype); the
kernels' layout tuple is described in _granularity.
"""

from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

# float32 or float64: scales and dequantized values.
WorkingDtype = np.dtype[np.floating[Any]]
FloatArray = npt.NDArray[np.floating[Any]]
Int8Array = npt.NDArray[np.int8]
# (n_row, block, cmod, nb): which scale each flat index uses.
Layout = tuple[int, int, int, int]


class DictForm(TypedDict):
    """What int8_quantize returns (docs/semantics.md §1)."""

    quantized: list[int]
    scale: float
    dequantized: list[float]
