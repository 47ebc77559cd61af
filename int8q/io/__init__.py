"""Checkpoint files: quantize, dequantize and inspect them, streaming.

Containers, chosen from the input's name:

- ``*.safetensors``: one file, read with int8q's own reader (the
  safetensors package is not needed);
- a Hugging Face model folder (``config.json`` beside one ``.safetensors``
  or a sharded index): quantized into a complete folder in
  compressed-tensors format that transformers and vLLM load
  (https://int8q.readthedocs.io/en/latest/guide/huggingface.html);
- a sharded checkpoint: its directory, or its ``*.safetensors.index.json``;
  the output is a directory with the same shard files and an index whose
  weight_map also lists the scales;
- ``*.npy``: one array, quantized into an ``.npz`` holding ``q``, ``scale``
  and the metadata; ``*.npz``: each array handled like a tensor;
- ``*.gguf``: into a Q8_0 GGUF with llama-quantize's tensor types (the
  conventions below do not apply; see
  https://int8q.readthedocs.io/en/latest/guide/gguf.html).
- ``*.onnx``: an ONNX model, quantized as onnxruntime's quantize_dynamic
  does (the conventions below do not apply; needs the onnx package; see
  https://int8q.readthedocs.io/en/latest/guide/onnx.html).

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

Inputs are read (not memory-mapped), converted and written at once, in
pieces of a few MiB (slabs of rows), with a bounded amount in flight, so
memory use is at most a few times the largest tensor (tens of MiB for
per-row quantization), whatever the size of the checkpoint.  Outputs appear under their name only
when complete.  Every reader checks what it reads against fixed limits
before allocating (https://int8q.readthedocs.io/en/latest/safety.html).

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

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from .._shared import boolean
from .._typing import BlockSize, Clip, Rounding, Scheme
from . import _compare
from ._compare import CompareRow
from ._containers._container import Container, Row
from ._containers._registry import container_for
from ._policy import _convention as conv
from ._policy._suffix import check_suffix
from ._support._errors import FormatError
from ._support._outputs import Output, check_outputs
from ._support._progress import Progress

__all__ = [
    "quantize_file",
    "dequantize_file",
    "inspect_file",
    "compare_files",
    "detect_format",
    "FormatError",
]


def detect_format(path: str | os.PathLike[str]) -> str:
    """The container name of an existing input path: "safetensors", "hf",
    "sharded", "npy", "npz", "gguf" or "onnx".

    Raises
    ------
    FileNotFoundError
        `path` does not exist.
    FormatError
        Anything else (the format is told by the name, never guessed).

    Examples
    --------
    >>> import os, tempfile, numpy as np, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> path = os.path.join(d.name, "w.npy")
    >>> np.save(path, np.ones((2, 2), np.float32))
    >>> int8q.io.detect_format(path)
    'npy'
    >>> d.cleanup()
    """
    return container_for(_path(path, "path")).NAME


def _path(value: object, name: str) -> str:
    """`value` as a str path; TypeError for anything else (bytes paths included)."""
    path = os.fspath(value) if isinstance(value, (str, os.PathLike)) else None
    if not isinstance(path, str):
        raise TypeError(f"{name} must be a str or os.PathLike path, got {value!r}")
    return path


def _flags(**flags: object) -> None:
    """TypeError unless each flag is True or False ("False" is not False)."""
    for name, value in flags.items():
        boolean(value, name)


def _patterns(skip: object) -> tuple[str, ...]:
    """`skip` as a tuple of glob patterns: one pattern (a str) or an iterable of them."""
    patterns: tuple[object, ...] = (None,)
    if isinstance(skip, str):
        patterns = (skip,)
    elif isinstance(skip, Iterable):
        patterns = tuple(skip)
    if not all(isinstance(p, str) for p in patterns):
        raise TypeError(f"skip must be a glob pattern or an iterable of them, got {skip!r}")
    return cast("tuple[str, ...]", patterns)


def _output(container: Container, dst: str, suffix: str | None) -> Output:
    """The checkpoint `container` writes at `dst` (`suffix`: when known before
    reading the input)."""
    check = None if suffix is None else (lambda path: check_suffix(path, suffix))
    return Output(dst, container.OUTPUT_IS_DIR, "the output", check)


def _check_quantize_outputs(
    src: str, dst: str, force: bool, extra: Sequence[Output] = ()
) -> Output:
    """Check the checkpoint that quantizing `src` writes at `dst`, with the
    `extra` outputs of the same run (the command line's --report), all
    before any is written; the checkpoint's Output."""
    container = container_for(src)
    out = _output(container, dst, container.OUTPUT_SUFFIX)
    # Files a container writes beside its output (an ONNX model's external data)
    companions: list[str] = getattr(container, "companions", lambda src, dst: [])(src, dst)
    beside = [Output(p, what="the output's data file") for p in companions]
    check_outputs([out, *beside, *extra], container.inputs(src), force)
    return out


def _inputs(path: str) -> list[str]:
    """Every file and folder that reading `path` reads."""
    return container_for(path).inputs(path)


def _skip_names(path: str, rows: list[Row]) -> list[str]:
    """What `skip` patterns match for `path`: tensor names (`rows`), an
    ONNX model's node names."""
    names = getattr(container_for(path), "skip_names", None)
    return [r["name"] for r in rows] if names is None else names(path)


def _progress(enabled: bool) -> Callable[[int, str], Progress]:
    """A factory ``(total_bytes, description) -> Progress`` for the containers."""
    return lambda total, desc: Progress(total, enabled, desc)


def quantize_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    per_tensor: bool = False,
    block_size: BlockSize = None,
    rounding: Rounding = "half_even",
    skip: Iterable[str] = (),
    all_tensors: bool = False,
    scheme: Scheme | None = None,
    progress: bool = False,
    clip: Clip = None,
    force: bool = False,
    per_channel: bool = False,
    reduce_range: bool = False,
    weight_type: str | None = None,
    op_types: Iterable[str] | None = None,
) -> None:
    """Quantize a checkpoint file (or sharded checkpoint) into `dst`.

    Parameters
    ----------
    src : str or os.PathLike
        ``.safetensors``, a sharded checkpoint directory or its
        ``*.safetensors.index.json``, ``.npy``, ``.npz``, ``.gguf`` or ``.onnx``.
    dst : str or os.PathLike
        The output: a file of the same format, with its suffix (``.npz``
        for ``.npy``), or a new (or empty) folder, named without a file
        suffix, for a sharded checkpoint or a model folder.  Never `src`.
    per_tensor : bool
        One scale per tensor instead of one per row.
    block_size : int, optional
        One scale per `block_size` consecutive elements of the last axis.
    rounding : {"half_even", "half_away"}
    skip : str or iterable of str
        Glob patterns (fnmatch, case-sensitive) of tensor names to leave alone
        (one str is one pattern).
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
    force : bool
        Replace an existing `dst` (file or folder), in one step: until the
        new output is complete the old one stays as it was.  Without it an
        existing output is a FormatError (an empty folder is not refused).
    per_channel, reduce_range, weight_type, op_types
        For an ONNX model only, quantize_dynamic's arguments of the same
        names: one scale per output channel of each MatMul weight,
        7-bit weights, ``"QInt8"`` (default) or ``"QUInt8"`` weights, the
        operator types to quantize (default: quantize_dynamic's).  An ONNX
        model's `skip` patterns name nodes (quantize_dynamic's
        nodes_to_exclude); see
        https://int8q.readthedocs.io/en/latest/guide/onnx.html.

    Raises
    ------
    TypeError
        An option of the wrong type (a flag that is not True or False: the
        string "False" is not False; a path that is not a str or PathLike).
    FormatError
        Corrupt, truncated or unknown input; output equal to the input, or
        misnamed (its suffix is not the container's), or existing without
        `force`; a scale name already taken; a file already quantized.
    ValueError
        NaN or inf in a tensor to quantize (the message names it); bad options.
    OSError
        A file that cannot be read or written.

    Nothing is left at `dst` (nor any temporary file) when an error is raised.

    Examples
    --------
    >>> import os, tempfile, numpy as np, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> src, dst = os.path.join(d.name, "w.npy"), os.path.join(d.name, "w-int8.npz")
    >>> np.save(src, np.arange(64, dtype=np.float32).reshape(2, 32))
    >>> int8q.io.quantize_file(src, dst, block_size=16)
    >>> [row["scheme"] for row in int8q.io.inspect_file(dst)]
    ['per_block', 'scale']
    >>> d.cleanup()
    """
    _flags(per_tensor=per_tensor, all_tensors=all_tensors, progress=progress, force=force)
    _flags(per_channel=per_channel, reduce_range=reduce_range)
    opts = conv.options(
        per_tensor,
        block_size,
        rounding,
        _patterns(skip),
        all_tensors,
        scheme,
        clip,
        per_channel,
        reduce_range,
        weight_type,
        op_types,
    )
    src, dst = _path(src, "src"), _path(dst, "dst")
    container = container_for(src)
    onnx_only = per_channel or reduce_range or weight_type is not None or op_types is not None
    if onnx_only and container.NAME != "onnx":
        raise ValueError(
            "per_channel, reduce_range, weight_type and op_types apply to ONNX "
            f"models, not to {container.DESCRIPTION}"
        )
    if scheme is not None and scheme not in getattr(container, "SCHEMES", ()):
        raise ValueError(
            f"a scheme ({scheme}) applies to Hugging Face model folders (a "
            f"directory holding config.json), not to {container.DESCRIPTION}"
        )
    _check_quantize_outputs(src, dst, force)
    container.quantize(src, dst, opts, _progress(progress))


def dequantize_file(
    src: str | os.PathLike[str],
    dst: str | os.PathLike[str],
    *,
    progress: bool = False,
    force: bool = False,
) -> None:
    """Restore a file written by `quantize_file`: names, shapes and dtypes.

    Quantized tensors become ``q * scale`` (computed in the scale's dtype,
    then cast to the original dtype); every other tensor is copied byte for
    byte.  A quantized ``.npz`` made from a ``.npy`` is restored to a
    ``.npy``; the output is named with the suffix of what is written.
    `force` and errors as for `quantize_file` (a file without int8q
    metadata is a FormatError).

    Parameters
    ----------
    src : str or os.PathLike
        A file or directory written by `quantize_file` (or a Hugging Face
        model folder in compressed-tensors format).
    dst : str or os.PathLike
        The restored file (``.npy`` for an ``.npz`` made from a ``.npy``), or
        a new (or empty) directory.
    progress : bool
        Show a tqdm bar over bytes on stderr.
    force : bool
        Replace an existing `dst` (atomically) instead of refusing it.

    Examples
    --------
    >>> import os, tempfile, numpy as np, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> paths = [os.path.join(d.name, n) for n in ("w.npy", "w-int8.npz", "back.npy")]
    >>> np.save(paths[0], np.array([[0.5, -1.0], [8.0, 2.0]], dtype=np.float32))
    >>> int8q.io.quantize_file(paths[0], paths[1])
    >>> int8q.io.dequantize_file(paths[1], paths[2])
    >>> np.load(paths[2])
    array([[ 0.503937, -1.      ],
           [ 8.      ,  2.015748]], dtype=float32)
    >>> d.cleanup()
    """
    _flags(progress=progress, force=force)
    src, dst = _path(src, "src"), _path(dst, "dst")
    container = container_for(src)
    # The restored container's suffix is checked by the container: an .npz
    # restores a .npy or an .npz, as its metadata says.
    check_outputs([_output(container, dst, None)], container.inputs(src), force)
    container.dequantize(src, dst, _progress(progress))


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

    Parameters
    ----------
    path : str or os.PathLike
        Any input `quantize_file` takes, quantized or not.

    Returns
    -------
    list of dict

    Examples
    --------
    >>> import os, tempfile, numpy as np, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> path = os.path.join(d.name, "w.npy")
    >>> np.save(path, np.ones((3, 4), np.float32))
    >>> row, = int8q.io.inspect_file(path)
    >>> row["shape"], row["dtype"], row["scheme"], row["size"]
    ((3, 4), 'float32', 'none', 48)
    >>> d.cleanup()
    """
    path = _path(path, "path")
    return container_for(path).inspect(path)


def compare_files(
    original: str | os.PathLike[str], quantized: str | os.PathLike[str]
) -> list[CompareRow]:
    """How much each tensor of `quantized` lost against `original`.

    `quantized` is a file or folder int8q wrote (.safetensors, a sharded
    checkpoint, .npz), a compressed-tensors model folder (int8q's or
    llm-compressor's), or a Q8_0 GGUF; `original` is the float checkpoint
    it was made from (for a GGUF, its F32/F16/BF16 GGUF; for an .npz made
    from a .npy, that .npy).  Tensors are matched by name and read one pair
    at a time.

    Returns one dict per quantized tensor, in layer order (names sorted
    with their numbers compared as numbers): ``name``, ``shape``, ``dtype``
    (the original's), ``sqnr_db``, ``cosine``, ``max_abs_error``,
    ``saturated`` and ``zero`` (shares of the codes), and ``signal`` /
    ``noise`` (the sums behind the SQNR), as the specification
    (https://int8q.readthedocs.io/en/latest/semantics.html, section 9)
    defines them.

    Parameters
    ----------
    original : str or os.PathLike
        The float checkpoint.
    quantized : str or os.PathLike
        The quantized checkpoint made from it.

    Returns
    -------
    list of dict
        One row per quantized tensor, in layer order.

    Raises
    ------
    FormatError
        A file int8q cannot read, a quantized checkpoint that holds no
        quantized tensor, an original that is itself quantized, lacks a
        tensor or holds it in another shape.

    Examples
    --------
    >>> import os, tempfile, numpy as np, int8q.io
    >>> d = tempfile.TemporaryDirectory()
    >>> src, dst = os.path.join(d.name, "w.npy"), os.path.join(d.name, "w-int8.npz")
    >>> np.save(src, np.linspace(-1, 1, 256, dtype=np.float32).reshape(4, 64))
    >>> int8q.io.quantize_file(src, dst)
    >>> [row] = int8q.io.compare_files(src, dst)
    >>> row["name"], row["sqnr_db"] > 40, row["cosine"] > 0.9999  # a .npy holds one tensor, "q"
    ('q', True, True)
    >>> d.cleanup()
    """
    return _compare.compare_files(_path(original, "original"), _path(quantized, "quantized"))
