# Included by _kernels.pyx.

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
            raise ValueError(f"x[{i}] ({v}) is too large for float64") from None
    elif isinstance(v, NUMPY_REALS) or (isinstance(v, numbers.Real) and not isinstance(v, np.ndarray)):
        f = float(v)
    else:
        raise TypeError(
            f"x[{i}] is {type(v).__name__!r}; int8_quantize takes real numbers only")
    if not isfinite(f):
        raise ValueError(f"x[{i}] is {f!r}; int8q quantizes finite numbers only")
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
                    f"x[{i}] is {x[i]!r}; int8q quantizes finite numbers only")
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
    L.rgrp = L.rblk = 0
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
