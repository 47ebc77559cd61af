"""The .npz container (named arrays), and the archive helpers _npy shares.

.npy (one array, see _npy) and .npz are both quantized into .npz.

A quantized .npz holds, for each quantized array ``NAME``, int8 ``NAME`` and
its scale ``NAME_scale`` (for a .npy source: ``q`` and ``scale``), the arrays
left alone as they were, and ``__int8q__``: a 0-d string array with the
metadata JSON (what safetensors keeps in ``__metadata__``).  Archives are
read and written one member at a time, so memory holds one array (and its
result), and arrays left alone are copied as raw bytes.  The container
interface is described in _registry.

Archives are checked before any member is inflated: only the ZIP methods
NumPy writes (stored, deflate), no encryption or other flag bits, no
duplicate or overlapping members, and for each member a declared size that
matches its .npy header exactly and that its compressed size can produce
(deflate expands at most MAX_DEFLATE_RATIO:1).  Inflating then stops at the
declared size (zipfile's own bound), so memory never holds more than the
arrays the archive declares, and a short or overlong stream is a FormatError.
"""

import contextlib
import math
import os
import re
import struct
import zipfile
import zlib
from typing import IO, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ..._shared import crc32
from .._formats._npyheader import NpyHeader, array_from, read_header, text_from
from .._policy import _convention as conv
from .._policy._suffix import check_suffix
from .._support import _pipeline
from .._support._atomic import output_file
from .._support._errors import FormatError
from .._support._progress import Progress
from .._support._reading import read_into
from ._container import ProgressFactory, Row

ZIP_METHODS = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)  # what np.savez(_compressed) writes
# General-purpose flag bits an archive NumPy or zipfile writes may carry:
# deflate options (bits 1-2), sizes in a data descriptor (3), UTF-8 names (11).
ALLOWED_FLAGS = 0x0002 | 0x0004 | 0x0008 | 0x0800
# Deflate's largest expansion: a 258-byte match coded in 2 bits, about
# 1032:1 (zlib's "Technical details").  A larger declared size is a lie.
MAX_DEFLATE_RATIO = 1032
# What zipfile and zlib raise for damaged archives (the methods and flags
# they would refuse with NotImplementedError or RuntimeError are refused
# before they see them).
ZIP_ERRORS = (
    zipfile.BadZipFile,
    zlib.error,
    EOFError,
    struct.error,
    OverflowError,
    ValueError,
    NotImplementedError,
)  # the last: "zip file version 12.7"
# zipfile builds an object per central-directory entry, so the directory is
# sized before zipfile reads it: at most this many members (an .npz of
# arrays; 100,000 is far past any real one) and this many directory bytes.
MAX_MEMBERS = 100_000
MAX_DIRECTORY_BYTES = MAX_MEMBERS * 160
# The original dtypes .npz metadata may name: what quantize writes (dtype.str
# of a float, integer or bool array).
ORIGINAL_DTYPE = re.compile(r"[<>|=][fiub]\d{1,2}")
META_MEMBER = f"__{conv.META_KEY}__"
COPY_CHUNK = 16 << 20
# A ZIP local file header: its signature and fixed part (the name and extra
# field lengths are its last two 16-bit fields, at bytes 26 and 28).
LOCAL_HEADER_MAGIC = b"PK\x03\x04"
LOCAL_HEADER_BYTES = 30

NAME = "npz"
DESCRIPTION = ".npz"
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = ".npz"


def claims(path: str) -> bool:
    return path.lower().endswith(".npz")


def inputs(path: str) -> list[str]:
    return [path]


def display_dtype(dtype: npt.DTypeLike) -> str:
    """'float32' for native or byte-order-free dtypes, '>f4' for the others."""
    dtype = np.dtype(dtype)
    # str(): NumPy's stubs say LiteralString, which Python 3.10 lacks.
    return str(dtype.name if dtype.isnative or dtype.itemsize == 1 else dtype.str)


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


def _directory_size(path: str) -> tuple[int, int] | None:
    """(members, bytes) of an archive's central directory as its end record
    declares them (ZIP64 included), or None where there is no end record
    (zipfile then says the archive is invalid).  APPNOTE 4.3.14-4.3.16."""
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        tail_len = min(size, 22 + 0xFFFF)  # the record and its longest comment
        f.seek(size - tail_len)
        tail = f.read(tail_len)
        # As zipfile looks: a record without a comment ends the file, else
        # the last signature in the tail.
        at = len(tail) - 22 if tail[-22:-18] == b"PK\x05\x06" else tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            return None
        members, directory = struct.unpack_from("<HI", tail, at + 10)
        if at >= 20 and tail[at - 20 : at - 16] == b"PK\x06\x07":  # ZIP64 locator
            (offset,) = struct.unpack_from("<Q", tail, at - 12)
            if offset <= size - 56:
                f.seek(offset)
                record = f.read(56)
                if record[:4] == b"PK\x06\x06":
                    members, directory = struct.unpack_from("<QQ", record, 32)
    return members, directory


def _zip(path: str) -> zipfile.ZipFile:
    declared = _directory_size(path)
    if declared and (declared[0] > MAX_MEMBERS or declared[1] > MAX_DIRECTORY_BYTES):
        raise FormatError(
            f"{path}: the archive declares {declared[0]} members in "
            f"{declared[1]} bytes of directory; int8q reads at most "
            f"{MAX_MEMBERS} members in {MAX_DIRECTORY_BYTES} bytes"
        )
    try:
        zf = zipfile.ZipFile(path)
    except FormatError:
        raise
    except ZIP_ERRORS as exc:
        raise FormatError(f"{path}: not a valid .npz archive: {exc}") from None
    try:
        _check_archive(zf, path, os.path.getsize(path))
    except BaseException:
        zf.close()
        raise
    return zf


def _check_archive(zf: zipfile.ZipFile, path: str, size: int) -> None:
    """Refuse, before inflating anything, what NumPy never writes or what
    would inflate past what the archive declares."""
    infos = zf.infolist()
    if len({i.filename for i in infos}) != len(infos):
        raise FormatError(f"{path}: the archive lists a member twice")
    for info in infos:
        where = f"{path}: member {info.filename!r}"
        if info.compress_type not in ZIP_METHODS:
            raise FormatError(
                f"{where} uses ZIP method {info.compress_type}; .npz archives "
                f"are stored or deflated"
            )
        if info.flag_bits & ~ALLOWED_FLAGS:
            what = (
                "is encrypted"
                if info.flag_bits & 1
                else f"has unsupported flag bits {info.flag_bits:#06x}"
            )
            raise FormatError(f"{where} {what}")
        if (
            info.compress_type == zipfile.ZIP_STORED
            and info.file_size != info.compress_size
            or info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 64
        ):
            raise FormatError(
                f"{where} declares {info.file_size} bytes from "
                f"{info.compress_size} compressed: corrupt (or a zip bomb)"
            )
    end = size
    for info in sorted(infos, key=lambda i: i.header_offset, reverse=True):
        if info.header_offset < 0 or info.header_offset + info.compress_size > end:
            raise FormatError(
                f"{path}: member {info.filename!r} overlaps another member "
                f"or runs past the end of the archive"
            )
        end = info.header_offset


def _members(zf: zipfile.ZipFile, path: str) -> dict[str, str]:
    """{array name: member name}, every member being a .npy."""
    names = {}
    for member in zf.namelist():
        if not member.endswith(".npy"):
            raise FormatError(f"{path}: member {member!r} of the archive is not a .npy")
        names[member[:-4]] = member
    return names


def _member_header(zf: zipfile.ZipFile, m: IO[bytes], member: str, path: str) -> NpyHeader:
    header = read_header(m, path, member)
    declared = zf.getinfo(member).file_size
    if declared != header.header_bytes + header.data_bytes:
        raise FormatError(
            f"{path}: member {member!r} declares {declared} bytes, but its "
            f".npy header needs {header.header_bytes + header.data_bytes}"
        )
    return header


def _read(zf: zipfile.ZipFile, member: str, path: str) -> npt.NDArray[Any]:
    try:
        with zf.open(member) as m:
            header = _member_header(zf, m, member, path)
            info = zf.getinfo(member)
            if info.compress_type == zipfile.ZIP_STORED and header.data_bytes:
                return _read_stored(info, header, member, path)
            a = array_from(m, header, path, member, read_into)
            if m.read(1):  # also where zipfile checks the CRC
                raise FormatError(f"{path}: member {member!r} holds more than its array")
            return a
    except FormatError:
        raise
    except ZIP_ERRORS as exc:
        raise FormatError(f"{path}: member {member!r} is corrupt: {exc}") from None


def _read_stored(
    info: zipfile.ZipInfo, header: NpyHeader, member: str, path: str
) -> npt.NDArray[Any]:
    """A stored member's array read from the archive file straight into its
    buffer, and its CRC-32 checked, as zipfile checks it.  (zipfile reads
    into new bytes objects that are then copied, and checks the CRC-32 with
    zlib's: quantizing a 2 GiB float16 .npz took about twice as long through
    it.)  zipfile has checked the local header's name and flags when it
    opened the member."""
    with open(path, "rb") as f:
        f.seek(info.header_offset)
        local = f.read(LOCAL_HEADER_BYTES)
        if len(local) != LOCAL_HEADER_BYTES or local[:4] != LOCAL_HEADER_MAGIC:
            raise FormatError(f"{path}: member {member!r} is corrupt: bad local header")
        name_len, extra_len = struct.unpack_from("<HH", local, 26)
        f.seek(info.header_offset + LOCAL_HEADER_BYTES + name_len + extra_len)
        crc = crc32(f.read(header.header_bytes))
        a = array_from(f, header, path, member, read_into)
    raw = a.T if header.fortran_order else a  # the bytes in file order
    if crc32(raw.reshape(-1).view(np.uint8), crc) != info.CRC:
        raise FormatError(f"{path}: member {member!r} is corrupt: Bad CRC-32 for file {member!r}")
    return a


def _header(zf: zipfile.ZipFile, member: str, path: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) of an archive member without reading its data."""
    try:
        with zf.open(member) as m:
            header = _member_header(zf, m, member, path)
    except FormatError:
        raise
    except ZIP_ERRORS as exc:
        raise FormatError(f"{path}: member {member!r} is corrupt: {exc}") from None
    return header.shape, header.dtype


def write_member(zout: zipfile.ZipFile, name: str, array: npt.ArrayLike) -> None:
    a = np.asanyarray(array)
    with zout.open(name + ".npy", "w", force_zip64=True) as m:
        if a.flags.c_contiguous and a.dtype.kind in "biuf" and a.size:
            # The header np.lib.format.write_array writes for these (version
            # 1.0), then the array's memory as it is: write_array would copy
            # it into bytes objects first, 16 MiB at a time.
            np.lib.format.write_array_header_1_0(m, np.lib.format.header_data_from_array_1_0(a))
            m.write(a.reshape(-1).view(np.uint8).data)
        else:
            np.lib.format.write_array(m, a, allow_pickle=False)


def _copy(zin: zipfile.ZipFile, member: str, zout: zipfile.ZipFile, path: str) -> None:
    """Copy one member's bytes unchanged (stored uncompressed)."""
    try:
        with zin.open(member) as m, zout.open(member, "w", force_zip64=True) as out:
            while piece := m.read(COPY_CHUNK):
                out.write(piece)
    except ZIP_ERRORS as exc:
        raise FormatError(f"{path}: member {member!r} is corrupt: {exc}") from None


def new_zip(f: IO[bytes]) -> zipfile.ZipFile:
    return zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True)


def quantize(src: str, dst: str, opts: conv.Options, progress: ProgressFactory) -> None:
    """Each array of an .npz handled like a checkpoint tensor."""
    with _zip(src) as zin:
        members = _members(zin, src)
        if META_MEMBER in members:
            raise FormatError(f"{src}: already quantized by int8q (dequantize it first)")
        plan = []
        for name, member in members.items():
            shape, dtype = _header(zin, member, src)
            scheme = conv.choose_scheme(name, conv.kind(dtype), len(shape), opts)
            if scheme is not None and conv.scale_name(name) in members:
                raise FormatError(
                    f"{src}: cannot store the scale of {name!r}: an array "
                    f"named {conv.scale_name(name)!r} already exists"
                )
            plan.append((name, member, scheme, dtype, zin.getinfo(member).file_size))
        entries = {
            name: conv.entry(scheme, opts, dtype.str, conv.scale_name(name))
            for name, _, scheme, dtype, _ in plan
            if scheme is not None
        }
        total = sum(p[-1] for p in plan)
        with progress(total, "quantize") as bar, output_file(dst) as f, new_zip(f) as zout:
            _quantize_members(src, zin, zout, plan, opts, bar)
            write_member(zout, META_MEMBER, np.array(conv.encode(entries)))


class _Piece(NamedTuple):
    """A member to quantize whole, or COPY_CHUNK bytes of one to copy."""

    name: str
    member: str
    scheme: "str | None"  # None: copy
    nbytes: int  # the member's bytes (quantize), the piece's (copy)
    first: bool
    last: bool


def _quantize_members(
    src: str,
    zin: zipfile.ZipFile,
    zout: zipfile.ZipFile,
    plan: list[tuple[str, str, "str | None", np.dtype[Any], int]],
    opts: conv.Options,
    bar: Progress,
) -> None:
    """Every member of `plan` into `zout`, through _pipeline."""
    pieces = []
    for name, member, scheme, _, size in plan:
        if scheme is not None:
            pieces.append(_Piece(name, member, scheme, size, True, True))
            continue
        cuts = range(0, size, COPY_CHUNK) if size else [0]
        for at in cuts:
            n = min(COPY_CHUNK, size - at)
            pieces.append(_Piece(name, member, None, n, at == 0, at + n == size))
    # The member being copied, open in the reader thread and in the writer thread.
    reading: list[IO[bytes]] = []
    writing: list[IO[bytes]] = []
    writeback = _pipeline.Writeback(zout.fp.fileno()) if zout.fp is not None else None

    def load(piece: _Piece) -> Any:
        if piece.scheme is not None:
            return _read(zin, piece.member, src)
        try:
            if piece.first:
                reading.append(zin.open(piece.member))
            data = reading[0].read(piece.nbytes)
            if len(data) != piece.nbytes:
                raise EOFError(f"it ends {piece.nbytes - len(data)} bytes early")
            if piece.last:
                reading.pop().close()
            return data
        except ZIP_ERRORS as exc:
            raise FormatError(f"{src}: member {piece.member!r} is corrupt: {exc}") from None

    def work(piece: _Piece, data: Any) -> Any:
        if piece.scheme is not None:
            q = _pipeline.empty(data.shape, np.int8)
            data = conv.quantize(piece.name, data, piece.scheme, opts, q)
        bar.update(piece.nbytes)
        return data

    def store(piece: _Piece, data: Any) -> None:
        if piece.scheme is not None:
            q, scale = data
            write_member(zout, piece.name, q)
            write_member(zout, conv.scale_name(piece.name), scale)
            written = q.nbytes + scale.nbytes
        else:
            if piece.first:
                writing.append(zout.open(piece.member, "w", force_zip64=True))
            writing[0].write(data)
            if piece.last:
                writing.pop().close()
            written = len(data)
        if writeback is not None:
            writeback.wrote(written)

    try:
        _pipeline.run(pieces, load, work, store, lambda piece: 2 * piece.nbytes)
    finally:
        # A member left open by an error: closed, so that the archive (which
        # is then thrown away) can be.
        for stream in reading + writing:
            with contextlib.suppress(*ZIP_ERRORS, OSError):
                stream.close()


def _metadata(zin: zipfile.ZipFile, members: dict[str, str], src: str) -> conv.Metadata:
    if META_MEMBER not in members:
        raise FormatError(f"{src}: not quantized by int8q (no {META_MEMBER} entry)")
    text = _read(zin, members[META_MEMBER], src)
    if text.dtype.kind != "U" or text.shape != ():
        raise FormatError(f"{src}: corrupt {META_MEMBER} entry")
    meta = conv.decode(text_from(text, src, META_MEMBER), src)
    for name, e in meta["tensors"].items():
        if name not in members or e["scale"] not in members:
            raise FormatError(
                f"{src}: int8q metadata lists {name!r}, which the archive "
                f"lacks (or its scale {e['scale']!r})"
            )
        # Looked up by pattern first: np.dtype() of an arbitrary string can
        # raise anything (SyntaxError for "(,)").
        try:
            dtype = np.dtype(e["dtype"]) if ORIGINAL_DTYPE.fullmatch(e["dtype"]) else None
        except TypeError:  # "<f3": the right shape, no such type
            dtype = None
        if dtype is None or conv.kind(dtype) == "other":
            raise FormatError(
                f"{src}: tensor {name!r} has unsupported original dtype {e['dtype']!r}"
            )
    return meta


def _restore(
    zin: zipfile.ZipFile, members: dict[str, str], name: str, e: conv.Entry, src: str
) -> npt.NDArray[Any]:
    q = _read(zin, members[name], src)
    scale = _read(zin, members[e["scale"]], src)
    return conv.dequantize(name, q, scale, e, np.dtype(e["dtype"]))


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    """A quantized .npz back to its .npy (one array) or .npz (named arrays)."""
    with _zip(src) as zin:
        members = _members(zin, src)
        meta = _metadata(zin, members, src)
        entries = meta["tensors"]
        total = sum(zin.getinfo(m).file_size for m in members.values())
        if meta.get("container") == "npy":
            check_suffix(dst, ".npy")
            if set(entries) != {"q"}:
                raise FormatError(f"{src}: corrupt int8q metadata for a .npy source")
            with progress(total, "dequantize") as bar, output_file(dst) as f:
                np.lib.format.write_array(
                    f, _restore(zin, members, "q", entries["q"], src), allow_pickle=False
                )
                bar.update(total)
            return
        check_suffix(dst, ".npz")
        scales = {e["scale"] for e in entries.values()}
        with progress(total, "dequantize") as bar, output_file(dst) as f, new_zip(f) as zout:
            for name, member in members.items():
                if name == META_MEMBER or name in scales:
                    continue
                if name in entries:
                    write_member(zout, name, _restore(zin, members, name, entries[name], src))
                else:
                    _copy(zin, member, zout, src)
                bar.update(zin.getinfo(member).file_size)


def inspect(path: str) -> list[Row]:
    with _zip(path) as zin:
        members = _members(zin, path)
        entries = _metadata(zin, members, path)["tensors"] if META_MEMBER in members else {}
        scales = {e["scale"] for e in entries.values()}
        rows: list[Row] = []
        for name, member in members.items():
            if name == META_MEMBER:
                continue
            shape, dtype = _header(zin, member, path)
            e = entries.get(name)
            rows.append(
                {
                    "file": os.path.basename(path),
                    "name": name,
                    "shape": shape,
                    "dtype": display_dtype(dtype),
                    "scheme": e["scheme"] if e else "scale" if name in scales else "none",
                    "size": math.prod(shape) * dtype.itemsize,
                    "original_dtype": display_dtype(e["dtype"]) if e else None,
                }
            )
    return rows
