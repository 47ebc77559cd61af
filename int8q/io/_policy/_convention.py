"""How int8q stores a quantized tensor in a checkpoint (docs/semantics.md §4).

Which tensors are quantized, with which scheme, how the scale is shaped and
named, and the metadata that lets ``dequantize`` undo it all without being
told.  Shared by every container (safetensors, .npz, .npy); the containers
only say what kind of numbers a tensor holds and in which dtype notation.
"""

import fnmatch
import json
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple, TypedDict, cast, get_args

import numpy as np
import numpy.typing as npt

from ... import dequantize as dequantize_array
from ... import quantize as quantize_array
from ..._shared import (
    MAX_BLOCK_SIZE,
    check_block_size,
    clip_option,
    find_nonfinite,
    rounding_code,
)
from ..._typing import Clip, FloatArray, Rounding, Scheme
from .._formats import _safetensors as st
from .._support._errors import FormatError
from .._support._limits import check_writable, load_json

VERSION = 1
META_KEY = "int8q"  # safetensors __metadata__ key / .npz entry stem
# How a tensor is stored: the "scheme" of its metadata entry.
STORED_SCHEMES = ("per_row", "per_tensor", "per_block")
# A model folder's --scheme values: compressed-tensors presets (_compressed_tensors).
SERVING_SCHEMES: tuple[str, ...] = get_args(Scheme)
# An ONNX model's weight types (onnxruntime's QuantType names).
WEIGHT_TYPES = ("QInt8", "QUInt8")


class Options(NamedTuple):
    """What `quantize_file` was asked for (checked by `options`)."""

    per_tensor: bool = False
    block_size: "int | None" = None
    rounding: Rounding = "half_even"
    skip: tuple[str, ...] = ()
    all_tensors: bool = False
    scheme: "str | None" = None  # a Hugging Face folder's scheme (W8A16, W8A8)
    clip: Clip = None  # "mse": per-scale clipping that minimises MSE
    # ONNX models only (quantize_dynamic's arguments of the same names)
    per_channel: bool = False
    reduce_range: bool = False
    weight_type: "str | None" = None  # "QInt8" (default) or "QUInt8"
    op_types: "tuple[str, ...] | None" = None  # None: quantize_dynamic's default


class Layout(TypedDict):
    """How a tensor was quantized: what `dequantize` needs of an Entry."""

    scheme: str
    block_size: int | None


class _EntryKeys(Layout):
    dtype: str  # the original dtype, in the container's notation
    rounding: str
    scale: str  # the scale tensor's name


class Entry(_EntryKeys, total=False):
    """The metadata of one quantized tensor (see `entry`)."""

    clip: str  # "mse" when the scales were chosen so


class Metadata(TypedDict, total=False):
    """The checked metadata (see `decode`); "container" only for a .npy source."""

    version: int
    tensors: dict[str, Entry]
    container: str


def options(
    per_tensor: bool = False,
    block_size: object = None,
    rounding: str = "half_even",
    skip: str | Iterable[str] = (),
    all_tensors: bool = False,
    scheme: str | None = None,
    clip: str | None = None,
    per_channel: bool = False,
    reduce_range: bool = False,
    weight_type: str | None = None,
    op_types: str | Iterable[str] | None = None,
) -> Options:
    """Checked Options; ValueError/TypeError before any file is touched."""
    if per_channel and (per_tensor or block_size is not None):
        raise ValueError("give per_channel, or per_tensor or block_size, not both")
    if weight_type is not None and weight_type not in WEIGHT_TYPES:
        raise ValueError(f"weight_type must be one of {WEIGHT_TYPES}, got {weight_type!r}")
    if isinstance(op_types, str):
        op_types = (op_types,)
    if op_types is not None:
        op_types = tuple(op_types)
        if not all(isinstance(o, str) and o for o in op_types):
            raise TypeError(f"op_types must be operator names (str), got {op_types!r}")
    if block_size is not None:
        block_size = check_block_size(block_size)
        if per_tensor:
            raise ValueError("give per_tensor or block_size, not both")
    rounding_code(rounding)
    if isinstance(skip, str):
        skip = (skip,)
    if scheme is not None and scheme not in SERVING_SCHEMES:
        raise ValueError(f"scheme must be one of {SERVING_SCHEMES}, got {scheme!r}")
    clip_option(clip)
    return Options(
        bool(per_tensor),
        block_size,
        cast(Rounding, rounding),  # checked above
        tuple(skip),
        bool(all_tensors),
        scheme,
        cast(Clip, clip),
        bool(per_channel),
        bool(reduce_range),
        weight_type,
        op_types,
    )


def kind(dtype: np.dtype[Any]) -> str:
    """ "float", "integer" or "other", as int8q's quantize sees a NumPy dtype.

    (Safetensors dtype names have their own table: ``_safetensors.kind``.)
    """
    if dtype.kind == "f" and dtype.itemsize <= 8:  # long double is not for int8q
        return "float"
    return "integer" if dtype.kind in "biu" else "other"


def scale_name(name: str) -> str:
    return name + "_scale"


def choose_scheme(name: str, kind: str, ndim: int, opts: Options) -> str | None:
    """The scheme for a tensor, or None to store it unchanged.

    `kind` is "float" (float16/bfloat16/float32/float64), "integer"
    (integers and bool) or "other" (never quantized: 8-bit floats, complex).
    By default floating tensors of two or more dimensions are quantized per
    row; 1-D ones (biases, norms) and integers are left alone unless
    ``all_tensors``.  A 0-d or 1-D tensor has no rows, so it falls back to
    per tensor (or per block with a block size).
    """
    if kind == "other" or any(fnmatch.fnmatchcase(name, g) for g in opts.skip):
        return None
    if not opts.all_tensors and (kind != "float" or ndim < 2):
        return None
    if opts.block_size is not None and ndim >= 1:
        return "per_block"
    if opts.per_tensor or ndim < 2:
        return "per_tensor"
    return "per_row"


def _granularity(scheme: str, block_size: int | None) -> tuple[int | None, int | None]:
    """int8q's (axis, block_size) for a scheme."""
    return {"per_row": (0, None), "per_tensor": (None, None), "per_block": (None, block_size)}[
        scheme
    ]


def scale_shape(
    scheme: str, shape: Sequence[int], block_size: int | None = None
) -> tuple[int, ...]:
    """The stored scale's shape: broadcastable against q per row and per tensor."""
    if scheme == "per_row":
        return (shape[0],) + (1,) * (len(shape) - 1)
    if scheme == "per_block":
        assert block_size is not None  # per_block always comes with one
        return tuple(shape[:-1]) + (-(-shape[-1] // block_size),)  # exact ceil
    return ()


def quantize(
    name: str,
    x: npt.NDArray[Any],
    scheme: str,
    opts: Options,
    out: npt.NDArray[np.int8] | None = None,
) -> tuple[npt.NDArray[np.integer[Any]], FloatArray]:
    """(q, stored float32 scale) of tensor `name`; ValueError names the tensor.
    `out`: where q goes (int8, x's shape, C-contiguous), or None for new memory.
    `x` may be bfloat16 bits as _safetensors.read_tensor gives them (BF16_BITS).

    Tensors whose int8q working dtype is float64 (float64, integers) are
    converted to float32 first, so the float32 scale in the file is exactly
    the scale that produced q, and ``q * scale`` is what int8q computes.
    """
    axis, block_size = _granularity(scheme, opts.block_size)
    bits = st.is_bf16_bits(x)
    if bits and opts.clip is not None:
        x, bits = st.bf16_bits_to_float32(x), False  # clipping reads x with NumPy
    original = x
    if x.dtype.kind in "biu" or (x.dtype.kind == "f" and x.dtype.itemsize > 4):
        with np.errstate(over="ignore"):  # beyond float32: inf, reported below
            x = np.asarray(x, dtype=np.float32)
    try:
        qt = quantize_array(
            x, axis=axis, block_size=block_size, rounding=opts.rounding, clip=opts.clip, out=out
        )
    except (ValueError, TypeError) as exc:
        if bits:  # NumPy cannot read the bits (to name a NaN): the same from float32 values
            return quantize(name, st.bf16_bits_to_float32(x), scheme, opts, out)
        if isinstance(exc, TypeError):
            raise
        raise ValueError(f"tensor {name!r}: {_overflow_text(original, x) or exc}") from None
    return qt.q, qt.scale.reshape(scale_shape(scheme, x.shape, opts.block_size))


def _overflow_text(original: npt.NDArray[Any], x32: npt.NDArray[Any]) -> str | None:
    """The message for a finite value of `original` that became inf in its
    float32 copy `x32`, or None when the first non-finite value was already
    NaN/inf (then int8q's own message says it)."""
    if original is x32:
        return None
    found = find_nonfinite(x32, x32.dtype)
    if found is None:
        return None
    where, _ = found
    value = original[where]
    if not np.isfinite(value):
        return None
    index = ", ".join(map(str, where))
    return (
        f"x[{index}] is {float(value)!r}, which overflows float32 (the file stores float32 "
        f"scales, so tensors are quantized from their float32 values)"
    )


def dequantize(
    name: str,
    q: npt.NDArray[Any],
    scale: npt.NDArray[Any],
    entry: Layout,
    dtype: npt.DTypeLike | None,
) -> npt.NDArray[Any]:
    """q * scale restored to `dtype` (NumPy), or float32 where `dtype` is None.

    Integer and bool originals (quantized with ``all_tensors``) are rounded
    to the nearest representable value.
    """
    scheme, block_size = entry["scheme"], entry["block_size"]
    if scheme != "per_tensor" and q.ndim == 0:
        raise FormatError(f"tensor {name!r}: a 0-d tensor cannot be {scheme}")
    expected = scale_shape(scheme, q.shape, block_size)
    if q.dtype != np.int8 or tuple(scale.shape) != expected:
        raise FormatError(
            f"tensor {name!r}: expected int8 q and a scale of shape "
            f"{expected}, found {q.dtype} q and a scale of shape {scale.shape}"
        )
    axis, block_size = _granularity(scheme, block_size)
    if scheme == "per_row":
        scale = scale.reshape(-1)  # int8q wants (rows,); the file holds (rows, 1, ...)
    dtype = None if dtype is None else np.dtype(dtype)
    integer = dtype is not None and dtype.kind in "biu"
    # int8q computes into native floats; a byte-swapped or integer original
    # is converted from that afterwards.
    direct = None if dtype is None or integer else dtype.newbyteorder("=")
    try:
        out = dequantize_array(q, scale, axis=axis, block_size=block_size, dtype=direct)
    except (ValueError, TypeError) as exc:
        raise FormatError(f"tensor {name!r}: {exc}") from None
    if integer:
        assert dtype is not None  # for mypy: `integer` implies a dtype
        np.rint(out, out=out)
        if dtype.kind != "b":
            info = np.iinfo(dtype)
            np.clip(out, info.min, info.max, out=out)
    return out if dtype is None else out.astype(dtype, copy=False)


def entry(scheme: str, opts: Options, dtype: str, scale: str) -> Entry:
    """The metadata entry for one quantized tensor."""
    e: Entry = {
        "scheme": scheme,
        "block_size": opts.block_size if scheme == "per_block" else None,
        "dtype": dtype,
        "rounding": opts.rounding,
        "scale": scale,
    }
    if opts.clip:  # (a key set apart: mypy cannot type a ** of a conditional dict)
        e["clip"] = opts.clip
    return e


def encode(entries: dict[str, Entry], **extra: str) -> str:
    """The metadata as a JSON string: version, tensors, and any `extra` keys."""
    text = json.dumps({"version": VERSION, "tensors": entries, **extra}, separators=(",", ":"))
    check_writable(text, "int8q metadata")
    return text


def decode(text: str | bytes, where: str) -> Metadata:
    """Checked metadata (a dict with "tensors": {name: entry}).

    FormatError for anything malformed or from another version.
    """
    meta = load_json(text, where, "int8q metadata")
    if type(meta) is not dict or type(meta.get("tensors")) is not dict:
        raise FormatError(f"{where}: corrupt int8q metadata")
    if type(meta.get("version")) is not int or meta["version"] != VERSION:
        raise FormatError(
            f"{where}: int8q metadata version {meta.get('version')!r}; "
            f"this int8q reads version {VERSION}"
        )
    for name, e in meta["tensors"].items():
        if isinstance(e, dict):
            e.setdefault("block_size", None)
        block = e.get("block_size") if isinstance(e, dict) else None
        if (
            not isinstance(e, dict)
            or e.get("scheme") not in STORED_SCHEMES
            or not isinstance(e.get("dtype"), str)
            or not isinstance(e.get("scale"), str)
            or (e["scheme"] == "per_block") != (type(block) is int and 1 <= block <= MAX_BLOCK_SIZE)
        ):
            raise FormatError(f"{where}: corrupt int8q metadata for tensor {name!r}")
    scales = [e["scale"] for e in meta["tensors"].values()]
    if len(set(scales)) != len(scales) or set(scales) & set(meta["tensors"]):
        raise FormatError(f"{where}: corrupt int8q metadata: scale names clash")
    return cast(Metadata, meta)  # JSON, checked above
