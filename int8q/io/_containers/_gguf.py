"""The container for one ``.gguf`` file (see _registry for the interface).

``quantize`` writes what ``llama-quantize IN OUT Q8_0`` writes (the type of
each tensor: _gguf_rules; the Q8_0 bytes: int8q.ggml, byte-identical to
ggml's quantize_row_q8_0_ref), streaming: the input is read (not mapped:
see _reading) and each tensor converted in slabs of rows straight into the
output, so memory
holds a few MiB whatever the model size.  F32, F16 and BF16 tensors are
converted; a tensor already of its target type is copied byte for byte;
any other type where llama-quantize would convert (requantizing Q4_K, say)
is refused, as llama-quantize refuses it.

Differences from llama-quantize's file, none in tensor types, shapes or
data: tensors stay in the input's order (llama-quantize sorts them by
block number, then name), and general.alignment, when the input sets it,
is honoured (llama-quantize lays the output out at 32 whatever it says).

``dequantize`` is not offered for GGUF.
"""

import math
import os
from collections.abc import Iterator
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ... import ggml
from ..._shared import bf16_to_float32, find_nonfinite, nonfinite_error
from .._formats import _gguf_format as gf
from .._policy import _convention as conv
from .._policy import _gguf_rules as rules
from .._support._atomic import output_file
from .._support._errors import FormatError
from .._support._reading import read_array
from ._container import ProgressFactory, Row

NAME = "gguf"
DESCRIPTION = ".gguf"
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = ".gguf"

F32, F16, BF16 = gf.TYPE_IDS["F32"], gf.TYPE_IDS["F16"], gf.TYPE_IDS["BF16"]
_FLOATS: dict[int, np.dtype[Any]] = {
    F32: np.dtype("<f4"),
    F16: np.dtype("<f2"),
    BF16: np.dtype("<u2"),
}
SLAB_ELEMENTS = 1 << 20  # converted at a time: 4 MiB as float32
COPY_BYTES = 1 << 24


def claims(path: str) -> bool:
    return not os.path.isdir(path) and path.lower().endswith(".gguf")


def inputs(path: str) -> list[str]:
    return [path]


def _plan(src: str, header: gf.Header) -> tuple[list[tuple[gf.Tensor, int]], list[gf.KV]]:
    """[(tensor, target type)] in file order, and the output KVs; errors before any write."""
    splits = header.value("split.count", 1)
    if not isinstance(splits, int) or splits > 1:
        raise FormatError(
            f"{src}: one part of a split GGUF; merge it first (llama-gguf-split --merge)"
        )
    arch = header.value("general.architecture")
    plan = []
    for t in header.tensors:
        target = rules.target_type(t.name, t.shape, t.type, arch)
        if target != t.type and t.type not in _FLOATS:
            raise FormatError(
                f"{src}: tensor {t.name!r} is {gf.type_name(t.type)}; int8q "
                "converts F32, F16 and BF16 tensors to Q8_0 (llama-quantize "
                "refuses to requantize too)"
            )
        plan.append((t, target))
    dropped = {rules.QUANTIZATION_VERSION[0], rules.FILE_TYPE[0], *rules.SPLIT_KEYS}
    kvs = [kv for kv in header.kvs if kv.key not in dropped]
    kvs += [gf.u32_kv(*rules.QUANTIZATION_VERSION), gf.u32_kv(*rules.FILE_TYPE)]
    return plan, kvs


def quantize(src: str, dst: str, opts: conv.Options, progress: ProgressFactory) -> None:
    if opts != conv.Options():
        raise FormatError(
            f"{src}: a GGUF is quantized to Q8_0 as llama-quantize does; "
            "--per-tensor, --block-size, --rounding, --skip and --all "
            "do not apply"
        )
    header = gf.read_header(src)
    plan, kvs = _plan(src, header)
    specs = [(t.name, t.shape, target) for t, target in plan]
    with (
        open(src, "rb") as raw,
        progress(header.file_size - header.data_start, "quantize") as bar,
        output_file(dst) as f,
    ):
        writer = gf.Writer(f, kvs, specs, header.alignment)
        for t, target in plan:
            writer.begin(t.name)
            if target == t.type:
                _copy(raw, header.data_start + t.offset, gf.nbytes(t.type, t.shape), writer)
            else:
                _convert(src, header, t, target, writer)
            writer.end()
            bar.update(gf.nbytes(t.type, t.shape))
        writer.close()


def _copy(raw: IO[bytes], offset: int, n: int, writer: gf.Writer) -> None:
    raw.seek(offset)
    while n:
        chunk = raw.read(min(n, COPY_BYTES))
        if not chunk:
            raise FormatError(f"{raw.name}: truncated while reading")
        writer.write(chunk)
        n -= len(chunk)


def _slabs(src: str, header: gf.Header, t: gf.Tensor) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    """(first row, slab): the tensor as (rows, ne[0]) in its stored dtype,
    read SLAB_ELEMENTS at a time (read, not mapped: a file truncated while
    it is converted is a FormatError, not a SIGBUS; see _reading)."""
    n = t.shape[-1]
    rows = math.prod(t.shape[:-1])
    dtype = _FLOATS[t.type]
    step = max(1, SLAB_ELEMENTS // max(1, n))
    with open(src, "rb") as f:
        for r0 in range(0, rows, step):
            count = min(step, rows - r0)
            yield (
                r0,
                read_array(
                    f,
                    header.data_start + t.offset + r0 * n * dtype.itemsize,
                    dtype,
                    (count, n),
                    src,
                    t.name,
                ),
            )


def _convert(src: str, header: gf.Header, t: gf.Tensor, target: int, writer: gf.Writer) -> None:
    for r0, slab in _slabs(src, header, t):
        # Widened to float32 here, exactly (what ggml_fp16_to_fp32_row and
        # ggml_bf16_to_fp32_row do): NumPy's float16 cast on a 4 MiB slab is
        # faster than letting int8q.ggml convert float16 in its own chunks.
        values = bf16_to_float32(slab) if t.type == BF16 else slab.astype(np.float32)
        out: npt.NDArray[Any]  # Q8_0 bytes or float16
        try:
            if target == rules.Q8_0:
                out = ggml.quantize_q8_0(values)
            else:  # F16: ggml_fp32_to_fp16_row rounds to nearest even, as NumPy does
                out = _to_float16(values)
        except ValueError as exc:
            raise _located(t, r0, values, exc) from None
        writer.write(np.ascontiguousarray(out).data)  # .data: a memoryview, for typeshed


def _to_float16(values: npt.NDArray[np.float32]) -> npt.NDArray[np.float16]:
    with np.errstate(over="ignore"):
        out = np.asarray(values, dtype="<f2")
    if not np.isfinite(out).all():
        # ggml_validate_row_data refuses an F16 row holding inf or NaN.
        raise ValueError("not finite as float16 (|x| above 65504, or NaN/inf)")
    return out


def _located(t: gf.Tensor, r0: int, values: npt.NDArray[np.float32], exc: ValueError) -> ValueError:
    """ValueError naming the tensor and, for NaN/inf, the element in the tensor's shape."""
    found = find_nonfinite(np.asarray(values, np.float32), np.dtype(np.float32))
    if found is not None:
        (row, col), value = found
        where = np.unravel_index((r0 + row) * t.shape[-1] + col, t.shape)
        exc = nonfinite_error(where, value, what=t.name)
    return ValueError(f"tensor {t.name!r}: {exc}")


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    raise FormatError(
        f"{src}: int8q does not dequantize GGUF files (llama.cpp's "
        "gguf tools and gguf-py read Q8_0)"
    )


def inspect(path: str) -> list[Row]:
    """One row per tensor, in file order: shape in NumPy order (ne reversed),
    dtype the ggml type name, scheme "q8_0" (or the type, lowercased) for
    block-quantized types, "none" for plain numbers."""
    header = gf.read_header(path)
    rows: list[Row] = []
    for t in header.tensors:
        name = gf.type_name(t.type)
        _, block, _ = gf.GGML_TYPES[t.type]
        rows.append(
            {
                "file": os.path.basename(path),
                "name": t.name,
                "shape": t.shape,
                "dtype": name,
                "scheme": name.lower() if block > 1 else "none",
                "size": gf.nbytes(t.type, t.shape),
                "original_dtype": None,
            }
        )
    return rows
