"""Quantize, dequantize and inspect one safetensors file, tensor by tensor.

Work is split into a plan (from the header alone: every output name, dtype
and shape, every check that needs no data) and a write (the data, through
_safetensors_jobs).  A sharded checkpoint plans all its shards before
writing any, so a bad shard or a name clash stops the job before it starts.
"""

import os
from collections.abc import Iterator, Sequence, Set
from contextlib import contextmanager
from typing import IO, Any, NamedTuple

import numpy as np

from .._formats import _safetensors as st
from .._policy import _convention as conv
from .._support import _pipeline
from .._support._errors import FormatError
from .._support._progress import Progress
from ._container import Originals, Quantized, Row, already_quantized
from ._safetensors_jobs import Job, Outputs, Rows
from ._safetensors_jobs import write as jobs_write


class Plan(NamedTuple):
    src: str
    header: st.Header
    specs: list[st.Spec]  # output (name, dtype, shape), in input order
    # (action, name, arg) in data order; arg is None ("copy"), the scheme
    # ("quantize") or the metadata entry ("dequantize").
    steps: list[tuple[str, str, Any]]
    metadata: dict[str, str]  # output __metadata__
    opts: "conv.Options | None"

    @property
    def input_bytes(self) -> int:
        return self.header.data_bytes

    @property
    def output_bytes(self) -> int:
        return st.specs_bytes(self.specs)


def plan_quantize(src: str, header: st.Header, opts: conv.Options, taken: Set[str]) -> Plan:
    """The plan to quantize `src`; `taken` holds every tensor name in the checkpoint."""
    if conv.META_KEY in header.metadata:
        raise FormatError(f"{src}: already quantized by int8q (dequantize it first)")
    specs: list[st.Spec] = []
    steps: list[tuple[str, str, Any]] = []
    entries: dict[str, conv.Entry] = {}
    for name, info in header.tensors.items():
        scheme = conv.choose_scheme(name, st.kind(info.dtype), len(info.shape), opts)
        if scheme is None:
            specs.append((name, info.dtype, info.shape))
            steps.append(("copy", name, None))
            continue
        scale = conv.scale_name(name)
        if scale in taken:
            raise FormatError(
                f"{src}: cannot store the scale of {name!r}: a tensor named "
                f"{scale!r} already exists (leave it out with --skip)"
            )
        specs.append((name, "I8", info.shape))
        # Always float32, whatever the tensor's dtype (see conv.quantize).
        specs.append((scale, "F32", conv.scale_shape(scheme, info.shape, opts.block_size)))
        steps.append(("quantize", name, scheme))
        entries[name] = conv.entry(scheme, opts, info.dtype, scale)
    metadata = {**header.metadata, conv.META_KEY: conv.encode(entries)}
    return Plan(src, header, specs, steps, metadata, opts)


def quantized_entries(src: str, header: st.Header) -> dict[str, conv.Entry]:
    """The int8q metadata of a quantized file, checked against its header."""
    text = header.metadata.get(conv.META_KEY)
    if text is None:
        raise FormatError(f"{src}: not quantized by int8q (no {conv.META_KEY!r} metadata)")
    entries = conv.decode(text, src)["tensors"]
    for name, e in entries.items():
        q, scale = header.tensors.get(name), header.tensors.get(e["scale"])
        if q is None or scale is None:
            raise FormatError(
                f"{src}: int8q metadata lists {name!r}, which the file lacks "
                f"(or its scale {e['scale']!r})"
            )
        if q.dtype != "I8" or scale.dtype not in st.FLOAT_DTYPES:
            raise FormatError(
                f"{src}: tensor {name!r} is {q.dtype} with a {scale.dtype} "
                f"scale; int8q stores I8 with a floating scale"
            )
        if st.kind(e["dtype"]) == "other":
            raise FormatError(
                f"{src}: tensor {name!r} has unsupported original dtype {e['dtype']!r}"
            )
    return entries


def plan_dequantize(src: str, header: st.Header) -> Plan:
    """The plan to restore `src`, as `quantize` recorded it in the metadata."""
    entries = quantized_entries(src, header)
    scales = {e["scale"] for e in entries.values()}
    specs: list[st.Spec] = []
    steps: list[tuple[str, str, Any]] = []
    for name, info in header.tensors.items():
        if name in scales:
            continue
        if name in entries:
            specs.append((name, entries[name]["dtype"], info.shape))
            steps.append(("dequantize", name, entries[name]))
        else:
            specs.append((name, info.dtype, info.shape))
            steps.append(("copy", name, None))
    metadata = {k: v for k, v in header.metadata.items() if k != conv.META_KEY}
    return Plan(src, header, specs, steps, metadata, None)


def _numpy_target(dtype: str) -> np.dtype[Any] | type[Any] | None:
    """The NumPy dtype to dequantize into; None means float32, stored as BF16 bits."""
    if dtype == "BF16":
        return st.ml_bfloat16()  # ml_dtypes': bfloat16 directly
    return st.NUMPY_DTYPES[dtype]


def write(outputs: Sequence[tuple[str, Plan]], progress: Progress) -> None:
    """Write the output file of each (path, plan), all through one pipeline
    (_safetensors_jobs: the next tensors are read while one is converted
    and earlier ones are written)."""
    plans = {}
    jobs = []
    for dst, plan in outputs:
        job = Job(dst, plan.src, plan.header, plan.specs, plan.metadata, plan.steps, _by_rows)
        plans[id(job)] = plan
        jobs.append(job)

    def read(job: Job, f: IO[bytes], name: str, arg: Any, rows: Rows) -> Any:
        if plans[id(job)].opts is not None:  # quantize: the tensor alone
            return st.read_tensor(f, job.src, job.header, name, rows, bits=True)
        x = st.read_tensor(f, job.src, job.header, name, rows)
        return x, st.read_tensor(f, job.src, job.header, arg["scale"])

    def compute(job: Job, name: str, arg: Any, data: Any, rows: Rows) -> Outputs:
        opts = plans[id(job)].opts
        first = None if rows is None else rows[0]
        if opts is not None:  # quantize (plan_quantize always sets them)
            q, scale = conv.quantize(name, data, arg, opts, _pipeline.empty(data.shape, np.int8))
            return [(name, first, q), (conv.scale_name(name), first, scale)]
        q, scale = data
        return [(name, None, conv.dequantize(name, q, scale, arg, _numpy_target(arg["dtype"])))]

    jobs_write(jobs, read, compute, progress)


def _by_rows(name: str, arg: Any, shape: tuple[int, ...]) -> bool:
    """Whether a step may be done in slabs of rows: quantizing per row or
    per block (each row's scales depend on that row alone, and are the
    rows of the scale tensor) a tensor of two or more dimensions."""
    return arg in ("per_row", "per_block") and len(shape) >= 2


def inspect(path: str, header: st.Header, file: str | None = None) -> list[Row]:
    """One dict per tensor: file, name, shape, dtype, scheme, size, original_dtype."""
    entries: dict[str, conv.Entry] = {}
    if conv.META_KEY in header.metadata:
        entries = quantized_entries(path, header)
    scales = {e["scale"] for e in entries.values()}
    file = file or os.path.basename(path)
    rows: list[Row] = []
    for name, info in header.tensors.items():
        e = entries.get(name)
        scheme = e["scheme"] if e else "scale" if name in scales else "none"
        rows.append(
            {
                "file": file,
                "name": name,
                "shape": info.shape,
                "dtype": info.dtype,
                "scheme": scheme,
                "size": info.nbytes,
                "original_dtype": e["dtype"] if e else None,
            }
        )
    return rows


# (file, header) of each safetensors file of a checkpoint
Files = Sequence[tuple[str, st.Header]]


@contextmanager
def originals(path: str, files: Files) -> Iterator[Originals]:
    """A reader by name of the tensors of the float checkpoint `path` made
    of `files` (see _registry); FormatError for int8q's quantized files."""
    where: dict[str, tuple[str, st.Header]] = {}
    for file, header in files:
        if conv.META_KEY in header.metadata:
            raise already_quantized(path)
        where.update(dict.fromkeys(header.tensors, (file, header)))

    def read(name: str) -> "np.ndarray[Any, Any] | None":
        found = where.get(name)
        return None if found is None else st.array(found[0], found[1], name)

    yield read


def quantized(files: Files) -> Iterator[Quantized]:
    """The tensors int8q quantized into `files`, one at a time (see _registry)."""
    for file, header in files:
        for name, e in quantized_entries(file, header).items():
            q = st.array(file, header, name)
            scale = st.array(file, header, e["scale"])
            yield Quantized(name, q, conv.dequantize(name, q, scale, e, None))
