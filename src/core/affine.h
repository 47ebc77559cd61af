/* Affine INT8 drivers: quantize with given scales and zero points (ONNX
 * QuantizeLinear), its inverse (DequantizeLinear), and the per-scale error
 * table behind clip="mse".
 *
 * Same conventions as core/kernels.h: x (and q) hold n elements from flat
 * C-order index start, and the layout says which scale number each element
 * uses.  The loops are each SIMD level's (templates/affine_loops.h).
 */
#ifndef INT8Q_AFFINE_H
#define INT8Q_AFFINE_H

#include "core/kernels.h"

/* q = saturate(round(x / scales[k]) + zps[k]) to [qmin, qmax] for the n
 * elements of x (flat indices start..), stored as int8 (out_unsigned == 0)
 * or uint8 (out_unsigned == 1).  x, scales in the working dtype (f64 selects
 * float64).  The division is a true IEEE division; mode is
 * INT8Q_HALF_EVEN (ONNX) or INT8Q_HALF_AWAY.  Scales must be finite and > 0
 * and zps within [qmin, qmax] (the caller checks).  Threads split the range
 * anywhere: every element is independent.  Returns INT8Q_NONFINITE if x
 * holds NaN or inf (q is then partly written with meaningless values), else
 * INT8Q_OK. */
int int8q_affine(const void *x, int f64, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                 const void *scales, const int32_t *zps, int qmin, int qmax, int mode,
                 int out_unsigned, void *q, int threads);

/* out = (q - zps[k]) * scales[k] in the working dtype (f64 selects
 * float64) for the n elements of q (flat indices start..), int8 or uint8
 * (q_unsigned), zps within q's range (the caller checks).  q - zps is exact
 * and the product the one rounding, as in int8q.reference's
 * dequantize_affine; a product beyond the dtype's range is inf, as NumPy's.
 * Threads and stores as int8q_dequantize's (core/dequantize.c). */
void int8q_dequantize_affine(const void *q, int q_unsigned, ptrdiff_t n, ptrdiff_t start,
                             const int8q_layout *L, const void *scales, const int32_t *zps, int f64,
                             void *out, int threads);

/* For clip="mse": for every element with scale number k and every candidate
 * c < ncand, err[k * ncand + c] += (x - q * cand[k * ncand + c])^2 in double,
 * with q = clip(round(x / cand), -127, 127) and q * cand rounded to the
 * working dtype as dequantize computes it.  Each err entry is summed in C
 * order of the elements of its scale (the inner loop runs over candidates),
 * so the sums do not depend on the SIMD level.  With by_blocks (each scale
 * owns one contiguous block) threads take whole blocks, so the sums do not
 * depend on the thread count either; otherwise one thread works.  x must be
 * finite; candidate scales finite and > 0. */
void int8q_mse_errors(const void *x, int f64, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                      const void *cand, int ncand, int mode, double *err, int by_blocks,
                      int threads);

/* The running ranges behind the asymmetric rule: for every element of x
 * (flat indices start..) with scale number k, lo[k] = min(lo[k], key) and
 * hi[k] = max(hi[k], key), where key is the element's order key: its bit
 * pattern (int32 for float32, int64 for float64 x) with a negative value's
 * magnitude bits flipped, which orders keys as the floats (-0 below +0, NaN
 * beyond inf on its sign's side).  The same map turns keys back into bit
 * patterns.  Zeroed lo and hi start the ranges at 0, as the rule's
 * [min(0, min x), max(0, max x)] does; a NaN or inf shows in lo or hi as a
 * non-finite value.  Threads take whole blocks where every scale lies in
 * one (blocks_own_scales), else one thread works. */
void int8q_minmax(const void *x, int f64, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                  void *lo, void *hi, int threads);

#endif
