/* Affine INT8 kernels: quantize with given scales and zero points (ONNX
 * QuantizeLinear), and the per-scale error table behind clip="mse".
 *
 * Same conventions as int8q_kernels.h: each function covers one contiguous
 * range [s, e) of the C-order flattened input, x (and q) point at flat
 * element s, and the layout says which scale number each element uses.
 */
#ifndef INT8Q_AFFINE_H
#define INT8Q_AFFINE_H

#include "int8q_kernels.h"

/* q = saturate(round(x / scales[k]) + zps[k]) to [qmin, qmax], stored as
 * int8 (out_unsigned == 0) or uint8 (out_unsigned == 1).  The division is a
 * true IEEE division in T; mode is INT8Q_HALF_EVEN (ONNX) or
 * INT8Q_HALF_AWAY.  Scales must be finite and > 0 and zps within [qmin, qmax]
 * (the caller checks).  Returns 1 if x holds NaN or inf (q is then partly
 * written with meaningless values), else 0. */
int int8q_affine_range_f32(const float *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                           const float *scales, const int32_t *zps, int qmin, int qmax, int mode,
                           int out_unsigned, void *q);
int int8q_affine_range_f64(const double *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                           const double *scales, const int32_t *zps, int qmin, int qmax, int mode,
                           int out_unsigned, void *q);

/* For clip="mse": for every element with scale number k and every candidate
 * c < ncand, err[k * ncand + c] += (x - q * cand[k * ncand + c])^2 in double,
 * with q = clip(round(x / cand), -127, 127) and q * cand rounded to T as
 * dequantize computes it.  Each err entry is summed in C order of the
 * elements of its scale (the inner loop runs over candidates), so the sums do
 * not depend on the SIMD level; callers keep one scale's elements on one
 * thread.  x must be finite; candidate scales finite and > 0. */
void int8q_mse_errors_range_f32(const float *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                                const float *cand, int ncand, int mode, double *err);
void int8q_mse_errors_range_f64(const double *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                                const double *cand, int ncand, int mode, double *err);

#endif
