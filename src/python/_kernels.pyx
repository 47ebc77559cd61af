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

cdef extern from "core/threads.h":
    Py_ssize_t INT8Q_MIN_PER_THREAD
    int int8q_have_openmp() noexcept nogil
    int int8q_max_threads() noexcept nogil

cdef extern from "core/gather.h":
    ctypedef struct int8q_strided:
        pass
    int int8q_strided_init(int8q_strided *s, const void *base, int ndim, const Py_ssize_t *shape,
                           const Py_ssize_t *strides, int itemsize, int swapped) noexcept nogil

cdef extern from "core/kernels.h":
    ctypedef struct int8q_layout:
        Py_ssize_t n_row
        Py_ssize_t block
        Py_ssize_t cmod
        Py_ssize_t nb

    enum int8q_rounding:
        INT8Q_HALF_EVEN
        INT8Q_HALF_AWAY
    enum int8q_input:
        INT8Q_IN_F32
        INT8Q_IN_F64
        INT8Q_IN_F16
        INT8Q_IN_BF16
    enum int8q_isa:
        INT8Q_ISA_BASELINE
        INT8Q_ISA_COUNT
    enum int8q_status:
        INT8Q_OK
        INT8Q_NONFINITE
        INT8Q_F16_OVERFLOW
        INT8Q_NOMEM

    float int8q_scale_f32(float amax) noexcept nogil
    double int8q_scale_f64(double amax) noexcept nogil
    void int8q_scales_from_absmax(const void *m, Py_ssize_t n, int f64,
                                  void *scales) noexcept nogil
    int int8q_asymmetric_params(const void *rmin, const void *rmax, Py_ssize_t n, int f64,
                                int qmin, int qmax, void *scales,
                                int32_t *zero_points) noexcept nogil

    int int8q_isa_detect() noexcept nogil
    int int8q_isa_compiled(int level) noexcept nogil
    int int8q_isa_select(int level) noexcept nogil
    int int8q_isa_current() noexcept nogil
    const char *int8q_isa_name(int level) noexcept nogil
    const char *int8q_isa_flags(int level) noexcept nogil

    int int8q_absmax(const void *x, int kind, Py_ssize_t n, Py_ssize_t start,
                     const int8q_layout *L, void *m, Py_ssize_t nscales, int threads) noexcept nogil
    int int8q_absmax_strided(const int8q_strided *x, int kind, Py_ssize_t n, Py_ssize_t start,
                             const int8q_layout *L, void *m, Py_ssize_t nscales,
                             int threads) noexcept nogil
    int int8q_quantize(const void *x, int kind, Py_ssize_t n, Py_ssize_t start,
                       const int8q_layout *L, const void *scales, int bounded, int mode,
                       int8_t *q, void *d, int threads) noexcept nogil
    int int8q_quantize_all(const void *x, int kind, Py_ssize_t n, Py_ssize_t start,
                           const int8q_layout *L, void *scales, Py_ssize_t nscales, int fused,
                           int mode, int8_t *q, void *d, int threads) noexcept nogil
    int int8q_quantize_all_strided(const int8q_strided *x, int kind, Py_ssize_t n,
                                   Py_ssize_t start, const int8q_layout *L, void *scales,
                                   Py_ssize_t nscales, int fused, int mode, int8_t *q, void *d,
                                   int threads) noexcept nogil
    int int8q_quantize_given(const void *x, int kind, Py_ssize_t n, const void *scale,
                             int check_first, int mode, int8_t *q, int threads) noexcept nogil
    void int8q_dequantize(const int8_t *q, Py_ssize_t n, Py_ssize_t start, const int8q_layout *L,
                          const void *scales, int f64, void *out, int threads) noexcept nogil
    int int8q_q8_0_quantize(const void *x, int kind, Py_ssize_t nblocks, uint8_t *out,
                            int threads) noexcept nogil
    int int8q_q8_0_quantize_strided(const int8q_strided *x, int kind, Py_ssize_t nblocks,
                                    uint8_t *out, int threads) noexcept nogil
    void int8q_q8_0_dequantize(const uint8_t *raw, Py_ssize_t nblocks, float *out,
                               int threads) noexcept nogil
    int int8q_crc32(const void *p, size_t n, uint32_t *crc) noexcept nogil

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


# ---------------------------------------------------------------------------
# Buffers: the bytes of a C-contiguous array, length-checked.

cdef struct buffers:
    Py_buffer views[5]
    int count


cdef void *take(buffers *b, object a, Py_ssize_t nbytes, bint writable) except NULL:
    """a's data pointer; a must be C-contiguous with exactly nbytes bytes."""
    cdef Py_buffer *view = &b.views[b.count]
    PyObject_GetBuffer(a, view, PyBUF_WRITABLE if writable else PyBUF_SIMPLE)
    b.count += 1
    if view.len != nbytes:
        raise ValueError(f"int8q internal error: buffer of {view.len} bytes, expected {nbytes}")
    return view.buf if nbytes else <void *>b  # any non-NULL pointer for empty arrays


cdef void release(buffers *b) noexcept:
    while b.count:
        b.count -= 1
        PyBuffer_Release(&b.views[b.count])


cdef inline Py_ssize_t input_size(int kind) noexcept:
    kind &= ~SWAPPED
    return 8 if kind == INT8Q_IN_F64 else (4 if kind == INT8Q_IN_F32 else 2)


cdef const void *take_input(buffers *b, object x, int kind, Py_ssize_t n,
                            int8q_strided *src, bint *gathered) except NULL:
    """The data pointer of x (n elements of `kind`, any layout).  When the
    kernels cannot read x in place (not C-contiguous, or kind has SWAPPED),
    also fills `src` for them to gather it and sets `gathered`."""
    cdef Py_buffer *view = &b.views[b.count]
    PyObject_GetBuffer(x, view, PyBUF_STRIDES)
    b.count += 1
    gathered[0] = False
    if view.len != n * input_size(kind) or view.itemsize != input_size(kind):
        raise ValueError(f"int8q internal error: buffer of {view.len} bytes, expected "
                         f"{n} elements of {input_size(kind)} bytes")
    if n == 0:
        return <void *>b  # any non-NULL pointer
    if kind & SWAPPED or not PyBuffer_IsContiguous(view, b'C'):
        if int8q_strided_init(src, view.buf, view.ndim, view.shape, view.strides,
                              <int>view.itemsize, kind & SWAPPED != 0):
            raise ValueError(f"int8q: cannot read an array of {view.ndim} axes")
        gathered[0] = True
    return view.buf


cdef inline Py_ssize_t work_size(int kind) noexcept:
    return 8 if kind & ~SWAPPED == INT8Q_IN_F64 else 4


cdef inline int8q_layout make_layout(tuple layout) except *:
    cdef int8q_layout L
    L.n_row, L.block, L.cmod, L.nb = layout
    return L


cdef int check_status(int status) except -1:
    if status == INT8Q_NOMEM:
        raise MemoryError("int8q: out of memory for per-thread partials")
    return status


# ---------------------------------------------------------------------------
# Wrappers: x holds n = len(x) elements of `kind`; q has n int8, d (or None)
# n working-dtype values; scales and m the layout's nscales values.

def absmax_into(x, int kind, Py_ssize_t n, Py_ssize_t start, tuple layout, m, int threads):
    """m[k] = max(m[k], |x|) over the elements of x that use scale k.

    m holds abs-max values (start it at 0); a NaN or inf in x leaves a
    non-finite value in m, which the caller checks.
    """
    cdef int8q_layout L = make_layout(layout)
    cdef buffers b
    cdef Py_ssize_t nscales = len(m)
    cdef const void *xp
    cdef void *mp
    cdef int status
    cdef int8q_strided src
    cdef bint gathered
    b.count = 0
    try:
        xp = take_input(&b, x, kind, n, &src, &gathered)
        kind &= ~SWAPPED
        mp = take(&b, m, nscales * work_size(kind), True)
        with nogil:
            if gathered:
                status = int8q_absmax_strided(&src, kind, n, start, &L, mp, nscales, threads)
            else:
                status = int8q_absmax(xp, kind, n, start, &L, mp, nscales, threads)
        check_status(status)
    finally:
        release(&b)


def quantize_into(x, int kind, Py_ssize_t n, Py_ssize_t start, tuple layout, scales,
                  bint bounded, int mode, q, d, int threads):
    """q = clip(round(x / scale)) (and d = q * scale unless d is None) for
    known scales; `bounded` promises |x / scale| <= 128 (scales from x's
    abs-max), which lets the kernels multiply by exact reciprocals."""
    cdef int8q_layout L = make_layout(layout)
    cdef buffers b
    cdef Py_ssize_t ws = work_size(kind)
    cdef const void *xp
    cdef const void *sp
    cdef int8_t *qp
    cdef void *dp = NULL
    cdef int status
    b.count = 0
    try:
        xp = take(&b, x, n * input_size(kind), False)
        sp = take(&b, scales, len(scales) * ws, False)
        qp = <int8_t *>take(&b, q, n, True)
        if d is not None:
            dp = take(&b, d, n * ws, True)
        with nogil:
            status = int8q_quantize(xp, kind, n, start, &L, sp, bounded, mode, qp, dp, threads)
        check_status(status)
    finally:
        release(&b)


def quantize_all(x, int kind, Py_ssize_t n, Py_ssize_t start, tuple layout, scales,
                 bint fused, int mode, q, d, int threads):
    """Abs-max, scales and q (and d) in one call; returns NONFINITE at NaN/inf.

    fused: block by block while each block is in cache (start and start + n
    on block boundaries, each scale owned by one block; q may then be partly
    written at NaN/inf).  Otherwise x must be the whole array (start 0), and
    nothing is written at NaN/inf.
    """
    cdef int8q_layout L = make_layout(layout)
    cdef buffers b
    cdef Py_ssize_t ws = work_size(kind), nscales = L.cmod * L.nb
    cdef const void *xp
    cdef void *sp
    cdef int8_t *qp
    cdef void *dp = NULL
    cdef int status
    cdef int8q_strided src
    cdef bint gathered
    b.count = 0
    try:
        xp = take_input(&b, x, kind, n, &src, &gathered)
        kind &= ~SWAPPED
        sp = take(&b, scales, nscales * ws, True)
        qp = <int8_t *>take(&b, q, n, True)
        if d is not None:
            dp = take(&b, d, n * ws, True)
        with nogil:
            if gathered:
                status = int8q_quantize_all_strided(&src, kind, n, start, &L, sp, nscales, fused,
                                                    mode, qp, dp, threads)
            else:
                status = int8q_quantize_all(xp, kind, n, start, &L, sp, nscales, fused, mode, qp,
                                            dp, threads)
        return check_status(status)
    finally:
        release(&b)


def dequantize_into(q, Py_ssize_t n, Py_ssize_t start, tuple layout, scales,
                    Py_ssize_t nscales, bint f64, out, int threads):
    """out = q * scale in the working dtype (float64 when f64) for the n
    elements of q (any C-contiguous shape; so are scales and out).  Returns
    NONFINITE, writing nothing, if a scale is NaN or inf."""
    cdef int8q_layout L = make_layout(layout)
    cdef buffers b
    cdef Py_ssize_t ws = 8 if f64 else 4, k
    cdef const int8_t *qp
    cdef const void *sp
    cdef void *op
    b.count = 0
    try:
        qp = <const int8_t *>take(&b, q, n, False)
        sp = take(&b, scales, nscales * ws, False)
        op = take(&b, out, n * ws, True)
        for k in range(nscales):
            if not isfinite((<const double *>sp)[k] if f64 else (<const float *>sp)[k]):
                return INT8Q_NONFINITE
        with nogil:
            int8q_dequantize(qp, n, start, &L, sp, f64, op, threads)
        return INT8Q_OK
    finally:
        release(&b)


# ---------------------------------------------------------------------------
# The common per-tensor calls in one step each.  A small call is dominated by
# what surrounds the kernel (a 1-element quantize is a few microseconds), so
# these read the operands' dtype, layout and shape from their buffers (one
# call each) instead of NumPy attributes, and make one NumPy call per output.

cdef object ndarray = np.ndarray
cdef object INT8 = np.dtype(np.int8)
cdef object FLOAT32 = np.dtype(np.float32)
cdef object FLOAT64 = np.dtype(np.float64)


cdef int format_kind(const char *fmt) noexcept:
    """The input kind of a native-order buffer format ('f', 'd', 'e'), or -1."""
    if fmt == NULL or fmt[0] == 0 or fmt[1] != 0:
        return -1
    if fmt[0] == b'f':
        return INT8Q_IN_F32
    if fmt[0] == b'd':
        return INT8Q_IN_F64
    if fmt[0] == b'e':
        return INT8Q_IN_F16
    return -1


cdef bint is_int8_format(const char *fmt) noexcept:
    return fmt != NULL and fmt[0] == b'b' and fmt[1] == 0


cdef bint take_contiguous(object a, Py_buffer *view, bint writable):
    """a's buffer, C-contiguous with its format; False (nothing held) when a
    cannot give one (not contiguous, read-only...)."""
    cdef int flags = PyBUF_FORMAT | PyBUF_C_CONTIGUOUS | (PyBUF_WRITABLE if writable else 0)
    try:
        PyObject_GetBuffer(a, view, flags)
    except (BufferError, ValueError):  # NumPy: ValueError for a strided array
        return False
    return True


cdef bint same_shape(const Py_buffer *a, const Py_buffer *b) noexcept:
    cdef int k
    if a.ndim != b.ndim:
        return False
    for k in range(a.ndim):
        if a.shape[k] != b.shape[k]:
            return False
    return True


cdef bint apart_in_memory(const Py_buffer *a, const Py_buffer *b) noexcept:
    cdef const char *pa = <const char *>a.buf
    cdef const char *pb = <const char *>b.buf
    return pa + a.len <= pb or pb + b.len <= pa


def all_finite(a, bint positive=False):
    """Whether every value of a (a C-contiguous float32 or float64 array) is
    finite, and > 0 with `positive` (as given scales must be); False for any
    other array."""
    cdef Py_buffer v
    cdef Py_ssize_t k, n
    cdef int kind
    cdef double value
    if not take_contiguous(a, &v, False):
        return False
    try:
        kind = format_kind(v.format)
        if kind != INT8Q_IN_F32 and kind != INT8Q_IN_F64:
            return False
        n = v.len // v.itemsize
        for k in range(n):
            if kind == INT8Q_IN_F64:
                value = (<const double *>v.buf)[k]
            else:
                value = (<const float *>v.buf)[k]
            if not isfinite(value) or (positive and not value > 0):
                return False
        return True
    finally:
        PyBuffer_Release(&v)


# Types of a given scale the compiled path takes (others: the general path).
cdef tuple SCALAR_SCALES = (float, np.float64, np.float32)


def quantize_tensor(x, int mode, out, int threads, given=None):
    """(q, scale): per-tensor quantize of a non-empty C-contiguous native
    float32/float64/float16 array x, q into `out` when it is a writeable
    C-contiguous int8 ndarray (not a subclass) of x's shape apart from x, with
    the scale from the abs-max or `given` (a float, finite and > 0 in the
    working dtype).  None for anything else (the general path takes it and
    checks it); NONFINITE at NaN/inf, with `out` untouched (its abs-max pass
    comes first; an allocated q is found partly written and dropped)."""
    cdef Py_buffer xv, ov, qv, sv
    cdef int kind, status
    cdef Py_ssize_t n
    cdef int8q_layout L
    cdef double given_value = 0.0
    cdef bint check_first = out is not None
    if out is not None and type(out) is not ndarray:
        return None  # subclasses (np.matrix, masked arrays...): the general path checks them
    if given is not None:
        if type(given) not in SCALAR_SCALES:
            return None
        given_value = given
    if not take_contiguous(x, &xv, False):
        return None
    try:
        kind = format_kind(xv.format)
        if kind < 0 or xv.len == 0:
            return None
        n = xv.len // xv.itemsize
        if given is not None:
            # the scale in the working dtype, as np.array(given, work) rounds it
            if kind != INT8Q_IN_F64:
                given_value = <float>given_value
            if not (isfinite(given_value) and given_value > 0):
                return None
        if out is not None:
            if not take_contiguous(out, &ov, True):
                return None
            try:
                if not (is_int8_format(ov.format) and same_shape(&xv, &ov)
                        and apart_in_memory(&xv, &ov)):
                    return None
            finally:
                PyBuffer_Release(&ov)
            q = out
        else:
            q = cnp.PyArray_EMPTY(xv.ndim, <cnp.npy_intp *>xv.shape, cnp.NPY_INT8, 0)
        scale = cnp.PyArray_EMPTY(0, NULL, cnp.NPY_FLOAT64 if kind == INT8Q_IN_F64
                                  else cnp.NPY_FLOAT32, 0)
        PyObject_GetBuffer(q, &qv, PyBUF_WRITABLE)
        try:
            PyObject_GetBuffer(scale, &sv, PyBUF_WRITABLE)
            L.n_row = L.block = n
            L.cmod = L.nb = 1
            if given is None:
                with nogil:
                    status = int8q_quantize_all(xv.buf, kind, n, 0, &L, sv.buf, 1, 0, mode,
                                                <int8_t *>qv.buf, NULL, threads)
            else:
                if kind == INT8Q_IN_F64:
                    (<double *>sv.buf)[0] = given_value
                else:
                    (<float *>sv.buf)[0] = <float>given_value
                with nogil:
                    status = int8q_quantize_given(xv.buf, kind, n, sv.buf, check_first, mode,
                                                  <int8_t *>qv.buf, threads)
            PyBuffer_Release(&sv)
        finally:
            PyBuffer_Release(&qv)
        if check_status(status) != INT8Q_OK:
            return status
        return q, scale
    finally:
        PyBuffer_Release(&xv)


def dequantize_tensor(q, scale, out, int threads):
    """q * scale for a C-contiguous int8 q and one float32/float64 scale (a
    0-d array, a NumPy scalar, or a Python float, which computes in float64
    as np.asarray makes it), into `out` when it is a writeable C-contiguous
    ndarray (not a subclass) of the scale's dtype and q's shape apart from q
    and the scale.  None for anything else (the general path takes it);
    NONFINITE, writing nothing, for a NaN/inf scale."""
    cdef Py_buffer sv
    cdef double py_scale
    if out is not None and type(out) is not ndarray:
        return None  # subclasses (np.matrix, masked arrays...): the general path checks them
    if type(scale) is float:
        py_scale = scale
        return dequantize_scalar(q, INT8Q_IN_F64, &py_scale, out, threads)
    if not take_contiguous(scale, &sv, False):
        return None
    try:
        if sv.ndim != 0:
            return None
        return dequantize_scalar(q, format_kind(sv.format), sv.buf, out, threads, &sv)
    finally:
        PyBuffer_Release(&sv)


cdef object dequantize_scalar(q, int kind, const void *sp, out, int threads,
                              const Py_buffer *sv=NULL):
    """dequantize_tensor once the scale is read: `kind` says what sp points
    at; sv is the scale's buffer when it has one (out must lie apart)."""
    cdef Py_buffer qv, ov
    cdef bint f64 = kind == INT8Q_IN_F64
    cdef Py_ssize_t n
    cdef int8q_layout L
    if kind != INT8Q_IN_F64 and kind != INT8Q_IN_F32:
        return None
    if not take_contiguous(q, &qv, False):
        return None
    try:
        if not is_int8_format(qv.format):
            return None
        if out is None:
            out = cnp.PyArray_EMPTY(qv.ndim, <cnp.npy_intp *>qv.shape,
                                    cnp.NPY_FLOAT64 if f64 else cnp.NPY_FLOAT32, 0)
        if not take_contiguous(out, &ov, True):
            return None
        try:
            if format_kind(ov.format) != kind or not same_shape(&qv, &ov) or \
                    not apart_in_memory(&qv, &ov) or \
                    (sv != NULL and not apart_in_memory(sv, &ov)):
                return None
            # after the checks of out, which the general path makes first
            if not isfinite((<const double *>sp)[0] if f64 else (<const float *>sp)[0]):
                return INT8Q_NONFINITE
            n = qv.len
            L.n_row = L.block = n if n else 1
            L.cmod = L.nb = 1
            if n:
                with nogil:
                    int8q_dequantize(<const int8_t *>qv.buf, n, 0, &L, sp, f64, ov.buf, threads)
        finally:
            PyBuffer_Release(&ov)
        return out
    finally:
        PyBuffer_Release(&qv)


def q8_0_quantize_into(x, int kind, Py_ssize_t n, out, int threads):
    """GGML Q8_0 of x (n elements of `kind`, a whole number of 32-element
    blocks) into out (34 bytes per block).  Returns OK, NONFINITE if a block
    holds NaN/inf (after float32 conversion), or F16_OVERFLOW if a block's
    scale overflows float16."""
    cdef buffers b
    cdef Py_ssize_t nblocks = n // 32
    cdef const void *xp
    cdef uint8_t *op
    cdef int status
    cdef int8q_strided src
    cdef bint gathered
    b.count = 0
    try:
        xp = take_input(&b, x, kind, n, &src, &gathered)
        kind &= ~SWAPPED
        op = <uint8_t *>take(&b, out, nblocks * 34, True)
        with nogil:
            if gathered:
                status = int8q_q8_0_quantize_strided(&src, kind, nblocks, op, threads)
            else:
                status = int8q_q8_0_quantize(xp, kind, nblocks, op, threads)
        return check_status(status)
    finally:
        release(&b)


def q8_0_dequantize_into(raw, out, int threads):
    """Float32 values of whole GGML Q8_0 blocks (34 bytes -> 32 floats)."""
    cdef buffers b
    cdef Py_ssize_t nblocks = len(raw) // 34
    cdef const uint8_t *rp
    cdef float *op
    b.count = 0
    try:
        rp = <const uint8_t *>take(&b, raw, nblocks * 34, False)
        op = <float *>take(&b, out, nblocks * 32 * 4, True)
        with nogil:
            int8q_q8_0_dequantize(rp, nblocks, op, threads)
    finally:
        release(&b)


def crc32(const unsigned char[::1] data, uint32_t value):
    """zlib.crc32(data, value) on this level's fast CRC-32, or None where the
    level has none (the caller then uses zlib's)."""
    cdef uint32_t crc = value
    cdef size_t n = data.shape[0]
    cdef int done
    with nogil:
        done = int8q_crc32(&data[0] if n else NULL, n, &crc)
    return crc if done else None


# ---------------------------------------------------------------------------
# The seed function: int8_quantize(list) -> dict, with no NumPy round trip.

# Python ints -127..127, shared by every result list.
cdef list SMALL_INTS = list(range(-127, 128))
cdef object py_round = builtins.round
cdef tuple NUMPY_REALS = (np.floating, np.integer, np.bool_)
cdef enum:
    STACK_N = 64  # elements the seed function keeps on the stack


cdef object round_decimal(double v, int ndigits, double p10):
    """Python's round(v, ndigits) for ndigits 4 or 6 (p10 = 10.0 ** ndigits).

    round() rounds the exact binary value of v to ndigits decimals (half to
    even) and returns the double nearest that decimal.  y = v * p10 is within
    half an ulp of the exact product, so unless y's fraction is within a few
    ulps of .5, nearbyint(y) is the integer round() picks, and the IEEE
    division r / p10 is correctly rounded: the same double.  Near ties, and
    where y is too large for that argument, ask round() itself.
    """
    cdef double y = v * p10
    cdef double r, ay = fabs(y)
    if ay < 4503599627370496.0:  # 2^52: y has a fractional part to round
        r = nearbyint(y)
        if 0.5 - fabs(y - r) > ay * 4.440892098500626e-16 + 1e-300:  # 2 ulp(y) of margin
            return r / p10
    return py_round(v, ndigits)


def round_decimal_for_tests(double v, int ndigits):
    """round_decimal exposed so tests can compare it with round() directly."""
    return round_decimal(v, ndigits, 10.0 ** ndigits)


cdef double element_as_double(object v, Py_ssize_t i) except? -1.0:
    cdef double f
    if PyFloat_Check(v):  # float and its subclasses, np.float64 included
        f = PyFloat_AS_DOUBLE(v)
    elif PyLong_Check(v):  # int and bool
        try:
            f = PyLong_AsDouble(v)
        except OverflowError:
            raise ValueError(f"element {i} ({v}) is too large for float64") from None
    elif isinstance(v, NUMPY_REALS) or (isinstance(v, numbers.Real) and not isinstance(v, np.ndarray)):
        f = float(v)
    else:
        raise TypeError(
            f"element {i} is {type(v).__name__!r}; int8_quantize takes real numbers only")
    if not isfinite(f):
        raise ValueError(f"element {i} is {f!r}; int8_quantize needs finite numbers")
    return f


def seed_quantize(values):
    """The seed dict for a flat sequence of real numbers (see int8q.int8_quantize)."""
    cdef double stack_x[STACK_N]
    cdef int8_t stack_q[STACK_N]
    cdef double[::1] xv
    cdef int8_t[::1] qv
    cdef double *x
    cdef int8_t *q
    cdef Py_ssize_t n, i
    cdef double amax, scale
    cdef int8q_layout L
    cdef list qlist, dlist
    cdef object item
    cdef PyObject *cache[255]
    cdef int k
    cdef const double[::1] src
    cdef bint mutable = False

    if isinstance(values, np.ndarray):
        values = _array_as_float64(values)
        seq = values
        n = values.shape[0]
    else:
        if isinstance(values, (str, bytes, bytearray)):
            raise TypeError(
                f"int8_quantize takes a sequence of numbers, not {type(values).__name__}")
        try:
            seq = PySequence_Fast(values, "")
        except TypeError:
            raise TypeError(
                f"int8_quantize takes a sequence of numbers, not {type(values).__name__}"
            ) from None
        # PySequence_Fast hands a list back as is (anything else becomes a
        # new list no one else holds), and the caller's list may change
        # under us: see the conversion loop.
        mutable = seq is values and isinstance(seq, list)
        n = len(seq)

    if n <= STACK_N:
        x = stack_x
        q = stack_q
    else:
        xv = np.empty(n, dtype=np.float64)
        qv = np.empty(n, dtype=np.int8)
        x = &xv[0]
        q = &qv[0]

    if isinstance(seq, np.ndarray):
        src = seq
        for i in range(n):
            x[i] = src[i]
            if not isfinite(x[i]):
                raise ValueError(
                    f"element {i} is {x[i]!r}; int8_quantize needs finite numbers")
    else:
        for i in range(n):
            item = <object>PySequence_Fast_GET_ITEM(seq, i)   # a reference of our own
            if mutable and not (PyFloat_Check(item) or PyLong_Check(item)):
                # Converting this element runs Python code (its __float__),
                # which may change the caller's list (clear it, say).  No
                # Python code has run yet, so the list is still as it was
                # passed: read a tuple copy of it from here on, which holds
                # every element and which no one else can change.  Lists of
                # floats and ints never pay for the copy.
                seq = tuple(<list>seq)
                mutable = False
            x[i] = element_as_double(item, i)

    L.n_row = n if n > 0 else 1
    L.block = L.n_row
    L.cmod = 1
    L.nb = 1
    amax = 0.0
    if n > 0:
        int8q_absmax(x, INT8Q_IN_F64, n, 0, &L, &amax, 1, 1)
    scale = int8q_scale_f64(amax)
    if n > 0:
        int8q_quantize(x, INT8Q_IN_F64, n, 0, &L, &scale, 1, INT8Q_HALF_EVEN, q, NULL, 1)

    # |q| <= 127, so there are at most 255 distinct dequantized values: round
    # each once.  cache[k] borrows the reference that dlist holds.
    qlist = PyList_New(n)
    dlist = PyList_New(n)
    memset(cache, 0, sizeof(cache))
    for i in range(n):
        k = q[i] + 127
        item = SMALL_INTS[k]
        Py_INCREF(item)
        PyList_SET_ITEM(qlist, i, item)
        if cache[k] == NULL:
            item = round_decimal(<double>q[i] * scale, 4, 1e4)
            cache[k] = <PyObject *>item
        else:
            item = <object>cache[k]
        Py_INCREF(item)
        PyList_SET_ITEM(dlist, i, item)
    return {'quantized': qlist, 'scale': round_decimal(scale, 6, 1e6), 'dequantized': dlist}


def _array_as_float64(a):
    """A 1-D float64 copy of a NumPy array given to the seed function."""
    if a.ndim != 1:
        raise TypeError(f"int8_quantize takes a flat sequence; got a {a.ndim}-d array")
    kind = a.dtype.kind
    if kind in "biuf" or a.dtype.name == "bfloat16":
        return a.astype(np.float64)
    if kind == "O":
        return np.array([element_as_double(v, i) for i, v in enumerate(a)], dtype=np.float64)
    raise TypeError(f"int8_quantize takes real numbers; got an array of {a.dtype}")


# ===========================================================================
# Affine quantization (given scales and zero points, ONNX QuantizeLinear) and
# the MSE error tables behind clip="mse": the C drivers of core/affine.c (the
# Python driver is int8q/_affine.py).
# ===========================================================================

ctypedef fused real:
    float
    double

cdef extern from "core/affine.h":
    int int8q_affine(const void *x, int f64, Py_ssize_t n, Py_ssize_t start,
                     const int8q_layout *L, const void *scales, const int32_t *zps, int qmin,
                     int qmax, int mode, int out_unsigned, void *q, int threads) noexcept nogil
    void int8q_mse_errors(const void *x, int f64, Py_ssize_t n, Py_ssize_t start,
                          const int8q_layout *L, const void *cand, int ncand, int mode,
                          double *err, int by_blocks, int threads) noexcept nogil


def affine_into(const real[::1] x, Py_ssize_t start, tuple layout, const real[::1] scales,
                const int32_t[::1] zps, int qmin, int qmax, int mode,
                bint out_unsigned, uint8_t[::1] q, int threads):
    """q = saturate(round(x / scale) + zero_point) over [qmin, qmax].

    q is the output's bytes (int8 or uint8, viewed as uint8).  Returns True
    if x holds NaN or inf; q is then partly written and the caller discards
    it.
    """
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = x.shape[0]
    cdef int status, f64 = 0
    if real is double:
        f64 = 1
    if n == 0:
        return False
    with nogil:
        status = int8q_affine(&x[0], f64, n, start, &L, &scales[0], &zps[0], qmin,
                              qmax, mode, out_unsigned, &q[0], threads)
    return status != INT8Q_OK


def mse_errors_into(const real[::1] x, Py_ssize_t start, tuple layout, const real[::1] cand,
                    int ncand, int mode, double[::1] err, bint by_blocks, int threads):
    """err[k * ncand + c] += squared error of candidate scale c over the
    elements of x that use scale k (see core/affine.h).

    With by_blocks (each scale owns one contiguous block, as for a fused
    granularity) threads take whole blocks, so every sum keeps its C order
    and the result does not depend on the thread count; otherwise one thread.
    """
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = x.shape[0]
    cdef int f64 = 0
    if real is double:
        f64 = 1
    if n == 0:
        return
    with nogil:
        int8q_mse_errors(&x[0], f64, n, start, &L, &cand[0], ncand, mode, &err[0],
                         by_blocks, threads)
