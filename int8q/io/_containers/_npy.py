"""The .npy container: one array, quantized into an .npz (see _npz).

The interface is described in _registry.
"""

import os
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

from .._formats._npyheader import npy_header, open_npy
from .._formats._zip import new_archive, write_member
from .._policy import _convention as conv
from .._policy._suffix import NPY, NPZ, has_suffix
from .._support._atomic import output_file
from .._support._errors import FormatError
from ._container import Originals, ProgressFactory, Quantized, Row
from ._npz import META_MEMBER, NPY_ARRAY, NPY_SCALE, display_dtype

NAME = "npy"
DESCRIPTION = NPY
OUTPUT_IS_DIR = False
OUTPUT_SUFFIX = NPZ


def claims(path: str) -> bool:
    return has_suffix(path, NPY)


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
    scheme = conv.choose_scheme(NPY_ARRAY, k, x.ndim, opts._replace(all_tensors=True, skip=()))
    assert scheme is not None  # all_tensors and no skips: a float or integer is quantized
    entry = conv.entry(scheme, opts, x.dtype.str, NPY_SCALE)
    meta = conv.encode({NPY_ARRAY: entry}, container=NAME)
    nbytes = x.nbytes
    with progress(nbytes, "quantize") as bar, output_file(dst) as f:
        q, scale = conv.quantize(os.path.basename(src), x, scheme, opts)
        del x  # free the input before writing
        with new_archive(f) as zout:
            write_member(zout, NPY_ARRAY, q)
            write_member(zout, NPY_SCALE, scale)
            write_member(zout, META_MEMBER, np.array(meta))
        bar.update(nbytes)


def _never_quantized(path: str) -> FormatError:
    return FormatError(f"{path}: a .npy is never quantized (int8q writes .npz)")


def dequantize(src: str, dst: str, progress: ProgressFactory) -> None:
    raise _never_quantized(src)


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


@contextmanager
def originals(path: str) -> Iterator[Originals]:
    """The one array, by the name it has in the quantized .npz (see _npz)."""
    yield lambda name: open_npy(path) if name == NPY_ARRAY else None


def quantized(path: str) -> Iterator[Quantized]:
    raise _never_quantized(path)
