"""Walk an array of any layout in bounded, contiguous, C-ordered chunks.

Inputs that the kernels cannot read at all (other dtypes) are converted one
slab at a time, so temporaries stay bounded whatever the size of the array.
The kernels' own dtypes in any layout or byte order they gather themselves.
"""

from collections.abc import Iterator
from typing import Any, TypeVar

import numpy as np
import numpy.typing as npt

from ._dtypes import is_direct, read_kind, working_kind
from ._typing import WorkingDtype

_ScalarT = TypeVar("_ScalarT", bound=np.generic)

# Elements per converted chunk: 4 MiB of float64.  A loop over chunks() holds
# two at once (the next is made before the last is dropped), still well under
# the 16 MiB the contract allows, and large enough to amortise Python.
CHUNK_ELEMENTS = 1 << 19


def slabs(
    a: npt.NDArray[Any], max_elements: int = CHUNK_ELEMENTS, align: int = 1
) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    """Yield (start, view): views of `a` covering its elements in C order.

    `start` is the flat C-order index of the view's first element and each
    view holds at most max(max_elements, align) elements.  Cuts fall between
    whole sub-arrays, or, inside the last axis, at multiples of `align` (so a
    caller can keep blocks of `align` elements whole).
    """
    yield from _slabs(a, 0, max_elements, align)


def _slabs(
    a: npt.NDArray[Any], start: int, max_elements: int, align: int
) -> Iterator[tuple[int, npt.NDArray[Any]]]:
    if a.size <= max_elements or a.ndim == 0:
        yield start, a
        return
    if a.ndim == 1:
        step = max(align, max_elements // align * align)
        for i in range(0, a.shape[0], step):
            yield start + i, a[i : i + step]
        return
    inner = a[0].size
    if inner <= max_elements:
        step = max_elements // inner
        for i in range(0, a.shape[0], step):
            yield start + i * inner, a[i : i + step]
        return
    for i in range(a.shape[0]):
        yield from _slabs(a[i], start + i * inner, max_elements, align)


def chunk_threads(chunk: npt.NDArray[Any], whole: npt.NDArray[Any], threads: int) -> int:
    """Threads for a kernel call on `chunk` of the array `whole`: all of them
    when the call covers the whole array (one parallel region for the call),
    one for a chunk of an array converted slab by slab.  Converting is
    NumPy's, on one thread, and takes most of the time there; and each
    chunk's parallel region ends in a barrier that waits for the other
    threads to be scheduled: when the cores are shared, 2 threads per chunk
    measured 1.8x slower than 1 (quantize of a byte-swapped 2^24 float32
    array on 2 cores)."""
    return threads if chunk.size == whole.size else 1


def chunks(
    a: npt.NDArray[Any], work: np.dtype[_ScalarT], align: int = 1
) -> Iterator[tuple[int, npt.NDArray[_ScalarT]]]:
    """Yield (start, chunk): 1-D C-contiguous arrays of dtype `work`.

    An array the kernels can read directly comes back whole, with no copy.
    """
    if is_direct(a, work):
        yield 0, a.reshape(-1)
        return
    for start, view in slabs(a, CHUNK_ELEMENTS, align):
        # A value too large for `work` becomes inf, which the kernels then
        # report as a ValueError; NumPy's cast warning would only leak.
        with np.errstate(over="ignore"):
            chunk = np.ascontiguousarray(view, dtype=work).reshape(-1)
        yield start, chunk


def input_chunks(
    a: npt.NDArray[Any], work: WorkingDtype, align: int = 1
) -> Iterator[tuple[int, npt.NDArray[Any], int]]:
    """Yield (start, chunk, kind): what the quantize kernels read.

    An array of a dtype the kernels read (float32/float64, float16/bfloat16
    widened inside them) comes back whole, in any layout and byte order (the
    kernels gather what they cannot read in place; see read_kind); anything
    else is converted to `work` slab by slab, as chunks() does.  Callers
    take a chunk's element count from chunk.size.
    """
    kind = read_kind(a, work)
    if kind is not None:
        yield 0, a, kind
        return
    kind = working_kind(work)
    for start, chunk in chunks(a, work, align):
        yield start, chunk, kind
