"""The .npz byte format: a ZIP archive of .npy members (numpy.savez), read
and written one member at a time, without trusting the archive.

Archives are checked before any member is inflated: only the ZIP methods
NumPy writes (stored, deflate), no encryption or other flag bits, no
duplicate or overlapping members, and for each member a declared size that
matches its .npy header exactly and that its compressed size can produce
(deflate expands at most MAX_DEFLATE_RATIO:1).  Inflating then stops at the
declared size (zipfile's own bound), so memory never holds more than the
arrays the archive declares, and a short or overlong stream is a FormatError.
Stored members are read straight into their arrays, their CRC-32 checked.

What int8q stores in an archive is the .npz container's (_containers._npz).
"""

import os
import struct
import zipfile
import zlib
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ..._shared import crc32
from .._support._errors import FormatError
from .._support._reading import read_into
from ._npyheader import NpyHeader, array_from, read_header

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
# A ZIP local file header: its signature and fixed part (the name and extra
# field lengths are its last two 16-bit fields, at bytes 26 and 28).
LOCAL_HEADER_MAGIC = b"PK\x03\x04"
LOCAL_HEADER_BYTES = 30
# An array NAME is the member NAME.npy (numpy.savez).
MEMBER_SUFFIX = ".npy"


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


def open_archive(path: str) -> zipfile.ZipFile:
    """The archive `path`, checked (see the module doc); FormatError else."""
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


def members(zf: zipfile.ZipFile, path: str) -> dict[str, str]:
    """{array name: member name}, every member being a .npy."""
    names = {}
    for member in zf.namelist():
        if not member.endswith(MEMBER_SUFFIX):
            raise FormatError(f"{path}: member {member!r} of the archive is not a .npy")
        names[member[: -len(MEMBER_SUFFIX)]] = member
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


def corrupt(path: str, member: str, exc: BaseException) -> FormatError:
    """The FormatError for what zipfile or zlib raised reading `member`."""
    return FormatError(f"{path}: member {member!r} is corrupt: {exc}")


def read_member(zf: zipfile.ZipFile, member: str, path: str) -> npt.NDArray[Any]:
    """The array of `member`, checked against its header and CRC-32."""
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
        raise corrupt(path, member, exc) from None


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


def member_header(zf: zipfile.ZipFile, member: str, path: str) -> NpyHeader:
    """The checked .npy header of an archive member, without reading its data."""
    try:
        with zf.open(member) as m:
            return _member_header(zf, m, member, path)
    except FormatError:
        raise
    except ZIP_ERRORS as exc:
        raise corrupt(path, member, exc) from None


def new_archive(f: IO[bytes]) -> zipfile.ZipFile:
    """An archive written into `f`, its members stored (uncompressed)."""
    return zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True)


def open_output_member(zout: zipfile.ZipFile, member: str) -> IO[bytes]:
    """A member of `zout` to write bytes into (ZIP64, whatever its size)."""
    return zout.open(member, "w", force_zip64=True)


def write_member(zout: zipfile.ZipFile, name: str, array: npt.ArrayLike) -> None:
    """Array `name` as the member NAME.npy, in the .npy format."""
    a = np.asanyarray(array)
    with open_output_member(zout, name + MEMBER_SUFFIX) as m:
        if a.flags.c_contiguous and a.dtype.kind in "biuf" and a.size:
            # The header np.lib.format.write_array writes for these (version
            # 1.0), then the array's memory as it is: write_array would copy
            # it into bytes objects first, 16 MiB at a time.
            np.lib.format.write_array_header_1_0(m, np.lib.format.header_data_from_array_1_0(a))
            m.write(a.reshape(-1).view(np.uint8).data)
        else:
            np.lib.format.write_array(m, a, allow_pickle=False)


def copy_member(
    zin: zipfile.ZipFile, member: str, zout: zipfile.ZipFile, path: str, chunk: int
) -> None:
    """Copy one member's bytes unchanged (stored uncompressed), `chunk` at a time."""
    try:
        with zin.open(member) as m, open_output_member(zout, member) as out:
            while piece := m.read(chunk):
                out.write(piece)
    except ZIP_ERRORS as exc:
        raise corrupt(path, member, exc) from None
