# Included by _kernels.pyx: GGML Q8_0 blocks and the CRC-32.

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
