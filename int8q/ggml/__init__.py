"""GGML Q8_0 interchange, byte-identical to gguf-py, and gguf-py on int8q's kernels.

The format and its rules are specified at
https://int8q.readthedocs.io/en/latest/semantics.html (section 3).

A Q8_0 row of n floats (n a multiple of 32) is n / 32 blocks of 34 bytes: the
block's scale ``d = amax / 127`` as little-endian float16, then 32 int8
``q = roundf(x * (1 / d))`` (half away from zero).  This differs from
int8q.quantize on purpose: it multiplies by a float32 reciprocal instead of
dividing, rounds half away from zero, and stores the scale as float16.

    >>> import numpy as np
    >>> from int8q import ggml
    >>> raw = ggml.quantize_q8_0(np.linspace(-1, 1, 64, dtype=np.float32))
    >>> raw.shape, raw.dtype
    ((68,), dtype('uint8'))
    >>> ggml.dequantize_q8_0(raw)[:3]
    array([-0.99993896, -0.9684448 , -0.9369507 ], dtype=float32)

`accelerate_gguf` puts gguf-py's own Q8_0 on these kernels, and
``python -m int8q.ggml run SCRIPT.py ARGS...`` runs a script (llama.cpp's
``convert_hf_to_gguf.py``) with it.

Modules: `int8q.ggml.q8_0` (the format), `int8q.ggml.accel` (gguf-py),
``__main__`` (the command).
"""

from .accel import Acceleration, GGUFVersionError, accelerate_gguf
from .q8_0 import Q8_0_BLOCK, Q8_0_BYTES, dequantize_q8_0, quantize_q8_0

__all__ = [
    "Acceleration",
    "GGUFVersionError",
    "Q8_0_BLOCK",
    "Q8_0_BYTES",
    "accelerate_gguf",
    "dequantize_q8_0",
    "quantize_q8_0",
]
