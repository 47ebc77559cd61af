"""The .npz container (named arrays), and the .npy source's output.

.npy (one array, see _npy) and .npz are both quantized into .npz.

A quantized .npz holds, for each quantized array ``NAME``, int8 ``NAME`` and
its scale ``NAME_scale`` (for a .npy source: ``q`` and ``scale``), the arrays
left alone as they were, and ``__int8q__``: a 0-d string array with the
metadata JSON (what safetensors keeps in ``__metadata__``).  Archives are
read and written one member at a time, so memory holds one array (and its
result), and arrays left alone are copied as raw bytes; the bytes and the
checks of an archive are _formats._zip's.  The container interface is
described in _registry.
"""

import contextlib
import math
import os
import re
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .._formats import _zip
from .._formats._npyheader import text_from, write_npy
from .._formats._zip import ZIP_ERRORS, new_archive, write_member
from .._policy import _convention as conv
from .._policy._suffix import NPY, NPZ, check_suffix, has_suffix
from .._support import _pipeline
from .._support._atomic import output_file
from .._support._errors import FormatError
from .._support._progress import Progress
from ._container import Originals, ProgressFactory, Quantized, Row, already_quantized

# The original dtypes .npz metadata may name: what quantize writes (dtype.str
# of a float, integer or bool array).
ORIGINAL_DTYPE = re.compile(r"[<>|=][fiub]\d{1,2}")
META_MEMBER = f"__{conv.META_KEY}__"
# A .npy source's one array and its scale, in the .npz it is quantized into.
NPY_ARRAY = "q"
NPY_SCALE = "scale"
COPY_CHUNK = 16 << 20

NAME = "npz"
DESCRIPTION = NPZ
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = NPZ


def claims(path: str) -> bool:
    return has_suffix(path, NPZ)


def inputs(path: str) -> list[str]:
    return [path]


def display_dtype(dtype: npt.DTypeLike) -> str:
    """'float32' for native or byte-order-free dtypes, '>f4' for the others."""
    dtype = np.dtype(dtype)
    # str(): NumPy's stubs say LiteralString, which Python 3.10 lacks.
    return str(dtype.name if dtype.isnative or dtype.itemsize == 1 else dtype.str)


def _read(zf: zipfile.ZipFile, member: str, path: str) -> npt.NDArray[Any]:
    """One member's array (every read of this container goes through here)."""
    return _zip.read_member(zf, member, path)


def _header(zf: zipfile.ZipFile, member: str, path: str) -> tuple[tuple[int, ...], np.dtype[Any]]:
    """(shape, dtype) of an archive member without reading its data."""
    header = _zip.member_header(zf, member, path)
    return header.shape, header.dtype


def quantize(src: str, dst: str, opts: conv.Options, progress: ProgressFactory) -> None:
    """Each array of an .npz handled like a checkpoint tensor."""
    with _zip.open_archive(src) as zin:
        members = _zip.members(zin, src)
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
        with progress(total, "quantize") as bar, output_file(dst) as f, new_archive(f) as zout:
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
            raise _zip.corrupt(src, piece.member, exc) from None

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
                writing.append(_zip.open_output_member(zout, piece.member))
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
    with _zip.open_archive(src) as zin:
        members = _zip.members(zin, src)
        meta = _metadata(zin, members, src)
        entries = meta["tensors"]
        total = sum(zin.getinfo(m).file_size for m in members.values())
        if meta.get("container") == "npy":
            check_suffix(dst, NPY)
            if set(entries) != {NPY_ARRAY}:
                raise FormatError(f"{src}: corrupt int8q metadata for a .npy source")
            with progress(total, "dequantize") as bar, output_file(dst) as f:
                write_npy(f, _restore(zin, members, NPY_ARRAY, entries[NPY_ARRAY], src))
                bar.update(total)
            return
        check_suffix(dst, NPZ)
        scales = {e["scale"] for e in entries.values()}
        with progress(total, "dequantize") as bar, output_file(dst) as f, new_archive(f) as zout:
            for name, member in members.items():
                if name == META_MEMBER or name in scales:
                    continue
                if name in entries:
                    write_member(zout, name, _restore(zin, members, name, entries[name], src))
                else:
                    _zip.copy_member(zin, member, zout, src, COPY_CHUNK)
                bar.update(zin.getinfo(member).file_size)


def inspect(path: str) -> list[Row]:
    with _zip.open_archive(path) as zin:
        members = _zip.members(zin, path)
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


@contextmanager
def originals(path: str) -> Iterator[Originals]:
    """A reader of a float .npz's arrays by name (see _registry)."""
    with _zip.open_archive(path) as zin:
        members = _zip.members(zin, path)
        if META_MEMBER in members:
            raise already_quantized(path)
        yield lambda name: _read(zin, members[name], path) if name in members else None


def quantized(path: str) -> Iterator[Quantized]:
    """The arrays int8q quantized into `path`, one at a time (see _registry)."""
    with _zip.open_archive(path) as zin:
        members = _zip.members(zin, path)
        for name, e in _metadata(zin, members, path)["tensors"].items():
            q = _read(zin, members[name], path)
            scale = _read(zin, members[e["scale"]], path)
            yield Quantized(name, q, conv.dequantize(name, q, scale, e, None))
