"""GGUF files: int8q's own reader and writer, so ``pip install int8q`` alone
reads and writes them (gguf-py is only the tests' reference).

The layout, as ggml/src/gguf.cpp reads and writes it (GGUF versions 2 and
3, little-endian; version 1 and big-endian files are refused, as llama.cpp
refuses them on a little-endian machine)::

    "GGUF"  version:u32  n_tensors:u64  n_kv:u64
    n_kv      x  key:string  type:u32  value
    n_tensors x  name:string  n_dims:u32  ne:u64[n_dims]  type:u32  offset:u64
    zero padding to `alignment` (the u32 key general.alignment, default 32)
    tensor data: each at data_start + offset, offset a multiple of alignment

A string is a u64 byte count and UTF-8 bytes; an array value is an element
type (u32), a u64 count and the elements.  ``ne`` lists dimensions fastest
first: the NumPy shape is ``ne`` reversed, and ``ne[0]`` is the row length.

Key/value pairs are kept as raw bytes (never decoded and re-encoded), so a
copied key is byte for byte the input's; only scalars and strings are
decoded, for the keys int8q reads.
"""

import math
import struct
from collections.abc import Sequence
from typing import IO, Any, NamedTuple

from ..._shared import Q8_0_BLOCK, Q8_0_BYTES
from .._support._errors import FormatError
from .._support._limits import MAX_JSON_BYTES

MAGIC = b"GGUF"
VERSION = 3  # what llama.cpp writes (gguf.cpp GGUF_VERSION)
DEFAULT_ALIGNMENT = 32  # GGUF_DEFAULT_ALIGNMENT
# The header is read in a prefix that grows from FIRST_READ bytes; past
# MAX_HEADER_BYTES (the safetensors header limit, _limits.MAX_JSON_BYTES) it
# is refused.  A large vocabulary makes a header of a few tens of MB.
FIRST_READ = 1 << 20
MAX_HEADER_BYTES = MAX_JSON_BYTES
ALIGNMENT_KEY = "general.alignment"
MAX_DIMS = 4  # GGML_MAX_DIMS

# Value types: struct code of the fixed-size ones (gguf.cpp gguf_type).
U32, STRING, ARRAY = 4, 8, 9
_SCALARS = {
    0: "B",
    1: "b",
    2: "H",
    3: "h",
    4: "I",
    5: "i",
    6: "f",
    7: "?",
    10: "Q",
    11: "q",
    12: "d",
}

# ggml tensor types: id -> (name, elements per block, bytes per block), as in
# ggml.c's type_traits (and gguf-py's GGML_QUANT_SIZES; Q8_0's are int8q's
# own, the kernels').  Ids 4, 5 and 31-33 were retired from ggml.
GGML_TYPES = {
    0: ("F32", 1, 4),
    1: ("F16", 1, 2),
    2: ("Q4_0", 32, 18),
    3: ("Q4_1", 32, 20),
    6: ("Q5_0", 32, 22),
    7: ("Q5_1", 32, 24),
    8: ("Q8_0", Q8_0_BLOCK, Q8_0_BYTES),
    9: ("Q8_1", 32, 36),
    10: ("Q2_K", 256, 84),
    11: ("Q3_K", 256, 110),
    12: ("Q4_K", 256, 144),
    13: ("Q5_K", 256, 176),
    14: ("Q6_K", 256, 210),
    15: ("Q8_K", 256, 292),
    16: ("IQ2_XXS", 256, 66),
    17: ("IQ2_XS", 256, 74),
    18: ("IQ3_XXS", 256, 98),
    19: ("IQ1_S", 256, 50),
    20: ("IQ4_NL", 32, 18),
    21: ("IQ3_S", 256, 110),
    22: ("IQ2_S", 256, 82),
    23: ("IQ4_XS", 256, 136),
    24: ("I8", 1, 1),
    25: ("I16", 1, 2),
    26: ("I32", 1, 4),
    27: ("I64", 1, 8),
    28: ("F64", 1, 8),
    29: ("IQ1_M", 256, 56),
    30: ("BF16", 1, 2),
    34: ("TQ1_0", 256, 54),
    35: ("TQ2_0", 256, 66),
    39: ("MXFP4", 32, 17),
    40: ("NVFP4", 64, 36),
    41: ("Q1_0", 128, 18),
    42: ("Q2_0", 64, 18),
}
TYPE_IDS = {name: i for i, (name, _, _) in GGML_TYPES.items()}


def type_name(type_id: int) -> str:
    return GGML_TYPES[type_id][0]


def nbytes(type_id: int, shape: Sequence[int]) -> int:
    """Bytes of a tensor of ggml type `type_id` and NumPy `shape` (whole blocks per row)."""
    _, block, size = GGML_TYPES[type_id]
    return math.prod(shape) // block * size


_U64 = struct.Struct("<Q")


class KV(NamedTuple):
    key: str
    vtype: int
    raw: bytes  # the type and the value, as stored after the key
    value: int | float | str | None  # scalars and strings decoded; None for arrays


class Tensor(NamedTuple):
    name: str
    shape: tuple[int, ...]  # NumPy order: ne reversed
    type: int  # ggml type id
    offset: int  # from data_start


class Header(NamedTuple):
    version: int
    kvs: list[KV]  # in file order
    tensors: list[Tensor]  # in file order
    alignment: int
    data_start: int
    file_size: int

    def value(self, key: str, default: int | float | str | None = None) -> int | float | str | None:
        for kv in self.kvs:
            if kv.key == key:
                return kv.value
        return default


class _PastPrefix(Exception):
    """The header runs past the prefix read so far (see read_header)."""


class _Cursor:
    """Bounds-checked little-endian reads from a buffer."""

    def __init__(self, buf: bytes, where: str) -> None:
        self.buf, self.pos, self.where = buf, 0, where

    def take(self, n: int) -> int:
        if n < 0 or self.pos + n > len(self.buf):
            raise _PastPrefix()
        start, self.pos = self.pos, self.pos + n
        return start

    def unpack(self, code: str) -> Any:  # (what struct gives for `code`)
        size = struct.calcsize("<" + code)
        return struct.unpack_from("<" + code, self.buf, self.take(size))[0]

    def string(self, what: str) -> str:
        n = self.unpack("Q")
        start = self.take(n)
        try:
            return bytes(self.buf[start : start + n]).decode("utf-8")
        except UnicodeDecodeError:
            raise FormatError(f"{self.where}: {what} is not UTF-8") from None


def _skip_value(cur: _Cursor, vtype: int, key: str, depth: int = 0) -> int | float | str | None:
    """Move past one value of type `vtype`; return it when it is a scalar or string."""
    if vtype in _SCALARS:
        scalar: int | float = cur.unpack(_SCALARS[vtype])
        return scalar
    if vtype == STRING:
        return cur.string(f"the value of {key!r}")
    if vtype != ARRAY or depth > 2:
        raise FormatError(f"{cur.where}: key {key!r} has unknown value type {vtype}")
    etype, count = cur.unpack("I"), cur.unpack("Q")
    if etype in _SCALARS:
        cur.take(count * struct.calcsize("<" + _SCALARS[etype]))
    elif etype == STRING:  # a vocabulary: 10^5 strings, skipped (kept as raw bytes) in one loop
        buf, pos, end = cur.buf, cur.pos, len(cur.buf)
        for _ in range(count):
            if pos + 8 > end:
                raise _PastPrefix()
            pos += 8 + _U64.unpack_from(buf, pos)[0]
        cur.take(pos - cur.pos)  # FormatError when the last string runs past the end
    else:
        if count > len(cur.buf):  # every element takes at least a byte
            raise _PastPrefix()
        for _ in range(count):
            _skip_value(cur, etype, key, depth + 1)
    return None


def read_header(path: str) -> Header:
    """The checked header of the GGUF file at `path` (tensor data is not read).

    FormatError for anything llama.cpp would refuse: bad magic or version,
    a truncated header, duplicate keys or tensor names, unknown value or
    tensor types, a row length that is not a whole number of blocks, a bad
    alignment, tensor data that is misaligned, overlaps or runs past the end.
    """
    with open(path, "rb") as f:
        size = f.seek(0, 2)
        if size < 24:
            raise FormatError(f"{path}: not a GGUF file (too short)")
        # The header is read, not mapped (a file truncated under a map kills
        # the process with SIGBUS): a prefix that grows until the header
        # fits in it, up to MAX_HEADER_BYTES.
        n = min(size, FIRST_READ)
        while True:
            f.seek(0)
            buf = f.read(n)
            if len(buf) < n:
                raise FormatError(f"{path}: the file shrank while its header was read")
            try:
                return _parse(buf, path, size)
            except _PastPrefix:
                if n == size or n >= MAX_HEADER_BYTES:
                    raise FormatError(
                        f"{path}: truncated or corrupt GGUF header (or one "
                        f"larger than {MAX_HEADER_BYTES} bytes)"
                    ) from None
                n = min(size, MAX_HEADER_BYTES, n * 8)


def _parse(buf: bytes, path: str, size: int) -> Header:
    cur = _Cursor(buf, path)
    if bytes(buf[:4]) != MAGIC:
        raise FormatError(f"{path}: not a GGUF file (no GGUF magic)")
    cur.take(4)
    version = cur.unpack("I")
    if version not in (2, 3):
        big = struct.unpack(">I", struct.pack("<I", version))[0] in (2, 3)
        raise FormatError(
            f"{path}: big-endian GGUF is not supported"
            if big
            else f"{path}: GGUF version {version} is not supported (2 or 3)"
        )
    n_tensors, n_kv = cur.unpack("Q"), cur.unpack("Q")
    if n_kv > size or n_tensors > size:
        raise FormatError(f"{path}: truncated or corrupt GGUF header")
    kvs, keys = [], set()
    for _ in range(n_kv):
        key = cur.string("a key")
        if key in keys:
            raise FormatError(f"{path}: duplicate key {key!r}")
        keys.add(key)
        start = cur.pos
        vtype = cur.unpack("I")
        value = _skip_value(cur, vtype, key)
        kvs.append(KV(key, vtype, bytes(buf[start : cur.pos]), value))
    alignment = DEFAULT_ALIGNMENT
    for kv in kvs:
        if kv.key == ALIGNMENT_KEY:
            if (
                kv.vtype != U32
                or not isinstance(kv.value, int)  # (always an int if U32)
                or kv.value == 0
                or kv.value & (kv.value - 1)
            ):
                raise FormatError(f"{path}: {ALIGNMENT_KEY} must be a u32 power of 2")
            alignment = kv.value
    tensors, names = [], set()
    for _ in range(n_tensors):
        name = cur.string("a tensor name")
        if name in names:
            raise FormatError(f"{path}: duplicate tensor name {name!r}")
        names.add(name)
        n_dims = cur.unpack("I")
        if not 1 <= n_dims <= MAX_DIMS:
            raise FormatError(f"{path}: tensor {name!r} has {n_dims} dimensions")
        ne = [cur.unpack("Q") for _ in range(n_dims)]
        ttype, offset = cur.unpack("I"), cur.unpack("Q")
        if ttype not in GGML_TYPES:
            raise FormatError(f"{path}: tensor {name!r} has unknown ggml type {ttype}")
        if ne[0] % GGML_TYPES[ttype][1] or math.prod(d for d in ne if d) >= 2**63:
            raise FormatError(
                f"{path}: tensor {name!r}: shape {ne} does not fit type {type_name(ttype)}"
            )
        tensors.append(Tensor(name, tuple(reversed(ne)), ttype, offset))
    data_start = -(-cur.pos // alignment) * alignment
    _check_data(path, tensors, alignment, data_start, size)
    return Header(version, kvs, tensors, alignment, data_start, size)


def _check_data(
    path: str, tensors: list[Tensor], alignment: int, data_start: int, size: int
) -> None:
    end = data_start
    for t in sorted(tensors, key=lambda t: t.offset):
        n = nbytes(t.type, t.shape)
        if t.offset % alignment:
            raise FormatError(f"{path}: tensor {t.name!r} is not aligned to {alignment} bytes")
        if data_start + t.offset < end:
            raise FormatError(f"{path}: tensor {t.name!r} overlaps another tensor")
        end = data_start + t.offset + n
        if end > size:
            raise FormatError(
                f"{path}: tensor {t.name!r} runs past the end of the file (truncated?)"
            )


def u32_kv(key: str, value: int) -> KV:
    """A KV holding a u32, encoded as gguf_set_val_u32 stores it."""
    return KV(key, U32, struct.pack("<II", U32, value), value)


def string_kv(key: str, text: str) -> KV:
    """A KV holding a string."""
    return KV(key, STRING, struct.pack("<I", STRING) + _string(text), text)


def _string(text: str) -> bytes:
    b = text.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def pad(n: int, alignment: int) -> int:
    return -(-n // alignment) * alignment


class Writer:
    """Writes a GGUF file to the binary file `f`: the header from `kvs` and
    `specs` [(name, shape, ggml type id)] first, then each tensor's data in
    the order of `specs` through ``begin(name)`` + ``write(bytes)`` +
    ``end()`` (which pads); ``close()`` checks every tensor was written whole.
    """

    _sizes: list[tuple[str, int]]  # (name, bytes) of each tensor, in order
    _written: int | None  # bytes of the current tensor so far

    def __init__(
        self,
        f: IO[bytes],
        kvs: Sequence[KV],
        specs: Sequence[tuple[str, Sequence[int], int]],
        alignment: int,
    ) -> None:
        self._f, self._alignment = f, alignment
        self._sizes, offset, infos = [], 0, []
        for name, shape, ttype in specs:
            ne = list(reversed(shape)) or [1]
            infos.append(
                _string(name)
                + struct.pack("<I", len(ne))
                + struct.pack(f"<{len(ne)}Q", *ne)
                + struct.pack("<IQ", ttype, offset)
            )
            n = nbytes(ttype, shape)
            self._sizes.append((name, n))
            offset += pad(n, alignment)
        head = MAGIC + struct.pack("<IQQ", VERSION, len(specs), len(kvs))
        head += b"".join(_string(kv.key) + kv.raw for kv in kvs) + b"".join(infos)
        f.write(head + bytes(pad(len(head), alignment) - len(head)))
        self._next, self._written = 0, None

    def begin(self, name: str) -> None:
        expected, _ = self._sizes[self._next]
        if name != expected or self._written is not None:
            raise AssertionError(f"tensor {name!r} written out of order")
        self._written = 0

    def write(self, data: bytes | memoryview) -> None:
        data = memoryview(data).cast("B")
        assert self._written is not None  # begin() comes first
        self._written += len(data)
        self._f.write(data)

    def end(self) -> None:
        name, n = self._sizes[self._next]
        if self._written != n:
            raise AssertionError(f"tensor {name!r}: wrote {self._written} bytes of {n}")
        self._f.write(bytes(pad(n, self._alignment) - n))
        self._next, self._written = self._next + 1, None

    def close(self) -> None:
        if self._next != len(self._sizes):
            raise AssertionError("not every tensor was written")
