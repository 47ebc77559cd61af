"""The container for one ``.onnx`` model (see _registry for the interface).

``quantize`` writes what onnxruntime's
``quantize_dynamic(model, out, weight_type=QuantType.QInt8)`` writes with
its defaults: the same nodes in the same order, every initializer
byte-identical, so onnxruntime computes the same outputs (the graph
rewrite: _onnx_rules; the codes: int8q.quantize with onnxruntime's scales
and zero points).  Differences from quantize_dynamic's file, none in nodes
or initializers: int8q keeps the input's value_info (quantize_dynamic
stores onnx shape inference's), records itself as the producer, and adds
no metadata.

The model is parsed without its external data and its weights read one at
a time; a model whose weights live in external data is written with
external data too (``NAME.onnx.data`` beside ``NAME.onnx``), each
quantized weight written as soon as it is made and every other tensor
copied in pieces, so memory holds about one weight whatever the model's
size.  The two files appear together, only when both are complete.

``dequantize`` is not offered for ONNX.
"""

import fnmatch
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import numpy.typing as npt

from ... import __version__
from ... import dequantize as dequantize_array
from .._formats import _onnx_file as fmt
from .._policy import _convention as conv
from .._policy import _onnx_contrib as contrib
from .._policy import _onnx_conv as gemm
from .._policy import _onnx_rules as rules
from .._policy import _onnx_subgraphs as subgraphs
from .._policy._suffix import ONNX, has_suffix
from .._support._errors import FormatError
from .._support._outputs import staged
from ._container import Originals, ProgressFactory, Quantized, Row, already_quantized

NAME = "onnx"
DESCRIPTION = ONNX
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = ONNX
DATA_SUFFIX = ".data"
_ROUND_TRIP = 1024
_BYTES_OVERHEAD = sys.getsizeof(b"")
# nodes only a quantized model holds
_QUANTIZED_OPS = {"MatMulInteger", "DynamicQuantizeLinear", "DequantizeLinear", "ConvInteger"}
_QUANTIZED_OPS |= {"QAttention", "QEmbedLayerNormalization", "DynamicQuantizeLSTM"}


def claims(path: str) -> bool:
    return not os.path.isdir(path) and has_suffix(path, ONNX)


def inputs(path: str) -> list[str]:
    return [path, *fmt.external_files(fmt.load(path), path)]


def companions(src: str, dst: str) -> list[str]:
    """The files written beside `dst`: its external data file, for a
    model whose weights are external."""
    model = fmt.load(src)
    return [data_path(dst)] if _external(model) else []


def skip_names(path: str) -> list[str]:
    """What --skip patterns match: node names (quantize_dynamic's
    nodes_to_exclude), with those of the MatMul and Add a Gemm becomes."""
    graph = fmt.load(path).graph
    return [n.name for n in graph.node] + gemm.gemm_names(fmt.onnx_module(), graph)


def data_path(dst: str) -> str:
    return dst + DATA_SUFFIX


def _external(model: Any) -> bool:
    return any(fmt.is_external(t) for t in model.graph.initializer)


def settings(opts: conv.Options, src: str) -> rules.Settings:
    """quantize_dynamic's arguments for `opts` (default: its defaults, per
    tensor, QInt8; --per-tensor is that default), with --skip naming nodes
    to exclude (glob patterns)."""
    if opts.block_size is not None or opts.rounding != "half_even" or opts.all_tensors or opts.clip:
        raise FormatError(
            f"{src}: an ONNX model is quantized as onnxruntime's quantize_dynamic "
            "does; --block-size, --rounding, --all and --clip do not apply"
        )
    patterns = opts.skip
    return rules.Settings(
        weight_type=rules.UINT8 if opts.weight_type == "QUInt8" else rules.INT8,
        per_channel=opts.per_channel,
        reduce_range=opts.reduce_range,
        op_types=rules.DEFAULT_OP_TYPES if opts.op_types is None else opts.op_types,
        excluded=lambda name: any(fnmatch.fnmatchcase(name, p) for p in patterns),
    )


def quantize(src: str, dst: str, opts: conv.Options, progress: ProgressFactory) -> None:
    s = settings(opts, src)
    onnx = fmt.onnx_module()
    model = fmt.load(src, own=True)
    version = fmt.opset(model, src)
    if version < rules.MIN_OPSET:
        raise FormatError(
            f"{src}: ai.onnx opset {version}; int8q quantizes opset {rules.MIN_OPSET} "
            "and later (onnx.version_converter.convert_version converts a model)"
        )
    graph = model.graph
    # quantize_dynamic keeps onnx shape inference's value_info (and output
    # types) of the float graph; onnxruntime's graph optimizer reads them
    # (which fusions apply), so outputs are bit-identical only with the same.
    inferred = _value_info(onnx, model, src)
    subgraphs.use_inferred(graph, inferred, src)
    # Gemm becomes MatMul first, and shape inference runs again on the
    # result (keeping what the first run inferred).
    if gemm.has_gemm(onnx, graph):
        transposed = gemm.replace_gemm(onnx, graph, src, lambda t: fmt.read_any(t, src))
        inferred = _value_info(onnx, model, src, inferred)
        subgraphs.use_inferred(graph, inferred, src)
    else:
        transposed = {}
    sources = {t.name: t for t in graph.initializer}

    def load(t: Any) -> npt.NDArray[np.float32]:
        if t.name in transposed:  # B_Transposed: B's values, transposed
            x = fmt.read_float32(sources[transposed[t.name]], src)
            return np.ascontiguousarray(x.T)
        return fmt.read_float32(t, src)

    rewrite = rules.Rewrite(onnx, graph, s, load, lambda t: None, src)
    rewrite.elem_types = {
        v.name: v.type.tensor_type.elem_type
        for v in (*inferred.value_info, *inferred.output, *inferred.input)
        if v.type.HasField("tensor_type")
    }
    rewrite.opset = version
    rewrite.check()
    external = _external(model)
    with staged(dst, False) as tmp:
        data_tmp = data_path(tmp)
        with open(data_tmp, "wb") if external else _nothing() as data:
            writer = fmt.DataWriter(data, os.path.basename(data_path(dst))) if data else None
            new: list[Any] = []

            def emit(t: Any) -> None:
                if writer is not None:
                    writer.put(t)
                new.append(t)

            rewrite.emit = emit
            total = sum(fmt.nbytes(t, src) for t in graph.initializer)
            with progress(total, "quantize") as bar:
                rewrite.run()
                outer = subgraphs.clean(onnx, graph, src)  # (names subgraphs read)
                unused = [n for n in rules.unused_initializers(graph) if n not in outer]
                for t in graph.initializer:
                    if t.name in transposed and t.name not in unused:
                        gemm.fill_transposed(t, fmt.read_any(sources[transposed[t.name]], src))
                rules.drop_initializers(graph, unused)
                subgraphs.check_defined(graph, outer, src)
                if writer is None:  # (the round trip below reaches subgraphs too)
                    for g in subgraphs.subgraphs(graph):
                        for t in g.initializer:
                            if _round_trips(t):
                                t.data_location = 0
                for t in graph.initializer:
                    if writer is not None and fmt.is_external(t):
                        writer.copy(t, src)
                    elif writer is not None:
                        writer.put(t)
                    elif _round_trips(t):
                        # quantize_dynamic saves and reloads the model with
                        # onnx's external data (size_threshold 1024, on
                        # sys.getsizeof(raw_data)), which leaves these
                        # tensors' data_location set, to DEFAULT.
                        t.data_location = 0
                    bar.update(fmt.nbytes(t, src))
                graph.initializer.extend(new)
            rules.topological_sort(graph)
            contrib.add_ms_opset(model)
            graph.ClearField("value_info")
            graph.value_info.extend(inferred.value_info)
            graph.ClearField("output")
            graph.output.extend(inferred.output)
            model.producer_name, model.producer_version = "int8q", __version__
            blob = model.SerializeToString()
            if len(blob) >= 2**31:
                raise FormatError(
                    f"{src}: the quantized model would exceed protobuf's 2 GB; "
                    "give a model whose weights are in external data"
                )
            if data is not None:
                data.flush()
                os.fsync(data.fileno())
        with open(tmp, "wb") as f:
            f.write(blob)
            f.flush()
            os.fsync(f.fileno())
        if external:
            os.replace(data_tmp, data_path(dst))


def _round_trips(t: Any) -> bool:
    return bool(t.HasField("raw_data") and len(t.raw_data) + _BYTES_OVERHEAD >= _ROUND_TRIP)


def _value_info(onnx: Any, model: Any, src: str, first: Any = None) -> Any:
    """The float graph after onnx shape inference (its value_info and
    outputs), starting from `first`'s when given."""
    light = fmt.without_weights(model)
    if first is not None:
        for field in ("value_info", "output"):
            light.graph.ClearField(field)
            getattr(light.graph, field).extend(getattr(first, field))
    try:
        return onnx.shape_inference.infer_shapes(light).graph
    except Exception as exc:  # onnx's InferenceError, ValidationError...
        raise FormatError(f"{src}: onnx shape inference fails: {exc}") from None


@contextmanager
def _nothing() -> Iterator[None]:
    yield None


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    raise FormatError(
        f"{src}: int8q does not dequantize ONNX models (onnxruntime runs the quantized model)"
    )


def inspect(path: str) -> list[Row]:
    """One row per initializer, in file order: dtype the NumPy name,
    scheme "int8"/"uint8" for quantized weights (``NAME_quantized``),
    "scale" / "zero_point" for their companions, "none" for the rest."""
    model = fmt.load(path)
    names = {t.name: t for t in model.graph.initializer}
    rows: list[Row] = []
    for t in model.graph.initializer:
        dtype = fmt._DTYPES.get(t.data_type)
        shape = fmt.shape(t, path)
        scheme = "none"
        for suffix in (rules.QUANT_SUFFIX, "_scale", "_zero_point"):
            stem = t.name[: -len(suffix)]
            if t.name.endswith(suffix) and all(
                stem + s in names for s in (rules.QUANT_SUFFIX, "_scale")
            ):
                scheme = (
                    suffix.lstrip("_") if suffix != rules.QUANT_SUFFIX else str(np.dtype(dtype))
                )
        rows.append(
            {
                "file": os.path.basename(path),
                "name": t.name,
                "shape": shape,
                "dtype": str(np.dtype(dtype)) if dtype else f"type {t.data_type}",
                "scheme": "scale" if scheme == "scale" else scheme,
                "size": fmt.nbytes(t, path) if dtype else 0,
                # (the scale has the original's type: float16 or float32)
                "original_dtype": (
                    "float16"
                    if names[t.name[: -len(rules.QUANT_SUFFIX)] + "_scale"].data_type == 10
                    else "float32"
                )
                if scheme in ("int8", "uint8")
                else None,
            }
        )
    return rows


# ---- compare ----


@contextmanager
def originals(path: str) -> Iterator[Originals]:
    """A reader by name of a float ONNX model's initializers (see _registry)."""
    model = fmt.load(path)
    if any(n.op_type in _QUANTIZED_OPS for n in model.graph.node):
        raise already_quantized(path)
    tensors = {t.name: t for t in model.graph.initializer}
    # the B_Transposed that quantize_dynamic makes of a Gemm's B (transB=1)
    transposed = gemm.replace_gemm(
        fmt.onnx_module(),
        fmt.without_weights(model).graph,
        path,
        lambda t: np.zeros(0, np.float32),  # (only the main graph's names are wanted)
    )

    def read(name: str) -> npt.NDArray[Any] | None:
        if name in transposed:
            return np.ascontiguousarray(fmt.read_any(tensors[transposed[name]], path).T)
        t = tensors.get(name)
        return None if t is None else fmt.read_any(t, path)

    yield read


def quantized(path: str) -> Iterator[Quantized]:
    """Each quantized weight (``NAME_quantized`` with ``NAME_scale`` and
    ``NAME_zero_point``) under its original name: codes and
    ``(q - zero_point) * scale`` as DequantizeLinear computes it (uint8
    codes mapped as _as_int8_codes says, for compare's shares)."""
    model = fmt.load(path)
    tensors = {t.name: t for t in model.graph.initializer}
    # DynamicQuantizeLSTM's W and R: stored transposed, scales per direction (and row)
    lstm = {i for n in model.graph.node if n.op_type == "DynamicQuantizeLSTM" for i in n.input[1:3]}
    for t in model.graph.initializer:
        if not t.name.endswith(rules.QUANT_SUFFIX):
            continue
        stem = t.name[: -len(rules.QUANT_SUFFIX)]
        scale_t, zp_t = tensors.get(stem + "_scale"), tensors.get(stem + "_zero_point")
        if scale_t is None or zp_t is None or t.data_type not in (rules.INT8, rules.UINT8):
            continue
        q = _read_codes(t, path)
        scale = fmt.read_any(scale_t, path).astype(np.float32)
        zp = fmt.read_any(zp_t, path).astype(np.int32)
        # int8q.dequantize's granularities: rows (axis 0) of q viewed 2-D,
        # channels on the last axis, or one scale for all
        if t.name in lstm and q.ndim == 3 and scale.shape in ((q.shape[0],), q.shape[::2]):
            q = np.ascontiguousarray(q.transpose(0, 2, 1))
            rows, axis = q.reshape(scale.size, -1), 0
            zp_q = zp.reshape(zp.shape + (1,) * (3 - zp.ndim))  # zp broadcast over q
        elif scale.ndim == 1 and q.ndim >= 1 and scale.size == q.shape[-1]:
            rows, axis, zp_q = q, -1, zp  # per channel along the last axis (MatMul's B)
        elif scale.size == 1:
            rows, axis, zp_q = q, None, zp.reshape(())
        else:
            raise FormatError(f"{path}: {stem + '_scale'!r} does not fit {t.name!r}")
        flat = (-1,) if axis is not None else ()
        try:
            values = dequantize_array(
                rows, scale.reshape(flat), axis=axis, zero_point=zp.reshape(flat)
            ).reshape(q.shape)
        except (ValueError, TypeError) as exc:  # a NaN/inf scale, a zero point out of range
            raise FormatError(f"{path}: {stem!r}: {exc}") from None
        yield Quantized(stem, q if q.dtype == np.int8 else _as_int8_codes(q, zp_q), values)


def _as_int8_codes(q: npt.NDArray[np.uint8], zp: npt.NDArray[np.int32]) -> npt.NDArray[np.int8]:
    """uint8 codes as compare counts int8 ones: 0 where q is its zero
    point, -128 / 127 at the ends of uint8's range, 1 elsewhere."""
    shifted = np.where(q == zp, 0, 1)
    return np.where(q == 0, -128, np.where(q == 255, 127, shifted)).astype(np.int8)


def _read_codes(t: Any, path: str) -> npt.NDArray[Any]:
    if not fmt.is_external(t):
        return fmt.read_any(t, path)
    file, offset, _ = fmt.external_info(t, path)
    n = fmt.nbytes(t, path)
    if offset + n > os.path.getsize(file):
        raise FormatError(f"{path}: tensor {t.name!r}: external data lies past the end of its file")
    with open(file, "rb") as f:
        f.seek(offset)
        raw = f.read(n)
    if len(raw) != n:
        raise FormatError(f"{path}: tensor {t.name!r}: the external data file ended early")
    return np.frombuffer(raw, np.int8 if t.data_type == rules.INT8 else np.uint8).reshape(
        fmt.shape(t, path)
    )
