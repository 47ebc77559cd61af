/* The compiled core's C interface: whole-call drivers that the Cython layer
 * (python/_kernels.pyx) calls without the GIL.  Each driver runs its own
 * threads through core/threads.h (at most one parallel region per call, none
 * below the threading threshold) and never allocates a full-size temporary.
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
 * Blocks along a non-last axis (ONNX's blocked granularity: blocks of B
 * along an axis of length A, shape (pre, A, post) with post > 1) number
 * their rows instead: with rblk = B > 0, row r = p * A + a uses row key
 *     (r / rgrp) * ceil(rgrp / rblk) + (r % rgrp) / rblk
 * in place of r % cmod (rgrp = A, n_row = post, block = 1, nb = post,
 * cmod = pre * ceil(A / B), the number of row keys).  rblk = 0 (and rgrp
 * unused) for every other layout.
 *
 * Inputs are float32, float64, float16 or bfloat16 (`kind`); the half types
 * are converted to float32 inside the kernels, a few hundred elements at a
 * time in a stack buffer.  Scales, abs-max values and dequantized outputs
 * are in the working dtype: float64 for INT8Q_IN_F64, float32 otherwise.
 * The quantize-side drivers also read inputs in any layout and byte order
 * (the *_strided variants), gathering a few thousand elements at a time per
 * thread.
 *
 * Abs-max is taken on the IEEE bit patterns: with the sign bit cleared, the
 * (non-negative, signed) integer order of finite floats is their numeric
 * order and every NaN or inf compares above every finite value.  Integer max
 * reductions vectorize on every ISA and are exact, and NaN/inf detection
 * costs nothing extra.
 */
#ifndef INT8Q_KERNELS_H
#define INT8Q_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "core/gather.h"

typedef struct {
    ptrdiff_t n_row; /* length of a row of the flat index space */
    ptrdiff_t block; /* elements per scale inside a row */
    ptrdiff_t cmod;  /* rows share scales modulo cmod */
    ptrdiff_t nb;    /* scales per row group: ceil(n_row / block) */
    ptrdiff_t rgrp;  /* with rblk: rows per outer index (the blocked axis) */
    ptrdiff_t rblk;  /* rows per block along that axis; 0: rows use r % cmod */
} int8q_layout;

/* Rounding of x / scale to an integer. */
enum int8q_rounding { INT8Q_HALF_EVEN = 0, INT8Q_HALF_AWAY = 1 };

/* How the input elements are stored. */
enum int8q_input { INT8Q_IN_F32 = 0, INT8Q_IN_F64 = 1, INT8Q_IN_F16 = 2, INT8Q_IN_BF16 = 3 };

/* Instruction-set levels: the baseline, then those of levels/levels.def in
 * its order; which ones exist depends on the build and CPU. */
enum int8q_isa {
    INT8Q_ISA_BASELINE = 0,
#define INT8Q_LEVEL(name, arch, gnu_flags, msvc_flags, features, loops) INT8Q_ISA_##name,
#include "levels/levels.def"
#undef INT8Q_LEVEL
    INT8Q_ISA_COUNT
};

/* What a driver reports. */
enum int8q_status { INT8Q_OK = 0, INT8Q_NONFINITE = 1, INT8Q_F16_OVERFLOW = 2, INT8Q_NOMEM = 3 };

/* The scale rule, the one home of "absmax / 127, 1 where that is 0", in the
 * working dtype (the division is IEEE, so every caller gets the same bits). */
float int8q_scale_f32(float amax);
double int8q_scale_f64(double amax);
/* scales[k] = the scale rule of m[k] for n values (f64 selects float64). */
void int8q_scales_from_absmax(const void *m, ptrdiff_t n, int f64, void *scales);

/* scales[k], zero_points[k] = the asymmetric rule (core/rules.h) of the
 * range [rmin[k], rmax[k]] onto [qmin, qmax], for n ranges in the working
 * dtype (f64 selects float64).  Returns INT8Q_NONFINITE when a range's
 * width overflows the working dtype, else INT8Q_OK. */
int int8q_asymmetric_params(const void *rmin, const void *rmax, ptrdiff_t n, int f64, int qmin,
                            int qmax, void *scales, int32_t *zero_points);

/* Best level this build and this CPU support. */
int int8q_isa_detect(void);
/* Whether this build contains code for `level` (the CPU may still lack it). */
int int8q_isa_compiled(int level);
/* Use `level` from now on; returns 0 on success, -1 if not compiled or not
 * supported by this CPU. */
int int8q_isa_select(int level);
int int8q_isa_current(void);
/* Name of a level ("baseline", then levels/levels.def's) and the compiler
 * flags its translation unit was built with, for show_config(). */
const char *int8q_isa_name(int level);
const char *int8q_isa_flags(int level);

/* m[k] = max(m[k], |x|) over the n elements x[0..n) (flat indices start..)
 * that use scale k; m is in the working dtype and starts at 0.  A NaN or inf
 * leaves a non-finite value in m.  Returns INT8Q_OK or INT8Q_NOMEM. */
int int8q_absmax(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                 void *m, ptrdiff_t nscales, int threads);

/* int8q_absmax of a strided input (core/gather.h): the elements x reads
 * from flat index start on. */
int int8q_absmax_strided(const int8q_strided *x, int kind, ptrdiff_t n, ptrdiff_t start,
                         const int8q_layout *L, void *m, ptrdiff_t nscales, int threads);

/* q = clip(round(x / scale)) and, when d is not NULL, d = q * scale.
 * `bounded` promises |x / scale| <= 128 for every element (true when the
 * scales come from the abs-max of x): then the kernels may multiply by the
 * reciprocal (see templates/loops.h); otherwise they divide.  Returns
 * INT8Q_OK or INT8Q_NOMEM. */
int int8q_quantize(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                   const void *scales, int bounded, int mode, int8_t *q, void *d, int threads);

/* Abs-max, scale and quantize of every element in one call: with `fused`,
 * block by block while each block is in cache (start and start + n must be
 * block boundaries and each scale must belong to one block; scales not
 * visited keep their value), else an abs-max pass over all of x first (then
 * nothing is written when x holds NaN/inf; start must be 0 and the call must
 * cover every element of every scale).  Returns INT8Q_NONFINITE at NaN/inf
 * (with `fused`, outputs are then partly written). */
int int8q_quantize_all(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                       void *scales, ptrdiff_t nscales, int fused, int mode, int8_t *q, void *d,
                       int threads);

/* int8q_quantize_all of a strided input (core/gather.h), as above. */
int int8q_quantize_all_strided(const int8q_strided *x, int kind, ptrdiff_t n, ptrdiff_t start,
                               const int8q_layout *L, void *scales, ptrdiff_t nscales, int fused,
                               int mode, int8_t *q, void *d, int threads);

/* q = clip(round(x / scale)) per tensor with the caller's scale (in the
 * working dtype, finite and > 0), for the n elements of x.  NaN/inf returns
 * INT8Q_NONFINITE: with check_first after an abs-max pass over x, with q
 * untouched; otherwise found while writing, with q partly written. */
int int8q_quantize_given(const void *x, int kind, ptrdiff_t n, const void *scale, int check_first,
                         int mode, int8_t *q, int threads);

/* out = q * scale in the working dtype (f64 selects float64). */
void int8q_dequantize(const int8_t *q, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                      const void *scales, int f64, void *out, int threads);

/* GGML Q8_0 over nblocks whole blocks (32 floats <-> 34 bytes).  quantize
 * returns INT8Q_OK, INT8Q_NONFINITE at a NaN/inf block, or
 * INT8Q_F16_OVERFLOW when a scale overflows float16. */
int int8q_q8_0_quantize(const void *x, int kind, ptrdiff_t nblocks, uint8_t *out, int threads);
/* int8q_q8_0_quantize of a strided input (core/gather.h). */
int int8q_q8_0_quantize_strided(const int8q_strided *x, int kind, ptrdiff_t nblocks, uint8_t *out,
                                int threads);
void int8q_q8_0_dequantize(const uint8_t *raw, ptrdiff_t nblocks, float *out, int threads);

/* zlib's CRC-32 of n bytes at p continued from *crc (into *crc): 1, or 0
 * with *crc untouched where the level in use has no fast CRC-32 (then the
 * caller uses zlib's). */
int int8q_crc32(const void *p, size_t n, uint32_t *crc);

#endif
