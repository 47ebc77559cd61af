"""Hugging Face model folders, quantized into compressed-tensors format.

A folder holding ``config.json`` beside its weights (one ``*.safetensors``
file, or shards listed by one ``*.safetensors.index.json``) is quantized
into a complete folder that transformers and vLLM load as they are
(docs/guide/huggingface.md): every other file copied, the
linear layers' weights stored as `_compressed_tensors` says, the
shard files and index names kept, and ``config.json`` given the
``quantization_config`` that describes exactly what was written.  Unlike a
single ``.safetensors`` file, nothing int8q-specific is recorded: the
config is the only description, so `dequantize` also restores folders
written by compressed-tensors / llm-compressor.

Streaming as for the other containers (_safetensors_jobs: shards read,
converted and written at once, in slabs of rows, in bounded memory), every
shard planned (and every check made) before anything is written, and the
whole output folder built beside its target and renamed into place.
"""

import json
import os
from collections.abc import Iterator
from contextlib import AbstractContextManager
from typing import IO, Any

import numpy as np
import numpy.typing as npt

from .._formats import _safetensors as st
from .._policy import _compressed_tensors as ct
from .._policy import _convention as conv
from .._policy._suffix import FOLDER, SAFETENSORS, check_suffix
from .._support import _pipeline
from .._support._atomic import output_dir, output_file
from .._support._errors import FormatError
from .._support._limits import MAX_JSON_BYTES, load_json, shown
from . import _checkpoint, _sharded
from ._container import Originals, ProgressFactory, Quantized, Row, already_quantized
from ._model_files import copy_files, other_files
from ._safetensors_jobs import ByRows, Compute, Job, Outputs, Read, Rows, never
from ._safetensors_jobs import write as write_jobs

NAME = "hf"
DESCRIPTION = "a Hugging Face model folder (config.json beside its .safetensors)"
OUTPUT_IS_DIR = True
OUTPUT_SUFFIX = FOLDER
SCHEMES = conv.SERVING_SCHEMES  # the --scheme values this container takes
CONFIG = "config.json"
QUANTIZATION_CONFIG = "quantization_config"
# transformers names the model's float dtype "torch_dtype" (v4) or "dtype" (v5).
_DTYPE_KEYS = ("dtype", "torch_dtype")
_DTYPES = {"float32": "F32", "float16": "F16", "bfloat16": "BF16", "float64": "F64"}


def claims(path: str) -> bool:
    """A directory holding config.json (checked before the plain sharded folder)."""
    return os.path.isdir(path) and os.path.isfile(os.path.join(path, CONFIG))


def inputs(path: str) -> list[str]:
    return [os.fspath(path)]


def _read_config(folder: str) -> dict[str, Any]:
    path = os.path.join(folder, CONFIG)
    with open(path, "rb") as f:
        # One byte past the limit is enough for load_json to refuse it.
        config = load_json(f.read(MAX_JSON_BYTES + 1), path, "JSON")
    if not isinstance(config, dict):
        raise FormatError(f"{path}: not a JSON object")
    # Checked here, for every verb: a value of the wrong type would otherwise
    # pass quantize and fail only when the output is read.
    for key in _DTYPE_KEYS:
        if not isinstance(config.get(key, ""), str | None):
            raise FormatError(
                f'{path}: {key} is {shown(config[key])}; expected a dtype name such as "bfloat16"'
            )
    if not isinstance(config.get(QUANTIZATION_CONFIG, {}), dict):
        raise FormatError(
            f"{path}: {QUANTIZATION_CONFIG} is {shown(config[QUANTIZATION_CONFIG])}; "
            f"expected an object"
        )
    return config


class _Weights:
    """The safetensors files of a folder: shards (name, path, header) and the index."""

    index: str | None
    index_data: dict[str, Any] | None
    weight_map: dict[str, str]
    shards: list[tuple[str, str, st.Header]]

    def __init__(self, folder: str) -> None:
        indexes = sorted(n for n in os.listdir(folder) if n.endswith(_sharded.INDEX_SUFFIX))
        if len(indexes) > 1:
            raise FormatError(
                f"{folder}: {len(indexes)} *{_sharded.INDEX_SUFFIX} files "
                f"({', '.join(indexes)}); a model folder has at most one"
            )
        files = sorted(
            n
            for n in os.listdir(folder)
            if n.endswith(SAFETENSORS) and os.path.isfile(os.path.join(folder, n))
        )
        if indexes:
            self.index = os.path.join(folder, indexes[0])
            self.index_data, self.weight_map, self.shards = _sharded.read_shards(self.index)
            # A .safetensors beside the index would be copied as it is, and
            # transformers could load it (float) under the quantized config.
            stray = sorted(set(files) - {shard for shard, _, _ in self.shards})
            if stray:
                raise FormatError(
                    f"{folder}: {', '.join(stray)} is not in {indexes[0]}; "
                    f"a model folder has one set of weights"
                )
            return
        if len(files) != 1:
            what = "none" if not files else f"{len(files)} ({', '.join(files)}) and no index"
            raise FormatError(
                f"{folder}: a model folder needs one .safetensors file or a "
                f"*{_sharded.INDEX_SUFFIX}; found {what}"
            )
        path = os.path.join(folder, files[0])
        header = st.read_header(path)
        self.index = self.index_data = None
        self.weight_map = dict.fromkeys(header.tensors, files[0])
        self.shards = [(files[0], path, header)]

    def names(self) -> set[str]:
        """Files the output replaces rather than copies."""
        return {s for s, _, _ in self.shards} | (
            {os.path.basename(self.index)} if self.index else set()
        )


class _Plan:
    """One output shard: its specs (for the writer) and its steps (data order)."""

    specs: list[st.Spec]
    # (action, name, arg): arg is None ("copy"), or what write_tensor takes.
    steps: list[tuple[str, str, Any]]

    def __init__(self, shard: str, path: str, header: st.Header) -> None:
        self.shard, self.path, self.header = shard, path, header
        self.specs, self.steps = [], []

    @property
    def input_bytes(self) -> int:
        return self.header.data_bytes

    @property
    def output_bytes(self) -> int:
        return st.specs_bytes(self.specs)

    def copy(self, name: str) -> None:
        info = self.header.tensors[name]
        self.specs.append((name, info.dtype, info.shape))
        self.steps.append(("copy", name, None))


# ---- quantize ----


def quantize(src: str, dst: str, opts: conv.Options, progress_factory: ProgressFactory) -> None:
    """Quantize model folder `src` into the new folder `dst` (see the module doc)."""
    scheme = opts.scheme or ct.DEFAULT_SCHEME
    strategy, group_size, int8q_scheme = ct.strategy(scheme, opts)
    config = _read_config(src)
    if QUANTIZATION_CONFIG in config:
        method = config[QUANTIZATION_CONFIG]
        method = method.get("quant_method") if isinstance(method, dict) else method
        raise FormatError(
            f"{src}: already quantized ({CONFIG} has a quantization_config, "
            f"quant_method {method!r})"
        )
    weights = _Weights(src)
    taken = set(weights.weight_map)
    plans, ignore, quantized = [], set(), set()
    for shard, path, header in weights.shards:
        plan = _Plan(shard, path, header)
        for name, info in header.tensors.items():
            kind = st.kind(info.dtype)
            linear = ct.is_linear_weight(name, kind, info.shape)
            lm_head = ct.is_lm_head(name, kind, info.shape)
            if not (linear or lm_head and opts.all_tensors) or ct.skipped(name, opts):
                if linear or lm_head:
                    ignore.add(ct.module_of(name))  # a Linear layer left in float
                plan.copy(name)
                continue
            module = ct.module_of(name)
            ct.check_shape(name, info.shape, group_size)
            specs = ct.output_specs(module, info.shape, scheme, strategy, group_size)
            for out, _, _ in specs:
                if out != name and out in taken:
                    raise FormatError(
                        f"{path}: cannot quantize {name!r}: the folder already "
                        f"has a tensor {out!r} (leave it out with --skip)"
                    )
            plan.specs.extend(specs)
            plan.steps.append(("quantize", name, specs))
            quantized.add(module)
        plans.append(plan)
    if not quantized:
        raise FormatError(
            f"{src}: no linear-layer weight to quantize (2-D floating *.weight "
            f"tensors other than embeddings, norms and lm_head)"
        )
    if not any(m.rsplit(".", 1)[-1] == ct.LM_HEAD for m in quantized):
        # A tied lm_head has no tensor of its own, yet it is a Linear layer
        # that the "Linear" target would reach.
        ignore.add(ct.LM_HEAD)
    config = {
        **config,
        QUANTIZATION_CONFIG: ct.quantization_config(scheme, strategy, group_size, ignore),
    }

    def read(
        job: Job, f: IO[bytes], name: str, specs: list[st.Spec], rows: Rows
    ) -> npt.NDArray[Any]:
        return st.read_tensor(f, job.src, job.header, name, rows, bits=True)

    def compute(
        job: Job, name: str, specs: list[st.Spec], x: npt.NDArray[Any], rows: Rows
    ) -> Outputs:
        q, scale = conv.quantize(name, x, int8q_scheme, opts, _pipeline.empty(x.shape, np.int8))
        (weight, _, _), (scale_name, _, scale_shape) = specs[:2]
        first = None if rows is None else rows[0]
        out: Outputs = [
            (weight, first, ct.pack(q, reuse=True) if scheme == "W8A16" else q),
            (scale_name, first, scale.reshape(scale_shape if rows is None else (rows[1], -1))),
        ]
        if len(specs) == 3 and not first:  # the whole tensor, or its first slab
            out.append((specs[2][0], None, np.array(job.header.tensors[name].shape, np.int64)))
        return out

    def by_rows(name: str, specs: list[st.Spec], shape: tuple[int, ...]) -> bool:
        return int8q_scheme != "per_tensor"  # a channel's scales, or its groups'

    steps = (read, compute, by_rows)
    _write(src, dst, weights, plans, config, steps, progress_factory, "quantize")


# ---- dequantize ----


def _target_dtype(config: dict[str, Any], scale_dtype: str) -> str:
    for key in _DTYPE_KEYS:
        if config.get(key) in _DTYPES:
            return _DTYPES[config[key]]
    return scale_dtype


def dequantize(src: str, dst: str, progress_factory: ProgressFactory) -> None:
    """Restore a float model folder from a compressed-tensors folder."""
    check_suffix(dst, OUTPUT_SUFFIX)
    config, weights, plans = dequantize_plans(src)
    out_config = {k: v for k, v in config.items() if k != QUANTIZATION_CONFIG}

    def read(job: Job, f: IO[bytes], name: str, arg: DequantizeArg, rows: Rows) -> Stored:
        return _read_stored(f, job.src, job.header, name, arg)

    def compute(job: Job, name: str, arg: DequantizeArg, stored: Stored, rows: Rows) -> Outputs:
        _, out = _restored(job.src, name, arg, stored)
        return [(f"{arg[0]}.{ct.WEIGHT}", None, out)]

    steps = (read, compute, never)
    _write(src, dst, weights, plans, out_config, steps, progress_factory, "dequantize")


# (module, unpacked weight shape, its config group's weight arguments)
DequantizeArg = tuple[str, tuple[int, ...], ct.WeightArgs]


def dequantize_plans(src: str) -> tuple[dict[str, Any], _Weights, list[_Plan]]:
    """(config.json, weights, one plan per shard) of a compressed-tensors
    folder: each quantized weight a ("dequantize", stored name,
    DequantizeArg) step that `dequantized` computes; every check made."""
    config = _read_config(src)
    where = os.path.join(src, CONFIG)
    if QUANTIZATION_CONFIG not in config:
        raise FormatError(f"{where}: no quantization_config: not a quantized model")
    groups = ct.read_config(where, config[QUANTIZATION_CONFIG])
    weights = _Weights(src)
    plans = []
    for shard, path, header in weights.shards:
        plan, tensors = _Plan(shard, path, header), header.tensors
        modules = _quantized_modules(tensors)
        companions = {f"{m}.{leaf}" for m in modules for leaf in (ct.SCALE, ct.SHAPE)}
        for name, info in tensors.items():
            module, _, leaf = name.rpartition(".")
            if name in companions:
                continue
            if module not in modules or leaf not in (ct.WEIGHT, ct.PACKED_WEIGHT):
                plan.copy(name)
                continue
            args = ct.args_for(where, module, groups)
            for extra in ("weight_zero_point", "weight_g_idx"):
                if f"{module}.{extra}" in tensors:
                    raise FormatError(
                        f"{path}: {module}.{extra}: zero points and group indices are not supported"
                    )
            if (leaf == ct.PACKED_WEIGHT) != (args.format == ct.PACKED):
                raise FormatError(f"{path}: {name!r} does not match format {args.format!r}")
            if leaf == ct.PACKED_WEIGHT and f"{module}.{ct.WEIGHT}" in tensors:
                raise FormatError(f"{path}: {module!r} has both {ct.WEIGHT} and {ct.PACKED_WEIGHT}")
            shape = (
                _unpacked_shape(path, header, module) if leaf == ct.PACKED_WEIGHT else info.shape
            )
            if len(shape) != 2:
                raise FormatError(f"{path}: {name!r}: expected a 2-D weight, found {shape}")
            target = _target_dtype(config, tensors[f"{module}.{ct.SCALE}"].dtype)
            plan.specs.append((f"{module}.{ct.WEIGHT}", target, tuple(shape)))
            plan.steps.append(("dequantize", name, (module, shape, args)))
        plans.append(plan)
    return config, weights, plans


def dequantized(
    plan: _Plan, name: str, arg: DequantizeArg
) -> tuple[npt.NDArray[np.int8], npt.NDArray[Any]]:
    """(q, q * scale) of one quantized weight of `plan`, read from its shard."""
    with open(plan.path, "rb") as f:
        stored = _read_stored(f, plan.path, plan.header, name, arg)
    return _restored(plan.path, name, arg, stored)


# A quantized weight as stored: (q, or its packed words; its scale)
Stored = tuple[npt.NDArray[Any], npt.NDArray[Any]]


def _read_stored(
    f: IO[bytes], path: str, header: st.Header, name: str, arg: DequantizeArg
) -> Stored:
    scale = f"{arg[0]}.{ct.SCALE}"
    return st.read_tensor(f, path, header, name), st.read_tensor(f, path, header, scale)


def _restored(
    path: str, name: str, arg: DequantizeArg, stored: Stored
) -> tuple[npt.NDArray[np.int8], npt.NDArray[Any]]:
    """(q, q * scale) of a quantized weight read from the file `path`."""
    module, shape, args = arg
    q, scale = stored
    if args.format == ct.PACKED:
        q = ct.unpack(q, shape, args.num_bits)
    scheme, block_size = ct.scale_layout(args)
    if scheme == "per_tensor":
        if scale.size != 1:
            raise FormatError(
                f"{path}: {module}.{ct.SCALE} has shape {scale.shape}; "
                f"a per-tensor scale has one value"
            )
        scale = scale.reshape(())
    # q * scale in int8q's working dtype of the scale (float32, float64
    # for a float64 scale): exact for 16-bit scales, so the writer's one
    # rounding to the model's dtype gives what compressed-tensors computes
    # in that dtype.
    q = np.asarray(q)
    out = conv.dequantize(name, q, scale, {"scheme": scheme, "block_size": block_size}, None)
    return q, out


def _quantized_modules(tensors: dict[str, st.TensorInfo]) -> set[str]:
    """Modules stored quantized: a packed weight, or an int8 weight, beside a
    floating weight_scale."""
    modules = set()
    for name, info in tensors.items():
        module, _, leaf = name.rpartition(".")
        scale = tensors.get(f"{module}.{ct.SCALE}")
        if (
            scale is not None
            and scale.dtype in st.FLOAT_DTYPES
            and (leaf == ct.PACKED_WEIGHT or leaf == ct.WEIGHT and info.dtype == "I8")
        ):
            modules.add(module)
    return modules


def _unpacked_shape(path: str, header: st.Header, module: str) -> tuple[int, ...]:
    """The weight_shape tensor's two values (read now: it is 16 bytes)."""
    name = f"{module}.{ct.SHAPE}"
    info = header.tensors.get(name)
    if info is None or info.dtype not in ("I64", "I32") or info.shape != (2,):
        raise FormatError(f"{path}: {module}.{ct.PACKED_WEIGHT} needs a 2-value integer {name}")
    shape = tuple(int(v) for v in st.array(path, header, name))
    if min(shape) < 0:
        raise FormatError(f"{path}: {name} is {shape}")
    return shape


# ---- writing ----


def _write(
    src: str,
    dst: str,
    weights: _Weights,
    plans: list[_Plan],
    config: dict[str, Any],
    steps: tuple[Read, Compute, ByRows],
    progress_factory: ProgressFactory,
    desc: str,
) -> None:
    """The output folder: other files copied, each shard written from its
    plan (`steps`: how its tensors are read and converted), the index and
    config.json."""
    total = sum(p.input_bytes for p in plans)
    folders, files = other_files(src, dst, weights.names() | {CONFIG})
    with progress_factory(total, desc) as progress, output_dir(dst) as tmp:
        copy_files(src, tmp, folders, files)
        read, compute, by_rows = steps
        jobs = [
            Job(
                os.path.join(tmp, p.shard),
                p.path,
                p.header,
                p.specs,
                p.header.metadata,
                p.steps,
                by_rows,
            )
            for p in plans
        ]
        write_jobs(jobs, read, compute, progress)
        if weights.index:
            assert weights.index_data is not None  # read with the index
            _sharded.write_index(
                os.path.join(tmp, os.path.basename(weights.index)),
                weights.index_data,
                [(p.shard, p) for p in plans],
            )
        with output_file(os.path.join(tmp, CONFIG)) as f:
            f.write((json.dumps(config, indent=2, ensure_ascii=False) + "\n").encode())


# ---- inspect ----


def inspect(path: str) -> list[Row]:
    """One row per stored tensor: file, name, shape, dtype, scheme, strategy,
    size, original_dtype.

    ``scheme`` is "W8A16" / "W8A8" (``W{bits}A{bits}`` for other tools'
    files) on a quantized weight, "scale" / "shape" on its companions,
    "none" on tensors stored as they were; ``strategy`` is "channel",
    "tensor" or "group:G" on quantized weights.
    """
    config = _read_config(path)
    where = os.path.join(path, CONFIG)
    groups = (
        ct.read_config(where, config[QUANTIZATION_CONFIG]) if QUANTIZATION_CONFIG in config else []
    )
    weights = _Weights(path)
    rows: list[Row] = []
    for shard, _, header in weights.shards:
        tensors = header.tensors
        modules = _quantized_modules(tensors) if groups else set()
        for name, info in tensors.items():
            module, _, leaf = name.rpartition(".")
            scheme, strategy, original = "none", None, None
            if module in modules and leaf in (ct.WEIGHT, ct.PACKED_WEIGHT):
                args = ct.args_for(where, module, groups)
                scheme = args.scheme
                strategy = args.strategy + (f":{args.group_size}" if args.group_size else "")
                original = _target_dtype(config, tensors[f"{module}.{ct.SCALE}"].dtype)
            elif module in modules and leaf in (ct.SCALE, ct.SHAPE):
                scheme = leaf[len("weight_") :]
            rows.append(
                {
                    "file": shard,
                    "name": name,
                    "shape": info.shape,
                    "dtype": info.dtype,
                    "scheme": scheme,
                    "strategy": strategy,
                    "size": info.nbytes,
                    "original_dtype": original,
                }
            )
    return rows


def originals(path: str) -> AbstractContextManager[Originals]:
    """A reader by name of a float model folder's tensors (see _registry)."""
    if QUANTIZATION_CONFIG in _read_config(path):
        raise already_quantized(path)
    return _checkpoint.originals(path, [(p, h) for _, p, h in _Weights(path).shards])


def quantized(path: str) -> Iterator[Quantized]:
    """A compressed-tensors folder's weights, named as in the float model."""
    _, _, plans = dequantize_plans(path)
    for plan in plans:
        for action, name, arg in plan.steps:
            if action == "dequantize":
                q, values = dequantized(plan, name, arg)
                yield Quantized(f"{arg[0]}.{ct.WEIGHT}", q, values)
