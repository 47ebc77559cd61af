"""Checkpoint files: quantize, dequantize and inspect them, streaming.

Containers, chosen from the input's name (see ``_registry.py``; each is
one module of this package with the same three verbs):

- ``*.safetensors``: one file, read with int8q's own reader (the
  safetensors package is not needed);
- a Hugging Face model folder (``config.json`` beside one ``.safetensors``
  or a sharded index): quantized into a complete folder in
  compressed-tensors format that transformers and vLLM load (``_hf.py``;
  README "Serving with transformers / vLLM");
- a sharded checkpoint: its directory, or its ``*.safetensors.index.json``;
  the output is a directory with the same shard files and an index whose
  weight_map also lists the scales;
- ``*.npy``: one array, quantized into an ``.npz`` holding ``q``, ``scale``
  and the metadata; ``*.npz``: each array handled like a tensor;
- ``*.gguf``: into a Q8_0 GGUF with llama-quantize's tensor types (the
  conventions below do not apply; see ``_gguf.py``).

Conventions (the same as the ``int8q`` command): floating tensors of two or
more dimensions are quantized per row (``axis=0``) and stored as int8 under
their own name, with the scale under ``NAME_scale`` shaped ``(rows, 1)``
(per tensor ``()``, per block the block scale shape), always float32 (as
the format says): float64 and integer tensors are quantized from their
float32 values, so the stored scale is exactly the one that made q.  1-D
floating tensors and integer tensors are left alone unless
``all_tensors=True``.  The scheme is recorded in the file's metadata
(safetensors ``__metadata__["int8q"]``, an ``__int8q__`` entry in .npz) so
`dequantize_file` restores names, shapes and dtypes by itself.

Reading goes tensor by tensor (read, not memory-mapped: see _reading) and
writing goes straight to the output, so memory use is a few times the
largest tensor, whatever the size of the checkpoint.  Outputs appear under
their name only when complete (see _atomic).  Every reader checks what it
reads against the limits of _limits before allocating (README "Safety").

    >>> import os, tempfile, numpy as np, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> w, q = os.path.join(d.name, "w.npy"), os.path.join(d.name, "w_q.npz")
    >>> np.save(w, np.array([[0.5, -1.0], [8.0, 2.0]], dtype=np.float32))
    >>> int8q.io.quantize_file(w, q)
    >>> [(r["name"], r["shape"], r["dtype"], r["scheme"]) for r in int8q.io.inspect_file(q)]
    [('q', (2, 2), 'int8', 'per_row'), ('scale', (2, 1), 'float32', 'scale')]
    >>> with np.load(q) as z:
    ...     z["q"], z["scale"]
    (array([[  64, -127],
           [ 127,   32]], dtype=int8), array([[0.00787402],
           [0.06299213]], dtype=float32))
    >>> d.cleanup()
"""

import contextlib
import os
from collections.abc import Callable, Iterable
from typing import SupportsIndex

from . import _convention as conv
from ._container import Container, Row
from ._errors import FormatError
from ._progress import Progress
from ._registry import container_for

__all__ = ["quantize_file", "dequantize_file", "inspect_file", "detect_format", "FormatError"]


def detect_format(path: str | os.PathLike[str]) -> str:
    """The container name of an existing input path: "safetensors", "hf",
    "sharded", "npy", "npz" or "gguf".

    Raises
    ------
    FileNotFoundError
        `path` does not exist.
    FormatError
        Anything else (the format is told by the name, never guessed).
    """
    return container_for(os.fspath(path)).NAME


def _same(a: str, b: str) -> bool:
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def _check_output(container: Container, src: str, dst: str | os.PathLike[str]) -> None:
    """Refuse, before any work, an output that would clobber the input or cannot be made."""
    dst = os.fspath(dst)
    if any(_same(p, dst) for p in container.inputs(src)):
        raise FormatError(f"{dst}: the output would overwrite the input")
    parent = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"no such directory for the output: {parent}")
    if container.OUTPUT_IS_DIR:
        if os.path.exists(dst) and (not os.path.isdir(dst) or os.listdir(dst)):
            raise FormatError(f"{dst}: the output directory exists and is not empty")
    elif os.path.isdir(dst):
        raise FormatError(f"{dst}: the output is a directory; name the output file")


def _progress(enabled: bool) -> Callable[[int, str], Progress]:
    """A factory ``(total_bytes, description) -> Progress`` for the containers."""
    return lambda total, desc: Progress(total, enabled, desc)


def quantize_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    per_tensor: bool = False,
    block_size: SupportsIndex | None = None,
    rounding: str = "half_even",
    skip: Iterable[str] = (),
    all_tensors: bool = False,
    scheme: str | None = None,
    progress: bool = False,
    clip: str | None = None,
) -> None:
    """Quantize a checkpoint file (or sharded checkpoint) into `dst`.

    Parameters
    ----------
    src : str or os.PathLike
        ``.safetensors``, a sharded checkpoint directory or its
        ``*.safetensors.index.json``, ``.npy``, ``.npz`` or ``.gguf``.
    dst : str or os.PathLike
        The output: a file of the same format (``.npz`` for ``.npy``), or a
        new (or empty) directory for a sharded checkpoint.  Never `src`.
    per_tensor : bool
        One scale per tensor instead of one per row.
    block_size : int, optional
        One scale per `block_size` consecutive elements of the last axis.
    rounding : {"half_even", "half_away"}
    skip : iterable of str
        Glob patterns (fnmatch, case-sensitive) of tensor names to leave alone.
    all_tensors : bool
        Quantize 1-D floating tensors and integer tensors too (0-d and 1-D
        ones per tensor, or per block with `block_size`).  For a Hugging
        Face model folder: quantize ``lm_head`` too (``W8A16`` only: vLLM
        loads no int8 ``lm_head``, so ``W8A8`` refuses it).
    scheme : {"W8A16", "W8A8"}, optional
        For a Hugging Face model folder (a directory holding config.json),
        the compressed-tensors scheme of the output (default "W8A16");
        ValueError for any other input.
    progress : bool
        Show a tqdm bar over bytes on stderr (when tqdm is installed).
    clip : None or "mse"
        "mse": each scale clips at the fraction of its abs-max that
        minimises the squared error (``int8q.quantize(clip="mse")``).

    Raises
    ------
    FormatError
        Corrupt, truncated or unknown input; output equal to the input; a
        scale name already taken; a file already quantized.
    ValueError
        NaN or inf in a tensor to quantize (the message names it); bad options.
    OSError
        A file that cannot be read or written.

    Nothing is left at `dst` (nor any temporary file) when an error is raised.
    """
    opts = conv.options(per_tensor, block_size, rounding, tuple(skip), all_tensors, scheme, clip)
    src = os.fspath(src)
    container = container_for(src)
    if scheme is not None and scheme not in getattr(container, "SCHEMES", ()):
        raise ValueError(
            f"a scheme ({scheme}) applies to Hugging Face model folders (a "
            f"directory holding config.json), not to {container.DESCRIPTION}"
        )
    _check_output(container, src, dst)
    container.quantize(src, os.fspath(dst), opts, _progress(progress))


def dequantize_file(
    src: str | os.PathLike[str], dst: str | os.PathLike[str], *, progress: bool = False
) -> None:
    """Restore a file written by `quantize_file`: names, shapes and dtypes.

    Quantized tensors become ``q * scale`` (computed in the scale's dtype,
    then cast to the original dtype); every other tensor is copied byte for
    byte.  A quantized ``.npz`` made from a ``.npy`` is restored to a
    ``.npy``.  Errors as for `quantize_file` (a file without int8q metadata
    is a FormatError).
    """
    src = os.fspath(src)
    container = container_for(src)
    _check_output(container, src, dst)
    container.dequantize(src, os.fspath(dst), _progress(progress))


def inspect_file(path: str | os.PathLike[str]) -> list[Row]:
    """One dict per tensor, in file order, without reading tensor data.

    Keys: ``file`` (the shard or file name), ``name``, ``shape`` (tuple),
    ``dtype`` (as stored: safetensors notation such as "F32", or a NumPy
    dtype name), ``scheme`` ("per_row", "per_tensor", "per_block" for
    quantized tensors, "scale" for their scales, "none" for the rest),
    ``size`` (bytes) and ``original_dtype`` (quantized tensors only, else None).
    A Hugging Face folder in compressed-tensors format says "W8A16" / "W8A8"
    (``W{bits}A{bits}`` for other tools' schemes) on quantized weights,
    "scale" / "shape" on their companions, and adds ``strategy``
    ("channel", "tensor", "group:G") to every row.
    """
    path = os.fspath(path)
    return container_for(path).inspect(path)
