"""Read tensor data from an input file that may change while it is read.

Inputs are read, never memory-mapped: when a mapped file is truncated
underneath (a download restarted, a copy still running), touching the lost
pages kills the process with SIGBUS, while a read simply comes up short and
becomes a FormatError naming the file and the tensor.  The caller checks the
tensor's size against the file before asking, so nothing is allocated for a
tensor the file cannot hold.
"""

from typing import IO, Any

import numpy as np
import numpy.typing as npt

from ._errors import FormatError
from ._pipeline import empty

# Bytes per read call: large enough to amortise the call, small enough that
# no single system call is asked for gigabytes.
READ_CHUNK = 16 << 20


def read_into(f: IO[bytes], buf: npt.NDArray[np.uint8], where: str, name: str) -> None:
    """Fill the writable byte buffer `buf` from the stream `f`; FormatError
    (naming `where` and tensor `name`) when the stream ends first."""
    view = buf.data.cast("B")  # .data: memoryview(buf), which typeshed allows from 3.12 only
    done = 0
    while done < len(view):
        # typeshed's IO has no readinto; every stream here (open(), ZipFile.open()) has.
        got = f.readinto(view[done : done + READ_CHUNK])  # type: ignore[attr-defined]
        if not got:
            raise FormatError(
                f"{where}: tensor {name!r}: the file ended after {done} of "
                f"its {len(view)} bytes (truncated, or shrank while being "
                f"read)"
            )
        done += got


def read_array(
    f: IO[bytes], offset: int, dtype: npt.DTypeLike, shape: tuple[int, ...], where: str, name: str
) -> npt.NDArray[Any]:
    """An array of `dtype` and `shape` read from `f` at byte `offset` (in
    memory that _pipeline reuses, in its threads)."""
    a = empty(shape, dtype)
    if a.nbytes:
        f.seek(offset)
        read_into(f, a.reshape(-1).view(np.uint8), where, name)
    return a
