/* Affine quantize and MSE error tables (core/affine.h): whole-call drivers
 * that run the current instruction-set level's loops
 * (templates/affine_loops.h, in each level's table) on threads
 * (core/threads.h). */
#include "core/affine.h"

#include "core/layout.h"
#include "core/rules.h"
#include "core/threads.h"
#include "levels/table.h"

/* The asymmetric rule (core/rules.h) over arrays. */
int int8q_asymmetric_params(const void *rmin, const void *rmax, ptrdiff_t n, int f64, int qmin,
                            int qmax, void *scales, int32_t *zero_points)
{
    for (ptrdiff_t k = 0; k < n; k++) {
        int zp, overflow;
        if (f64)
            overflow =
                int8q_asymmetric_rule_f64(((const double *)rmin)[k], ((const double *)rmax)[k],
                                          qmin, qmax, (double *)scales + k, &zp);
        else
            overflow = int8q_asymmetric_rule_f32(((const float *)rmin)[k], ((const float *)rmax)[k],
                                                 qmin, qmax, (float *)scales + k, &zp);
        if (overflow)
            return INT8Q_NONFINITE;
        zero_points[k] = zp;
    }
    return INT8Q_OK;
}

typedef struct {
    const char *x;
    int f64;
    ptrdiff_t start;
    ptrdiff_t n;
    const int8q_layout *L;
    const void *scales; /* scales (affine) or candidate scales (mse) */
    const int32_t *zps;
    int qmin, qmax, ncand, mode, out_unsigned;
    int by_blocks; /* mse, minmax: threads take whole blocks */
    char *q;
    void *lo, *hi; /* minmax: order keys */
    double *err;
} affine_job;

/* 1 for a slice that met NaN or inf */
static unsigned affine_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const affine_job *J = job;
    const int8q_loops *loops = int8q_current_loops();
    ptrdiff_t s = J->start + lo, e = J->start + hi;
    (void)t;
    if (J->f64)
        return (unsigned)loops->affine_f64((const double *)J->x + lo, s, e, J->L, J->scales, J->zps,
                                           J->qmin, J->qmax, J->mode, J->out_unsigned, J->q + lo);
    return (unsigned)loops->affine_f32((const float *)J->x + lo, s, e, J->L, J->scales, J->zps,
                                       J->qmin, J->qmax, J->mode, J->out_unsigned, J->q + lo);
}

int int8q_affine(const void *x, int f64, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                 const void *scales, const int32_t *zps, int qmin, int qmax, int mode,
                 int out_unsigned, void *q, int threads)
{
    affine_job J = {.x = x,
                    .f64 = f64,
                    .start = start,
                    .L = L,
                    .scales = scales,
                    .zps = zps,
                    .qmin = qmin,
                    .qmax = qmax,
                    .mode = mode,
                    .out_unsigned = out_unsigned,
                    .q = q};
    if (n <= 0)
        return INT8Q_OK;
    return int8q_run_slices(n, int8q_plan_threads(n, threads), affine_work, &J) ? INT8Q_NONFINITE
                                                                                : INT8Q_OK;
}

/* A thread's slice [lo, hi) moved to block boundaries when by_blocks, so
 * that each scale's sums or range stay on one thread (the sums in C
 * order); 0 when no whole block is left to it. */
static int own_blocks(const affine_job *J, ptrdiff_t *lo, ptrdiff_t *hi)
{
    if (J->by_blocks)
        whole_blocks(J->L, J->start, J->n, lo, hi);
    return *hi > *lo;
}

/* The error sums of a slice (own_blocks). */
static unsigned mse_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const affine_job *J = job;
    const int8q_loops *loops = int8q_current_loops();
    (void)t;
    if (!own_blocks(J, &lo, &hi))
        return 0;
    if (J->f64)
        loops->mse_f64((const double *)J->x + lo, J->start + lo, J->start + hi, J->L, J->scales,
                       J->ncand, J->mode, J->err);
    else
        loops->mse_f32((const float *)J->x + lo, J->start + lo, J->start + hi, J->L, J->scales,
                       J->ncand, J->mode, J->err);
    return 0;
}

void int8q_mse_errors(const void *x, int f64, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                      const void *cand, int ncand, int mode, double *err, int by_blocks,
                      int threads)
{
    affine_job J = {.x = x,
                    .f64 = f64,
                    .start = start,
                    .n = n,
                    .L = L,
                    .scales = cand,
                    .ncand = ncand,
                    .mode = mode,
                    .err = err};
    int T = by_blocks ? int8q_plan_threads(n, threads) : 1;
    J.by_blocks = T > 1; /* slices move to block boundaries only between threads */
    if (n > 0)
        int8q_run_slices(n, T, mse_work, &J);
}

/* The order-key ranges of a slice (own_blocks). */
static unsigned minmax_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const affine_job *J = job;
    const int8q_loops *loops = int8q_current_loops();
    (void)t;
    if (!own_blocks(J, &lo, &hi))
        return 0;
    if (J->f64)
        loops->minmax_f64((const int64_t *)J->x + lo, J->start + lo, J->start + hi, J->L, J->lo,
                          J->hi);
    else
        loops->minmax_f32((const int32_t *)J->x + lo, J->start + lo, J->start + hi, J->L, J->lo,
                          J->hi);
    return 0;
}

void int8q_minmax(const void *x, int f64, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                  void *lo, void *hi, int threads)
{
    affine_job J = {.x = x, .f64 = f64, .start = start, .n = n, .L = L, .lo = lo, .hi = hi};
    int T = int8q_plan_threads(n, threads);
    /* threads only where each owns whole blocks, and so its scales */
    if (T > 1 && !blocks_own_scales(L, start, n))
        T = 1;
    J.by_blocks = T > 1;
    if (n > 0)
        int8q_run_slices(n, T, minmax_work, &J);
}
