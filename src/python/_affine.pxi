# Included by _kernels.pyx.

# ===========================================================================
# Affine quantization (given scales and zero points, ONNX QuantizeLinear),
# its inverse (DequantizeLinear) and the MSE error tables behind clip="mse":
# the C drivers of core/affine.c and core/dequantize.c (the Python driver is
# int8q/_affine.py).
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
    void int8q_minmax(const void *x, int f64, Py_ssize_t n, Py_ssize_t start,
                      const int8q_layout *L, void *lo, void *hi, int threads) noexcept nogil
    void int8q_dequantize_affine(const void *q, int q_unsigned, Py_ssize_t n, Py_ssize_t start,
                                 const int8q_layout *L, const void *scales, const int32_t *zps,
                                 int f64, void *out, int threads) noexcept nogil


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


def affine_dequantize_into(const uint8_t[::1] q, bint q_unsigned, Py_ssize_t start,
                           tuple layout, const real[::1] scales, const int32_t[::1] zps,
                           real[::1] out, int threads):
    """out = (q - zero_point) * scale in the scales' dtype for the elements
    of q (its bytes, int8 or uint8 per q_unsigned), flat C order from
    `start`.  The caller checks the scales (finite) and zero points."""
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = q.shape[0]
    cdef int f64 = 0
    if real is double:
        f64 = 1
    if out.shape[0] != n:
        raise ValueError(f"int8q internal error: out of {out.shape[0]} elements, expected {n}")
    if n == 0:
        return
    with nogil:
        int8q_dequantize_affine(&q[0], q_unsigned, n, start, &L, &scales[0], &zps[0], f64,
                                &out[0], threads)


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


def minmax_into(const real[::1] x, Py_ssize_t start, tuple layout, lo, hi, int threads):
    """lo[k] = min(lo[k], key), hi[k] = max(hi[k], key) over the order keys
    of the elements of x that use scale k (see core/affine.h: int32 keys
    for float32 x, int64 for float64); lo and hi C-contiguous of that
    type, one entry per scale."""
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = x.shape[0]
    cdef int f64 = 0
    cdef int32_t[::1] lo32, hi32
    cdef int64_t[::1] lo64, hi64
    cdef void *lp
    cdef void *hp
    if n == 0:
        return
    if real is double:
        f64 = 1
        lo64, hi64 = lo, hi
        lp, hp = &lo64[0], &hi64[0]
    else:
        lo32, hi32 = lo, hi
        lp, hp = &lo32[0], &hi32[0]
    with nogil:
        int8q_minmax(&x[0], f64, n, start, &L, lp, hp, threads)
