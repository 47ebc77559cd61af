"""The .npz container (named arrays), and the archive helpers _npy shares.

.npy (one array, see _npy) and .npz are both quantized into .npz.

A quantized .npz holds, for each quantized array ``NAME``, int8 ``NAME`` and
its scale ``NAME_scale`` (for a .npy source: ``q`` and ``scale``), the arrays
left alone as they were, and ``__int8q__``: a 0-d string array with the
metadata JSON (what safetensors keeps in ``__metadata__``).  Archives are
read and written one member at a time, so memory holds one array (and its
result), and arrays left alone are copied as raw bytes.  The container
interface is described in _registry.
"""
import os
import zipfile

import numpy as np

from . import _convention as conv
from ._atomic import output_file
from ._errors import FormatError

NPY_MAGIC = b"\x93NUMPY"
META_MEMBER = f"__{conv.META_KEY}__"
COPY_CHUNK = 16 << 20

NAME = "npz"
DESCRIPTION = ".npz"
OUTPUT_IS_DIR = False


def claims(path):
    return path.lower().endswith(".npz")


def inputs(path):
    return [path]


def display_dtype(dtype):
    """'float32' for native or byte-order-free dtypes, '>f4' for the others."""
    dtype = np.dtype(dtype)
    return dtype.name if dtype.isnative or dtype.itemsize == 1 else dtype.str


def open_npy(path):
    """The array in a .npy file, memory-mapped (nothing read yet)."""
    with open(path, "rb") as f:
        if f.read(len(NPY_MAGIC)) != NPY_MAGIC:
            raise FormatError(f"{path}: not a .npy file (bad magic)")
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except (ValueError, EOFError) as exc:
        raise FormatError(f"{path}: corrupt or unsupported .npy: {exc}") from None


def _zip(path):
    try:
        return zipfile.ZipFile(path)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"{path}: not a valid .npz archive: {exc}") from None


def _members(zf, path):
    """{array name: member name}, every member being a .npy."""
    names = {}
    for member in zf.namelist():
        if not member.endswith(".npy"):
            raise FormatError(f"{path}: member {member!r} of the archive is not a .npy")
        names[member[:-4]] = member
    return names


def _read(zf, member, path):
    try:
        with zf.open(member) as m:
            return np.lib.format.read_array(m, allow_pickle=False)
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(f"{path}: member {member!r} is corrupt: {exc}") from None


def _header(zf, member, path):
    """(shape, dtype) of an archive member without reading its data."""
    try:
        with zf.open(member) as m:
            version = np.lib.format.read_magic(m)
            if version == (1, 0):
                shape, _, dtype = np.lib.format.read_array_header_1_0(m)
            elif version == (2, 0):
                shape, _, dtype = np.lib.format.read_array_header_2_0(m)
            else:  # rare (version 3 is for UTF-8 field names): read it all
                a = _read(zf, member, path)
                shape, dtype = a.shape, a.dtype
    except (ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise FormatError(f"{path}: member {member!r} is corrupt: {exc}") from None
    return shape, dtype


def write_member(zout, name, array):
    with zout.open(name + ".npy", "w", force_zip64=True) as m:
        np.lib.format.write_array(m, np.asanyarray(array), allow_pickle=False)


def _copy(zin, member, zout, path):
    """Copy one member's bytes unchanged (stored uncompressed)."""
    try:
        with zin.open(member) as m, zout.open(member, "w", force_zip64=True) as out:
            while piece := m.read(COPY_CHUNK):
                out.write(piece)
    except zipfile.BadZipFile as exc:
        raise FormatError(f"{path}: member {member!r} is corrupt: {exc}") from None


def new_zip(f):
    return zipfile.ZipFile(f, "w", zipfile.ZIP_STORED, allowZip64=True)


def check_suffix(dst, suffix):
    if not os.fspath(dst).lower().endswith(suffix):
        raise FormatError(f"{dst}: the output is a {suffix} file; give it that suffix")


def quantize(src, dst, opts, progress):
    """Each array of an .npz handled like a checkpoint tensor."""
    check_suffix(dst, ".npz")
    with _zip(src) as zin:
        members = _members(zin, src)
        if META_MEMBER in members:
            raise FormatError(f"{src}: already quantized by int8q (dequantize it first)")
        plan = []
        for name, member in members.items():
            shape, dtype = _header(zin, member, src)
            scheme = conv.choose_scheme(name, conv.kind(dtype), len(shape), opts)
            if scheme is not None and conv.scale_name(name) in members:
                raise FormatError(f"{src}: cannot store the scale of {name!r}: an array "
                                  f"named {conv.scale_name(name)!r} already exists")
            plan.append((name, member, scheme, dtype, zin.getinfo(member).file_size))
        entries = {}
        total = sum(p[-1] for p in plan)
        with progress(total, "quantize") as bar, output_file(dst) as f, \
                new_zip(f) as zout:
            for name, member, scheme, dtype, size in plan:
                if scheme is None:
                    _copy(zin, member, zout, src)
                else:
                    q, scale = conv.quantize(name, _read(zin, member, src), scheme, opts)
                    write_member(zout, name, q)
                    write_member(zout, conv.scale_name(name), scale)
                    entries[name] = conv.entry(scheme, opts, dtype.str, conv.scale_name(name))
                bar.update(size)
            write_member(zout, META_MEMBER, np.array(conv.encode(entries)))


def _metadata(zin, members, src):
    if META_MEMBER not in members:
        raise FormatError(f"{src}: not quantized by int8q (no {META_MEMBER} entry)")
    text = _read(zin, members[META_MEMBER], src)
    if text.dtype.kind != "U" or text.shape != ():
        raise FormatError(f"{src}: corrupt {META_MEMBER} entry")
    meta = conv.decode(str(text[()]), src)
    for name, e in meta["tensors"].items():
        if name not in members or e["scale"] not in members:
            raise FormatError(f"{src}: int8q metadata lists {name!r}, which the archive "
                              f"lacks (or its scale {e['scale']!r})")
        try:
            dtype = np.dtype(e["dtype"])
        except TypeError:
            dtype = None
        if dtype is None or conv.kind(dtype) == "other":
            raise FormatError(f"{src}: tensor {name!r} has unsupported original dtype "
                              f"{e['dtype']!r}")
    return meta


def _restore(zin, members, name, e, src):
    q = _read(zin, members[name], src)
    scale = _read(zin, members[e["scale"]], src)
    return conv.dequantize(name, q, scale, e, np.dtype(e["dtype"]))


def dequantize(src, dst, progress):
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
                np.lib.format.write_array(f, _restore(zin, members, "q", entries["q"], src),
                                          allow_pickle=False)
                bar.update(total)
            return
        check_suffix(dst, ".npz")
        scales = {e["scale"] for e in entries.values()}
        with progress(total, "dequantize") as bar, output_file(dst) as f, \
                new_zip(f) as zout:
            for name, member in members.items():
                if name == META_MEMBER or name in scales:
                    continue
                if name in entries:
                    write_member(zout, name, _restore(zin, members, name, entries[name], src))
                else:
                    _copy(zin, member, zout, src)
                bar.update(zin.getinfo(member).file_size)


def inspect(path):
    with _zip(path) as zin:
        members = _members(zin, path)
        entries = _metadata(zin, members, path)["tensors"] if META_MEMBER in members else {}
        scales = {e["scale"] for e in entries.values()}
        rows = []
        for name, member in members.items():
            if name == META_MEMBER:
                continue
            shape, dtype = _header(zin, member, path)
            e = entries.get(name)
            rows.append({"file": os.path.basename(path), "name": name, "shape": shape,
                         "dtype": display_dtype(dtype),
                         "scheme": e["scheme"] if e else "scale" if name in scales else "none",
                         "size": int(np.prod(shape)) * dtype.itemsize,
                         "original_dtype": display_dtype(e["dtype"]) if e else None})
    return rows
