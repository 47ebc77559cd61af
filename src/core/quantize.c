/* The symmetric quantize drivers (core/kernels.h): with known scales
 * (int8q_quantize), a caller's per-tensor scale (int8q_quantize_given), and
 * abs-max, scales and quantize in one call (int8q_quantize_all), block by
 * block or in two passes; and the scale rule over arrays. */
#include "core/drivers.h"
#include "core/layout.h"
#include "core/rules.h"
#include "core/threads.h"

#include <stdlib.h>
#include <string.h>

float int8q_scale_f32(float amax)
{
    return int8q_scale_rule_f32(amax);
}
double int8q_scale_f64(double amax)
{
    return int8q_scale_rule_f64(amax);
}

void int8q_scales_from_absmax(const void *m, ptrdiff_t n, int f64, void *scales)
{
    for (ptrdiff_t k = 0; k < n; k++) {
        if (f64)
            ((double *)scales)[k] = int8q_scale_rule_f64(((const double *)m)[k]);
        else
            ((float *)scales)[k] = int8q_scale_rule_f32(((const float *)m)[k]);
    }
}

/* q (and d) of [lo, hi) with the job's known scales */
static unsigned quantize_step(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                              void *unused)
{
    ptrdiff_t s = J->start;
    (void)unused;
    if (J->kind == INT8Q_IN_F64)
        int8q_quantize_range_f64(x, J->kind, s + lo, s + hi, J->L, J->scales, J->recips, J->bounded,
                                 J->mode, J->q + lo, J->d ? (double *)J->d + lo : NULL);
    else
        int8q_quantize_range_f32(x, J->kind, s + lo, s + hi, J->L, J->scales, J->recips, J->bounded,
                                 J->mode, J->q + lo, J->d ? (float *)J->d + lo : NULL);
    return 0;
}

/* A step's outputs through stack tiles, streamed out (J->stream): `step`
 * over [lo, hi) a tile at a time, ending tiles on block boundaries when
 * `blocks` (a block longer than a tile is stored directly). */
typedef struct {
    input_work step;
    int blocks;
} streamed;

STREAMED unsigned streamed_step(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                                void *arg)
{
    const streamed *S = arg;
    const int8q_loops *loops = int8q_current_loops();
    double dt[INT8Q_STREAM_TILE_BYTES / sizeof(double)];
    int8_t qt[INT8Q_STREAM_TILE_BYTES / 4];
    size_t ws = J->kind == INT8Q_IN_F64 ? 8 : 4, es = element_size(J->kind);
    ptrdiff_t tile = (ptrdiff_t)(sizeof dt / ws);
    quantize_job Jt = *J;
    for (ptrdiff_t a = lo, b; a < hi; a = b) {
        char *d = (char *)J->d + (size_t)a * ws;
        int direct = 0;
        unsigned status;
        if (S->blocks) {
            b = last_block_start(J->L, J->start + (hi - a < tile ? hi : a + tile)) - J->start;
            if (b <= a) {
                b = next_block_start(J->L, J->start + a + 1) - J->start;
                direct = 1;
            }
        } else {
            b = stream_tile_end(J->d, ws, a, hi, tile);
        }
        Jt.start = J->start + a;
        Jt.q = direct ? J->q + a : qt;
        Jt.d = direct ? (void *)d : (void *)dt;
        status = S->step(&Jt, x + (size_t)(a - lo) * es, 0, b - a, NULL);
        if (status)
            return status;
        if (!direct) {
            loops->stream_copy(J->q + a, qt, (size_t)(b - a));
            loops->stream_copy(d, dt, (size_t)(b - a) * ws);
        }
    }
    return 0;
}

/* int8q_over_input with the job's stores: `step` as it is, or streamed. */
static unsigned over_input_stored(const quantize_job *J, int t, ptrdiff_t lo, ptrdiff_t hi,
                                  int blocks, input_work step)
{
    streamed S = {step, blocks};
    unsigned status;
    if (!J->stream)
        return int8q_over_input(J, t, lo, hi, blocks, step, NULL);
    status = int8q_over_input(J, t, lo, hi, blocks, streamed_step, &S);
    int8q_current_loops()->stream_fence();
    return status;
}

/* Whether a call writing q and d for n elements streams them. */
static int stream_outputs(int kind, ptrdiff_t n, const void *d)
{
    return d && int8q_stream_output(n * (kind == INT8Q_IN_F64 ? 9 : 5));
}

static unsigned quantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    return over_input_stored(job, t, lo, hi, 0, quantize_step);
}

/* recips[k] = RECIP(scales[k]) for per-element layouts (NULL otherwise). */
static void fill_recips(int f64, const void *scales, ptrdiff_t nscales, int bounded, void *recips)
{
    if (f64) {
        const double *s = scales;
        double *r = recips;
        for (ptrdiff_t k = 0; k < nscales; k++)
            r[k] = int8q_recip_f64(s[k], bounded);
    } else {
        const float *s = scales;
        float *r = recips;
        for (ptrdiff_t k = 0; k < nscales; k++)
            r[k] = int8q_recip_f32(s[k], bounded);
    }
}

/* Recips buffer for per-element layouts: on the stack when small. */
#define STACK_RECIPS 64

int int8q_quantize(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                   const void *scales, int bounded, int mode, int8_t *q, void *d, int threads)
{
    double stack[STACK_RECIPS];
    void *recips = NULL;
    ptrdiff_t nscales = L->cmod * L->nb;
    quantize_job J = {.x = x,
                      .kind = kind,
                      .n = n,
                      .start = start,
                      .L = L,
                      .scales = (void *)scales,
                      .nscales = nscales,
                      .bounded = bounded,
                      .mode = mode,
                      .q = q,
                      .d = d,
                      .stream = stream_outputs(kind, n, d)};
    if (n <= 0)
        return INT8Q_OK;
    if (L->block == 1) {
        recips = nscales <= STACK_RECIPS ? stack : malloc((size_t)nscales * 8);
        if (!recips)
            return INT8Q_NOMEM;
        fill_recips(kind == INT8Q_IN_F64, scales, nscales, bounded, recips);
    }
    J.recips = recips;
    int8q_run_slices(n, int8q_plan_threads(n, threads), quantize_work, &J);
    if (recips != stack)
        free(recips);
    return INT8Q_OK;
}

/* q of [lo, hi) with the caller's per-tensor scale; 1 at NaN/inf */
static unsigned given_step(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                           void *unused)
{
    ptrdiff_t s = J->start;
    (void)unused;
    if (J->kind == INT8Q_IN_F64)
        return (unsigned)int8q_given_range_f64(x, J->kind, s + lo, s + hi, J->L, J->scales,
                                               J->bounded, J->mode, J->q + lo);
    return (unsigned)int8q_given_range_f32(x, J->kind, s + lo, s + hi, J->L, J->scales, J->bounded,
                                           J->mode, J->q + lo);
}

static unsigned given_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    return int8q_over_input(job, t, lo, hi, 0, given_step, NULL);
}

int int8q_quantize_given(const void *x, int kind, ptrdiff_t n, const void *scale, int check_first,
                         int mode, int8_t *q, int threads)
{
    int8q_layout L = {.n_row = n, .block = n, .cmod = 1, .nb = 1};
    quantize_job J = {.x = x,
                      .kind = kind,
                      .n = n,
                      .L = &L,
                      .scales = (void *)scale,
                      .nscales = 1,
                      .bounded = -1, /* each tile checks its own */
                      .mode = mode,
                      .q = q};
    if (n <= 0)
        return INT8Q_OK;
    if (check_first) { /* NaN/inf found before anything is written */
        int f64 = kind == INT8Q_IN_F64, status;
        double m64 = 0.0;
        float m32 = 0.0f;
        status = int8q_absmax(x, kind, n, 0, &L, f64 ? (void *)&m64 : (void *)&m32, 1, threads);
        if (status != INT8Q_OK)
            return status;
        if (!(f64 ? m64 <= DBL_MAX : m32 <= FLT_MAX))
            return INT8Q_NONFINITE;
        J.bounded =
            f64 ? m64 / *(const double *)scale <= 127.0 : m32 / *(const float *)scale <= 127.0f;
    }
    return int8q_run_slices(n, int8q_plan_threads(n, threads), given_work, &J) ? INT8Q_NONFINITE
                                                                               : INT8Q_OK;
}

/* abs-max, scale and quantize of the whole blocks [lo, hi); 1 at a NaN/inf
 * block */
static unsigned fused_step(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                           void *unused)
{
    ptrdiff_t s = J->start;
    (void)unused;
    if (J->kind == INT8Q_IN_F64)
        return (unsigned)int8q_fused_range_f64(x, J->kind, s + lo, s + hi, J->L, J->scales, J->mode,
                                               J->q + lo, J->d ? (double *)J->d + lo : NULL);
    return (unsigned)int8q_fused_range_f32(x, J->kind, s + lo, s + hi, J->L, J->scales, J->mode,
                                           J->q + lo, J->d ? (float *)J->d + lo : NULL);
}

/* Slices moved to block boundaries, so that every block is one thread's. */
static unsigned fused_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    whole_blocks(J->L, J->start, J->n, &lo, &hi);
    return hi > lo ? over_input_stored(J, t, lo, hi, 1, fused_step) : 0;
}

/* Scales from the abs-max bit patterns in place; 1 if one is NaN/inf (the
 * scales are then of no use).  Loops without an early exit, which the
 * compiler vectorizes: per column there are as many scales as a row has
 * elements. */
static int scales_from_bits(int f64, void *scales, ptrdiff_t nscales)
{
    int bad = 0;
    if (f64) {
        double *s = scales;
        for (ptrdiff_t k = 0; k < nscales; k++) {
            bad |= !(s[k] <= DBL_MAX);
            s[k] = int8q_scale_rule_f64(s[k]);
        }
    } else {
        float *s = scales;
        for (ptrdiff_t k = 0; k < nscales; k++) {
            bad |= !(s[k] <= FLT_MAX);
            s[k] = int8q_scale_rule_f32(s[k]);
        }
    }
    return bad;
}

/* Scales from the abs-max in J's scales (and their reciprocals); status. */
static int finish_scales(quantize_job *J, void *recips)
{
    int f64 = J->kind == INT8Q_IN_F64;
    if (scales_from_bits(f64, J->scales, J->nscales))
        return INT8Q_NONFINITE;
    if (recips)
        fill_recips(f64, J->scales, J->nscales, 1, recips);
    return INT8Q_OK;
}

/* Between the two passes of quantize_all_call, on one thread: the abs-max
 * partials combined, then the scales (and reciprocals); a status. */
typedef struct {
    quantize_job *A, *J;
    int T;
    void *recips;
} between_passes;

static int scales_between(void *arg)
{
    between_passes *B = arg;
    if (B->A->partials)
        int8q_combine_partials(B->J->kind == INT8Q_IN_F64, B->A->partials, B->T, B->J->nscales,
                               B->J->scales);
    return finish_scales(B->J, B->recips);
}

static int quantize_all_call(quantize_job *J, int fused, int threads)
{
    int T = int8q_plan_threads(J->n, threads), status;
    double stack[STACK_RECIPS];
    void *recips = NULL;
    quantize_job A;
    int8q_strided m;
    int8q_layout one;
    if (J->n <= 0)
        return INT8Q_OK;
    J->bounded = 1;
    if (fused) {
        status = int8q_plan_gather(J, &T, 1);
        if (status == INT8Q_OK)
            status = int8q_run_slices(J->n, T, fused_work, J) ? INT8Q_NONFINITE : INT8Q_OK;
        free(J->gather);
        return status;
    }
    /* Two passes: abs-max of everything (nothing written if it finds NaN or
     * inf), the scales, then quantize; one parallel region for both
     * (int8q_run_two_passes).  The abs-max pass is job A: J, or J's input in
     * memory order. */
    A = *J;
    int8q_max_in_memory_order(&A, &m, &one);
    T = int8q_plan_absmax(&A, threads);
    status = T ? int8q_plan_gather(J, &T, 0) : INT8Q_NOMEM;
    A.gather = J->gather, A.step = J->step;
    if (status == INT8Q_OK && J->L->block == 1 &&
        !(recips =
              J->nscales <= STACK_RECIPS ? stack : malloc((size_t)J->nscales * sizeof(double))))
        status = INT8Q_NOMEM;
    if (status == INT8Q_OK) {
        J->recips = recips;
        memset(J->scales, 0, (size_t)J->nscales * (J->kind == INT8Q_IN_F64 ? 8 : 4));
        between_passes B = {.A = &A, .J = J, .T = T, .recips = recips};
        status = int8q_run_two_passes(T, A.n, int8q_absmax_work, &A, scales_between, &B, J->n,
                                      quantize_work, J);
    }
    free(A.partials);
    free(J->gather);
    if (recips != stack)
        free(recips);
    return status;
}

/* A quantize_all call reading x in place, or through src when not NULL. */
static int quantize_all_from(const void *x, const int8q_strided *src, int kind, ptrdiff_t n,
                             ptrdiff_t start, const int8q_layout *L, void *scales,
                             ptrdiff_t nscales, int fused, int mode, int8_t *q, void *d,
                             int threads)
{
    quantize_job J = {.x = x,
                      .src = src,
                      .kind = kind,
                      .n = n,
                      .start = start,
                      .L = L,
                      .scales = scales,
                      .nscales = nscales,
                      .mode = mode,
                      .q = q,
                      .d = d,
                      .stream = stream_outputs(kind, n, d)};
    return quantize_all_call(&J, fused, threads);
}

int int8q_quantize_all(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                       void *scales, ptrdiff_t nscales, int fused, int mode, int8_t *q, void *d,
                       int threads)
{
    return quantize_all_from(x, NULL, kind, n, start, L, scales, nscales, fused, mode, q, d,
                             threads);
}

int int8q_quantize_all_strided(const int8q_strided *x, int kind, ptrdiff_t n, ptrdiff_t start,
                               const int8q_layout *L, void *scales, ptrdiff_t nscales, int fused,
                               int mode, int8_t *q, void *d, int threads)
{
    return quantize_all_from(NULL, x, kind, n, start, L, scales, nscales, fused, mode, q, d,
                             threads);
}
