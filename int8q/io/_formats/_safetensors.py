"""A small safetensors reader and writer, without the safetensors package.

The format: an 8-byte little-endian u64 ``N``, then ``N`` bytes of UTF-8
JSON ``{name: {"dtype": "F32", "shape": [...], "data_offsets": [begin,
end]}, "__metadata__": {str: str}}``, then the data region; offsets count
from the start of the data region, tensors are little-endian and C-ordered,
and together they cover the data region exactly.

Reading never trusts the header: it is parsed within the limits of
_limits (size, depth, key count), and every offset is checked against the
file size, against the tensor's shape and dtype, and against its neighbours
before any data is touched.  Tensors are read one at a time into memory (not
mapped: a file that shrinks under a memory map kills the process with
SIGBUS; a read just comes up short, which is a FormatError), so memory
never holds more than the tensor in hand.

Writing fixes the whole header first (from names, dtypes and shapes), then
each tensor's bytes go to their precomputed offsets, in whatever order the
caller produces them.  Tensors are laid out by decreasing item size, so every
tensor starts at an offset that is a multiple of its item size, and the
header is padded with spaces to a multiple of 8 bytes, as the safetensors
library does.
"""

import functools
import json
import math
import os
import struct
from collections.abc import Iterable, Sequence
from typing import IO, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..._shared import bf16_to_float32, is_bfloat16
from .._support._errors import FormatError
from .._support._limits import MAX_JSON_BYTES, check_writable, load_json, nbytes
from .._support._reading import read_array

# A tensor to write: (name, safetensors dtype string, shape).
Spec = tuple[str, str, Sequence[int]]

# The safetensors library refuses headers above 100 MB; so do we (the JSON
# limit of _limits), before reading one into memory.
MAX_HEADER = MAX_JSON_BYTES
# Large copies and writes go in pieces of this size, so no single system call
# is asked for gigabytes and a plain copy needs no tensor-sized buffer.
CHUNK = 16 << 20

# dtype string -> NumPy dtype (little-endian).  BF16 and the 8-bit floats
# have no NumPy dtype: they are read as their bits (see `array`).
NUMPY_DTYPES = {
    "BOOL": np.dtype("?"),
    "U8": np.dtype("u1"),
    "I8": np.dtype("i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "F16": np.dtype("<f2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "F32": np.dtype("<f4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F64": np.dtype("<f8"),
    "BF16": np.dtype("<u2"),
    "F8_E4M3": np.dtype("u1"),
    "F8_E5M2": np.dtype("u1"),
    "F8_E8M0": np.dtype("u1"),
    "C64": np.dtype("<c8"),
}
FLOAT_DTYPES = ("F16", "BF16", "F32", "F64")
INTEGER_DTYPES = ("BOOL", "U8", "I8", "U16", "I16", "U32", "I32", "U64", "I64")


def kind(dtype: str) -> str:
    """ "float", "integer" or "other" for a safetensors dtype name
    (NumPy dtypes: ``_convention.kind``)."""
    if dtype in FLOAT_DTYPES:
        return "float"
    return "integer" if dtype in INTEGER_DTYPES else "other"


def itemsize(dtype: str) -> int:
    return NUMPY_DTYPES[dtype].itemsize


class TensorInfo(NamedTuple):
    """One header entry: dtype string, shape, and [begin, end) in the data region."""

    dtype: str
    shape: tuple[int, ...]
    begin: int
    end: int

    @property
    def nbytes(self) -> int:
        return self.end - self.begin


class Header(NamedTuple):
    """A checked header: tensors in data order, metadata, where data starts."""

    tensors: dict[str, TensorInfo]  # ordered by begin offset
    metadata: dict[str, str]
    data_start: int  # absolute file offset of the data region
    file_size: int

    @property
    def data_bytes(self) -> int:
        """Bytes of the data region (every tensor's bytes, and any gaps)."""
        return self.file_size - self.data_start


def specs_bytes(specs: Iterable[Spec]) -> int:
    """Bytes of the data region of a file written from `specs`."""
    return sum(itemsize(d) * math.prod(s) for _, d, s in specs)


def _entry(name: str, raw: object, where: str) -> TensorInfo:
    """A TensorInfo from one JSON header entry, with its own fields checked.

    Written for speed as much as clarity: a header may list 250,000
    tensors, and this runs once for each.
    """
    if type(raw) is not dict:
        raise FormatError(f"{where}: entry {name!r} is not an object")
    dtype, shape, offsets = raw.get("dtype"), raw.get("shape"), raw.get("data_offsets")
    if type(dtype) is not str or dtype not in NUMPY_DTYPES:
        raise FormatError(f"{where}: tensor {name!r} has unsupported dtype {dtype!r}")
    if type(shape) is not list or not all([type(d) is int and d >= 0 for d in shape]):
        raise FormatError(f"{where}: tensor {name!r} has a bad shape {shape!r}")
    if (
        type(offsets) is not list
        or len(offsets) != 2
        or type(offsets[0]) is not int
        or type(offsets[1]) is not int
        or not 0 <= offsets[0] <= offsets[1]
    ):
        raise FormatError(f"{where}: tensor {name!r} has bad data_offsets {offsets!r}")
    shape = tuple(shape)
    expected = nbytes(shape, NUMPY_DTYPES[dtype].itemsize, where, name)
    if offsets[1] - offsets[0] != expected:
        raise FormatError(
            f"{where}: tensor {name!r} spans {offsets[1] - offsets[0]} bytes, but "
            f"{dtype} {shape} needs {expected}"
        )
    return TensorInfo(dtype, shape, offsets[0], offsets[1])


def read_header(path: str | os.PathLike[str]) -> Header:
    """Read and check the header of a safetensors file.

    Parameters
    ----------
    path : str or os.PathLike

    Returns
    -------
    Header

    Raises
    ------
    FormatError
        A file too short for a header, a header length past the end of the
        file, JSON that does not parse or breaks a limit of _limits, bad
        entries, shapes too large for any array, offsets beyond the data
        region, overlapping, or leaving a gap (the format has no holes).
    OSError
        The file cannot be opened.
    """
    where = os.fspath(path)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        prefix = f.read(8)
        if len(prefix) < 8:
            raise FormatError(
                f"{where}: truncated: {size} bytes, too short for a safetensors header"
            )
        (n,) = struct.unpack("<Q", prefix)
        if n > size - 8:
            raise FormatError(
                f"{where}: truncated or corrupt: header length {n} but only {size - 8} bytes follow"
            )
        if n > MAX_HEADER:
            raise FormatError(f"{where}: header of {n} bytes is larger than {MAX_HEADER}")
        text = f.read(n)
    if len(text) < n:
        raise FormatError(f"{where}: file shrank while its header was read")
    raw = load_json(text, where, "header")
    if type(raw) is not dict:
        raise FormatError(f"{where}: corrupt header: not a JSON object")
    metadata = raw.pop("__metadata__", {})
    if type(metadata) is not dict or not all(
        type(k) is str and type(v) is str for k, v in metadata.items()
    ):
        raise FormatError(f"{where}: __metadata__ must map strings to strings")
    tensors = sorted(
        ((name, _entry(name, value, where)) for name, value in raw.items()),
        key=lambda item: (item[1].begin, item[1].end),
    )
    data_size = size - 8 - n
    position = 0
    for name, info in tensors:
        if info.end > data_size:
            raise FormatError(
                f"{where}: truncated or corrupt: tensor {name!r} ends at "
                f"byte {info.end} of a {data_size}-byte data region"
            )
        if info.begin < position:
            raise FormatError(
                f"{where}: corrupt header: tensor {name!r} overlaps the tensor before it"
            )
        if info.begin > position:
            raise FormatError(
                f"{where}: corrupt header: bytes {position}..{info.begin} "
                f"of the data region belong to no tensor"
            )
        position = info.end
    if position != data_size:
        raise FormatError(
            f"{where}: corrupt header: tensors cover {position} bytes but "
            f"the data region has {data_size}"
        )
    return Header(dict(tensors), metadata, 8 + n, size)


@functools.cache
def ml_bfloat16() -> type[Any] | None:
    """ml_dtypes.bfloat16, or None without ml_dtypes (NumPy has no bfloat16
    of its own).  Imported only where bfloat16 arrays are handed out or
    written: the import alone takes about half a second."""
    try:
        import ml_dtypes
    except ImportError:
        return None
    bfloat16: type[Any] = ml_dtypes.bfloat16  # (ml_dtypes is untyped)
    return bfloat16


# (NumPy's stubs mark np.void final; a subclass is how a void dtype gets a name.)
class bfloat(np.void):  # type: ignore[misc]
    """The scalar type of BF16_BITS; NumPy names its 2-byte dtype "bfloat16"."""


# bfloat16 bits under a dtype named "bfloat16", which int8q recognises by its
# name alone (_shared.is_bfloat16), as it recognises ml_dtypes' bfloat16: the
# kernels read the bits in place, and no ml_dtypes import is needed to
# quantize a bfloat16 checkpoint.  NumPy cannot convert these values, so they
# go to _convention.quantize only, which falls back to their float32 values
# wherever int8q needs NumPy to read them (clipping, the message of a NaN).
BF16_BITS = np.dtype((bfloat, 2))


def is_bf16_bits(a: npt.NDArray[Any]) -> bool:
    return a.dtype.type is bfloat


def bf16_bits_to_float32(a: npt.NDArray[Any]) -> npt.NDArray[np.float32]:
    """The float32 values of an array of BF16_BITS (exact)."""
    return bf16_to_float32(a.view(np.uint16))


def array(path: str, header: Header, name: str) -> npt.NDArray[Any]:
    """Tensor `name` as an array to compute with, read into memory.

    BF16 comes back as ml_dtypes.bfloat16 when ml_dtypes is installed, else
    as float32 (exact: a bfloat16 is the top half of a float32).
    FormatError when the file has shrunk since its header was read.
    """
    with open(path, "rb") as f:
        return read_tensor(f, path, header, name)


def read_tensor(
    f: IO[bytes],
    path: str,
    header: Header,
    name: str,
    rows: tuple[int, int] | None = None,
    bits: bool = False,
) -> npt.NDArray[Any]:
    """`array`, read from `f`, the file `path` already open; with `rows`
    (first, count), only those rows (along the first dimension).  With
    `bits`, BF16 comes back as BF16_BITS, for _convention.quantize only."""
    info = header.tensors[name]
    offset, shape = header.data_start + info.begin, info.shape
    if rows is not None:
        offset += rows[0] * (info.nbytes // info.shape[0])
        shape = (rows[1], *info.shape[1:])
    a = read_array(f, offset, NUMPY_DTYPES[info.dtype], shape, path, name)
    if info.dtype == "BF16":
        if bits:
            return a.view(BF16_BITS)
        bfloat16 = ml_bfloat16()
        return a.view(bfloat16) if bfloat16 is not None else bf16_to_float32(a)
    return a


def float32_to_bf16(values: npt.ArrayLike) -> npt.NDArray[np.uint16]:
    """bfloat16 bit patterns (uint16) of float32 values, rounded to nearest even."""
    u = np.ascontiguousarray(values, np.float32).view(np.uint32)
    # Adding 0x7FFF plus the lowest kept bit rounds half to even; it cannot
    # wrap for any non-NaN pattern, and NaN is kept quiet explicitly.
    rounded = ((u + (np.uint32(0x7FFF) + ((u >> 16) & 1))) >> 16).astype(np.uint16)
    bits: npt.NDArray[np.uint16] = np.where(np.isnan(values), np.uint16(0x7FC0), rounded)
    return bits  # (np.isnan of array_like is typed Any)


def encode(values: npt.ArrayLike, dtype: str) -> npt.NDArray[np.uint8]:
    """Little-endian bytes (a uint8 array) of `values` stored as safetensors `dtype`."""
    values = np.asarray(values)
    if dtype == "BF16":
        if is_bfloat16(values.dtype):
            bits = values.view(np.uint16)
        else:
            bits = float32_to_bf16(values)
        values = bits.astype("<u2", copy=False)
    else:
        values = values.astype(NUMPY_DTYPES[dtype], copy=False)
    return np.ascontiguousarray(values).reshape(-1).view(np.uint8)


class Writer:
    """Write a safetensors file whose header is fixed before any data.

    Parameters
    ----------
    f : binary file open for writing, seekable
    specs : list of (name, dtype string, shape)
    metadata : dict of str to str, optional

    Each tensor is then written once, with `write`, with `start` and
    `write_bytes`, or row by row with `write_rows`, in any order; `close`
    checks that all were.
    """

    def __init__(
        self, f: IO[bytes], specs: Iterable[Spec], metadata: dict[str, str] | None = None
    ) -> None:
        self._f = f
        header: dict[str, object] = {"__metadata__": dict(metadata)} if metadata else {}
        self._slots: dict[str, tuple[str, tuple[int, ...], int, int]] = {}
        # tensors written in part by write_rows: their slot and the rows left
        self._rows: dict[str, tuple[str, tuple[int, ...], int, int, int]] = {}
        position = 0
        # Largest items first keeps every tensor aligned to its item size
        # (item sizes are powers of two); sorted() is stable, so tensors keep
        # the caller's order within a dtype size.
        for name, dtype, shape in sorted(specs, key=lambda s: -itemsize(s[1])):
            size = math.prod(shape) * itemsize(dtype)
            header[name] = {
                "dtype": dtype,
                "shape": [int(d) for d in shape],
                "data_offsets": [position, position + size],
            }
            self._slots[name] = (dtype, tuple(shape), position, size)
            position += size
        text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode()
        check_writable(text, "safetensors header")
        text += b" " * (-len(text) % 8)
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        self._data_start = 8 + len(text)
        self.size = self._data_start + position

    def _slot(self, name: str, nbytes: int, shape: Sequence[int] | None = None) -> str:
        dtype, expected_shape, begin, expected = self._slots.pop(name)
        if nbytes != expected or shape is not None and tuple(shape) != expected_shape:
            raise AssertionError(
                f"tensor {name!r}: {nbytes} bytes of shape {shape}, "
                f"planned {expected} of {expected_shape}"
            )
        self._f.seek(self._data_start + begin)
        return dtype

    def write(self, name: str, values: npt.ArrayLike) -> None:
        """Write tensor `name` from an array (converted to its planned dtype)."""
        dtype = self._slots[name][0]
        data = encode(values, dtype)
        self._slot(name, data.size, np.shape(values))
        self._put(data)

    def write_rows(self, name: str, first: int, values: npt.ArrayLike) -> None:
        """Write rows `first`, `first` + 1... (along the first dimension) of
        tensor `name` from an array of those rows; the tensor is written
        once all its rows are."""
        if name in self._slots:
            dtype, shape, begin, size = self._slots.pop(name)
            self._rows[name] = (dtype, shape, begin, size, shape[0])
        dtype, shape, begin, size, left = self._rows.pop(name)
        data = encode(values, dtype)
        count = np.shape(values)[0]
        if tuple(np.shape(values)[1:]) != shape[1:] or not 0 <= first <= shape[0] - count:
            raise AssertionError(
                f"tensor {name!r}: rows {first}..{first + count} of shape {np.shape(values)}, "
                f"planned {shape}"
            )
        if left > count:
            self._rows[name] = (dtype, shape, begin, size, left - count)
        self._f.seek(self._data_start + begin + first * (size // shape[0]))
        self._put(data)

    def _put(self, data: npt.NDArray[np.uint8]) -> None:
        for start in range(0, data.size, CHUNK):
            # .data: the same bytes as a memoryview, which typeshed knows is a
            # buffer (an ndarray it knows as one only from Python 3.12).
            self._f.write(data[start : start + CHUNK].data)

    def start(self, name: str, nbytes: int) -> None:
        """Begin tensor `name`: its `nbytes` raw bytes follow, through `write_bytes`."""
        self._slot(name, nbytes)

    def write_bytes(self, data: bytes | memoryview) -> None:
        self._f.write(data)

    def close(self) -> None:
        """Check that every planned tensor was written; fix the file size."""
        if self._slots or self._rows:
            raise AssertionError(f"tensors never written: {sorted([*self._slots, *self._rows])}")
        # Zero-sized tensors at the end write nothing; the size must still match.
        self._f.truncate(self.size)
