"""The header of a .npy file (or .npz member), parsed without trusting it.

The format (numpy.lib.format, which writes it): magic ``\\x93NUMPY``, a
version byte pair, the header length (2 bytes little-endian in version 1,
4 bytes in versions 2 and 3), then a Python dict literal with exactly the
keys ``descr``, ``fortran_order`` and ``shape``, padded with spaces and a
newline.  NumPy's own reader lets malformed headers escape as
tokenize.TokenError, SyntaxError and friends, and would happily allocate
whatever shape a header claims; this one turns every malformed header into
a FormatError naming the file and array, refuses object arrays (they are
pickles) and shapes whose byte size overflows, and gives the caller the
exact byte count to check against the file before anything is allocated.
`open_npy`, `npy_header` and `write_npy` read and write whole .npy files.
"""

import ast
import os
import re
import struct
import sys
from collections.abc import Callable
from typing import IO, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .._support._errors import FormatError
from .._support._limits import nbytes
from .._support._pipeline import empty
from .._support._reading import read_into

MAGIC = b"\x93NUMPY"
# numpy.lib.format refuses headers above this many bytes by default (its
# max_header_size); so do we.
MAX_HEADER_BYTES = 10_000
# A simple dtype's descr: byte order, type letter, size, optional datetime unit.
SIMPLE_DESCR = re.compile(r"[<>|=]?[a-zA-Z]\d{0,9}(\[\w{1,8}\])?")
DESCR_ERRORS = (
    TypeError,
    ValueError,
    KeyError,
    IndexError,
    SyntaxError,
    OverflowError,
    MemoryError,
    RecursionError,
)


class NpyHeader(NamedTuple):
    shape: tuple[int, ...]
    dtype: np.dtype[Any]
    fortran_order: bool
    header_bytes: int  # magic, lengths and dict: where the data starts
    data_bytes: int  # the data's exact size


def _read_exact(f: IO[bytes], n: int, where: str, name: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise FormatError(f"{where}: array {name!r}: truncated .npy header")
    return data


def _dtype(descr: object, where: str, name: str) -> np.dtype[Any]:
    if isinstance(descr, str):
        if not SIMPLE_DESCR.fullmatch(descr):
            raise FormatError(f"{where}: array {name!r}: unsupported dtype {descr!r}")
        make = np.dtype
    elif isinstance(descr, list):  # a structured dtype: copied, never quantized
        # (make: the dtype maker for this kind of descr; mypy typed it by np.dtype)
        make = np.lib.format.descr_to_dtype  # type: ignore[assignment]
    else:
        raise FormatError(f"{where}: array {name!r}: corrupt .npy header (descr)")
    try:
        dtype = make(descr)
    except DESCR_ERRORS as exc:
        raise FormatError(f"{where}: array {name!r}: unsupported dtype {descr!r}: {exc}") from None
    if dtype.hasobject:
        raise FormatError(
            f"{where}: array {name!r} holds Python objects; int8q never loads pickles"
        )
    return dtype


def read_header(f: IO[bytes], where: str, name: str) -> NpyHeader:
    """The checked NpyHeader at the current position of binary stream `f`."""
    magic = _read_exact(f, 8, where, name)
    if magic[:6] != MAGIC:
        raise FormatError(f"{where}: array {name!r}: not a .npy (bad magic)")
    version = magic[6:8]
    if version == b"\x01\x00":
        (length,) = struct.unpack("<H", _read_exact(f, 2, where, name))
        start, encoding = 10, "latin1"
    elif version in (b"\x02\x00", b"\x03\x00"):
        (length,) = struct.unpack("<I", _read_exact(f, 4, where, name))
        start, encoding = 12, "latin1" if version == b"\x02\x00" else "utf8"
    else:
        raise FormatError(f"{where}: array {name!r}: unsupported .npy version {tuple(version)}")
    if length > MAX_HEADER_BYTES:
        raise FormatError(
            f"{where}: array {name!r}: .npy header of {length} bytes is larger "
            f"than the {MAX_HEADER_BYTES}-byte limit"
        )
    raw = _read_exact(f, length, where, name)
    try:
        # literal_eval evaluates nothing, only builds literals, on at most
        # MAX_HEADER_BYTES of text; whatever it raises means "malformed".
        d = ast.literal_eval(raw.decode(encoding))
    except Exception as exc:  # noqa: BLE001 - SyntaxError, TokenError, ValueError...
        raise FormatError(
            f"{where}: array {name!r}: corrupt .npy header ({type(exc).__name__})"
        ) from None
    if type(d) is not dict or set(d) != {"descr", "fortran_order", "shape"}:
        raise FormatError(f"{where}: array {name!r}: corrupt .npy header (keys)")
    shape, fortran = d["shape"], d["fortran_order"]
    if (
        type(shape) is not tuple
        or not all(type(n) is int and n >= 0 for n in shape)
        or type(fortran) is not bool
    ):
        raise FormatError(
            f"{where}: array {name!r}: corrupt .npy header (shape "
            f"{shape!r}, fortran_order {fortran!r})"
        )
    dtype = _dtype(d["descr"], where, name)
    return NpyHeader(
        shape, dtype, fortran, start + length, nbytes(shape, dtype.itemsize, where, name)
    )


def array_from(
    f: IO[bytes],
    header: NpyHeader,
    where: str,
    name: str,
    read_into: Callable[[IO[bytes], npt.NDArray[np.uint8], str, str], None],
) -> npt.NDArray[Any]:
    """The array whose data follows `header` in `f`, read with `read_into`
    (see _reading); the caller has checked that the data is there."""
    a: npt.NDArray[Any]  # (typed: ndarray.T gives Self, Any for Python 3.10)
    # (empty: memory that _pipeline reuses, in its threads)
    if header.fortran_order:
        a = empty(header.shape[::-1], header.dtype).T
        flat = a.T
    else:
        a = flat = empty(header.shape, header.dtype)
    if header.data_bytes:
        read_into(f, flat.reshape(-1).view(np.uint8), where, name)
    return a


def text_from(a: npt.NDArray[Any], where: str, name: str) -> str:
    """The text of a 0-d string (``S``, UTF-8) or unicode (``U``, UTF-32)
    array read from a file: the one decode of such arrays, checked.

    NumPy builds a Python str from a ``U`` array's code points unchecked
    (SystemError for one beyond U+10FFFF, lone surrogates kept); the strict
    codecs refuse both.  Trailing NULs are padding, as NumPy strips them.
    """
    if a.dtype.kind not in "SU" or a.shape != ():
        raise FormatError(f"{where}: {name!r} is not a text scalar")
    raw = a.tobytes()
    if a.dtype.kind == "S":
        codec = "utf-8"
    else:
        big = a.dtype.byteorder == ">" or (a.dtype.byteorder == "=" and sys.byteorder == "big")
        codec = "utf-32-be" if big else "utf-32-le"
    try:
        return raw.decode(codec).rstrip("\0")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{where}: {name!r} is not valid text: {exc.reason}") from None


def open_npy(path: str) -> npt.NDArray[Any]:
    """The array in a .npy file, read into memory (see _reading: no map)."""
    name = os.path.basename(path)
    with open(path, "rb") as f:
        header = read_header(f, path, name)
        size = os.fstat(f.fileno()).st_size
        if size < header.header_bytes + header.data_bytes:
            raise FormatError(
                f"{path}: truncated: {size} bytes, but the .npy header "
                f"declares {header.header_bytes + header.data_bytes}"
            )
        return array_from(f, header, path, name, read_into)


def npy_header(path: str) -> NpyHeader:
    """The checked .npy header of a file, without reading its data."""
    with open(path, "rb") as f:
        return read_header(f, path, os.path.basename(path))


def write_npy(f: IO[bytes], array: npt.ArrayLike) -> None:
    """A .npy file of `array` into `f` (never a pickle)."""
    np.lib.format.write_array(f, np.asanyarray(array), allow_pickle=False)
