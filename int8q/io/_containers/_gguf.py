"""The container for one ``.gguf`` file (see _registry for the interface).

``quantize`` writes what ``llama-quantize IN OUT Q8_0`` writes (the type of
each tensor: _gguf_rules; the Q8_0 bytes: int8q.ggml, byte-identical to
ggml's quantize_row_q8_0_ref), streaming: the input is read (not mapped:
see _reading) in slabs of rows, each converted and written straight into
the output, through _pipeline (the next slabs are read while one is
converted and earlier ones are written), so memory holds at most the
pipeline's budget whatever the model size.  F32, F16 and BF16 tensors are
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
from contextlib import contextmanager
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from ... import ggml
from ..._shared import bf16_to_float32, find_nonfinite, nonfinite_error
from .._formats import _gguf_format as gf
from .._policy import _convention as conv
from .._policy import _gguf_rules as rules
from .._policy._suffix import GGUF, has_suffix
from .._support import _pipeline
from .._support._atomic import output_file
from .._support._errors import FormatError
from .._support._reading import read_array
from ._container import Originals, ProgressFactory, Quantized, Row

NAME = "gguf"
DESCRIPTION = GGUF
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = GGUF

F32, F16, BF16 = gf.TYPE_IDS["F32"], gf.TYPE_IDS["F16"], gf.TYPE_IDS["BF16"]
_FLOATS: dict[int, np.dtype[Any]] = {
    F32: np.dtype("<f4"),
    F16: np.dtype("<f2"),
    BF16: np.dtype("<u2"),
}
SLAB_ELEMENTS = 1 << 20  # converted at a time: 4 MiB as float32
COPY_BYTES = 1 << 24


def claims(path: str) -> bool:
    return not os.path.isdir(path) and has_suffix(path, GGUF)


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
        writeback = _pipeline.Writeback(f.fileno())

        def load(piece: _Piece) -> npt.NDArray[Any]:
            t = piece.tensor
            if piece.convert:
                shape = (piece.length, t.shape[-1])
                return read_array(raw, piece.offset, _FLOATS[t.type], shape, src, t.name)
            return read_array(raw, piece.offset, np.uint8, (piece.length,), src, t.name)

        def work(piece: _Piece, data: npt.NDArray[Any]) -> npt.NDArray[Any]:
            if piece.convert:
                data = _convert(piece.tensor, piece.target, piece.row, data)
            if piece.last:
                bar.update(gf.nbytes(piece.tensor.type, piece.tensor.shape))
            return data

        def store(piece: _Piece, data: npt.NDArray[Any]) -> None:
            if piece.first:
                writer.begin(piece.tensor.name)
            writer.write(data.data)  # .data: a memoryview, for typeshed
            writeback.wrote(data.nbytes)
            if piece.last:
                writer.end()

        _pipeline.run(_pieces(header, plan), load, work, store, lambda piece: piece.charge)
        writer.close()


class _Piece(NamedTuple):
    """Part of a tensor: rows to convert from `offset`, or bytes to copy."""

    tensor: gf.Tensor
    target: int
    convert: bool
    offset: int  # in the input file
    row: int  # convert: the first row
    length: int  # convert: rows; copy: bytes
    first: bool
    last: bool
    charge: int  # bytes the pipeline counts it for


def _pieces(header: gf.Header, plan: list[tuple[gf.Tensor, int]]) -> list[_Piece]:
    """Every tensor of `plan` as pieces, in file order: slabs of about
    SLAB_ELEMENTS to convert (read, not mapped: a file truncated while it is
    converted is a FormatError, not a SIGBUS; see _reading), COPY_BYTES to
    copy."""
    pieces = []
    for t, target in plan:
        start = header.data_start + t.offset
        if target == t.type or not math.prod(t.shape):  # (nothing to convert: write nothing)
            n = gf.nbytes(t.type, t.shape)
            cuts = [(at, min(COPY_BYTES, n - at)) for at in range(0, n, COPY_BYTES)] or [(0, 0)]
            for at, count in cuts:
                first, last = at == 0, at + count == n
                pieces.append(_Piece(t, target, False, start + at, 0, count, first, last, count))
            continue
        n = t.shape[-1]
        rows = math.prod(t.shape[:-1])
        itemsize = _FLOATS[t.type].itemsize
        step = max(1, SLAB_ELEMENTS // max(1, n))
        for r0 in range(0, rows, step):
            count = min(step, rows - r0)
            # the slab, its float32 copy and what it becomes
            charge = count * n * (itemsize + 4 + 2)
            first, last = r0 == 0, r0 + count >= rows
            offset = start + r0 * n * itemsize
            pieces.append(_Piece(t, target, True, offset, r0, count, first, last, charge))
    return pieces


def _convert(t: gf.Tensor, target: int, r0: int, slab: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """The bytes of rows r0... of `t`, from their stored values `slab`."""
    # float16 and float32 go to the kernels as they are (they widen float16
    # exactly, as ggml_fp16_to_fp32_row does, and 6x faster than NumPy's
    # cast); bfloat16 is widened here (ggml_bf16_to_fp32_row), exactly.
    values = bf16_to_float32(slab) if t.type == BF16 else slab
    out: npt.NDArray[Any]  # Q8_0 bytes or float16
    try:
        if target == rules.Q8_0:
            out = ggml.quantize_q8_0(values)
        else:  # F16: ggml_fp32_to_fp16_row rounds to nearest even, as NumPy does
            out = _to_float16(values.astype(np.float32, copy=False))
    except ValueError as exc:
        raise _located(t, r0, values, exc) from None
    return np.ascontiguousarray(out)


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


# ---- compare ----


@contextmanager
def originals(path: str) -> Iterator[Originals]:
    """A reader by name of a float GGUF's tensors (see _registry): F32,
    F16 and BF16 (widened to float32); FormatError for any other type."""
    header = gf.read_header(path)
    tensors = {t.name: t for t in header.tensors}

    def read(name: str) -> npt.NDArray[Any] | None:
        t = tensors.get(name)
        if t is None:
            return None
        if t.type not in _FLOATS:
            raise FormatError(
                f"{path}: tensor {name!r} is {gf.type_name(t.type)}; the original "
                f"must hold it as F32, F16 or BF16"
            )
        with open(path, "rb") as f:
            a = read_array(f, header.data_start + t.offset, _FLOATS[t.type], t.shape, path, name)
        return bf16_to_float32(a) if t.type == BF16 else a

    yield read


def quantized(path: str) -> Iterator[Quantized]:
    """The Q8_0 tensors of `path`, one at a time (see _registry): codes and
    values as ggml dequantizes them."""
    header = gf.read_header(path)
    # a block: its float16 scale, then Q8_0_BLOCK int8 codes
    scale_bytes = ggml.Q8_0_BYTES - ggml.Q8_0_BLOCK
    with open(path, "rb") as f:
        for t in header.tensors:
            if t.type != rules.Q8_0:
                continue
            rows = math.prod(t.shape[:-1])
            width = t.shape[-1] // ggml.Q8_0_BLOCK * ggml.Q8_0_BYTES
            where = header.data_start + t.offset
            raw = read_array(f, where, np.uint8, (rows, width), path, t.name)
            blocks = raw.reshape(-1, ggml.Q8_0_BYTES)
            q = blocks[:, scale_bytes:].view(np.int8).reshape(t.shape)
            yield Quantized(t.name, q, ggml.dequantize_q8_0(raw).reshape(t.shape))
