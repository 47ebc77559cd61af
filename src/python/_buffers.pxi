# Included by _kernels.pyx: how the wrappers reach arrays' bytes.

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
# Buffers read with their format and shape (the small-call fast paths).

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
