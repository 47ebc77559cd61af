"""GGML Q8_0 blocks: quantize to and dequantize from their bytes (see
`int8q.ggml` for the format)."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from .._shared import (
    Q8_0_BLOCK,
    Q8_0_BYTES,
    apart,
    as_input,
    check_out,
    q8_0_bytes,
    q8_0_dequantize,
    q8_0_quantize,
    q8_0_shape,
    working_dtype,
)
from .._typing import ArrayLike

__all__ = ["quantize_q8_0", "dequantize_q8_0", "Q8_0_BLOCK", "Q8_0_BYTES"]


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
    q8_0_shape(x.shape, Q8_0_BLOCK, "Q8_0")
    shape = x.shape[:-1] + (x.shape[-1] // Q8_0_BLOCK * Q8_0_BYTES,)
    out, x = _output(out, shape, np.uint8, x)
    q8_0_quantize(x, out.reshape(-1))
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
    q8_0_bytes(raw.dtype)
    q8_0_shape(raw.shape, Q8_0_BYTES, "Q8_0 data")
    out, raw = _output(
        out, raw.shape[:-1] + (raw.shape[-1] // Q8_0_BYTES * Q8_0_BLOCK,), np.float32, raw
    )
    q8_0_dequantize(raw, out.reshape(-1))
    return out
