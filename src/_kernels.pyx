"""Compiled core of int8q: thread-parallel drivers around the C range kernels,
and the seed function's list fast path.

Every function here takes contiguous 1-D typed memoryviews of the working
dtype (float32 or float64) that the Python façade (int8q/_engine.py) has
already validated and laid out; `start` is the flat C-order index of the
chunk's first element, which the layout needs to know which scale each
element uses.  Nothing here allocates a full-size temporary.

The innermost loops live in int8q_kernels.c rather than here because
run-time SIMD dispatch needs per-function target attributes, which Cython
cannot express.
"""
from cython.parallel cimport prange
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t
from libc.math cimport fabs, isfinite, nearbyint
from libc.string cimport memcpy, memset
from cpython.object cimport PyObject
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF
from cpython.float cimport PyFloat_Check, PyFloat_AS_DOUBLE
from cpython.long cimport PyLong_Check, PyLong_AsDouble
from cpython.sequence cimport PySequence_Fast, PySequence_Fast_GET_ITEM

import builtins
import numbers

import numpy as np

cdef extern from "int8q_openmp.h":
    int omp_get_max_threads() noexcept nogil
    int INT8Q_HAVE_OPENMP

cdef extern from "int8q_kernels.h":
    ctypedef struct int8q_layout:
        Py_ssize_t n_row
        Py_ssize_t block
        Py_ssize_t cmod
        Py_ssize_t nb

    int int8q_isa_detect() noexcept nogil
    int int8q_isa_compiled(int level) noexcept nogil
    int int8q_isa_select(int level) noexcept nogil
    int int8q_isa_current() noexcept nogil

    void int8q_absmax_range_f32(const float *x, Py_ssize_t s, Py_ssize_t e,
                                const int8q_layout *L, int32_t *mbits) noexcept nogil
    void int8q_quantize_range_f32(const float *x, Py_ssize_t s, Py_ssize_t e,
                                  const int8q_layout *L, const float *scales,
                                  int mode, int8_t *q, float *d) noexcept nogil
    int int8q_fused_range_f32(const float *x, Py_ssize_t s, Py_ssize_t e,
                              const int8q_layout *L, float *scales, int mode,
                              int8_t *q, float *d) noexcept nogil
    void int8q_dequantize_range_f32(const int8_t *q, Py_ssize_t s, Py_ssize_t e,
                                    const int8q_layout *L, const float *scales,
                                    float *out) noexcept nogil
    void int8q_absmax_range_f64(const double *x, Py_ssize_t s, Py_ssize_t e,
                                const int8q_layout *L, int64_t *mbits) noexcept nogil
    void int8q_quantize_range_f64(const double *x, Py_ssize_t s, Py_ssize_t e,
                                  const int8q_layout *L, const double *scales,
                                  int mode, int8_t *q, double *d) noexcept nogil
    int int8q_fused_range_f64(const double *x, Py_ssize_t s, Py_ssize_t e,
                              const int8q_layout *L, double *scales, int mode,
                              int8_t *q, double *d) noexcept nogil
    void int8q_dequantize_range_f64(const int8_t *q, Py_ssize_t s, Py_ssize_t e,
                                    const int8q_layout *L, const double *scales,
                                    double *out) noexcept nogil

    int int8q_q8_0_quantize(const float *x, Py_ssize_t nblocks, uint8_t *out) noexcept nogil
    void int8q_q8_0_dequantize(const uint8_t *raw, Py_ssize_t nblocks, float *out) noexcept nogil

ctypedef fused real:
    float
    double

HAVE_OPENMP = bool(INT8Q_HAVE_OPENMP)

# Below this many elements per thread, waking another thread costs more than
# it saves.
cdef Py_ssize_t MIN_PER_THREAD = 1 << 17
# Per-thread partial abs-max arrays are only worth it while they stay small.
cdef Py_ssize_t MAX_PARTIALS = 1 << 20


def max_threads():
    """OpenMP's thread count (honours OMP_NUM_THREADS); 1 without OpenMP."""
    return omp_get_max_threads()


def isa_detect():
    return int8q_isa_detect()


def isa_compiled(int level):
    return bool(int8q_isa_compiled(level))


def isa_select(int level):
    return int8q_isa_select(level) == 0


def isa_current():
    return int8q_isa_current()


cdef inline int8q_layout make_layout(tuple layout):
    cdef int8q_layout L
    L.n_row, L.block, L.cmod, L.nb = layout
    return L


cdef inline int plan_threads(Py_ssize_t n, int threads) noexcept nogil:
    cdef Py_ssize_t t = n // MIN_PER_THREAD
    if t > threads:
        t = threads
    return <int>t if t > 1 else 1


cdef inline Py_ssize_t next_block_start(const int8q_layout *L, Py_ssize_t p) noexcept nogil:
    """Smallest block boundary >= p (p itself when it is one)."""
    cdef Py_ssize_t r = p // L.n_row
    cdef Py_ssize_t c = p - r * L.n_row
    cdef Py_ssize_t up = (c + L.block - 1) // L.block * L.block
    if up >= L.n_row:
        return (r + 1) * L.n_row
    return r * L.n_row + up


cdef enum:
    MAX_THREADS = 256


cdef int absmax_one_scale(const real[::1] x, Py_ssize_t start, const int8q_layout *L,
                          real[::1] m, int T) except -1:
    # Integer partials: the kernels reduce bit patterns as integers, and
    # reading a float object through an integer pointer would break C's
    # aliasing rules.
    cdef int32_t part32[MAX_THREADS]
    cdef int64_t part64[MAX_THREADS]
    cdef int32_t best32
    cdef int64_t best64
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int t
    if T > MAX_THREADS:
        T = MAX_THREADS
    best32 = 0
    best64 = 0
    if real is float:
        memcpy(&best32, &m[0], 4)
    else:
        memcpy(&best64, &m[0], 8)
    for t in range(T):
        part32[t] = 0
        part64[t] = 0
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = n * t // T
        hi = n * (t + 1) // T
        if hi > lo:
            if real is float:
                int8q_absmax_range_f32(&x[lo], start + lo, start + hi, L, &part32[t])
            else:
                int8q_absmax_range_f64(&x[lo], start + lo, start + hi, L, &part64[t])
    # NaN/inf patterns are the largest integers, so they stay visible.
    for t in range(T):
        if part32[t] > best32:
            best32 = part32[t]
        if part64[t] > best64:
            best64 = part64[t]
    if real is float:
        memcpy(&m[0], &best32, 4)
    else:
        memcpy(&m[0], &best64, 8)
    return 0


cdef int absmax_impl(const real[::1] x, Py_ssize_t start, const int8q_layout *L,
                     real[::1] m, int threads) except -1:
    """m[k] = max(m[k], |x| over the elements of x that use scale k)."""
    cdef Py_ssize_t n = x.shape[0], nscales = m.shape[0], lo, hi
    cdef int t, T = plan_threads(n, threads)
    cdef real[:, ::1] partial
    if n == 0:
        return 0
    if T == 1 or nscales * T > MAX_PARTIALS:
        with nogil:
            if real is float:
                int8q_absmax_range_f32(&x[0], start, start + n, L, <int32_t *>&m[0])
            else:
                int8q_absmax_range_f64(&x[0], start, start + n, L, <int64_t *>&m[0])
        return 0
    if nscales == 1:
        # Per tensor: per-thread partials on the stack, combined in C (the
        # NumPy route below costs microseconds that mid-size arrays feel).
        return absmax_one_scale(x, start, L, m, T)
    # Each thread reduces its own slice into its own row; max is exact and
    # order-free, so the result does not depend on T.
    partial_array = np.zeros((T, nscales), dtype=np.asarray(m).dtype)
    partial = partial_array
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = n * t // T
        hi = n * (t + 1) // T
        if hi > lo:
            if real is float:
                int8q_absmax_range_f32(&x[lo], start + lo, start + hi, L,
                                       <int32_t *>&partial[t, 0])
            else:
                int8q_absmax_range_f64(&x[lo], start + lo, start + hi, L,
                                       <int64_t *>&partial[t, 0])
    # np.max propagates NaN, so a non-finite input stays visible.
    np.maximum(np.asarray(m), partial_array.max(axis=0), out=np.asarray(m))
    return 0


cdef int quantize_impl(const real[::1] x, Py_ssize_t start, const int8q_layout *L,
                       const real[::1] scales, int mode, int8_t[::1] q, real[::1] d,
                       int threads) except -1:
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int t, T = plan_threads(n, threads)
    cdef real *dp = NULL
    if n == 0:
        return 0
    if d is not None:
        dp = &d[0]
    if T == 1:  # no OpenMP region at all for small inputs
        with nogil:
            if real is float:
                int8q_quantize_range_f32(&x[0], start, start + n, L, &scales[0], mode, &q[0], dp)
            else:
                int8q_quantize_range_f64(&x[0], start, start + n, L, &scales[0], mode, &q[0], dp)
        return 0
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = n * t // T
        hi = n * (t + 1) // T
        if hi > lo:
            if real is float:
                int8q_quantize_range_f32(&x[lo], start + lo, start + hi, L, &scales[0],
                                         mode, &q[lo], dp + lo if dp != NULL else NULL)
            else:
                int8q_quantize_range_f64(&x[lo], start + lo, start + hi, L, &scales[0],
                                         mode, &q[lo], dp + lo if dp != NULL else NULL)
    return 0


cdef int fused_impl(const real[::1] x, Py_ssize_t start, const int8q_layout *L,
                    real[::1] scales, int mode, int8_t[::1] q, real[::1] d,
                    int threads) except -1:
    """Returns 1 if a NaN or inf was met, else 0."""
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int t, T = plan_threads(n, threads), bad = 0
    cdef real *dp = NULL
    if n == 0:
        return 0
    if d is not None:
        dp = &d[0]
    if T == 1:
        with nogil:
            if real is float:
                bad = int8q_fused_range_f32(&x[0], start, start + n, L, &scales[0], mode, &q[0], dp)
            else:
                bad = int8q_fused_range_f64(&x[0], start, start + n, L, &scales[0], mode, &q[0], dp)
        return 1 if bad else 0
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        # Thread slices start and end on block boundaries.
        lo = next_block_start(L, start + n * t // T) - start
        hi = next_block_start(L, start + n * (t + 1) // T) - start
        if hi > n:
            hi = n
        if hi > lo:
            if real is float:
                bad += int8q_fused_range_f32(&x[lo], start + lo, start + hi, L, &scales[0],
                                             mode, &q[lo], dp + lo if dp != NULL else NULL)
            else:
                bad += int8q_fused_range_f64(&x[lo], start + lo, start + hi, L, &scales[0],
                                             mode, &q[lo], dp + lo if dp != NULL else NULL)
    return 1 if bad else 0


def absmax_into(const real[::1] x, Py_ssize_t start, tuple layout, real[::1] m, int threads):
    """m[k] = max(m[k], |x| over the elements of x that use scale k).

    m holds abs-max values (start it at 0); a NaN or inf in x leaves a
    non-finite value in m, which the caller checks.
    """
    cdef int8q_layout L = make_layout(layout)
    absmax_impl(x, start, &L, m, threads)


def quantize_into(const real[::1] x, Py_ssize_t start, tuple layout, const real[::1] scales,
                  int mode, int8_t[::1] q, real[::1] d, int threads):
    """q = clip(round(x / scale)) (and d = q * scale unless d is None)."""
    cdef int8q_layout L = make_layout(layout)
    quantize_impl(x, start, &L, scales, mode, q, d, threads)


def fused_into(const real[::1] x, Py_ssize_t start, tuple layout, real[::1] scales,
               int mode, int8_t[::1] q, real[::1] d, int threads):
    """Abs-max, scale and quantize block by block while each block is in cache.

    start and start + len(x) must be block boundaries and each scale must
    belong to one block.  Returns True if a NaN or inf was met (outputs are
    then partly written; the caller discards them).
    """
    cdef int8q_layout L = make_layout(layout)
    return fused_impl(x, start, &L, scales, mode, q, d, threads) != 0


cdef object quantize_whole_impl(const real[::1] x, tuple layout, Py_ssize_t nscales,
                                bint fused, int mode, int8_t[::1] q, real[::1] d, int threads):
    cdef int8q_layout L = make_layout(layout)
    cdef real[::1] s
    cdef Py_ssize_t k
    dtype = np.float32 if real is float else np.float64
    if fused:
        # Ones: the scale of an empty block (never visited) is 1.
        scales = np.ones(nscales, dtype=dtype)
        s = scales
        if fused_impl(x, 0, &L, s, mode, q, d, threads):
            return None
        return scales
    scales = np.zeros(nscales, dtype=dtype)
    s = scales
    absmax_impl(x, 0, &L, s, threads)
    for k in range(nscales):
        if not isfinite(s[k]):
            return None
        s[k] = s[k] / <real>127
        if s[k] == 0:
            s[k] = 1
    quantize_impl(x, 0, &L, s, mode, q, d, threads)
    return scales


# quantize_whole_f32/_f64: quantize all of a contiguous array in one call, the
# fast path for inputs the kernels read in place.  They return the flat
# scales, or None if x holds NaN/inf (then q may be partly written when
# fused is true; with fused false, nothing is).  Two plain entry points
# instead of one fused def: Cython's run-time dispatch of a fused def costs
# microseconds, which small arrays feel.
def quantize_whole_f32(const float[::1] x, tuple layout, Py_ssize_t nscales, bint fused,
                       int mode, int8_t[::1] q, float[::1] d, int threads):
    return quantize_whole_impl(x, layout, nscales, fused, mode, q, d, threads)


def quantize_whole_f64(const double[::1] x, tuple layout, Py_ssize_t nscales, bint fused,
                       int mode, int8_t[::1] q, double[::1] d, int threads):
    return quantize_whole_impl(x, layout, nscales, fused, mode, q, d, threads)


def dequantize_into(const int8_t[::1] q, Py_ssize_t start, tuple layout,
                    const real[::1] scales, real[::1] out, int threads):
    """out = q * scale in the working dtype."""
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = q.shape[0], lo, hi
    cdef int t, T = plan_threads(n, threads)
    if n == 0:
        return
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = n * t // T
        hi = n * (t + 1) // T
        if hi > lo:
            if real is float:
                int8q_dequantize_range_f32(&q[lo], start + lo, start + hi, &L,
                                           &scales[0], &out[lo])
            else:
                int8q_dequantize_range_f64(&q[lo], start + lo, start + hi, &L,
                                           &scales[0], &out[lo])


def q8_0_quantize_into(const float[::1] x, uint8_t[::1] out, int threads):
    """GGML Q8_0 of x (a whole number of 32-float blocks) into out (34 bytes
    per block).  Returns 0, 1 if a block holds NaN/inf, or 2 if a block's
    scale overflows float16."""
    cdef Py_ssize_t nblocks = x.shape[0] // 32, lo, hi
    cdef int t, T = plan_threads(x.shape[0], threads), code, nonfinite = 0, overflow = 0
    if nblocks == 0:
        return 0
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = nblocks * t // T
        hi = nblocks * (t + 1) // T
        if hi > lo:
            code = int8q_q8_0_quantize(&x[32 * lo], hi - lo, &out[34 * lo])
            nonfinite += code == 1
            overflow += code == 2
    return 1 if nonfinite else (2 if overflow else 0)


def q8_0_dequantize_into(const uint8_t[::1] raw, float[::1] out, int threads):
    """Float32 values of whole GGML Q8_0 blocks (34 bytes -> 32 floats)."""
    cdef Py_ssize_t nblocks = raw.shape[0] // 34, lo, hi
    cdef int t, T = plan_threads(out.shape[0], threads)
    if nblocks == 0:
        return
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = nblocks * t // T
        hi = nblocks * (t + 1) // T
        if hi > lo:
            int8q_q8_0_dequantize(&raw[34 * lo], hi - lo, &out[32 * lo])


# ---------------------------------------------------------------------------
# The seed function: int8_quantize(list) -> dict, with no NumPy round trip.

# Python ints -127..127, shared by every result list.
cdef list SMALL_INTS = list(range(-127, 128))
cdef object py_round = builtins.round
cdef tuple NUMPY_REALS = (np.floating, np.integer, np.bool_)
cdef Py_ssize_t STACK_N = 64


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
    cdef double stack_x[64]
    cdef int8_t stack_q[64]
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
        int8q_absmax_range_f64(x, 0, n, &L, <int64_t *>&amax)
    scale = amax / 127.0
    if scale == 0.0:
        scale = 1.0
    if n > 0:
        int8q_quantize_range_f64(x, 0, n, &L, &scale, 0, q, NULL)

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
# the MSE error tables behind clip="mse".  The C loops are in int8q_affine.c;
# the Python driver is int8q/_affine.py.  Self-contained: it uses only the
# layout helpers above (make_layout, plan_threads, next_block_start).
# ===========================================================================

cdef extern from "int8q_affine.h":
    int int8q_affine_range_f32(const float *x, Py_ssize_t s, Py_ssize_t e,
                               const int8q_layout *L, const float *scales,
                               const int32_t *zps, int qmin, int qmax, int mode,
                               int out_unsigned, void *q) noexcept nogil
    int int8q_affine_range_f64(const double *x, Py_ssize_t s, Py_ssize_t e,
                               const int8q_layout *L, const double *scales,
                               const int32_t *zps, int qmin, int qmax, int mode,
                               int out_unsigned, void *q) noexcept nogil
    void int8q_mse_errors_range_f32(const float *x, Py_ssize_t s, Py_ssize_t e,
                                    const int8q_layout *L, const float *cand, int ncand,
                                    int mode, double *err) noexcept nogil
    void int8q_mse_errors_range_f64(const double *x, Py_ssize_t s, Py_ssize_t e,
                                    const int8q_layout *L, const double *cand, int ncand,
                                    int mode, double *err) noexcept nogil


def affine_into(const real[::1] x, Py_ssize_t start, tuple layout, const real[::1] scales,
                const int32_t[::1] zps, int qmin, int qmax, int mode,
                bint out_unsigned, uint8_t[::1] q, int threads):
    """q = saturate(round(x / scale) + zero_point) over [qmin, qmax].

    q is the output's bytes (int8 or uint8, viewed as uint8).  Returns True
    if x holds NaN or inf; q is then partly written and the caller discards
    it.  Threads split the range anywhere: every element is independent.
    """
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int t, T = plan_threads(n, threads), bad = 0
    if n == 0:
        return False
    if T == 1:
        with nogil:
            if real is float:
                bad = int8q_affine_range_f32(&x[0], start, start + n, &L, &scales[0], &zps[0],
                                             qmin, qmax, mode, out_unsigned, &q[0])
            else:
                bad = int8q_affine_range_f64(&x[0], start, start + n, &L, &scales[0], &zps[0],
                                             qmin, qmax, mode, out_unsigned, &q[0])
        return bad != 0
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = n * t // T
        hi = n * (t + 1) // T
        if hi > lo:
            if real is float:
                bad += int8q_affine_range_f32(&x[lo], start + lo, start + hi, &L, &scales[0],
                                              &zps[0], qmin, qmax, mode, out_unsigned, &q[lo])
            else:
                bad += int8q_affine_range_f64(&x[lo], start + lo, start + hi, &L, &scales[0],
                                              &zps[0], qmin, qmax, mode, out_unsigned, &q[lo])
    return bad != 0


def mse_errors_into(const real[::1] x, Py_ssize_t start, tuple layout, const real[::1] cand,
                    int ncand, int mode, double[::1] err, bint by_blocks, int threads):
    """err[k * ncand + c] += squared error of candidate scale c over the
    elements of x that use scale k (see int8q_affine.h).

    With by_blocks (each scale owns one contiguous block, as for a fused
    granularity) threads take whole blocks, so every sum keeps its C order
    and the result does not depend on the thread count; otherwise one thread.
    """
    cdef int8q_layout L = make_layout(layout)
    cdef Py_ssize_t n = x.shape[0], lo, hi
    cdef int t, T = plan_threads(n, threads) if by_blocks else 1
    if n == 0:
        return
    if T == 1:
        with nogil:
            if real is float:
                int8q_mse_errors_range_f32(&x[0], start, start + n, &L, &cand[0], ncand, mode,
                                           &err[0])
            else:
                int8q_mse_errors_range_f64(&x[0], start, start + n, &L, &cand[0], ncand, mode,
                                           &err[0])
        return
    for t in prange(T, nogil=True, schedule='static', num_threads=T):
        lo = next_block_start(&L, start + n * t // T) - start
        hi = next_block_start(&L, start + n * (t + 1) // T) - start
        if hi > n:
            hi = n
        if hi > lo:
            if real is float:
                int8q_mse_errors_range_f32(&x[lo], start + lo, start + hi, &L, &cand[0], ncand,
                                           mode, &err[0])
            else:
                int8q_mse_errors_range_f64(&x[lo], start + lo, start + hi, &L, &cand[0], ncand,
                                           mode, &err[0])
