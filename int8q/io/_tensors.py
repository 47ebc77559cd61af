"""Tensors one at a time, for `compare`: originals by name, quantized ones
as their codes and ``q * scale``.

Each container is read with its own module's machinery (headers, int8q
metadata, compressed-tensors configs, GGUF headers), through the same
checks as `dequantize`, and one tensor at a time: memory holds the tensor
in hand, never the checkpoint.
"""

import contextlib
import zipfile
from collections.abc import Callable, Iterator
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .. import ggml
from .._shared import bf16_to_float32
from ._containers import _checkpoint, _gguf, _hf, _npz, _sharded
from ._containers._registry import container_for
from ._formats import _gguf_format as gf
from ._formats import _safetensors as st
from ._policy import _convention as conv
from ._policy import _gguf_rules as rules
from ._support._errors import FormatError
from ._support._reading import read_array

# The name a .npy's one array has in the .npz that int8q quantizes it into.
NPY_NAME = "q"


class Quantized(NamedTuple):
    """One quantized tensor: its name in the original checkpoint, its int8
    codes and ``q * scale`` (float32), both in the tensor's shape."""

    name: str
    q: npt.NDArray[np.int8]
    values: npt.NDArray[Any]


# name -> the original tensor's values, or None when the checkpoint lacks it
Originals = Callable[[str], "npt.NDArray[Any] | None"]


def _safetensors_shards(path: str, kind: str) -> list[tuple[str, st.Header]]:
    """[(file, header)] of a .safetensors file, a sharded checkpoint or a model folder."""
    if kind == "safetensors":
        return [(path, st.read_header(path))]
    if kind == "hf":
        return [(p, h) for _, p, h in _hf._Weights(path).shards]
    return [(p, h) for _, p, h in _sharded._shards(_sharded.find_index(path))[2]]


def _already_quantized(path: str) -> FormatError:
    return FormatError(
        f"{path}: quantized; give the float checkpoint it was made from first, then the quantized one"
    )


@contextlib.contextmanager
def originals(path: str) -> Iterator[Originals]:
    """A reader of the float checkpoint `path`, tensor by name."""
    kind = container_for(path).NAME
    if kind in ("safetensors", "sharded", "hf"):
        if kind == "hf" and _hf.QUANTIZATION_CONFIG in _hf._read_config(path):
            raise _already_quantized(path)
        where: dict[str, tuple[str, st.Header]] = {}
        for file, header in _safetensors_shards(path, kind):
            if conv.META_KEY in header.metadata:
                raise _already_quantized(path)
            where.update(dict.fromkeys(header.tensors, (file, header)))

        def read(name: str) -> npt.NDArray[Any] | None:
            found = where.get(name)
            return None if found is None else st.array(found[0], found[1], name)

        yield read
    elif kind == "npz":
        with _npz._zip(path) as zin:
            members = _npz._members(zin, path)
            if _npz.META_MEMBER in members:
                raise _already_quantized(path)
            yield lambda name: _npz._read(zin, members[name], path) if name in members else None
    elif kind == "npy":
        yield lambda name: _npz.open_npy(path) if name == NPY_NAME else None
    elif kind == "gguf":
        yield _gguf_reader(path)
    else:  # a registered container that compare has no reader for yet
        raise NotImplementedError(f"{path}: compare cannot read {kind} checkpoints")


def _gguf_reader(path: str) -> Originals:
    header = gf.read_header(path)
    tensors = {t.name: t for t in header.tensors}

    def read(name: str) -> npt.NDArray[Any] | None:
        t = tensors.get(name)
        if t is None:
            return None
        if t.type not in _gguf._FLOATS:
            raise FormatError(
                f"{path}: tensor {name!r} is {gf.type_name(t.type)}; the original "
                f"must hold it as F32, F16 or BF16"
            )
        with open(path, "rb") as f:
            a = read_array(
                f, header.data_start + t.offset, _gguf._FLOATS[t.type], t.shape, path, name
            )
        return bf16_to_float32(a) if t.type == _gguf.BF16 else a

    return read


def quantized(path: str) -> Iterator[Quantized]:
    """Every quantized tensor of `path`, in file order.

    FormatError for a checkpoint that holds none, or that int8q cannot
    dequantize (the same checks as `dequantize_file`).
    """
    kind = container_for(path).NAME
    if kind in ("safetensors", "sharded"):
        found = _int8q_safetensors(path, kind)
    elif kind == "hf":
        found = _compressed_tensors(path)
    elif kind == "npz":
        found = _int8q_npz(path)
    elif kind == "gguf":
        found = _q8_0(path)
    elif kind == "npy":
        raise FormatError(f"{path}: a .npy is never quantized (int8q writes .npz)")
    else:  # a registered container that compare has no reader for yet
        raise NotImplementedError(f"{path}: compare cannot read {kind} checkpoints")
    empty = True
    for tensor in found:
        empty = False
        yield tensor
    if empty:
        raise FormatError(f"{path}: holds no quantized tensor (give ORIGINAL, then QUANTIZED)")


def _int8q_safetensors(path: str, kind: str) -> Iterator[Quantized]:
    for file, header in _safetensors_shards(path, kind):
        for name, e in _checkpoint.quantized_entries(file, header).items():
            q = st.array(file, header, name)
            scale = st.array(file, header, e["scale"])
            yield Quantized(name, q, conv.dequantize(name, q, scale, e, None))


def _compressed_tensors(path: str) -> Iterator[Quantized]:
    _, _, plans = _hf.dequantize_plans(path)
    for plan in plans:
        for action, name, arg in plan.steps:
            if action == "dequantize":
                q, values = _hf.dequantized(plan, name, arg)
                yield Quantized(f"{arg[0]}.weight", q, values)


def _int8q_npz(path: str) -> Iterator[Quantized]:
    zin: zipfile.ZipFile
    with _npz._zip(path) as zin:
        members = _npz._members(zin, path)
        for name, e in _npz._metadata(zin, members, path)["tensors"].items():
            q = _npz._read(zin, members[name], path)
            scale = _npz._read(zin, members[e["scale"]], path)
            yield Quantized(name, q, conv.dequantize(name, q, scale, e, None))


def _q8_0(path: str) -> Iterator[Quantized]:
    header = gf.read_header(path)
    with open(path, "rb") as f:
        for t in header.tensors:
            if t.type != rules.Q8_0:
                continue
            rows = int(np.prod(t.shape[:-1]))
            width = t.shape[-1] // ggml.Q8_0_BLOCK * ggml.Q8_0_BYTES
            where = header.data_start + t.offset
            raw = read_array(f, where, np.uint8, (rows, width), path, t.name)
            # a block: float16 scale (2 bytes), then 32 int8 codes
            q = raw.reshape(-1, ggml.Q8_0_BYTES)[:, 2:].view(np.int8).reshape(t.shape)
            yield Quantized(t.name, q, ggml.dequantize_q8_0(raw).reshape(t.shape))
