"""Sharded safetensors checkpoints: a directory of shards and its index.

The index (``model.safetensors.index.json``, as Hugging Face writes it) is
``{"metadata": {"total_size": N, ...}, "weight_map": {tensor: shard file}}``.
The output keeps the shard file names and the index name; its weight_map
also lists each scale tensor, in the shard of the tensor it scales, and
total_size counts the new data.  Other files in the directory (configs,
tokenizers) are not copied.  The container interface is described in
_registry.
"""

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .._formats import _safetensors as st
from .._policy._convention import Options
from .._policy._suffix import FOLDER, SHARDED_INDEX, check_suffix, has_suffix
from .._support._atomic import output_dir, output_file
from .._support._errors import FormatError
from .._support._limits import MAX_JSON_BYTES, check_writable, load_json, shown
from . import _checkpoint
from ._container import Originals, ProgressFactory, Quantized, Row

INDEX_SUFFIX = SHARDED_INDEX

NAME = "sharded"
DESCRIPTION = f"a sharded checkpoint directory or its *{INDEX_SUFFIX}"
OUTPUT_IS_DIR = True
OUTPUT_SUFFIX = FOLDER


def claims(path: str) -> bool:
    return os.path.isdir(path) or has_suffix(path, INDEX_SUFFIX)


def inputs(path: str) -> list[str]:
    index = find_index(path)
    return [index, os.path.dirname(os.path.abspath(index))]


def find_index(path: str) -> str:
    """The index file of a checkpoint given as its directory or its index."""
    if not os.path.isdir(path):
        return os.fspath(path)
    found = sorted(n for n in os.listdir(path) if n.endswith(INDEX_SUFFIX))
    if len(found) != 1:
        what = "none" if not found else f"{len(found)} ({', '.join(found)})"
        raise FormatError(
            f"{path}: a sharded checkpoint directory needs exactly one "
            f"*{INDEX_SUFFIX}; found {what}"
        )
    return os.path.join(path, found[0])


def _read_index(index: str) -> tuple[dict[str, Any], dict[str, str]]:
    with open(index, "rb") as f:
        # One byte past the limit is enough for load_json to refuse it.
        data = load_json(f.read(MAX_JSON_BYTES + 1), index, "index")
    weight_map = data.get("weight_map") if type(data) is dict else None
    if type(weight_map) is not dict:
        raise FormatError(f"{index}: corrupt index: no weight_map of names to shard files")
    for name, shard in weight_map.items():
        if type(shard) is not str:
            raise FormatError(
                f"{index}: weight_map[{name!r}] is {shown(shard)}; expected a shard file name"
            )
    metadata = data.get("metadata", {})
    if type(metadata) is not dict:
        raise FormatError(f"{index}: corrupt index: metadata is not an object")
    for shard in set(weight_map.values()):
        # A shard is a file beside the index, never a path elsewhere.
        if shard in ("", ".", "..") or any(c in shard for c in "/\\:\0"):
            raise FormatError(f"{index}: shard name {shard!r} is not a plain file name")
    return data, weight_map


def read_shards(
    index: str,
) -> tuple[dict[str, Any], dict[str, str], list[tuple[str, str, st.Header]]]:
    """(index dict, weight_map, [(shard name, path, header)]) with shards checked."""
    data, weight_map = _read_index(index)
    folder = os.path.dirname(os.path.abspath(index))
    # grouped once: linear in the weight_map, whatever the shard count
    by_shard: dict[str, set[str]] = {}
    for name, shard in weight_map.items():
        by_shard.setdefault(shard, set()).add(name)
    shards = []
    for shard, listed in sorted(by_shard.items()):
        path = os.path.join(folder, shard)
        if not os.path.isfile(path):
            raise FormatError(f"{index}: shard {shard!r} is missing")
        header = st.read_header(path)
        if set(header.tensors) != listed:
            extra = sorted(set(header.tensors) - listed)[:3]
            absent = sorted(listed - set(header.tensors))[:3]
            raise FormatError(
                f"{index}: index and shard {shard!r} disagree (in the shard "
                f"only: {extra}; in the index only: {absent})"
            )
        shards.append((shard, path, header))
    return data, weight_map, shards


class ShardPlan(Protocol):
    """What write_index reads of a shard's plan (_checkpoint.Plan, _hf's _Plan)."""

    @property
    def specs(self) -> list[st.Spec]: ...
    @property
    def output_bytes(self) -> int: ...


def write_index(path: str, data: dict[str, Any], plans: Sequence[tuple[str, ShardPlan]]) -> None:
    """The index for `plans` ((shard name, plan with specs and output_bytes)):
    the input index `data` with a new weight_map and total_size."""
    weight_map = {name: shard for shard, plan in plans for name, _, _ in plan.specs}
    out_index = {
        **data,
        "metadata": {
            **data.get("metadata", {}),
            "total_size": sum(p.output_bytes for _, p in plans),
        },
        "weight_map": dict(sorted(weight_map.items())),
    }
    text = json.dumps(out_index, indent=2) + "\n"
    check_writable(text, "index")
    with output_file(path) as f:
        f.write(text.encode())


def _write(
    index: str,
    dst: str,
    data: dict[str, Any],
    plans: list[tuple[str, _checkpoint.Plan]],
    progress: ProgressFactory,
    desc: str,
) -> None:
    """Run every shard's plan into a new directory `dst`, then write the index."""
    total = sum(p.input_bytes for _, p in plans)
    with progress(total, desc) as bar, output_dir(dst) as tmp:
        _checkpoint.write([(os.path.join(tmp, shard), plan) for shard, plan in plans], bar)
        write_index(os.path.join(tmp, os.path.basename(index)), data, plans)


def quantize(src: str, dst: str, opts: Options, progress: ProgressFactory) -> None:
    index = find_index(src)
    data, weight_map, shards = read_shards(index)
    plans = [
        (shard, _checkpoint.plan_quantize(path, header, opts, set(weight_map)))
        for shard, path, header in shards
    ]
    _write(index, dst, data, plans, progress, "quantize")


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    check_suffix(dst, OUTPUT_SUFFIX)
    index = find_index(src)
    data, _, shards = read_shards(index)
    plans = [(shard, _checkpoint.plan_dequantize(path, header)) for shard, path, header in shards]
    _write(index, dst, data, plans, progress, "dequantize")


def inspect(src: str) -> list[Row]:
    index = find_index(src)
    _, _, shards = read_shards(index)
    return [
        row for shard, path, header in shards for row in _checkpoint.inspect(path, header, shard)
    ]


def _files(path: str) -> list[tuple[str, st.Header]]:
    return [(file, header) for _, file, header in read_shards(find_index(path))[2]]


def originals(path: str) -> AbstractContextManager[Originals]:
    return _checkpoint.originals(path, _files(path))


def quantized(path: str) -> Iterator[Quantized]:
    return _checkpoint.quantized(_files(path))
