"""Small checkpoints for the file tests, written and read byte by byte.

Independent of int8q's own safetensors code, so a bug there cannot hide
itself: files are built from the format's definition (8-byte little-endian
header length, JSON header padded with spaces, data region), and read back
the same way, or with the safetensors package where a test asks for it.
"""

import json
import math
import os
import struct

import numpy as np

try:
    import ml_dtypes
except ImportError:  # optional test dependency
    ml_dtypes = None

DTYPE_NAMES = {
    "float16": "F16",
    "float32": "F32",
    "float64": "F64",
    "int8": "I8",
    "uint8": "U8",
    "int16": "I16",
    "int32": "I32",
    "int64": "I64",
    "uint16": "U16",
    "uint32": "U32",
    "uint64": "U64",
    "bool": "BOOL",
    "bfloat16": "BF16",
}
NUMPY = {v: k for k, v in DTYPE_NAMES.items()}


def numpy_dtype(name):
    """The NumPy dtype of a safetensors dtype string (BF16 needs ml_dtypes)."""
    if name == "BF16":
        return np.dtype(ml_dtypes.bfloat16)
    return np.dtype(NUMPY[name]).newbyteorder("<")


def _bytes(a):
    a = np.ascontiguousarray(a)
    if a.dtype.name == "bfloat16":
        return a.view(np.uint16).astype("<u2").tobytes()
    return a.astype(a.dtype.newbyteorder("<")).tobytes()


def write_raw(path, header, data, *, pad=True):
    """A file from a header object (or raw JSON bytes) and a data region."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def write_safetensors(path, tensors, metadata=None):
    """Write {name: array} in the given order, with optional __metadata__."""
    header = {} if metadata is None else {"__metadata__": metadata}
    chunks, position = [], 0
    for name, a in tensors.items():
        raw = _bytes(a)
        header[name] = {
            "dtype": DTYPE_NAMES[a.dtype.name],
            "shape": list(a.shape),
            "data_offsets": [position, position + len(raw)],
        }
        chunks.append(raw)
        position += len(raw)
    write_raw(path, header, b"".join(chunks))


def read_header(path):
    """(header dict, data region start), trusting the file (tests only)."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        return json.loads(f.read(n)), 8 + n


def read_safetensors(path):
    """({name: array}, metadata) read from the bytes."""
    header, start = read_header(path)
    metadata = header.pop("__metadata__", {})
    with open(path, "rb") as f:
        blob = f.read()
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        dtype = numpy_dtype(e["dtype"])
        assert end - begin == math.prod(e["shape"]) * dtype.itemsize
        out[name] = np.frombuffer(blob[start + begin : start + end], dtype).reshape(e["shape"])
    return out, metadata


def int8q_metadata(path):
    """The int8q metadata of a quantized safetensors file, decoded."""
    return json.loads(read_header(path)[0]["__metadata__"]["int8q"])


def write_sharded(folder, shards, index_name="model.safetensors.index.json"):
    """Shards model-0000i-of-0000n.safetensors and their index; returns the index path."""
    os.makedirs(folder, exist_ok=True)
    weight_map, total = {}, 0
    for i, tensors in enumerate(shards, 1):
        shard = f"model-{i:05d}-of-{len(shards):05d}.safetensors"
        write_safetensors(os.path.join(folder, shard), tensors, {"format": "pt"})
        for name, a in tensors.items():
            weight_map[name] = shard
            total += a.nbytes
    index = os.path.join(folder, index_name)
    with open(index, "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f)
    return index


def sample_tensors(rng, bf16=True):
    """A mix like a real checkpoint: weights, a conv kernel, biases, ids, a scalar."""
    t = {
        "embed.weight": rng.standard_normal((37, 16)).astype(np.float32),
        "layer.0.dense.weight": rng.standard_normal((8, 21)).astype(np.float32) * 3,
        "layer.0.dense.bias": rng.standard_normal(8).astype(np.float32),
        "layer.0.norm.weight": np.ones(16, np.float32),
        "conv.weight": rng.standard_normal((4, 3, 2, 2)).astype(np.float32),
        "half.weight": rng.standard_normal((5, 9)).astype(np.float16),
        "double.weight": rng.standard_normal((6, 4)),
        "position_ids": np.arange(12, dtype=np.int64).reshape(1, 12),
        "mask": rng.random((3, 3)) > 0.5,
        "temperature": np.array(0.07, np.float32),
        "zero_rows.weight": np.zeros((3, 4), np.float32),
        "empty.weight": np.zeros((0, 4), np.float32),
    }
    if bf16 and ml_dtypes is not None:
        t["bf16.weight"] = rng.standard_normal((7, 10)).astype(ml_dtypes.bfloat16)
    return t


def listing(folder):
    """Every file and folder under `folder`, relative, sorted (to spot leftovers)."""
    found = []
    for root, dirs, files in os.walk(folder):
        for n in dirs + files:
            found.append(os.path.relpath(os.path.join(root, n), folder))
    return sorted(found)
