"""The .npy container: one array, quantized into an .npz (see _npz).

The interface is described in _registry.
"""

import os

import numpy as np

from .._policy import _convention as conv
from .._support._atomic import output_file
from .._support._errors import FormatError
from ._container import ProgressFactory, Row
from ._npz import (
    META_MEMBER,
    display_dtype,
    new_zip,
    npy_header,
    open_npy,
    write_member,
)

NAME = "npy"
DESCRIPTION = ".npy"
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = ".npz"


def claims(path: str) -> bool:
    return path.lower().endswith(".npy")


def inputs(path: str) -> list[str]:
    return [path]


def quantize(src: str, dst: str, opts: conv.Options, progress: ProgressFactory) -> None:
    """x.npy -> .npz with q, scale and the metadata."""
    x = open_npy(src)
    k = conv.kind(x.dtype)
    if k == "other" or k == "integer" and not opts.all_tensors:
        hint = " (use --all to quantize integers)" if k == "integer" else ""
        raise FormatError(f"{src}: holds {x.dtype}, not floating point{hint}")
    # One array, named by the user: quantize it whatever its rank or skips.
    scheme = conv.choose_scheme("q", k, x.ndim, opts._replace(all_tensors=True, skip=()))
    assert scheme is not None  # all_tensors and no skips: a float or integer is quantized
    meta = conv.encode({"q": conv.entry(scheme, opts, x.dtype.str, "scale")}, container="npy")
    nbytes = x.nbytes
    with progress(nbytes, "quantize") as bar, output_file(dst) as f:
        q, scale = conv.quantize(os.path.basename(src), x, scheme, opts)
        del x  # free the input before writing
        with new_zip(f) as zout:
            write_member(zout, "q", q)
            write_member(zout, "scale", scale)
            write_member(zout, META_MEMBER, np.array(meta))
        bar.update(nbytes)


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    raise FormatError(f"{src}: a .npy is never quantized (int8q writes .npz)")


def inspect(path: str) -> list[Row]:
    header = npy_header(path)
    return [
        {
            "file": os.path.basename(path),
            "name": os.path.basename(path),
            "shape": header.shape,
            "dtype": display_dtype(header.dtype),
            "scheme": "none",
            "size": header.data_bytes,
            "original_dtype": None,
        }
    ]
