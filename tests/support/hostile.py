"""Hostile files for the reader tests, built byte by byte from the formats'
definitions (PKWARE APPNOTE for ZIP, numpy.lib.format for .npy), so that a
test can declare sizes, methods and flags that no well-behaved writer would.
"""

import struct
import zlib

import numpy as np

STORED, DEFLATED, BZIP2, LZMA = 0, 8, 12, 14


def npy_bytes(header_text, data=b"", version=1):
    """A .npy with a raw header dict text (padded as NumPy pads it)."""
    text = header_text.encode("latin1")
    prefix = 10 if version == 1 else 12
    text += b" " * (-(prefix + len(text) + 1) % 64) + b"\n"
    length = struct.pack("<H" if version == 1 else "<I", len(text))
    return b"\x93NUMPY" + bytes([version, 0]) + length + text + data


def npy_of(shape, descr="<f4", data=b""):
    return npy_bytes(f"{{'descr': {descr!r}, 'fortran_order': False, 'shape': {shape!r}, }}", data)


def deflate(data):
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


def zip_bytes(members):
    """A ZIP archive from dicts with keys name, payload (the bytes stored) and
    optionally method, flags, size (declared uncompressed), crc and offset
    (a central-directory entry pointing at another member's local header)."""
    local, central, offsets = b"", b"", []
    for m in members:
        name = m["name"].encode()
        payload = m.get("payload", b"")
        method, flags = m.get("method", STORED), m.get("flags", 0)
        size = m.get("size", len(payload))
        crc = m.get("crc", zlib.crc32(payload) if method == STORED else 0)
        if "offset" in m:
            offset = offsets[m["offset"]]
        else:
            offset = len(local)
            local += (
                struct.pack(
                    "<4sHHHHHIIIHH",
                    b"PK\x03\x04",
                    20,
                    flags,
                    method,
                    0,
                    0,
                    crc,
                    len(payload),
                    size,
                    len(name),
                    0,
                )
                + name
                + payload
            )
        offsets.append(offset)
        central += (
            struct.pack(
                "<4sHHHHHHIIIHHHHHII",
                b"PK\x01\x02",
                20,
                20,
                flags,
                method,
                0,
                0,
                crc,
                len(payload),
                size,
                len(name),
                0,
                0,
                0,
                0,
                0,
                offset,
            )
            + name
        )
    end = struct.pack(
        "<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(members), len(members), len(central), len(local), 0
    )
    return local + central + end


def deflated_member(name, data, **kw):
    """A deflated member whose declared size and CRC are those of `data`."""
    return {
        "name": name,
        "payload": deflate(data),
        "method": DEFLATED,
        "size": len(data),
        "crc": zlib.crc32(data),
        **kw,
    }


def float_npy(values):
    a = np.asarray(values, "<f4")
    return npy_of(a.shape, "<f4", a.tobytes())
