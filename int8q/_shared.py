"""The one gateway to int8q's internals: what the add-ons (int8q.io,
int8q.dask, int8q.codec, int8q.zarr, int8q.ggml) may use beyond the public
API.  An import-linter contract in pyproject.toml enforces it.

Add-ons import the public functions from ``int8q`` and, for what those do not
offer, only the names here: the rest of the private modules can then change
without breaking them.
"""

from ._api import quantize_with_scale
from ._checks import (
    MAX_BLOCK_SIZE,
    ROUNDINGS,
    boolean,
    broadcast_shape,
    check_block_size,
    check_out,
    clip_option,
    given_scales,
    nonfinite_error,
    refuse_masked,
    rounding_code,
    scale_dtype,
    working_dtype,
)
from ._checks_options import (
    CODEC_FLOATS,
    codec_buffer,
    codec_dtype,
    codec_out,
    dask_array,
    fill_value,
    known_chunks,
    q8_0_bytes,
    q8_0_shape,
    serializer_option,
    stored_dtype,
)
from ._dtypes import bf16_to_float32, is_bfloat16, is_real
from ._engine import (
    Q8_0_BLOCK,
    Q8_0_BYTES,
    crc32,
    find_nonfinite,
    q8_0_dequantize,
    q8_0_quantize,
    scales_from_absmax,
)
from ._granularity import Granularity, resolve
from ._operands import apart, as_input
from ._qtensor import QuantizedBase
from ._typing import FloatArray, Int8Array, WorkingDtype

__all__ = [
    "CODEC_FLOATS",
    "MAX_BLOCK_SIZE",
    "Q8_0_BLOCK",
    "Q8_0_BYTES",
    "QuantizedBase",
    "ROUNDINGS",
    "apart",
    "broadcast_shape",
    "bf16_to_float32",
    "boolean",
    "as_input",
    "check_block_size",
    "check_out",
    "clip_option",
    "codec_buffer",
    "codec_dtype",
    "codec_out",
    "dask_array",
    "fill_value",
    "known_chunks",
    "q8_0_bytes",
    "q8_0_shape",
    "serializer_option",
    "stored_dtype",
    "crc32",
    "q8_0_dequantize",
    "q8_0_quantize",
    "find_nonfinite",
    "given_scales",
    "is_bfloat16",
    "is_real",
    "nonfinite_error",
    "quantize_with_scale",
    "refuse_masked",
    "resolve",
    "rounding_code",
    "scale_dtype",
    "scales_from_absmax",
    "working_dtype",
    # types, for annotations
    "FloatArray",
    "Granularity",
    "Int8Array",
    "WorkingDtype",
]
