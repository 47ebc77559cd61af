# Included by _kernels.pyx.

# ---------------------------------------------------------------------------
# The common per-tensor calls in one step each.  A small call is dominated by
# what surrounds the kernel (a 1-element quantize is a few microseconds), so
# these read the operands' dtype, layout and shape from their buffers (one
# call each) instead of NumPy attributes, and make one NumPy call per output.

cdef object ndarray = np.ndarray


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


# Types of a given scale the compiled path takes (others: quantize's plan).
cdef tuple SCALAR_SCALES = (float, np.float64, np.float32)


def quantize_tensor(x, int mode, out, int threads, given=None):
    """(q, scale): per-tensor quantize of a non-empty C-contiguous native
    float32/float64/float16 array x, q into `out` when it is a writeable
    C-contiguous int8 ndarray (not a subclass) of x's shape apart from x, with
    the scale from the abs-max or `given` (a float, finite and > 0 in the
    working dtype).  None for anything else, which quantize's plan
    (int8q/_plan.py) takes and checks: the buffer tests here are the
    cheapest place for them, and the plan makes the checks with their
    messages; NONFINITE at NaN/inf, with `out` untouched (its abs-max pass
    comes first; an allocated q is found partly written and dropped)."""
    cdef Py_buffer xv, ov, qv, sv
    cdef int kind, status
    cdef Py_ssize_t n
    cdef int8q_layout L
    cdef double given_value = 0.0
    cdef bint check_first = out is not None
    if out is not None and type(out) is not ndarray:
        return None  # subclasses (np.matrix, masked arrays...): the plan checks them
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
            L.rgrp = L.rblk = 0
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
            L.rgrp = L.rblk = 0
            if n:
                with nogil:
                    int8q_dequantize(<const int8_t *>qv.buf, n, 0, &L, sp, f64, ov.buf, threads)
        finally:
            PyBuffer_Release(&ov)
        return out
    finally:
        PyBuffer_Release(&qv)
