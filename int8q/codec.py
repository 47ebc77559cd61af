"""A numcodecs codec that stores a floating chunk as int8 plus one scale
(chunk format: https://int8q.readthedocs.io/en/latest/semantics.html,
section 5).

Codec id ``"int8q"``, registered through the ``numcodecs.codecs`` entry
point, so ``numcodecs.get_codec({"id": "int8q"})`` finds it once int8q is
installed.  Needs the optional dependency numcodecs (``int8q[zarr]``).

An encoded chunk is a 16-byte little-endian header followed by the int8
values in C order::

    offset  size  field
    0       4     magic b"I8Q\\0"
    4       1     format version (1)
    5       3     original dtype as NumPy's dtype.str ("<f4", ">f8", "<f2")
    8       8     scale, float64 (exactly the working-dtype scale)
    16      n     q, int8

The chunk is quantized per tensor with `int8q.quantize`, so decoding gives
``q * scale`` (computed in the working dtype, then cast to the original
dtype): within ``scale / 2`` of the original for every element.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray_like, ndarray_copy

from . import dequantize, quantize
from ._shared import rounding_code, working_dtype
from ._typing import Rounding

__all__ = ["Int8QCodec", "HEADER", "check_dtype", "encode_chunk", "decode_chunk"]

MAGIC = b"I8Q\0"
VERSION = 1
HEADER = struct.Struct("<4sB3sd")  # magic, version, dtype.str, scale
FLOAT_DTYPES = ("f2", "f4", "f8")  # what the header can name
# Every dtype code a chunk may hold, looked up rather than parsed: np.dtype()
# of arbitrary bytes can raise anything (SyntaxError for "(,)").
DTYPE_CODES = {
    f"{order}{kind}".encode("ascii"): np.dtype(f"{order}{kind}")
    for order in "<>"
    for kind in FLOAT_DTYPES
}


def check_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    dtype = np.dtype(dtype)
    # The header keeps 3 characters of dtype.str, and decoding must give the
    # original type back: plain IEEE floats only (bfloat16 has no dtype.str
    # of its own, integers would need rounding back).
    if dtype.kind != "f" or dtype.str[1:] not in FLOAT_DTYPES:
        raise TypeError(f"the int8q codec stores float16/32/64 chunks, got dtype {dtype}")
    return dtype


def encode_chunk(x: npt.NDArray[Any], rounding: Rounding = "half_even") -> bytes:
    """The header and int8 values of one chunk, as bytes.

    Parameters
    ----------
    x : ndarray of float16, float32 or float64, any shape
    rounding : {"half_even", "half_away"}

    Returns
    -------
    bytes

    Raises
    ------
    ValueError
        NaN or inf in `x`.
    TypeError
        `x` is not float16, float32 or float64.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q.codec import encode_chunk
    >>> chunk = encode_chunk(np.array([1.0, -0.5], dtype=np.float32))
    >>> chunk[:4], len(chunk)
    (b'I8Q\\x00', 18)
    """
    dtype = check_dtype(x.dtype)
    qt = quantize(x, rounding=rounding)
    header = HEADER.pack(MAGIC, VERSION, dtype.str.encode("ascii"), float(qt.scale))
    return header + qt.q.tobytes()


def decode_chunk(buf: object) -> tuple[npt.NDArray[np.int8], np.floating[Any], np.dtype[Any]]:
    """``(q, scale, dtype)`` from an encoded chunk; q is flat.

    Raises
    ------
    ValueError
        A buffer too short, with another magic or version, naming a dtype
        the codec does not write, or with a scale the encoder cannot have
        written (not finite, not positive, not exact in the working dtype).

    Examples
    --------
    >>> import numpy as np
    >>> from int8q.codec import decode_chunk, encode_chunk
    >>> q, scale, dtype = decode_chunk(encode_chunk(np.array([1.0, -0.5], dtype=np.float32)))
    >>> q, dtype
    (array([127, -64], dtype=int8), dtype('float32'))
    """
    raw = ensure_contiguous_ndarray(buf).view(np.uint8).reshape(-1)
    if raw.size < HEADER.size:
        raise ValueError(f"int8q chunk too short: {raw.size} bytes")
    magic, version, code, scale = HEADER.unpack(raw[: HEADER.size].tobytes())
    if magic != MAGIC:
        raise ValueError(f"not an int8q chunk (magic {magic!r})")
    if version != VERSION:
        raise ValueError(f"int8q chunk format version {version} is not supported")
    dtype = DTYPE_CODES.get(code)
    if dtype is None:
        raise ValueError(f"int8q chunk names an unknown dtype {code!r}")
    work = working_dtype(dtype)
    # The encoder writes the working-dtype scale, which float64 holds
    # exactly; anything else is a corrupt chunk (and a float64 beyond
    # float32's range would only turn into inf here).
    with np.errstate(over="ignore"):
        stored = work.type(scale)
    if not (0 < scale < float("inf")) or float(stored) != scale:
        raise ValueError(f"int8q chunk has a corrupt scale {scale!r} for {dtype} data")
    return raw[HEADER.size :].view(np.int8), stored, dtype


class Int8QCodec(Codec):  # type: ignore[misc]  # numcodecs publishes no types: Codec is Any
    """numcodecs codec: symmetric INT8 with one scale per chunk.

    Parameters
    ----------
    rounding : {"half_even", "half_away"}
        How ``x / scale`` is rounded when encoding.

    Examples
    --------
    >>> import numpy as np, numcodecs
    >>> codec = numcodecs.get_codec({"id": "int8q"})
    >>> x = np.array([1.0, -0.5, 0.25], dtype=np.float32)
    >>> enc = codec.encode(x)
    >>> len(enc)                                 # 16-byte header + 3 int8
    19
    >>> codec.decode(enc)
    array([ 1.       , -0.503937 ,  0.2519685], dtype=float32)
    """

    codec_id = "int8q"

    def __init__(self, rounding: Rounding = "half_even") -> None:
        rounding_code(rounding)  # ValueError now rather than at the first chunk
        self.rounding = rounding

    def encode(self, buf: object) -> bytes:
        """Header and int8 values of `buf` (any shape; the shape is not kept).

        Examples
        --------
        >>> import numpy as np
        >>> from int8q.codec import Int8QCodec
        >>> len(Int8QCodec().encode(np.zeros((2, 3), np.float16)))
        22
        """
        return encode_chunk(np.asarray(ensure_ndarray_like(buf)), self.rounding)

    def decode(self, buf: object, out: object = None) -> npt.NDArray[Any]:
        """``q * scale`` in the original dtype, flat, or written into `out`.

        Examples
        --------
        >>> import numpy as np
        >>> from int8q.codec import Int8QCodec
        >>> codec = Int8QCodec()
        >>> codec.decode(codec.encode(np.array([[2.0, -1.0]])))
        array([ 2.        , -1.00787402])
        """
        q, scale, dtype = decode_chunk(buf)
        result: npt.NDArray[Any] = ndarray_copy(dequantize(q, scale, dtype=dtype), out)
        return result  # (numcodecs is untyped)

    def get_config(self) -> dict[str, str]:
        return {"id": self.codec_id, "rounding": self.rounding}

    def __repr__(self) -> str:
        return f"Int8QCodec(rounding={self.rounding!r})"
