# The C drivers' declarations (src/core/*.h), included by _kernels.pyx.

cdef extern from "core/threads.h":
    Py_ssize_t INT8Q_MIN_PER_THREAD
    int int8q_have_openmp() noexcept nogil
    int int8q_max_threads() noexcept nogil
    Py_ssize_t int8q_stream_threshold() noexcept nogil
    void int8q_set_stream_threshold(Py_ssize_t nbytes) noexcept nogil

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
        Py_ssize_t rgrp
        Py_ssize_t rblk

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
