"""Compiled core of int8q: thin wrappers around the C drivers, and the seed
function's list fast path.

Every wrapper takes C-contiguous NumPy arrays that the Python façade
(int8q/_engine.py) has already validated and laid out, plus an input `kind`
(INPUT_F32, INPUT_F64, INPUT_F16, INPUT_BF16) saying how x's elements are
stored; the quantize-side inputs x may have any layout, and INPUT_SWAPPED
OR'ed into their kind says their bytes are reversed (the C drivers then
gather them); scales, abs-max values and dequantized outputs are in the working
dtype (float64 for INPUT_F64, float32 otherwise).  `start` is the flat C-order
index of x's first element, which the layout needs to know which scale each
element uses.  The C drivers (core/drivers.c) run the threads, one parallel
region per call, and allocate no full-size temporary.

Arrays reach C through the buffer protocol as plain bytes (no per-dtype
typed memoryviews, so one wrapper serves every dtype and small calls stay
cheap); each wrapper checks every buffer's byte length against the element
count before C sees it.
The module is one extension built from this file and the files it includes:
_c_api.pxi (the C declarations), _buffers.pxi (reaching arrays' bytes),
_chunked.pxi (the wrappers the engine drives chunk by chunk), _tensor.pxi
(the small-call per-tensor steps), _q8_0.pxi (GGML Q8_0 and the CRC-32),
_seed.pxi (the seed function) and _affine.pxi (given scales and zero
points, clip="mse"), in this order: the C functions keep the order they had
in one file.
"""
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint32_t
from libc.math cimport fabs, isfinite, nearbyint
from libc.string cimport memset
from cpython.buffer cimport (PyObject_GetBuffer, PyBuffer_Release, PyBuffer_IsContiguous,
                             PyBUF_SIMPLE, PyBUF_STRIDES, PyBUF_WRITABLE, PyBUF_FORMAT,
                             PyBUF_C_CONTIGUOUS)
from cpython.object cimport PyObject
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.float cimport PyFloat_Check, PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_Check, PyLong_AsDouble
from cpython.sequence cimport PySequence_Fast, PySequence_Fast_GET_ITEM

import builtins
import numbers

import numpy as np
# NumPy's C API only to make the outputs of the small-call fast paths: a
# third of a 1-element quantize was two np.empty calls.
cimport numpy as cnp

cnp.import_array()

include "_c_api.pxi"

# The C enums, for Python (one home: core/kernels.h).
HALF_EVEN = INT8Q_HALF_EVEN
HALF_AWAY = INT8Q_HALF_AWAY
INPUT_F32 = INT8Q_IN_F32
INPUT_F64 = INT8Q_IN_F64
INPUT_F16 = INT8Q_IN_F16
INPUT_BF16 = INT8Q_IN_BF16
OK = INT8Q_OK
NONFINITE = INT8Q_NONFINITE
F16_OVERFLOW = INT8Q_F16_OVERFLOW
# OR'ed into a kind: the elements' bytes are reversed (gathered inputs only).
cdef enum:
    SWAPPED = 16
INPUT_SWAPPED = SWAPPED
ISA_NAMES = tuple(int8q_isa_name(level).decode() for level in range(INT8Q_ISA_COUNT))
# Elements per thread below which a call runs on the calling thread alone.
MIN_PER_THREAD = INT8Q_MIN_PER_THREAD

HAVE_OPENMP = bool(int8q_have_openmp())


def max_threads():
    """OpenMP's thread count (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return int8q_max_threads()


def stream_threshold():
    """Output bytes beyond which calls write with streaming stores
    (core/threads.h)."""
    return int8q_stream_threshold()


def set_stream_threshold(Py_ssize_t nbytes):
    """Testing only: stream outputs larger than nbytes (0: every call; a
    negative value restores the default, the last-level cache's size)."""
    int8q_set_stream_threshold(nbytes)


def isa_detect():
    return int8q_isa_detect()


def isa_compiled(int level):
    return bool(int8q_isa_compiled(level))


def isa_select(int level):
    return int8q_isa_select(level) == 0


def isa_current():
    return int8q_isa_current()


def isa_flags(int level):
    """The compiler flags the level's translation unit was built with."""
    return int8q_isa_flags(level).decode()


def scale_from_absmax(double amax, bint f64):
    """The C scale rule (core/rules.h) for one value, for tests."""
    return int8q_scale_f64(amax) if f64 else int8q_scale_f32(<float>amax)


def scales_from_absmax_into(m, scales, bint f64):
    """scales[k] = the scale rule of m[k] (both C-contiguous, of the working
    dtype, the same length)."""
    cdef buffers b
    cdef Py_ssize_t n = len(m), ws = 8 if f64 else 4
    cdef const void *mp
    cdef void *sp
    b.count = 0
    try:
        mp = take(&b, m, n * ws, False)
        sp = take(&b, scales, n * ws, True)
        with nogil:
            int8q_scales_from_absmax(mp, n, f64, sp)
    finally:
        release(&b)


def asymmetric_params_into(rmin, rmax, int qmin, int qmax, scales, zero_points, bint f64):
    """scales[k], zero_points[k] (int32) = the asymmetric rule (core/rules.h)
    of [rmin[k], rmax[k]] onto [qmin, qmax]; all C-contiguous, of the
    working dtype but zero_points, the same length.  Returns False when a
    range's width overflows the working dtype (the outputs are then partly
    written)."""
    cdef buffers b
    cdef Py_ssize_t n = len(rmin), ws = 8 if f64 else 4
    cdef const void *lo
    cdef const void *hi
    cdef void *sp
    cdef int32_t *zp
    cdef int status
    b.count = 0
    try:
        lo = take(&b, rmin, n * ws, False)
        hi = take(&b, rmax, n * ws, False)
        sp = take(&b, scales, n * ws, True)
        zp = <int32_t *>take(&b, zero_points, n * 4, True)
        with nogil:
            status = int8q_asymmetric_params(lo, hi, n, f64, qmin, qmax, sp, zp)
    finally:
        release(&b)
    return status == INT8Q_OK


include "_buffers.pxi"
include "_chunked.pxi"
include "_tensor.pxi"
include "_q8_0.pxi"
include "_seed.pxi"
include "_affine.pxi"
