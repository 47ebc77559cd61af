"""Reading and writing ONNX model files, with the ``onnx`` package (an
optional extra: ``pip install 'int8q[onnx]'``), imported here only.

The model's protobuf is parsed without its external data; each tensor's
bytes are read when needed, from the model (inline) or from its external
data file (by offset and length, every one checked against the file and
the folder first), so a model of any size is read one tensor at a time.
"""

import math
import os
from typing import Any

import numpy as np
import numpy.typing as npt

from .._support._errors import FormatError
from .._support._reading import read_into

# tensors of at least this many bytes go to the external data file when one
# is written (onnx's convert_model_to_external_data size_threshold).
EXTERNAL_THRESHOLD = 1024
ALIGN = 64  # offsets in the external data file written
COPY_BYTES = 1 << 24
EXTERNAL = 1  # TensorProto.EXTERNAL
_DTYPES = {1: "<f4", 2: "u1", 3: "i1", 5: "<i2", 6: "<i4", 7: "<i8", 10: "<f2", 11: "<f8", 9: "u1"}


def onnx_module() -> Any:
    """The onnx package, or ModuleNotFoundError saying how to install it."""
    try:
        import onnx
    except ImportError:
        raise ModuleNotFoundError(
            "ONNX models need the onnx package: pip install 'int8q[onnx]'"
        ) from None
    return onnx


# The last model parsed, by (path, device, inode, size, mtime): one command
# reads the model several times (its inputs, its outputs, then the model
# itself), and parsing a large inline model takes a while.
_last: "tuple[tuple[Any, ...], Any] | None" = None


def _key(path: str) -> tuple[Any, ...]:
    st = os.stat(path)
    return (os.path.abspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def load(path: str, *, own: bool = False) -> Any:
    """The ModelProto of `path`, without its external data; FormatError for
    a file that is not one.  `own`: the caller may change it (it is then
    not kept for the next call)."""
    global _last
    key = _key(path)
    if _last is not None and _last[0] == key:
        model = _last[1]
        if own:
            _last = None
        return model
    onnx = onnx_module()
    try:
        with open(path, "rb") as f:
            data = f.read()
        model = onnx.ModelProto()
        model.ParseFromString(data)
    except OSError:
        raise
    except Exception as exc:  # protobuf's DecodeError, RuntimeWarning...
        raise FormatError(f"{path}: not an ONNX model (truncated or corrupt: {exc})") from None
    del data
    if not model.HasField("graph"):
        raise FormatError(f"{path}: not an ONNX model (no graph)")
    _check_names(model, path)
    _last = None if own else (key, model)
    return model


def _check_names(model: Any, path: str) -> None:
    """FormatError unless every name int8q reads is text: protobuf hands over
    a string field that is not valid UTF-8 as bytes, which every verb (quantize,
    inspect, compare) would trip on later."""
    g = model.graph
    names = [g.name]
    for t in g.initializer:
        names += [t.name, *(e.key for e in t.external_data), *(e.value for e in t.external_data)]
    names += [v.name for v in (*g.input, *g.output, *g.value_info)]
    for node in g.node:
        names += [node.name, node.op_type, node.domain, *node.input, *node.output]
    if not all(isinstance(n, str) for n in names):
        raise FormatError(f"{path}: a name in the graph is not valid UTF-8")


def without_weights(model: Any) -> Any:
    """A copy of `model` whose large float initializers hold no data (what
    shape inference needs of them is their type and dims; small and integer
    ones, which shapes can be computed from, are kept whole)."""
    light = onnx_module().ModelProto()
    light.ir_version = model.ir_version
    light.opset_import.extend(model.opset_import)
    light.functions.extend(model.functions)
    src, dst = model.graph, light.graph
    dst.name = src.name
    for field in ("node", "input", "output", "value_info", "sparse_initializer"):
        getattr(dst, field).extend(getattr(src, field))
    for t in src.initializer:
        if t.data_type in (1, 10, 11, 16) and t.HasField("raw_data") and len(t.raw_data) > 4096:
            shell = dst.initializer.add()
            shell.name, shell.data_type = t.name, t.data_type
            shell.dims.extend(t.dims)
        else:
            dst.initializer.add().CopyFrom(t)
    return light


def opset(model: Any, path: str) -> int:
    """The model's ai.onnx opset version."""
    versions = [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")]
    if len(versions) != 1:
        raise FormatError(f"{path}: the model imports the ai.onnx opset {len(versions)} times")
    return int(versions[0])


def is_external(t: Any) -> bool:
    return bool(t.data_location == EXTERNAL)


def external_info(t: Any, path: str) -> tuple[str, int, int | None]:
    """(file, offset, length) of an external tensor, the file checked to lie
    inside the model's folder."""
    info = {e.key: e.value for e in t.external_data}
    location = info.get("location", "")
    what = f"{path}: tensor {t.name!r}"
    if not location or os.path.isabs(location) or "\\" in location or ":" in location:
        raise FormatError(f"{what}: external data location {location!r} is not a relative path")
    folder = os.path.dirname(os.path.abspath(path))
    file = os.path.normpath(os.path.join(folder, location))
    real, real_folder = os.path.realpath(file), os.path.realpath(folder)
    if os.path.commonpath([real, real_folder]) != real_folder or ".." in location.split("/"):
        raise FormatError(f"{what}: external data location {location!r} leaves the model's folder")
    try:
        offset = int(info.get("offset", "0"))
        length = int(info["length"]) if "length" in info else None
    except ValueError:
        raise FormatError(f"{what}: external data offset or length is not a number") from None
    if offset < 0 or (length is not None and length < 0):
        raise FormatError(f"{what}: negative external data offset or length")
    return file, offset, length


def external_files(model: Any, path: str) -> list[str]:
    """The external data files the model's initializers read."""
    files = []
    for t in model.graph.initializer:
        if is_external(t):
            file = external_info(t, path)[0]
            if file not in files:
                files.append(file)
    return files


def shape(t: Any, path: str) -> tuple[int, ...]:
    dims = tuple(int(d) for d in t.dims)
    if any(d < 0 for d in dims) or len(dims) > 64:
        raise FormatError(f"{path}: tensor {t.name!r}: bad dims {list(dims)[:8]}")
    return dims


def nbytes(t: Any, path: str) -> int:
    """The bytes of a tensor's data (checked: no absurd dims)."""
    dtype = _DTYPES.get(t.data_type)
    if dtype is None:
        raise FormatError(f"{path}: tensor {t.name!r}: data type {t.data_type} int8q does not read")
    count = math.prod(shape(t, path))
    n = count * np.dtype(dtype).itemsize
    if n > 2**62:
        raise FormatError(f"{path}: tensor {t.name!r}: dims {list(t.dims)} are too large")
    return n


def read_float32(t: Any, path: str) -> npt.NDArray[np.float32]:
    """The values of a float32 (or float16, converted exactly) initializer,
    inline or external, checked against what the model or the file holds
    before anything is allocated."""
    half = t.data_type == 10
    dims = shape(t, path)
    n = nbytes(t, path)
    what = f"{path}: tensor {t.name!r}"
    if is_external(t):
        file, offset, length = external_info(t, path)
        if length is not None and length != n:
            raise FormatError(
                f"{what}: external data length {length}, expected {n} for dims {list(dims)}"
            )
        try:
            size = os.path.getsize(file)
        except OSError:
            raise FormatError(
                f"{what}: external data file {os.path.basename(file)!r} is missing"
            ) from None
        if offset + n > size:
            raise FormatError(
                f"{what}: external data at {offset}+{n} lies past the end of "
                f"{os.path.basename(file)} ({size} bytes)"
            )
        a: npt.NDArray[Any] = np.empty(dims, np.float16 if half else np.float32)
        with open(file, "rb") as f:
            f.seek(offset)
            read_into(f, a.reshape(-1).view(np.uint8), file, t.name)
        return a.astype(np.float32, copy=False)
    if t.HasField("raw_data"):
        if len(t.raw_data) != n:
            raise FormatError(
                f"{what}: {len(t.raw_data)} bytes of data, expected {n} for dims {list(dims)}"
            )
        return np.frombuffer(t.raw_data, "<f2" if half else "<f4").astype(np.float32).reshape(dims)
    if half:  # float16 bit patterns in int32_data
        if len(t.int32_data) != n // 2:
            raise FormatError(
                f"{what}: {len(t.int32_data)} values, expected {n // 2} for dims {list(dims)}"
            )
        bits = np.array(t.int32_data, np.int64).astype(np.uint16)
        return bits.view(np.float16).astype(np.float32).reshape(dims)
    if len(t.float_data) != n // 4:
        raise FormatError(
            f"{what}: {len(t.float_data)} values, expected {n // 4} for dims {list(dims)}"
        )
    return np.array(t.float_data, np.float32).reshape(dims)


def read_any(t: Any, path: str) -> npt.NDArray[Any]:
    """Any initializer's values (for compare and inspect): float32 via
    read_float32, others through onnx.numpy_helper (inline only)."""
    if t.data_type == 1:
        return read_float32(t, path)
    if is_external(t):
        raise FormatError(f"{path}: tensor {t.name!r}: external data of type {t.data_type}")
    nbytes(t, path)
    try:
        return np.asarray(onnx_module().numpy_helper.to_array(t))
    except Exception as exc:
        raise FormatError(f"{path}: tensor {t.name!r}: {exc}") from None


class DataWriter:
    """An external data file being written: tensors appended at ALIGN."""

    def __init__(self, f: Any, location: str) -> None:
        self.f, self.location, self.end = f, location, 0

    def _place(self, t: Any, offset: int, length: int) -> None:
        t.ClearField("raw_data")
        t.ClearField("external_data")
        t.data_location = EXTERNAL
        for key, value in (("location", self.location), ("offset", offset), ("length", length)):
            entry = t.external_data.add()
            entry.key, entry.value = key, str(value)

    def _start(self) -> int:
        pad = -self.end % ALIGN
        if pad:
            self.f.write(b"\0" * pad)
            self.end += pad
        return self.end

    def put(self, t: Any) -> None:
        """Move an inline tensor's raw_data into the file (small ones stay)."""
        if not t.HasField("raw_data") or len(t.raw_data) < EXTERNAL_THRESHOLD:
            return
        offset = self._start()
        self.f.write(t.raw_data)
        self.end += len(t.raw_data)
        self._place(t, offset, len(t.raw_data))

    def copy(self, t: Any, path: str) -> None:
        """Copy an external tensor's bytes from the input's data file."""
        file, offset, length = external_info(t, path)
        n = nbytes(t, path)
        if length is not None and length != n:
            raise FormatError(
                f"{path}: tensor {t.name!r}: external data length {length}, expected {n}"
            )
        if offset + n > os.path.getsize(file):
            raise FormatError(
                f"{path}: tensor {t.name!r}: external data lies past the end of its file"
            )
        start = self._start()
        buf = np.empty(min(n, COPY_BYTES), np.uint8)
        with open(file, "rb") as src:
            src.seek(offset)
            done = 0
            while done < n:
                part = buf[: min(COPY_BYTES, n - done)]
                read_into(src, part, file, t.name)
                self.f.write(part.data)
                done += len(part)
        self.end += n
        self._place(t, start, n)
