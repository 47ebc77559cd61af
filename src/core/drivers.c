/* Whole-call drivers; see core/kernels.h.  The inner loops live in the
 * per-level translation units (levels/level.c), the threads in
 * core/threads.c; this file is compiled with the baseline flags only. */
#include "core/kernels.h"
#include "core/layout.h"
#include "core/rules.h"
#include "core/threads.h"
#include "levels/table.h"

#include <stdlib.h>
#include <string.h>

/* Per-thread abs-max partials are used while they stay this small. */
#define MAX_PARTIALS ((ptrdiff_t)1 << 20)
/* Half-precision elements widened to float32 at a time, on the stack. */
#define HALF_TILE 1024
/* Elements a loop takes at least, where rows with one scale per column are
 * narrower (templates/ranges.h absmax_rows, quantize_rows): 256 keeps the
 * per-call cost small and the stack vectors at 2 KiB. */
#define ROW_RUN 256
/* Elements of a strided input gathered at a time (64 KiB of float32): small
 * enough to stay in cache between the gather and the loops. */
#define GATHER_ELEMENTS ((ptrdiff_t)1 << 14)
/* Bytes of gather buffers a call may hold, all threads together (the
 * contract keeps temporaries under 16 MiB). */
#define GATHER_BUDGET ((ptrdiff_t)8 << 20)
/* Elements of a per-tensor input with a given scale checked at a time
 * (templates/ranges.h given_range): 16 KiB of float32, read again from L1. */
#define GIVEN_TILE 4096

/* ------------------------------------------------------------------------ */
/* The rules (core/rules.h) over arrays, and half-precision reading. */

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

static size_t element_size(int kind)
{
    return kind == INT8Q_IN_F64 ? 8 : kind == INT8Q_IN_F32 ? 4 : 2;
}

static void widen(int kind, const uint16_t *h, ptrdiff_t n, float *out)
{
    const int8q_loops *loops = int8q_current_loops();
    if (kind == INT8Q_IN_F16)
        loops->f16_to_f32(h, n, out);
    else
        loops->bf16_to_f32(h, n, out);
}

/* The float32 bit pattern of a non-negative half-precision bit pattern
 * (monotone, so the max of patterns maps to the max of values; NaN and inf
 * stay above every finite value). */
static int32_t half_bits_as_f32_bits(int kind, int32_t h)
{
    int32_t bits;
    float f;
    if (kind == INT8Q_IN_BF16)
        return h << 16;
    f = int8q_half_to_float((uint16_t)h);
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

#define T float
#define U int32_t
#define SUF f32
#define INF_BITS 0x7f800000
#define SCALE_RULE int8q_scale_rule_f32
#define RECIP int8q_recip_f32
#define HALF_INPUT 1
#include "templates/ranges.h"
#undef T
#undef U
#undef SUF
#undef INF_BITS
#undef SCALE_RULE
#undef RECIP
#undef HALF_INPUT

#define T double
#define U int64_t
#define SUF f64
#define INF_BITS 0x7ff0000000000000ll
#define SCALE_RULE int8q_scale_rule_f64
#define RECIP int8q_recip_f64
#define HALF_INPUT 0
#include "templates/ranges.h"
#undef T
#undef U
#undef SUF
#undef INF_BITS
#undef SCALE_RULE
#undef RECIP
#undef HALF_INPUT

/* What the quantize-side slices read: x (of `kind`) from flat index start,
 * or a strided input gathered into per-thread buffers; its layout, and the
 * outputs. */
typedef struct {
    const char *x;
    const int8q_strided *src; /* when not NULL, x is read through it */
    char *gather;             /* src: per-thread buffers of `step` elements */
    ptrdiff_t step;
    int kind;
    ptrdiff_t n, start;
    const int8q_layout *L;
    void *scales;   /* abs-max bit patterns (absmax), or scales */
    void *partials; /* per-thread abs-max rows, or NULL: into scales */
    int own_blocks; /* threads own whole blocks (blocks_own_scales) */
    ptrdiff_t nscales;
    const void *recips; /* RECIP of the scales for per-element layouts */
    int bounded;        /* int8q_quantize's promise; given_range also takes -1, unknown */
    int mode;
    int8_t *q;
    void *d;
} quantize_job;

/* The work on items [lo, hi) of a job's input, with x pointing at item lo
 * (in place or gathered); `arg` is what the caller passed along.  Returns
 * status bits as a slice_work does. */
typedef unsigned (*input_work)(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                               void *arg);

/* Per-thread gather buffers for *T threads when the job reads a strided
 * input (nothing otherwise), allocated before any thread runs so that a
 * failure writes nothing.  A step holds at least one block when `blocks`
 * (the fused loops take whole blocks).  All buffers together stay within
 * GATHER_BUDGET: shorter steps, or fewer threads where even a step of one
 * block would not fit.  Returns INT8Q_OK or INT8Q_NOMEM. */
static int plan_gather(quantize_job *J, int *T, int blocks)
{
    ptrdiff_t es = (ptrdiff_t)element_size(J->kind), least = GATHER_ELEMENTS;
    if (!J->src)
        return INT8Q_OK;
    if (blocks && J->L->block > least)
        least = J->L->block;
    J->step = int8q_gather_step(J->src, least);
    if (*T * J->step * es > GATHER_BUDGET)
        J->step = GATHER_BUDGET / (*T * es) > least ? GATHER_BUDGET / (*T * es) : least;
    if (*T * J->step * es > GATHER_BUDGET)
        *T = GATHER_BUDGET / (J->step * es) > 1 ? (int)(GATHER_BUDGET / (J->step * es)) : 1;
    J->gather = malloc((size_t)(*T * J->step * es));
    return J->gather ? INT8Q_OK : INT8Q_NOMEM;
}

/* each(J, x, lo, hi, arg) over [lo, hi) as thread t: once, in place, for an
 * input the loops read directly; otherwise a step at a time gathered into
 * thread t's buffer (steps end on block boundaries when `blocks`; lo is
 * then on one).  Stops at the first step that reports status bits. */
static unsigned over_input(const quantize_job *J, int t, ptrdiff_t lo, ptrdiff_t hi, int blocks,
                           input_work each, void *arg)
{
    ptrdiff_t es = (ptrdiff_t)element_size(J->kind), a, b;
    char *buf;
    unsigned bits = 0;
    if (!J->src)
        return each(J, J->x + lo * es, lo, hi, arg);
    buf = J->gather + (size_t)t * (size_t)(J->step * es);
    for (a = lo; a < hi && !bits; a = b) {
        b = hi - a > J->step ? a + J->step : hi;
        if (blocks && b < hi) /* a block ends within a step of a */
            b = last_block_start(J->L, J->start + b) - J->start;
        int8q_gather(J->src, J->start + a, b - a, buf, &int8q_current_loops()->gather);
        bits = each(J, buf, a, b, arg);
    }
    return bits;
}

static void absmax_dispatch(const void *x, int kind, ptrdiff_t s, ptrdiff_t e,
                            const int8q_layout *L, void *mbits)
{
    if (kind == INT8Q_IN_F64)
        absmax_range_f64(x, kind, s, e, L, (int64_t *)mbits);
    else
        absmax_range_f32(x, kind, s, e, L, (int32_t *)mbits);
}

/* Max of the T per-thread partial rows into m (bit patterns, integer max);
 * one loop per dtype, which the compiler vectorizes. */
static void combine_partials(int f64, const void *partials, int T, ptrdiff_t nscales, void *m)
{
    for (int t = 0; t < T; t++) {
        if (f64) {
            const int64_t *p = (const int64_t *)partials + t * nscales;
            int64_t *mk = m;
            for (ptrdiff_t k = 0; k < nscales; k++)
                mk[k] = p[k] > mk[k] ? p[k] : mk[k];
        } else {
            const int32_t *p = (const int32_t *)partials + t * nscales;
            int32_t *mk = m;
            for (ptrdiff_t k = 0; k < nscales; k++)
                mk[k] = p[k] > mk[k] ? p[k] : mk[k];
        }
    }
}

/* abs-max bit patterns of [lo, hi) into the row `m` */
static unsigned absmax_step(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                            void *m)
{
    absmax_dispatch(x, J->kind, J->start + lo, J->start + hi, J->L, m);
    return 0;
}

/* Where thread t's abs-max goes: its partial row, or the scales. */
static void *absmax_row(const quantize_job *J, int t)
{
    size_t ws = J->kind == INT8Q_IN_F64 ? 8 : 4;
    return J->partials ? (char *)J->partials + (size_t)t * (size_t)J->nscales * ws : J->scales;
}

static unsigned absmax_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    if (J->own_blocks)
        whole_blocks(J->L, J->start, J->n, &lo, &hi);
    return hi > lo ? over_input(J, t, lo, hi, 0, absmax_step, absmax_row(J, t)) : 0;
}

/* Threads for an abs-max pass over J's input and where their results go
 * (J->own_blocks, J->partials); 0 when out of memory. */
static int plan_absmax(quantize_job *J, int threads)
{
    int T = int8q_plan_threads(J->n, threads);
    size_t ws = J->kind == INT8Q_IN_F64 ? 8 : 4;
    /* many scales: per-thread partials would cost more than the pass, so
     * threads own whole blocks where they can, else one thread works */
    if (T > 1 && J->nscales * T > MAX_PARTIALS) {
        J->own_blocks = blocks_own_scales(J->L, J->start, J->n);
        T = J->own_blocks ? T : 1;
    }
    if (T > 1 && !J->own_blocks && !(J->partials = calloc((size_t)T * J->nscales, ws)))
        return 0;
    return T;
}

/* The abs-max pass of a job with one scale (per tensor) over a whole
 * strided input reads it in memory order instead (int8q_strided_for_max):
 * an array in F order, or any axis order, is then read in place, others in
 * longer runs.  `m` and `one` hold what J then points at. */
static void max_in_memory_order(quantize_job *J, int8q_strided *m, int8q_layout *one)
{
    if (!J->src || J->nscales != 1 || J->start != 0 || J->n != int8q_strided_size(J->src))
        return;
    int8q_strided_for_max(J->src, m);
    J->n = int8q_strided_size(m);
    one->n_row = one->block = J->n;
    one->cmod = one->nb = 1;
    J->L = one;
    J->src = int8q_strided_is_flat(m) ? NULL : m;
    J->x = m->base;
}

static int absmax_call(quantize_job *J, int threads)
{
    int8q_strided m;
    int8q_layout one;
    int T, status = INT8Q_NOMEM;
    if (J->n <= 0)
        return INT8Q_OK;
    max_in_memory_order(J, &m, &one);
    T = plan_absmax(J, threads);
    if (T && plan_gather(J, &T, 0) == INT8Q_OK) {
        int8q_run_slices(J->n, T, absmax_work, J);
        if (J->partials)
            combine_partials(J->kind == INT8Q_IN_F64, J->partials, T, J->nscales, J->scales);
        status = INT8Q_OK;
    }
    free(J->partials);
    free(J->gather);
    return status;
}

int int8q_absmax(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                 void *m, ptrdiff_t nscales, int threads)
{
    quantize_job J = {
        .x = x, .kind = kind, .n = n, .start = start, .L = L, .scales = m, .nscales = nscales};
    return absmax_call(&J, threads);
}

int int8q_absmax_strided(const int8q_strided *x, int kind, ptrdiff_t n, ptrdiff_t start,
                         const int8q_layout *L, void *m, ptrdiff_t nscales, int threads)
{
    quantize_job J = {
        .src = x, .kind = kind, .n = n, .start = start, .L = L, .scales = m, .nscales = nscales};
    return absmax_call(&J, threads);
}

/* q (and d) of [lo, hi) with the job's known scales */
static unsigned quantize_step(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                              void *unused)
{
    ptrdiff_t s = J->start;
    (void)unused;
    if (J->kind == INT8Q_IN_F64)
        quantize_range_f64(x, J->kind, s + lo, s + hi, J->L, J->scales, J->recips, J->bounded,
                           J->mode, J->q + lo, J->d ? (double *)J->d + lo : NULL);
    else
        quantize_range_f32(x, J->kind, s + lo, s + hi, J->L, J->scales, J->recips, J->bounded,
                           J->mode, J->q + lo, J->d ? (float *)J->d + lo : NULL);
    return 0;
}

static unsigned quantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    return over_input(job, t, lo, hi, 0, quantize_step, NULL);
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
                      .d = d};
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
        return (unsigned)given_range_f64(x, J->kind, s + lo, s + hi, J->L, J->scales, J->bounded,
                                         J->mode, J->q + lo);
    return (unsigned)given_range_f32(x, J->kind, s + lo, s + hi, J->L, J->scales, J->bounded,
                                     J->mode, J->q + lo);
}

static unsigned given_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    return over_input(job, t, lo, hi, 0, given_step, NULL);
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
        return (unsigned)fused_range_f64(x, J->kind, s + lo, s + hi, J->L, J->scales, J->mode,
                                         J->q + lo, J->d ? (double *)J->d + lo : NULL);
    return (unsigned)fused_range_f32(x, J->kind, s + lo, s + hi, J->L, J->scales, J->mode,
                                     J->q + lo, J->d ? (float *)J->d + lo : NULL);
}

/* Slices moved to block boundaries, so that every block is one thread's. */
static unsigned fused_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    whole_blocks(J->L, J->start, J->n, &lo, &hi);
    return hi > lo ? over_input(J, t, lo, hi, 1, fused_step, NULL) : 0;
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
        combine_partials(B->J->kind == INT8Q_IN_F64, B->A->partials, B->T, B->J->nscales,
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
        status = plan_gather(J, &T, 1);
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
    max_in_memory_order(&A, &m, &one);
    T = plan_absmax(&A, threads);
    status = T ? plan_gather(J, &T, 0) : INT8Q_NOMEM;
    A.gather = J->gather, A.step = J->step;
    if (status == INT8Q_OK && J->L->block == 1 &&
        !(recips =
              J->nscales <= STACK_RECIPS ? stack : malloc((size_t)J->nscales * sizeof(double))))
        status = INT8Q_NOMEM;
    if (status == INT8Q_OK) {
        J->recips = recips;
        memset(J->scales, 0, (size_t)J->nscales * (J->kind == INT8Q_IN_F64 ? 8 : 4));
        between_passes B = {.A = &A, .J = J, .T = T, .recips = recips};
        status = int8q_run_two_passes(T, A.n, absmax_work, &A, scales_between, &B, J->n,
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
                      .d = d};
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

typedef struct {
    const int8_t *q;
    ptrdiff_t start;
    const int8q_layout *L;
    const void *scales;
    int f64;
    void *out;
} dequantize_job;

static unsigned dequantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const dequantize_job *J = job;
    (void)t;
    if (J->f64)
        dequantize_range_f64(J->q + lo, J->start + lo, J->start + hi, J->L, J->scales,
                             (double *)J->out + lo);
    else
        dequantize_range_f32(J->q + lo, J->start + lo, J->start + hi, J->L, J->scales,
                             (float *)J->out + lo);
    return 0;
}

void int8q_dequantize(const int8_t *q, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                      const void *scales, int f64, void *out, int threads)
{
    dequantize_job J = {.q = q, .start = start, .L = L, .scales = scales, .f64 = f64, .out = out};
    if (n > 0)
        int8q_run_slices(n, int8q_plan_threads(n, threads), dequantize_work, &J);
}

/* ------------------------------------------------------------------------ */
/* GGML Q8_0. */

/* nb blocks of any input kind from x into out: float32 read in place,
 * others converted to float32 (as gguf-py's astype does) a tile at a time. */
static int q8_0_blocks(const char *x, int kind, ptrdiff_t nb, uint8_t *out)
{
    enum { TILE_BLOCKS = HALF_TILE / 32 };
    float buf[HALF_TILE];
    size_t es = element_size(kind);
    if (kind == INT8Q_IN_F32)
        return int8q_current_loops()->q8_0_quant((const float *)x, nb, out);
    for (ptrdiff_t b = 0; b < nb; b += TILE_BLOCKS) {
        ptrdiff_t m = nb - b < TILE_BLOCKS ? nb - b : TILE_BLOCKS;
        const char *xb = x + (size_t)(32 * b) * es;
        int code;
        if (kind == INT8Q_IN_F64) {
            for (ptrdiff_t j = 0; j < 32 * m; j++)
                buf[j] = (float)((const double *)xb)[j];
        } else {
            widen(kind, (const uint16_t *)xb, 32 * m, buf);
        }
        code = int8q_current_loops()->q8_0_quant(buf, m, out + 34 * b);
        if (code)
            return code;
    }
    return INT8Q_OK;
}

/* Blocks [lo, hi) of a strided input, gathered a step at a time into a
 * buffer of this slice's own. */
static int q8_0_gathered(const int8q_strided *src, int kind, ptrdiff_t lo, ptrdiff_t hi,
                         uint8_t *out)
{
    ptrdiff_t step = int8q_gather_step(src, HALF_TILE) / 32, es = (ptrdiff_t)element_size(kind);
    char *buf = malloc((size_t)(step * 32 * es));
    int code = buf ? INT8Q_OK : INT8Q_NOMEM;
    for (ptrdiff_t b = lo; b < hi && code == INT8Q_OK; b += step) {
        ptrdiff_t nb = hi - b < step ? hi - b : step;
        int8q_gather(src, 32 * b, 32 * nb, buf, &int8q_current_loops()->gather);
        code = q8_0_blocks(buf, kind, nb, out + 34 * b);
    }
    free(buf);
    return code;
}

typedef struct {
    const char *x;
    const int8q_strided *src; /* when not NULL, x is read through it */
    int kind;
    const uint8_t *raw;
    uint8_t *out;
    float *values;
} q8_0_job;

/* bit `code` set for a slice that stopped with that status */
static unsigned q8_0_quantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const q8_0_job *J = job;
    int code = J->src ? q8_0_gathered(J->src, J->kind, lo, hi, J->out)
                      : q8_0_blocks(J->x + 32 * lo * (ptrdiff_t)element_size(J->kind), J->kind,
                                    hi - lo, J->out + 34 * lo);
    (void)t;
    return code == INT8Q_OK ? 0u : 1u << code;
}

static int q8_0_quantize_call(const q8_0_job *J, ptrdiff_t nblocks, int threads)
{
    unsigned bits;
    if (nblocks <= 0)
        return INT8Q_OK;
    bits =
        int8q_run_slices(nblocks, int8q_plan_threads(nblocks * 32, threads), q8_0_quantize_work, J);
    /* NaN/inf wins over a float16 overflow, whichever slice saw what */
    return bits & 1u << INT8Q_NOMEM          ? INT8Q_NOMEM
           : bits & 1u << INT8Q_NONFINITE    ? INT8Q_NONFINITE
           : bits & 1u << INT8Q_F16_OVERFLOW ? INT8Q_F16_OVERFLOW
                                             : INT8Q_OK;
}

int int8q_q8_0_quantize(const void *x, int kind, ptrdiff_t nblocks, uint8_t *out, int threads)
{
    q8_0_job J = {.x = x, .kind = kind, .out = out};
    return q8_0_quantize_call(&J, nblocks, threads);
}

int int8q_q8_0_quantize_strided(const int8q_strided *x, int kind, ptrdiff_t nblocks, uint8_t *out,
                                int threads)
{
    q8_0_job J = {.src = x, .kind = kind, .out = out};
    return q8_0_quantize_call(&J, nblocks, threads);
}

static unsigned q8_0_dequantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const q8_0_job *J = job;
    (void)t;
    int8q_current_loops()->q8_0_dequant(J->raw + 34 * lo, hi - lo, J->values + 32 * lo);
    return 0;
}

void int8q_q8_0_dequantize(const uint8_t *raw, ptrdiff_t nblocks, float *out, int threads)
{
    q8_0_job J = {.raw = raw, .values = out};
    if (nblocks > 0)
        int8q_run_slices(nblocks, int8q_plan_threads(nblocks * 32, threads), q8_0_dequantize_work,
                         &J);
}

int int8q_crc32(const void *p, size_t n, uint32_t *crc)
{
    const int8q_loops *loops = int8q_current_loops();
    if (!loops->crc32)
        return 0;
    *crc = loops->crc32(*crc, p, n);
    return 1;
}
