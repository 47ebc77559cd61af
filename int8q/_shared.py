"""The internals that int8q's add-ons (int8q.dask, int8q.codec, int8q.zarr,
int8q.ggml) may use beyond the public API.

Add-ons import the public functions from ``int8q`` and, for what those do not
offer, only the names here: the rest of the private modules can then change
without breaking them.
"""

from ._api import QuantizedBase, quantize_with_scale
from ._dtypes import working_dtype
from ._engine import find_nonfinite, scales_from_absmax
from ._granularity import Granularity, resolve
from ._typing import FloatArray, Int8Array, WorkingDtype
from ._validate import nonfinite_error, rounding_code

__all__ = [
    "QuantizedBase",
    "find_nonfinite",
    "nonfinite_error",
    "quantize_with_scale",
    "resolve",
    "rounding_code",
    "scales_from_absmax",
    "working_dtype",
    # types, for annotations
    "FloatArray",
    "Granularity",
    "Int8Array",
    "WorkingDtype",
]
