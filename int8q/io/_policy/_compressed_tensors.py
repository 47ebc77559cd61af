"""The compressed-tensors checkpoint format: what vLLM and transformers load.

A Hugging Face model folder quantized in this format keeps its float
tensors and, for each quantized linear layer ``M`` (weight ``M.weight``),
stores the tensors below; ``config.json`` carries a ``quantization_config``
(``quant_method: "compressed-tensors"``) that says which scheme they follow.
This module holds the rules of the format; `_hf` moves the files.

Sources (the compressed-tensors package, vllm-project/compressed-tensors):

- ``quantization/quant_scheme.py``: the presets.  ``W8A16``: weights int8,
  symmetric, static (the preset uses groups of 128; int8q writes one scale
  per output channel unless given a group size, which vLLM loads the same
  way).  ``INT8_W8A8`` (llm-compressor's "W8A8"): weights int8 per channel,
  symmetric, static; input activations int8 per token, symmetric, dynamic.
- ``compressors/format.py`` (``infer_module_format``): weight-only int
  schemes are stored ``pack-quantized``, schemes with int activations
  ``int-quantized``.
- ``compressors/pack_quantized/base.py`` (``PackedQuantizationCompressor``):
  ``M.weight_packed`` int32 (``pack_to_int32`` in ``helpers.py``),
  ``M.weight_scale``, ``M.weight_shape`` (int64, the unpacked shape).
- ``compressors/naive_quantized/base.py`` (``IntQuantizationCompressor``):
  ``M.weight`` int8 and ``M.weight_scale``.
- ``quantization/lifecycle/initialize.py``: scale shapes, ``(out, 1)`` per
  channel, ``(out, ceil(in / G))`` per group, ``(1,)`` per tensor.

vLLM (``model_executor/layers/quantization/compressed_tensors/
compressed_tensors.py``, ``_get_scheme_from_parts``) then loads
``pack-quantized`` with static symmetric channel or group int8 weights and
no activation quantization (``_is_wNa16_group_channel``) with
``CompressedTensorsWNA16``, and ``int-quantized`` with static symmetric
tensor or channel weights and dynamic per-token activations
(``_is_dynamic_token_w8a8``) with ``CompressedTensorsW8A8Int8``.  Every
combination int8q writes is one of these two; the others are refused.
vLLM builds ``lm_head`` as a ``ParallelLMHead``, which the ``Linear`` target
does not reach, and then finds no parameter for an int8 ``lm_head``'s
tensors ("no module or parameter named 'lm_head.weight_scale'"); so ``W8A8``
refuses ``--all``.

Scales are stored in float32, the scale int8q computed q with, so that
``q * scale`` is exactly int8q's dequantization.  That is the dtype vLLM's
``CompressedTensorsW8A8Int8`` keeps its weight scales in; transformers and
vLLM's ``CompressedTensorsWNA16`` convert scales to the model's dtype when
they load them (as they would any stored dtype), so for float32 models the
loaded weights are ``q * scale`` bit for bit.
"""

import fnmatch
import math
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from ..._shared import MAX_BLOCK_SIZE
from ..._typing import Int8Array
from .._formats._safetensors import Spec
from .._support._errors import FormatError
from ._convention import SERVING_SCHEMES as SCHEMES
from ._convention import Options

QUANT_METHOD = "compressed-tensors"
DEFAULT_SCHEME = "W8A16"
PACKED, INT = "pack-quantized", "int-quantized"
FORMAT = {"W8A16": PACKED, "W8A8": INT}
ENGINE_CLASS = {"W8A16": "CompressedTensorsWNA16", "W8A8": "CompressedTensorsW8A8Int8"}

# The names a module's tensors take in each format (compressors above).
WEIGHT, PACKED_WEIGHT, SCALE, SHAPE = "weight", "weight_packed", "weight_scale", "weight_shape"

# Which 2-D ``*.weight`` tensors are not linear layers, told by name (a
# checkpoint carries no module types).  Embeddings and norms are never
# nn.Linear, so the "Linear" target of the config never reaches them;
# ``lm_head`` is left in float unless asked, as llm-compressor's recipes do.
NOT_LINEAR = re.compile(
    r"(embed|(^|\.)(wte|wpe|shared)($|\.)|norm|(^|\.)ln_|relative_attention_bias)", re.IGNORECASE
)
LM_HEAD = "lm_head"


def module_of(name: str) -> str:
    """``"a.b.weight"`` -> ``"a.b"``."""
    return name[: -len(".weight")]


def is_linear_weight(name: str, kind: str, shape: Sequence[int]) -> bool:
    """Whether tensor `name` is the weight of a linear layer (not lm_head).

    `kind` is "float", "integer" or "other" as the containers tell it.
    """
    return (
        kind == "float"
        and len(shape) == 2
        and name.endswith(".weight")
        and not NOT_LINEAR.search(module_of(name))
        and module_of(name).rsplit(".", 1)[-1] != LM_HEAD
    )


def is_lm_head(name: str, kind: str, shape: Sequence[int]) -> bool:
    return (
        kind == "float"
        and len(shape) == 2
        and name.endswith(".weight")
        and module_of(name).rsplit(".", 1)[-1] == LM_HEAD
    )


def skipped(name: str, opts: Options) -> bool:
    return any(fnmatch.fnmatchcase(name, g) for g in opts.skip)


def strategy(scheme: str, opts: Options) -> tuple[str, int | None, str]:
    """(compressed-tensors strategy, group size, int8q scheme) for `opts`.

    ValueError for a combination that the engine class of `scheme` cannot
    load (see the module docstring).
    """
    if scheme not in SCHEMES:
        raise ValueError(f"scheme must be one of {SCHEMES}, got {scheme!r}")
    if opts.all_tensors and scheme == "W8A8":
        raise ValueError(
            "W8A8 keeps lm_head in float: vLLM loads no int8 lm_head "
            "(CompressedTensorsW8A8Int8 quantizes linear layers only); --all is for W8A16"
        )
    if opts.block_size is not None:
        if scheme == "W8A8":
            raise ValueError(
                "W8A8 takes one weight scale per channel or per tensor "
                "(vLLM's CompressedTensorsW8A8Int8); --block-size is for W8A16"
            )
        return "group", opts.block_size, "per_block"
    if opts.per_tensor:
        if scheme == "W8A16":
            raise ValueError(
                "W8A16 takes one weight scale per channel or per group "
                "(vLLM's CompressedTensorsWNA16); --per-tensor is for W8A8"
            )
        return "tensor", None, "per_tensor"
    return "channel", None, "per_row"


def check_shape(name: str, shape: Sequence[int], group_size: int | None) -> None:
    """A group must divide the input width (vLLM's kernels and compressed-tensors'
    strict group rule); say which tensor does not fit."""
    if group_size is not None and shape[1] % group_size:
        raise FormatError(
            f"tensor {name!r}: {shape[1]} input columns are not a multiple of "
            f"--block-size {group_size} (leave it out with --skip)"
        )


def output_specs(
    module: str, shape: tuple[int, ...], scheme: str, strategy_: str, group_size: int | None
) -> list[Spec]:
    """[(name, safetensors dtype, shape)] that a quantized module is stored as."""
    rows, cols = shape
    scale_shape: tuple[int, ...]
    if strategy_ == "tensor":
        scale_shape = (1,)
    elif strategy_ == "group":
        assert group_size is not None  # strategy() gives "group" with its size
        scale_shape = (rows, math.ceil(cols / group_size))
    else:
        scale_shape = (rows, 1)
    scale = (f"{module}.{SCALE}", "F32", scale_shape)
    if scheme == "W8A8":
        return [(f"{module}.{WEIGHT}", "I8", shape), scale]
    return [
        (f"{module}.{PACKED_WEIGHT}", "I32", (rows, math.ceil(cols / 4))),
        scale,
        (f"{module}.{SHAPE}", "I64", (2,)),
    ]


def pack(q: npt.NDArray[np.integer[Any]], reuse: bool = False) -> npt.NDArray[np.int32]:
    """int8 (rows, cols) -> int32 (rows, ceil(cols / 4)), as compressed-tensors'
    ``pack_to_int32(q, num_bits=8)``; with `reuse`, q's own memory becomes
    the words where rows are whole words (cols a multiple of 4).

    That function adds the offset ``1 << (num_bits - 1)`` = 128 (so values
    are 1..255), then puts element ``i`` of a row at bits ``8 * i`` of the
    row's bit string: byte ``i % 4`` (little-endian) of int32 word ``i // 4``;
    missing elements of the last word are 0.  ``q + 128`` on an int8 is its
    bit pattern with the top bit flipped, so the words are the bytes
    ``q ^ 0x80`` read as little-endian int32.
    """
    rows, cols = q.shape
    if reuse and cols % 4 == 0 and q.flags.c_contiguous and q.flags.writeable:
        words = q.view(np.uint8)
        np.bitwise_xor(words, np.uint8(0x80), out=words)
        return words.view("<i4")
    out = np.zeros((rows, 4 * math.ceil(cols / 4)), np.uint8)
    np.bitwise_xor(q.view(np.uint8), np.uint8(0x80), out=out[:, :cols])
    return out.view("<i4")


# Rows unpacked at a time for bit widths other than 8: bounds temporaries
# (8 bytes per packed bit) to a few MiB whatever the tensor.
_ROWS_BYTES = 1 << 20


def unpack(packed: npt.NDArray[Any], shape: Sequence[int], num_bits: int) -> Int8Array:
    """int32 words -> int8 of `shape`: the inverse of ``pack_to_int32``.

    Any ``num_bits`` in 1..8 (llm-compressor writes 4-bit W4A16 this way):
    element ``i`` of a row is bits ``num_bits * i`` onwards of the row's
    little-endian bit string, minus ``1 << (num_bits - 1)``.
    """
    rows, cols = (int(d) for d in shape)
    words = math.ceil(cols * num_bits / 32)
    if packed.shape != (rows, words) or packed.dtype.kind not in "iu" or packed.itemsize != 4:
        raise FormatError(
            f"packed weight of shape {packed.shape} ({packed.dtype}) does not "
            f"hold {rows} x {cols} values of {num_bits} bits"
        )
    raw = np.ascontiguousarray(packed).astype("<i4", copy=False).view(np.uint8)
    if num_bits == 8:
        q: Int8Array = np.bitwise_xor(raw[:, :cols], np.uint8(0x80)).view(np.int8)
        return q  # (typed: NumPy's ufunc stubs give Any here)
    out = np.empty((rows, cols), np.int8)
    step = max(1, _ROWS_BYTES // max(1, raw.shape[1] * 8))
    offset = 1 << (num_bits - 1)
    for r in range(0, rows, step):
        bits = np.unpackbits(raw[r : r + step], axis=1, bitorder="little")
        bits = bits[:, : cols * num_bits].reshape(-1, cols, num_bits)
        values = np.packbits(bits, axis=2, bitorder="little")[:, :, 0]
        out[r : r + step] = (values.astype(np.int16) - offset).astype(np.int8)
    return out


def _args(
    strategy_: str | None, group_size: int | None, *, dynamic: bool = False, token: bool = False
) -> dict[str, object]:
    args: dict[str, object] = {
        "num_bits": 8,
        "type": "int",
        "symmetric": True,
        "strategy": "token" if token else strategy_,
        "dynamic": dynamic,
    }
    if strategy_ == "group" and not token:
        args["group_size"] = group_size
    return args


def quantization_config(
    scheme: str, strategy_: str, group_size: int | None, ignore: set[str]
) -> dict[str, object]:
    """The ``quantization_config`` of config.json for what int8q wrote.

    One config group targeting the class ``Linear`` (as llm-compressor writes
    it), the modules left in float that such a target could reach in
    `ignore`, status ``compressed`` (the tensors are stored quantized).
    """
    group = {
        "targets": ["Linear"],
        "weights": _args(strategy_, group_size),
        "input_activations": None,
        "output_activations": None,
        "format": FORMAT[scheme],
    }
    if scheme == "W8A8":
        group["input_activations"] = _args(None, None, dynamic=True, token=True)
    return {
        "quant_method": QUANT_METHOD,
        "format": FORMAT[scheme],
        "quantization_status": "compressed",
        "config_groups": {"group_0": group},
        "ignore": sorted(ignore),
        "kv_cache_scheme": None,
        "global_compression_ratio": None,
    }


# ---- reading a quantization_config (int8q's or another tool's) ----

READABLE_FORMATS = (PACKED, INT, "naive-quantized")


class WeightArgs:
    """What dequantizing one module needs: format, bits, strategy, group size."""

    __slots__ = ("format", "num_bits", "strategy", "group_size", "scheme")

    format: str
    num_bits: int
    strategy: str
    group_size: int | None
    scheme: str

    def __init__(
        self, fmt: str, num_bits: int, strategy_: str, group_size: int | None, scheme: str
    ) -> None:
        self.format, self.num_bits, self.strategy = fmt, num_bits, strategy_
        self.group_size, self.scheme = group_size, scheme

    def key(self) -> tuple[str, int, str, int | None]:
        return (self.format, self.num_bits, self.strategy, self.group_size)


def _group_args(
    where: str, group_name: str, group: object, default_format: Any
) -> WeightArgs | None:  # (JSON values, checked here)
    if not isinstance(group, dict):
        raise FormatError(
            f"{where}: config group {group_name!r} is not an object (preset names are not read)"
        )
    fmt = group.get("format") or default_format
    weights = group.get("weights")
    if not isinstance(weights, dict):
        return None  # activations or KV cache only: no weights to restore
    bits, kind = weights.get("num_bits", 8), weights.get("type", "int")
    strategy_, group_size = weights.get("strategy"), weights.get("group_size")
    unsupported = None
    if fmt not in READABLE_FORMATS:
        unsupported = f"format {fmt!r}"
    elif kind != "int" or not isinstance(bits, int) or not 1 <= bits <= 8:
        unsupported = f"{bits}-bit {kind} weights"
    elif fmt != PACKED and bits != 8:
        unsupported = f"{bits}-bit weights in format {fmt!r}"
    elif weights.get("symmetric", True) is not True:
        unsupported = "asymmetric weights (zero points)"
    elif weights.get("actorder") not in (None, False, "weight", "static"):
        unsupported = f"activation ordering {weights.get('actorder')!r}"
    elif strategy_ not in ("tensor", "channel", "group"):
        unsupported = f"weight strategy {strategy_!r}"
    elif strategy_ == "group" and (
        type(group_size) is not int or not 1 <= group_size <= MAX_BLOCK_SIZE
    ):
        unsupported = f"group size {group_size!r}"
    if unsupported:
        raise FormatError(
            f"{where}: config group {group_name!r} has {unsupported}; int8q "
            f"restores symmetric int weights in formats {READABLE_FORMATS}"
        )
    assert isinstance(strategy_, str)  # for mypy: one of the three checked above
    acts = group.get("input_activations")
    act_bits = acts.get("num_bits", 8) if isinstance(acts, dict) else 16
    return WeightArgs(
        fmt, bits, strategy_, group_size if strategy_ == "group" else None, f"W{bits}A{act_bits}"
    )


def read_config(where: str, qc: object) -> list[tuple[list[str], WeightArgs]]:
    """[(targets, WeightArgs)] from a ``quantization_config``; FormatError
    when it is not compressed-tensors, not compressed, or not restorable."""
    if not isinstance(qc, dict) or qc.get("quant_method") != QUANT_METHOD:
        method = qc.get("quant_method") if isinstance(qc, dict) else None
        raise FormatError(
            f"{where}: quantization_config is not compressed-tensors (quant_method {method!r})"
        )
    if qc.get("quantization_status") != "compressed":
        raise FormatError(
            f"{where}: quantization_status is "
            f"{qc.get('quantization_status')!r}: the weights are not stored "
            f"quantized"
        )
    if qc.get("sparsity_config") or qc.get("transform_config"):
        raise FormatError(f"{where}: sparsity and transforms are not supported")
    groups = qc.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        raise FormatError(f"{where}: quantization_config has no config_groups")
    found = []
    for name, group in groups.items():
        args = _group_args(where, name, group, qc.get("format"))
        if args is not None:
            targets = group.get("targets") or []
            found.append(([t for t in targets if isinstance(t, str)], args))
    return found


def _matches(target: str, module: str) -> bool:
    if target.startswith("re:"):
        return re.match(target[3:], module) is not None
    return target == module


def args_for(where: str, module: str, groups: list[tuple[list[str], WeightArgs]]) -> WeightArgs:
    """The WeightArgs of `module`: the only kind the config has, or the group
    whose name or regex targets match it."""
    distinct = {args.key(): args for _, args in groups}
    if len(distinct) == 1:
        return next(iter(distinct.values()))
    named = {
        args.key(): args for targets, args in groups if any(_matches(t, module) for t in targets)
    }
    if len(named) == 1:
        return next(iter(named.values()))
    raise FormatError(
        f"{where}: cannot tell which config group quantized {module!r} "
        f"(groups differ and target layer classes, not names)"
    )


def scale_layout(args: WeightArgs) -> tuple[str, int | None]:
    """int8q's (scheme, block size) for a module's weight scale."""
    if args.strategy == "tensor":
        return "per_tensor", None
    if args.strategy == "group":
        return "per_block", args.group_size
    return "per_row", None
