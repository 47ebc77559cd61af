"""GGML Q8_0 interchange, byte-identical to gguf-py.

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
"""

from __future__ import annotations

from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from . import _kernels
from ._chunks import chunk_threads, chunks, input_chunks
from ._config import get_num_threads
from ._dtypes import FLOAT32, working_dtype
from ._engine import find_nonfinite
from ._operands import apart, as_input, check_out
from ._typing import ArrayLike
from ._validate import nonfinite_error

__all__ = ["quantize_q8_0", "dequantize_q8_0", "Q8_0_BLOCK", "Q8_0_BYTES"]

Q8_0_BLOCK = 32  # floats per block
Q8_0_BYTES = 34  # bytes per block: float16 scale + 32 int8


def quantize_q8_0(x: ArrayLike, out: npt.NDArray[np.uint8] | None = None) -> npt.NDArray[np.uint8]:
    """Quantize to GGML Q8_0 bytes.

    Parameters
    ----------
    x : array_like of real numbers, last axis a multiple of 32.  Values are
        converted to float32 first, as gguf-py does (float16, bfloat16 and
        float64 inside the kernels).
    out : ndarray of uint8, optional
        C-contiguous, the result's shape; receives the bytes (and is
        returned).  Its contents are unspecified after an error.

    Returns
    -------
    ndarray of uint8, shape ``x.shape[:-1] + (n // 32 * 34,)``

    Raises
    ------
    ValueError
        last axis not a multiple of 32 (or a 0-d input); NaN/inf (after the
        float32 conversion); a block whose float16 scale would overflow
        (absmax / 127 rounds past 65504).
    TypeError
        complex, object or string input.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import ggml
    >>> w = np.linspace(-1, 1, 2 * 64, dtype=np.float32).reshape(2, 64)
    >>> raw = ggml.quantize_q8_0(w)
    >>> raw.shape, raw.dtype          # two blocks of 34 bytes per row
    ((2, 68), dtype('uint8'))
    """
    x = as_input(x)
    working_dtype(x.dtype)  # TypeError for what int8q cannot quantize
    if x.ndim == 0 or x.shape[-1] % Q8_0_BLOCK:
        raise ValueError(
            f"Q8_0 needs the last axis to be a multiple of {Q8_0_BLOCK}; got shape {x.shape}"
        )
    shape = x.shape[:-1] + (x.shape[-1] // Q8_0_BLOCK * Q8_0_BYTES,)
    out, x = _output(out, shape, np.uint8, x)
    flat_out = out.reshape(-1)
    threads = get_num_threads()
    for start, chunk, kind in input_chunks(x, FLOAT32, align=Q8_0_BLOCK):
        first = start // Q8_0_BLOCK * Q8_0_BYTES
        stop = first + chunk.size // Q8_0_BLOCK * Q8_0_BYTES
        code = _kernels.q8_0_quantize_into(
            chunk, kind, chunk.size, flat_out[first:stop], chunk_threads(chunk, x, threads)
        )
        if code:
            _raise_block_error(x, code)
    return out


def _output(
    out: npt.NDArray[Any] | None, shape: tuple[int, ...], dtype: npt.DTypeLike, x: npt.NDArray[Any]
) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
    """A new array, or `out` checked (int8q's one out= rule); and `x`, copied
    first when it shares memory with `out`."""
    if out is None:
        return np.empty(shape, dtype), x
    check_out(out, shape, dtype)
    return out, apart(x, out)


def _raise_block_error(x: npt.NDArray[Any], code: int) -> NoReturn:
    found = find_nonfinite(x, FLOAT32)
    if found is not None:
        where, value = found
        raise nonfinite_error(where, value, by="Q8_0")
    raise ValueError(
        "a Q8_0 block's scale (absmax / 127) overflows float16: "
        "absmax must stay below about 65504 * 127"
    )


def dequantize_q8_0(
    raw: ArrayLike, out: npt.NDArray[np.float32] | None = None
) -> npt.NDArray[np.float32]:
    """Float32 values of GGML Q8_0 bytes.

    Parameters
    ----------
    raw : array of uint8, last axis a multiple of 34
    out : ndarray of float32, optional
        C-contiguous, the result's shape; receives the values (and is
        returned).

    Returns
    -------
    ndarray of float32, shape ``raw.shape[:-1] + (m // 34 * 32,)``; a stored
    scale that is NaN or inf gives NaN/inf values, as in ggml.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q import ggml
    >>> w = np.linspace(-1, 1, 64, dtype=np.float32)
    >>> back = ggml.dequantize_q8_0(ggml.quantize_q8_0(w))
    >>> back.shape, float(np.abs(back - w).max()) < 0.005
    ((64,), True)
    """
    raw = as_input(raw, "raw")
    if raw.dtype != np.uint8:
        raise TypeError(f"Q8_0 data must be uint8 bytes, got {raw.dtype}")
    if raw.ndim == 0 or raw.shape[-1] % Q8_0_BYTES:
        raise ValueError(
            f"Q8_0 data needs the last axis to be a multiple of {Q8_0_BYTES}; got shape {raw.shape}"
        )
    out, raw = _output(
        out, raw.shape[:-1] + (raw.shape[-1] // Q8_0_BYTES * Q8_0_BLOCK,), FLOAT32, raw
    )
    flat_out = out.reshape(-1)
    threads = get_num_threads()
    for start, chunk in chunks(raw, np.dtype(np.uint8), align=Q8_0_BYTES):
        first = start // Q8_0_BYTES * Q8_0_BLOCK
        stop = first + chunk.shape[0] // Q8_0_BYTES * Q8_0_BLOCK
        _kernels.q8_0_dequantize_into(
            chunk, flat_out[first:stop], chunk_threads(chunk, raw, threads)
        )
    return out


# gguf-py's own Q8_0 on these kernels, and `python -m int8q.ggml run SCRIPT.py`:
# int8q/_gguf_accel.py (appended here so that this module's own code stays as it is).
from ._gguf_accel import Acceleration, GGUFVersionError, accelerate_gguf  # noqa: E402

__all__ += ["accelerate_gguf", "Acceleration", "GGUFVersionError"]

if __name__ == "__main__":
    import sys

    from ._gguf_accel import main

    sys.exit(main())
