"""A numcodecs codec that stores a floating chunk as int8 plus one scale
(chunk format: https://int8q.readthedocs.io/en/latest/semantics.html,
section 5).

Codec id ``"int8q"``, registered through the ``numcodecs.codecs`` entry
point, so ``numcodecs.get_codec({"id": "int8q"})`` finds it once int8q is
installed.  Needs the optional dependency numcodecs (``int8q[zarr]``).

An encoded chunk is a 16-byte little-endian header followed by the int8
values, flat::

    offset  size  field
    0       4     magic b"I8Q\\0"
    4       1     format version (1)
    5       3     original dtype as NumPy's dtype.str ("<f4", ">f8", "<f2")
    8       8     scale, float64 (exactly the working-dtype scale)
    16      n     q, int8

The chunk is quantized per tensor with `int8q.quantize`, so decoding gives
``q * scale`` (computed in the working dtype, then cast to the original
dtype): within ``scale / 2`` of the original for every element.

As every numcodecs codec, `Int8QCodec` keeps the values in the buffer's
memory order: an F-ordered array is stored column by column, and decoding
gives the flat values in that order (Zarr format 2 arrays with
``order="F"`` rely on it).  Zarr 3's `int8q.zarr` codec stores C order.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np
import numpy.typing as npt
from numcodecs.abc import Codec
from numcodecs.compat import ensure_contiguous_ndarray, ensure_ndarray_like, ndarray_copy

from . import dequantize, quantize
from ._shared import (
    CODEC_FLOATS,
    codec_buffer,
    codec_dtype,
    codec_out,
    find_nonfinite,
    nonfinite_error,
    refuse_masked,
    rounding_code,
    working_dtype,
)
from ._typing import Rounding

__all__ = ["Int8QCodec", "HEADER", "check_dtype", "encode_chunk", "decode_chunk"]

MAGIC = b"I8Q\0"
VERSION = 1
HEADER = struct.Struct("<4sB3sd")  # magic, version, dtype.str, scale
# Every dtype code a chunk may hold, looked up rather than parsed: np.dtype()
# of arbitrary bytes can raise anything (SyntaxError for "(,)").
DTYPE_CODES = {
    f"{order}{kind}".encode("ascii"): np.dtype(f"{order}{kind}")
    for order in "<>"
    for kind in CODEC_FLOATS  # what the header can name
}


def check_dtype(dtype: npt.DTypeLike) -> np.dtype[Any]:
    """`dtype` as a NumPy dtype; TypeError unless float16, float32 or float64
    (either byte order): the types a chunk's header can name.

    Examples
    --------
    >>> from int8q.codec import check_dtype
    >>> check_dtype(">f4")
    dtype('>f4')
    """
    return codec_dtype(dtype)


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
        `x` is not float16, float32 or float64, or is a masked array.

    Examples
    --------
    >>> import numpy as np
    >>> from int8q.codec import encode_chunk
    >>> chunk = encode_chunk(np.array([1.0, -0.5], dtype=np.float32))
    >>> chunk[:4], len(chunk)
    (b'I8Q\\x00', 18)
    """
    refuse_masked(x, "x")  # before reading x.dtype: int8q.quantize's order
    dtype = check_dtype(x.dtype)
    qt = quantize(x, rounding=rounding)
    header = HEADER.pack(MAGIC, VERSION, dtype.str.encode("ascii"), float(qt.scale))
    return header + qt.q.tobytes()  # C order


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
    dtype : float16, float32 or float64 dtype, optional
        What a raw buffer (bytes, bytearray, array.array, memoryview, an
        integer array) holds: with it, such a buffer is read as values of
        this type; without it, a raw buffer is refused with TypeError.
        Float arrays must then be of this type (either byte order).

    Notes
    -----
    Values are encoded in the buffer's memory order and decoded flat in
    that order (numcodecs' convention): reshape the result with the
    array's own order, or decode into an `out` of that order.

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
    >>> raw = Int8QCodec(dtype="<f4")            # raw bytes read as float32
    >>> raw.decode(raw.encode(x.tobytes()))
    array([ 1.       , -0.503937 ,  0.2519685], dtype=float32)
    """

    codec_id = "int8q"

    def __init__(
        self, rounding: Rounding = "half_even", dtype: npt.DTypeLike | None = None
    ) -> None:
        rounding_code(rounding)  # ValueError now rather than at the first chunk
        self.rounding = rounding
        self.dtype = None if dtype is None else codec_dtype(dtype)

    def encode(self, buf: object) -> bytes:
        """Header and int8 values of `buf` (any shape; the shape is not
        kept), in the buffer's memory order.

        Examples
        --------
        >>> import numpy as np
        >>> from int8q.codec import Int8QCodec
        >>> len(Int8QCodec().encode(np.zeros((2, 3), np.float16)))
        22
        """
        refuse_masked(buf, "x")  # np.asarray would drop the mask
        x = np.asarray(ensure_ndarray_like(buf))
        read_as = codec_buffer(x.dtype, x.nbytes, self.dtype)
        if read_as is not None:
            x = ensure_contiguous_ndarray(x).view(read_as)
        if not x.flags.f_contiguous or x.flags.c_contiguous:
            # C order is the memory order; an array neither C- nor
            # F-contiguous has none and is stored in C order, as NumPy's
            # order "A" reads it.
            return encode_chunk(x, self.rounding)
        # Memory order, as numcodecs' ensure_contiguous_ndarray flattens
        # (order "A"): Zarr v2 reshapes the decoded values with the array's
        # order.  x.T is the same memory in C order, so its C-order chunk
        # holds x's values column by column, with no copy.
        try:
            return encode_chunk(x.T, self.rounding)
        except ValueError:
            # a NaN/inf named by its place in x, not in x.T
            found = find_nonfinite(x, working_dtype(x.dtype))
            if found is None:
                raise
            raise nonfinite_error(*found) from None

    def decode(self, buf: object, out: object = None) -> npt.NDArray[Any]:
        """``q * scale`` in the original dtype, flat, or written into `out`.

        The values come in the order they were encoded in (the memory
        order of the encoded buffer); an `out` array receives them in its
        own memory order, as numcodecs codecs do.  An `out` of floating
        point type receives the values (its byte order may differ from the
        chunk's; another float type is refused with TypeError); any other
        buffer receives their bytes.

        Examples
        --------
        >>> import numpy as np
        >>> from int8q.codec import Int8QCodec
        >>> codec = Int8QCodec()
        >>> codec.decode(codec.encode(np.array([[2.0, -1.0]])))
        array([ 2.        , -1.00787402])
        """
        q, scale, dtype = decode_chunk(buf)
        dtype = codec_out(out, dtype) or dtype  # values in out's own byte order
        result: npt.NDArray[Any] = ndarray_copy(dequantize(q, scale, dtype=dtype), out)
        return result  # (numcodecs is untyped)

    def get_config(self) -> dict[str, str]:
        config = {"id": self.codec_id, "rounding": self.rounding}
        if self.dtype is not None:  # left out when not given: configs as before
            config["dtype"] = self.dtype.str
        return config

    def __repr__(self) -> str:
        given = "" if self.dtype is None else f", dtype={self.dtype.str!r}"
        return f"Int8QCodec(rounding={self.rounding!r}{given})"
