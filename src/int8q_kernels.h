/* Serial INT8 kernels over one contiguous range of the C-order flattened input.
 *
 * The Cython driver (_kernels.pyx) cuts the work into ranges, runs them on
 * several threads and handles the GIL; everything here is plain C with no
 * Python objects, so it can run anywhere.
 *
 * Granularity is described by a `layout`: the flat C-order index i lies in row
 * r = i / n_row, column c = i % n_row, and uses scale number
 *     (r % cmod) * nb + c / block
 * which covers per-tensor (n_row = block = N, cmod = nb = 1), per-channel with
 * trailing size post > 1 (n_row = block = post, cmod = channels, nb = 1),
 * per-channel on the last axis (n_row = channels, block = 1, cmod = 1,
 * nb = channels) and per-block (n_row = last axis, block = B, cmod = rows,
 * nb = ceil(n_row / B)).
 *
 * Abs-max is taken on the IEEE bit patterns: with the sign bit cleared, the
 * (non-negative, signed) integer order of finite floats is their numeric order and every NaN or inf
 * compares above every finite value.  Integer max reductions vectorize on every
 * ISA and are exact, and NaN/inf detection costs nothing extra.
 */
#ifndef INT8Q_KERNELS_H
#define INT8Q_KERNELS_H

#include <stddef.h>
#include <stdint.h>

typedef struct {
    ptrdiff_t n_row;  /* length of a row of the flat index space */
    ptrdiff_t block;  /* elements per scale inside a row */
    ptrdiff_t cmod;   /* rows share scales modulo cmod */
    ptrdiff_t nb;     /* scales per row group: ceil(n_row / block) */
} int8q_layout;

enum { INT8Q_HALF_EVEN = 0, INT8Q_HALF_AWAY = 1 };

/* Instruction-set levels; which ones exist depends on the compiler and CPU. */
enum { INT8Q_ISA_BASELINE = 0, INT8Q_ISA_AVX2 = 1, INT8Q_ISA_AVX512 = 2 };

/* Best level this build and this CPU support. */
int int8q_isa_detect(void);
/* Whether this build contains code for `level` (the CPU may still lack it). */
int int8q_isa_compiled(int level);
/* Use `level` from now on; returns 0 on success, -1 if not compiled or not
 * supported by this CPU. */
int int8q_isa_select(int level);
int int8q_isa_current(void);

#define INT8Q_DECLARE(SUF, T, U)                                                 \
    void int8q_absmax_range_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e,          \
                                  const int8q_layout *L, U *mbits);              \
    void int8q_quantize_range_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e,        \
                                    const int8q_layout *L, const T *scales,      \
                                    int mode, int8_t *q, T *d);                  \
    int int8q_fused_range_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e,            \
                                const int8q_layout *L, T *scales, int mode,      \
                                int8_t *q, T *d);                                \
    void int8q_dequantize_range_##SUF(const int8_t *q, ptrdiff_t s, ptrdiff_t e, \
                                      const int8q_layout *L, const T *scales,    \
                                      T *out);

/* In every range function x, q, d and out point at flat element s; `scales`
 * and `mbits` are indexed by scale number.  mode is INT8Q_HALF_EVEN or
 * INT8Q_HALF_AWAY.  fused_range needs s and e on block boundaries and every
 * scale used by one block only; it returns 1 (leaving later blocks unwritten)
 * when it meets NaN or inf. */
INT8Q_DECLARE(f32, float, int32_t)
INT8Q_DECLARE(f64, double, int64_t)
#undef INT8Q_DECLARE

/* GGML Q8_0 over nblocks whole blocks (32 floats <-> 34 bytes).  quantize
 * returns 0, or 1 at a NaN/inf block, or 2 when a scale overflows float16. */
int int8q_q8_0_quantize(const float *x, ptrdiff_t nblocks, uint8_t *out);
void int8q_q8_0_dequantize(const uint8_t *raw, ptrdiff_t nblocks, float *out);

#endif
