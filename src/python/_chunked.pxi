# Included by _kernels.pyx: the wrappers int8q/_engine.py drives chunk by
# chunk.

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
