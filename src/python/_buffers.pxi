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
    L.n_row, L.block, L.cmod, L.nb, L.rgrp, L.rblk = layout
    return L


cdef int check_status(int status) except -1:
    if status == INT8Q_NOMEM:
        raise MemoryError("int8q: out of memory for per-thread partials")
    return status
