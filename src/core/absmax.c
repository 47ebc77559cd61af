/* The abs-max drivers (core/kernels.h: int8q_absmax, int8q_absmax_strided),
 * and the input reading and abs-max pass that the quantize drivers share
 * (core/drivers.h). */
#include "core/drivers.h"
#include "core/layout.h"
#include "core/threads.h"

#include <stdlib.h>

int int8q_plan_gather(quantize_job *J, int *T, int blocks)
{
    ptrdiff_t es = (ptrdiff_t)element_size(J->kind), least = GATHER_ELEMENTS;
    if (!J->src)
        return INT8Q_OK;
    if (blocks && block_elements(J->L) > least)
        least = block_elements(J->L);
    J->step = int8q_gather_step(J->src, least);
    if (*T * J->step * es > GATHER_BUDGET)
        J->step = GATHER_BUDGET / (*T * es) > least ? GATHER_BUDGET / (*T * es) : least;
    if (*T * J->step * es > GATHER_BUDGET)
        *T = GATHER_BUDGET / (J->step * es) > 1 ? (int)(GATHER_BUDGET / (J->step * es)) : 1;
    J->gather = malloc((size_t)(*T * J->step * es));
    return J->gather ? INT8Q_OK : INT8Q_NOMEM;
}

unsigned int8q_over_input(const quantize_job *J, int t, ptrdiff_t lo, ptrdiff_t hi, int blocks,
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
        int8q_absmax_range_f64(x, kind, s, e, L, (int64_t *)mbits);
    else
        int8q_absmax_range_f32(x, kind, s, e, L, (int32_t *)mbits);
}

void int8q_combine_partials(int f64, const void *partials, int T, ptrdiff_t nscales, void *m)
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

unsigned int8q_absmax_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    if (J->own_blocks)
        whole_blocks(J->L, J->start, J->n, &lo, &hi);
    return hi > lo ? int8q_over_input(J, t, lo, hi, 0, absmax_step, absmax_row(J, t)) : 0;
}

int int8q_plan_absmax(quantize_job *J, int threads)
{
    int T = int8q_plan_threads(J->n, threads);
    size_t ws = J->kind == INT8Q_IN_F64 ? 8 : 4;
    /* many scales: per-thread partials would cost more than the pass, so
     * threads own whole blocks where they can, else one thread works; and
     * blocks along a non-last axis, as many as threads or more, always
     * (each block has as many scales as a thread's partial row) */
    if (T > 1 && (J->nscales * T > MAX_PARTIALS || (J->L->rblk && J->L->cmod >= T))) {
        J->own_blocks = blocks_own_scales(J->L, J->start, J->n);
        T = J->own_blocks ? T : 1;
    }
    if (T > 1 && !J->own_blocks && !(J->partials = calloc((size_t)T * J->nscales, ws)))
        return 0;
    return T;
}

void int8q_max_in_memory_order(quantize_job *J, int8q_strided *m, int8q_layout *one)
{
    if (!J->src || J->nscales != 1 || J->start != 0 || J->n != int8q_strided_size(J->src))
        return;
    int8q_strided_for_max(J->src, m);
    J->n = int8q_strided_size(m);
    one->n_row = one->block = J->n;
    one->cmod = one->nb = 1;
    one->rgrp = one->rblk = 0;
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
    int8q_max_in_memory_order(J, &m, &one);
    T = int8q_plan_absmax(J, threads);
    if (T && int8q_plan_gather(J, &T, 0) == INT8Q_OK) {
        int8q_run_slices(J->n, T, int8q_absmax_work, J);
        if (J->partials)
            int8q_combine_partials(J->kind == INT8Q_IN_F64, J->partials, T, J->nscales, J->scales);
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
