"""Safetensors output files written from their plans, all through one pipeline.

Each output file (the one of a .safetensors input, or one per shard) is a
`Job`: where it goes, the input file and header it comes from, the output's
tensors (specs and metadata, for the header) and the steps that make it,
in data order: ``("copy", name, None)`` copies a tensor's bytes as they are;
any other step's tensor is read by the container's `Read` and turned into
output tensors by its `Compute`.

`write` takes every job's steps through _pipeline: the next pieces are read
while one is converted and earlier ones are written, across files.  Pieces
are small (SLAB_BYTES of input, COPY_PIECE bytes of a copy), so that each
is still in the processor's cache when it is converted and written, and
memory holds a few of them whatever the tensor: a step that the job's
`by_rows` allows is done in slabs of rows (along the first dimension),
which its Compute converts and the writer puts in place row by row.  Each
output file is made (_atomic.output_file) when its first piece is stored and
is complete, durable and named when its last one is, while the next file's
pieces are already being read; a failure anywhere leaves none of them.

A slab's conversion error (a NaN, say) is reported as the whole tensor's:
the step is then redone on the whole tensor, whose error names the element
in the tensor's own indices.
"""

import contextlib
import math
from collections.abc import Callable, Sequence
from typing import IO, Any, NamedTuple

import numpy as np
import numpy.typing as npt

from .._formats import _safetensors as st
from .._support import _pipeline
from .._support._atomic import output_file
from .._support._progress import Progress
from .._support._reading import read_array

# Input bytes per slab of a tensor converted in rows, and per piece of a
# copy: a few fit in the cache of the processor that reads, converts and
# writes them.
SLAB_BYTES = 4 << 20
COPY_PIECE = 8 << 20

# (first row, row count): a slab of a tensor, or None for the whole tensor.
Rows = tuple[int, int] | None


# (tensor name, step arg, its shape) -> whether the step may be done in
# slabs of rows: each output of a slab is then its rows of a tensor whose
# first dimension is the input's, or a whole tensor given with the first.
ByRows = Callable[[str, Any, tuple[int, ...]], bool]


def never(name: str, arg: Any, shape: tuple[int, ...]) -> bool:
    """A ByRows for jobs whose steps take whole tensors."""
    return False


class Job(NamedTuple):
    """One output file and how to make it (see the module doc)."""

    dst: str
    src: str
    header: st.Header
    specs: list[st.Spec]  # the output's tensors: (name, dtype, shape)
    metadata: dict[str, str]  # the output's __metadata__
    steps: list[tuple[str, str, Any]]  # (action, input tensor name, arg), data order
    by_rows: ByRows = never


# (job, its open input, tensor name, step arg, rows) -> what Compute needs
Read = Callable[[Job, IO[bytes], str, Any, Rows], Any]
# [(output name, first row, values)]: values are rows first... of the
# output, or (first row None) the whole output.
Outputs = list[tuple[str, int | None, npt.ArrayLike]]
# (job, tensor name, step arg, what Read returned, rows) -> Outputs
Compute = Callable[[Job, str, Any, Any, Rows], Outputs]


class _Item(NamedTuple):
    kind: str  # "open", "copy", "step" or "close"
    job: Job
    name: str = ""
    arg: Any = None
    rows: Rows = None  # step: the slab, or None for the whole tensor
    offset: int = 0  # copy: where the piece starts in the input file
    nbytes: int = 0  # copy: the piece's bytes; step: the input's
    first: bool = False  # copy: the tensor's first piece
    charge: int = 0  # what the pipeline counts it for


def _step_items(job: Job, action: str, name: str, arg: Any) -> list[_Item]:
    info = job.header.tensors[name]
    # Each element becomes an int8 code (scales are small), or, dequantized,
    # a float (float32 or narrower, but for float64 originals).
    out = 4 if action == "dequantize" else 1
    rows = info.shape[0] if info.shape else 0
    if not rows or not info.nbytes or not job.by_rows(name, arg, info.shape):
        charge = info.nbytes + out * math.prod(info.shape)
        return [_Item("step", job, name, arg, nbytes=info.nbytes, charge=charge)]
    row_bytes = info.nbytes // rows
    step = max(1, SLAB_BYTES // row_bytes)
    items = []
    for first in range(0, rows, step):
        count = min(step, rows - first)
        nbytes = count * row_bytes
        charge = nbytes + out * nbytes // st.itemsize(info.dtype)
        items.append(_Item("step", job, name, arg, (first, count), nbytes=nbytes, charge=charge))
    return items


def _items(jobs: Sequence[Job]) -> list[_Item]:
    items = []
    for job in jobs:
        items.append(_Item("open", job))
        for action, name, arg in job.steps:
            if action != "copy":
                items += _step_items(job, action, name, arg)
                continue
            info = job.header.tensors[name]
            start = job.header.data_start + info.begin
            for at in range(0, info.nbytes, COPY_PIECE) if info.nbytes else [0]:
                n = min(COPY_PIECE, info.nbytes - at)
                items.append(_Item("copy", job, name, None, None, start + at, n, at == 0, n))
        items.append(_Item("close", job))
    return items


def write(jobs: Sequence[Job], read: Read, compute: Compute, progress: Progress) -> None:
    """Write every job's output file (see the module doc)."""
    inputs: dict[int, IO[bytes]] = {}  # the reader's open input, by job
    counted: dict[int, int] = {}  # input bytes counted on `progress`, by job
    writers: dict[int, tuple[st.Writer, _pipeline.Writeback]] = {}  # the writer's, by job
    # Each output's context, closed when its last piece is stored (or, on an
    # error, by `files`, which then removes it).
    outputs: dict[int, contextlib.ExitStack] = {}
    files = contextlib.ExitStack()

    def load(item: _Item) -> Any:
        job = item.job
        if item.kind == "open":
            inputs[id(job)] = open(job.src, "rb")
        elif item.kind == "close":
            inputs.pop(id(job)).close()
        elif item.kind == "copy":
            f = inputs[id(job)]
            return read_array(f, item.offset, np.uint8, (item.nbytes,), job.src, item.name)
        else:
            return read(job, inputs[id(job)], item.name, item.arg, item.rows)
        return None

    def work(item: _Item, data: Any) -> Any:
        key = id(item.job)
        if item.kind == "close":
            header = item.job.header
            progress.update(header.data_bytes - counted.pop(key, 0))
            return None
        if item.kind == "step":
            data = _converted(item, data, read, compute)
        counted[key] = counted.get(key, 0) + item.nbytes
        progress.update(item.nbytes)
        return data

    def store(item: _Item, data: Any) -> None:
        key = id(item.job)
        if item.kind == "open":
            stack = files.enter_context(contextlib.ExitStack())
            f = stack.enter_context(output_file(item.job.dst))
            outputs[key] = stack
            writers[key] = (
                st.Writer(f, item.job.specs, item.job.metadata),
                _pipeline.Writeback(f.fileno()),
            )
            return
        writer, writeback = writers[key]
        if item.kind == "close":
            writer.close()
            del writers[key]
            outputs.pop(key).close()  # flush, fsync, name
        elif item.kind == "copy":
            if item.first:
                writer.start(item.name, item.job.header.tensors[item.name].nbytes)
            writer.write_bytes(data.data)  # .data: a memoryview, for typeshed
            writeback.wrote(item.nbytes)
        else:
            for name, first, values in data:
                if first is None:
                    writer.write(name, values)
                else:
                    writer.write_rows(name, first, values)
                writeback.wrote(np.asarray(values).nbytes)

    with files:
        try:
            _pipeline.run(_items(jobs), load, work, store, lambda item: item.charge)
        finally:
            for f in inputs.values():
                f.close()


def _converted(item: _Item, data: Any, read: Read, compute: Compute) -> Any:
    """Compute's outputs for a step's item; a slab's ValueError is replaced
    by the whole tensor's (see the module doc)."""
    job = item.job
    try:
        return compute(job, item.name, item.arg, data, item.rows)
    except ValueError as exc:
        if item.rows is None:
            raise
        slab_error = exc
    del data
    with open(job.src, "rb") as f:
        whole = read(job, f, item.name, item.arg, None)
    compute(job, item.name, item.arg, whole, None)  # raises the tensor's error
    raise slab_error  # (the file changed since the slab was read)
