/* Affine quantize and MSE error tables (int8q_affine.h): the entry points,
 * which run the current instruction-set level's loops
 * (int8q_level_affine.h, in each level's table). */
#include "int8q_affine.h"

#include "int8q_level.h"

int int8q_affine_range_f32(const float *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                           const float *scales, const int32_t *zps, int qmin, int qmax, int mode,
                           int out_unsigned, void *q)
{
    return int8q_current_loops()->affine_f32(x, s, e, L, scales, zps, qmin, qmax, mode,
                                             out_unsigned, q);
}

int int8q_affine_range_f64(const double *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                           const double *scales, const int32_t *zps, int qmin, int qmax, int mode,
                           int out_unsigned, void *q)
{
    return int8q_current_loops()->affine_f64(x, s, e, L, scales, zps, qmin, qmax, mode,
                                             out_unsigned, q);
}

void int8q_mse_errors_range_f32(const float *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                                const float *cand, int ncand, int mode, double *err)
{
    int8q_current_loops()->mse_f32(x, s, e, L, cand, ncand, mode, err);
}

void int8q_mse_errors_range_f64(const double *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                                const double *cand, int ncand, int mode, double *err)
{
    int8q_current_loops()->mse_f64(x, s, e, L, cand, ncand, mode, err);
}
