/* Whole-call drivers, threads and run-time instruction-set dispatch; see
 * int8q_kernels.h.  The inner loops live in the per-level translation units
 * (int8q_level_*.c); this file is compiled with the baseline flags only. */
#include "int8q_kernels.h"
#include "int8q_level.h"
#include "int8q_rules.h"

#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#include <omp.h>
#endif

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#define INT8Q_X86 1
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define INT8Q_X86 1
#else
#define INT8Q_X86 0
#endif

/* Below this many elements per thread, waking another thread costs more than
 * it saves. */
#define MIN_PER_THREAD ((ptrdiff_t)1 << 17)
/* Per-thread abs-max partials are used while they stay this small. */
#define MAX_PARTIALS ((ptrdiff_t)1 << 20)
/* Half-precision elements widened to float32 at a time, on the stack. */
#define HALF_TILE 1024

/* ------------------------------------------------------------------------ */
/* Instruction-set levels. */

static const int8q_loops *loops = &int8q_loops_baseline;
static int current_level = INT8Q_ISA_BASELINE;

#ifndef INT8Q_AVX2_FLAGS
#define INT8Q_AVX2_FLAGS ""
#endif
#ifndef INT8Q_AVX512_FLAGS
#define INT8Q_AVX512_FLAGS ""
#endif

static const char *const level_names[INT8Q_ISA_COUNT] = {
    [INT8Q_ISA_BASELINE] = "baseline",
    [INT8Q_ISA_AVX2] = "avx2",
    [INT8Q_ISA_AVX512] = "avx512",
};

static const char *const level_flags[INT8Q_ISA_COUNT] = {
    [INT8Q_ISA_BASELINE] = "",
    [INT8Q_ISA_AVX2] = INT8Q_AVX2_FLAGS,
    [INT8Q_ISA_AVX512] = INT8Q_AVX512_FLAGS,
};

static const int8q_loops *const level_tables[INT8Q_ISA_COUNT] = {
    [INT8Q_ISA_BASELINE] = &int8q_loops_baseline,
#if INT8Q_HAVE_AVX2
    [INT8Q_ISA_AVX2] = &int8q_loops_avx2,
#endif
#if INT8Q_HAVE_AVX512
    [INT8Q_ISA_AVX512] = &int8q_loops_avx512,
#endif
};

const char *int8q_isa_name(int level)
{
    return level >= 0 && level < INT8Q_ISA_COUNT ? level_names[level] : "?";
}

const char *int8q_isa_flags(int level)
{
    return level >= 0 && level < INT8Q_ISA_COUNT ? level_flags[level] : "";
}

int int8q_isa_compiled(int level)
{
    return level >= 0 && level < INT8Q_ISA_COUNT && level_tables[level] != NULL;
}

#if INT8Q_X86
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#ifdef _MSC_VER
    int regs[4];
    __cpuidex(regs, (int)leaf, (int)sub);
    r[0] = (unsigned)regs[0], r[1] = (unsigned)regs[1];
    r[2] = (unsigned)regs[2], r[3] = (unsigned)regs[3];
#else
    r[0] = r[1] = r[2] = r[3] = 0;
    __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]);
#endif
}

/* The register state the OS saves on context switches (XCR0). */
static unsigned long long xcr0(void)
{
#ifdef _MSC_VER
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
#endif
}
#endif

/* Whether this CPU and OS run `level`: the instructions its translation unit
 * may use (setup.py's flags) and the OS saving the wide registers. */
static int cpu_supports(int level)
{
    if (level == INT8Q_ISA_BASELINE)
        return 1;
#if INT8Q_X86
    {
        unsigned l1[4], l7[4];
        int avx2;
        cpuid(0, 0, l1);
        if (l1[0] < 7)
            return 0;
        cpuid(1, 0, l1);
        cpuid(7, 0, l7);
        /* OSXSAVE, AVX, FMA, F16C; AVX2, BMI1, BMI2; XMM and YMM state */
        avx2 = (l1[2] >> 27 & 1) && (l1[2] >> 28 & 1) && (l1[2] >> 12 & 1) && (l1[2] >> 29 & 1) &&
               (l7[1] >> 5 & 1) && (xcr0() & 0x6) == 0x6;
        if (level == INT8Q_ISA_AVX2)
            return avx2;
        if (level == INT8Q_ISA_AVX512)
            /* AVX-512 F, DQ, BW, VL; opmask and ZMM state */
            return avx2 && (l7[1] >> 16 & 1) && (l7[1] >> 17 & 1) && (l7[1] >> 30 & 1) &&
                   (l7[1] >> 31 & 1) && (xcr0() & 0xe6) == 0xe6;
    }
#endif
    return 0;
}

int int8q_isa_detect(void)
{
    int level;
    for (level = INT8Q_ISA_COUNT - 1; level > INT8Q_ISA_BASELINE; level--)
        if (int8q_isa_compiled(level) && cpu_supports(level))
            return level;
    return INT8Q_ISA_BASELINE;
}

int int8q_isa_select(int level)
{
    if (!int8q_isa_compiled(level) || !cpu_supports(level))
        return -1;
    loops = level_tables[level];
    current_level = level;
    return 0;
}

int int8q_isa_current(void)
{
    return current_level;
}

/* ------------------------------------------------------------------------ */
/* Shared rules and layout walking. */

float int8q_scale_f32(float amax)
{
    return int8q_scale_rule_f32(amax);
}
double int8q_scale_f64(double amax)
{
    return int8q_scale_rule_f64(amax);
}

ptrdiff_t int8q_min_per_thread(void)
{
    return MIN_PER_THREAD;
}

static size_t element_size(int kind)
{
    return kind == INT8Q_IN_F64 ? 8 : kind == INT8Q_IN_F32 ? 4 : 2;
}

/* A run of elements [i, end) that the loops take in one call: a row piece
 * with one scale per element (per_element, scales from k on), whole blocks
 * of a row (whole_blocks, scales from k on), or part of one block (scale k). */
typedef struct {
    ptrdiff_t end, k;
    int per_element, whole_blocks;
} piece;

static piece next_piece(const int8q_layout *L, ptrdiff_t i, ptrdiff_t e)
{
    ptrdiff_t r = i / L->n_row, row0 = r * L->n_row, c = i - row0;
    ptrdiff_t row_end = row0 + L->n_row < e ? row0 + L->n_row : e;
    ptrdiff_t base = (r % L->cmod) * L->nb, b, nfull, blk_end;
    piece p;
    p.per_element = L->block == 1;
    p.whole_blocks = 0;
    if (p.per_element) {
        p.end = row_end;
        p.k = base + c;
        return p;
    }
    b = c / L->block;
    p.k = base + b;
    if (c == 0 && L->nb * L->block == L->n_row) {
        /* Rows of whole blocks use consecutive scales until r wraps around
         * cmod: one piece for all of them, so that a (rows, B) array with
         * one block per row reaches the loops in one call, not per row. */
        ptrdiff_t rows = (e - i) / L->n_row, left = L->cmod - r % L->cmod;
        rows = rows < left ? rows : left;
        if (rows > 1) {
            p.end = i + rows * L->n_row;
            p.whole_blocks = 1;
            return p;
        }
    }
    nfull = (row_end - i) / L->block;
    if (c == b * L->block && nfull > 0) {
        p.end = i + nfull * L->block;
        p.whole_blocks = 1;
        return p;
    }
    blk_end = row0 + (b + 1) * L->block;
    p.end = blk_end < row_end ? blk_end : row_end;
    return p;
}

/* Smallest block boundary >= p (p itself when it is one). */
static ptrdiff_t next_block_start(const int8q_layout *L, ptrdiff_t p)
{
    ptrdiff_t r = p / L->n_row, c = p - r * L->n_row;
    ptrdiff_t up = (c + L->block - 1) / L->block * L->block;
    return up >= L->n_row ? (r + 1) * L->n_row : r * L->n_row + up;
}

/* Largest block boundary <= p. */
static ptrdiff_t last_block_start(const int8q_layout *L, ptrdiff_t p)
{
    ptrdiff_t r = p / L->n_row, c = p - r * L->n_row;
    return r * L->n_row + c / L->block * L->block;
}

static void widen(int kind, const uint16_t *h, ptrdiff_t n, float *out)
{
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
#include "int8q_ranges.h"
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
#include "int8q_ranges.h"
#undef T
#undef U
#undef SUF
#undef INF_BITS
#undef SCALE_RULE
#undef RECIP
#undef HALF_INPUT

/* ------------------------------------------------------------------------ */
/* Threads: one parallel region per call, none below the threshold.  Thread t
 * of T works on [n t / T, n (t + 1) / T), moved to block boundaries where
 * blocks must stay whole. */

static int plan_threads(ptrdiff_t n, int threads)
{
#ifdef _OPENMP
    ptrdiff_t t = n / MIN_PER_THREAD;
    if (t > threads)
        t = threads;
    return t > 1 ? (int)t : 1;
#else
    (void)n, (void)threads;
    return 1;
#endif
}

static void thread_slice(ptrdiff_t n, int T, int t, ptrdiff_t *lo, ptrdiff_t *hi)
{
    *lo = n * t / T;
    *hi = n * (t + 1) / T;
}

static int thread_id(void)
{
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* Whether every scale used in [start, start + n) belongs to one contiguous
 * block of it (rows do not come back to a scale modulo cmod, and start is
 * on a block boundary), so that threads owning whole blocks can write the
 * abs-max of each directly. */
static int blocks_own_scales(const int8q_layout *L, ptrdiff_t start, ptrdiff_t n)
{
    return L->block > 1 && start + n <= L->cmod * L->n_row && next_block_start(L, start) == start;
}

/* A thread's [lo, hi) moved to block boundaries, so that each block is one
 * thread's (the slices of all threads still cover [0, n)). */
static void whole_blocks(const int8q_layout *L, ptrdiff_t start, ptrdiff_t n, ptrdiff_t *lo,
                         ptrdiff_t *hi)
{
    *lo = next_block_start(L, start + *lo) - start;
    *hi = next_block_start(L, start + *hi) - start;
    if (*hi > n)
        *hi = n;
}

/* The work of one thread: items [lo, hi) of a call (thread t); returns 0,
 * or status bits that the caller turns into its status. */
typedef unsigned (*slice_work)(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t);

/* `work` over [0, n) in T slices, one per thread of one parallel region (on
 * the calling thread alone when T is 1); the slices' status bits OR'ed. */
static unsigned run_slices(ptrdiff_t n, int T, slice_work work, const void *job)
{
    unsigned status = 0;
    if (T == 1)
        return work(job, 0, n, 0);
#ifdef _OPENMP
#pragma omp parallel num_threads(T) reduction(| : status)
#endif
    {
        int t = thread_id();
        ptrdiff_t lo, hi;
        thread_slice(n, T, t, &lo, &hi);
        if (hi > lo)
            status |= work(job, lo, hi, t);
    }
    return status;
}

/* What the quantize-side slices read: x (of `kind`) from flat index start,
 * its layout, and the outputs. */
typedef struct {
    const char *x;
    int kind;
    ptrdiff_t n, start;
    const int8q_layout *L;
    void *scales;   /* abs-max bit patterns (absmax), or scales */
    void *partials; /* per-thread abs-max rows, or NULL: into scales */
    int own_blocks; /* threads own whole blocks (blocks_own_scales) */
    ptrdiff_t nscales;
    const void *recips; /* RECIP of the scales for per-element layouts */
    int bounded, mode;
    int8_t *q;
    void *d;
} quantize_job;

static void absmax_dispatch(const void *x, int kind, ptrdiff_t s, ptrdiff_t e,
                            const int8q_layout *L, void *mbits)
{
    if (kind == INT8Q_IN_F64)
        absmax_range_f64(x, kind, s, e, L, (int64_t *)mbits);
    else
        absmax_range_f32(x, kind, s, e, L, (int32_t *)mbits);
}

/* Max of the T per-thread partial rows into m (bit patterns, integer max). */
static void combine_partials(int f64, const void *partials, int T, ptrdiff_t nscales, void *m)
{
    for (int t = 0; t < T; t++)
        for (ptrdiff_t k = 0; k < nscales; k++) {
            if (f64) {
                int64_t v = ((const int64_t *)partials)[t * nscales + k];
                int64_t *mk = (int64_t *)m + k;
                *mk = v > *mk ? v : *mk;
            } else {
                int32_t v = ((const int32_t *)partials)[t * nscales + k];
                int32_t *mk = (int32_t *)m + k;
                *mk = v > *mk ? v : *mk;
            }
        }
}

static unsigned absmax_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    size_t ws = J->kind == INT8Q_IN_F64 ? 8 : 4;
    void *m = J->partials ? (char *)J->partials + (size_t)t * J->nscales * ws : J->scales;
    if (J->own_blocks)
        whole_blocks(J->L, J->start, J->n, &lo, &hi);
    if (hi > lo)
        absmax_dispatch(J->x + lo * element_size(J->kind), J->kind, J->start + lo, J->start + hi,
                        J->L, m);
    return 0;
}

int int8q_absmax(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                 void *m, ptrdiff_t nscales, int threads)
{
    int T = plan_threads(n, threads);
    size_t ws = kind == INT8Q_IN_F64 ? 8 : 4;
    quantize_job J = {
        .x = x, .kind = kind, .n = n, .start = start, .L = L, .scales = m, .nscales = nscales};
    if (n <= 0)
        return INT8Q_OK;
    /* many scales: per-thread partials would cost more than the pass, so
     * threads own whole blocks where they can, else one thread works */
    if (T > 1 && nscales * T > MAX_PARTIALS) {
        J.own_blocks = blocks_own_scales(L, start, n);
        T = J.own_blocks ? T : 1;
    }
    if (T > 1 && !J.own_blocks && !(J.partials = calloc((size_t)T * nscales, ws)))
        return INT8Q_NOMEM;
    run_slices(n, T, absmax_work, &J);
    if (J.partials)
        combine_partials(kind == INT8Q_IN_F64, J.partials, T, nscales, m);
    free(J.partials);
    return INT8Q_OK;
}

static void quantize_slice(const char *x, int kind, ptrdiff_t lo, ptrdiff_t hi, ptrdiff_t start,
                           const int8q_layout *L, const void *scales, const void *recips,
                           int bounded, int mode, int8_t *q, void *d)
{
    size_t es = element_size(kind);
    if (kind == INT8Q_IN_F64)
        quantize_range_f64(x + lo * es, kind, start + lo, start + hi, L, scales, recips, bounded,
                           mode, q + lo, d ? (double *)d + lo : NULL);
    else
        quantize_range_f32(x + lo * es, kind, start + lo, start + hi, L, scales, recips, bounded,
                           mode, q + lo, d ? (float *)d + lo : NULL);
}

static unsigned quantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    (void)t;
    quantize_slice(J->x, J->kind, lo, hi, J->start, J->L, J->scales, J->recips, J->bounded, J->mode,
                   J->q, J->d);
    return 0;
}

/* recips[k] = RECIP(scales[k]) for per-element layouts (NULL otherwise). */
static void fill_recips(int f64, const void *scales, ptrdiff_t nscales, int bounded, void *recips)
{
    for (ptrdiff_t k = 0; k < nscales; k++) {
        if (f64)
            ((double *)recips)[k] = int8q_recip_f64(((const double *)scales)[k], bounded);
        else
            ((float *)recips)[k] = int8q_recip_f32(((const float *)scales)[k], bounded);
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
    run_slices(n, plan_threads(n, threads), quantize_work, &J);
    if (recips != stack)
        free(recips);
    return INT8Q_OK;
}

/* Slices moved to block boundaries, so that every block is one thread's;
 * 1 at a NaN/inf block. */
static unsigned fused_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const quantize_job *J = job;
    ptrdiff_t s = J->start, es = (ptrdiff_t)element_size(J->kind);
    (void)t;
    whole_blocks(J->L, s, J->n, &lo, &hi);
    if (hi <= lo)
        return 0;
    if (J->kind == INT8Q_IN_F64)
        return (unsigned)fused_range_f64(J->x + lo * es, J->kind, s + lo, s + hi, J->L, J->scales,
                                         J->mode, J->q + lo, J->d ? (double *)J->d + lo : NULL);
    return (unsigned)fused_range_f32(J->x + lo * es, J->kind, s + lo, s + hi, J->L, J->scales,
                                     J->mode, J->q + lo, J->d ? (float *)J->d + lo : NULL);
}

/* Scales from the abs-max bit patterns in place; 1 if one is NaN/inf. */
static int scales_from_bits(int f64, void *scales, ptrdiff_t nscales)
{
    for (ptrdiff_t k = 0; k < nscales; k++) {
        if (f64) {
            double *s = (double *)scales + k;
            if (!(*s <= DBL_MAX))
                return 1;
            *s = int8q_scale_rule_f64(*s);
        } else {
            float *s = (float *)scales + k;
            if (!(*s <= FLT_MAX))
                return 1;
            *s = int8q_scale_rule_f32(*s);
        }
    }
    return 0;
}

int int8q_quantize_all(const void *x, int kind, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                       void *scales, ptrdiff_t nscales, int fused, int mode, int8_t *q, void *d,
                       int threads)
{
    int f64 = kind == INT8Q_IN_F64, T = plan_threads(n, threads), status = INT8Q_OK, own = 0;
    size_t ws = f64 ? 8 : 4;
    double stack[STACK_RECIPS];
    void *partials = NULL, *recips = NULL;
    if (n <= 0)
        return INT8Q_OK;
    if (fused) {
        quantize_job J = {.x = x,
                          .kind = kind,
                          .n = n,
                          .start = start,
                          .L = L,
                          .scales = scales,
                          .nscales = nscales,
                          .bounded = 1,
                          .mode = mode,
                          .q = q,
                          .d = d};
        return run_slices(n, T, fused_work, &J) ? INT8Q_NONFINITE : INT8Q_OK;
    }
    /* Two passes: abs-max of everything (nothing written if it finds NaN or
     * inf), the scales, then quantize; one parallel region for both. */
    if (T > 1 && nscales * T > MAX_PARTIALS) { /* as in int8q_absmax */
        own = blocks_own_scales(L, start, n);
        T = own ? T : 1;
    }
    if (T > 1 && !own && !(partials = calloc((size_t)T * nscales, ws)))
        return INT8Q_NOMEM;
    if (L->block == 1 &&
        !(recips = nscales <= STACK_RECIPS ? stack : malloc((size_t)nscales * ws))) {
        free(partials);
        return INT8Q_NOMEM;
    }
    memset(scales, 0, (size_t)nscales * ws);
    if (T == 1) {
        absmax_dispatch(x, kind, start, start + n, L, scales);
        status = scales_from_bits(f64, scales, nscales) ? INT8Q_NONFINITE : INT8Q_OK;
        if (status == INT8Q_OK) {
            if (recips)
                fill_recips(f64, scales, nscales, 1, recips);
            quantize_slice(x, kind, 0, n, start, L, scales, recips, 1, mode, q, d);
        }
    } else {
        /* (not run_slices: both passes share one region, with a barrier) */
#ifdef _OPENMP
#pragma omp parallel num_threads(T)
#endif
        {
            int t = thread_id();
            ptrdiff_t lo, hi, alo, ahi;
            size_t es = element_size(kind);
            thread_slice(n, T, t, &lo, &hi);
            alo = lo, ahi = hi;
            if (own)
                whole_blocks(L, start, n, &alo, &ahi);
            if (ahi > alo)
                absmax_dispatch((const char *)x + alo * es, kind, start + alo, start + ahi, L,
                                own ? scales : (char *)partials + (size_t)t * nscales * ws);
#ifdef _OPENMP
#pragma omp barrier
#pragma omp single
#endif
            {
                if (!own)
                    combine_partials(f64, partials, T, nscales, scales);
                status = scales_from_bits(f64, scales, nscales) ? INT8Q_NONFINITE : INT8Q_OK;
                if (status == INT8Q_OK && recips)
                    fill_recips(f64, scales, nscales, 1, recips);
            } /* the single's implied barrier publishes status and scales */
            if (status == INT8Q_OK && hi > lo)
                quantize_slice(x, kind, lo, hi, start, L, scales, recips, 1, mode, q, d);
        }
    }
    free(partials);
    if (recips != stack)
        free(recips);
    return status;
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
        run_slices(n, plan_threads(n, threads), dequantize_work, &J);
}

/* ------------------------------------------------------------------------ */
/* GGML Q8_0. */

/* Blocks [lo, hi) of any input kind: float32 directly, others converted to
 * float32 (as gguf-py's astype does) a tile at a time. */
static int q8_0_slice(const char *x, int kind, ptrdiff_t lo, ptrdiff_t hi, uint8_t *out)
{
    enum { TILE_BLOCKS = HALF_TILE / 32 };
    float buf[HALF_TILE];
    size_t es = element_size(kind);
    if (kind == INT8Q_IN_F32)
        return loops->q8_0_quant((const float *)x + 32 * lo, hi - lo, out + 34 * lo);
    for (ptrdiff_t b = lo; b < hi; b += TILE_BLOCKS) {
        ptrdiff_t nb = hi - b < TILE_BLOCKS ? hi - b : TILE_BLOCKS;
        const char *xb = x + (size_t)(32 * b) * es;
        int code;
        if (kind == INT8Q_IN_F64) {
            for (ptrdiff_t j = 0; j < 32 * nb; j++)
                buf[j] = (float)((const double *)xb)[j];
        } else {
            widen(kind, (const uint16_t *)xb, 32 * nb, buf);
        }
        code = loops->q8_0_quant(buf, nb, out + 34 * b);
        if (code)
            return code;
    }
    return INT8Q_OK;
}

typedef struct {
    const char *x;
    int kind;
    const uint8_t *raw;
    uint8_t *out;
    float *values;
} q8_0_job;

/* bit `code` set for a slice that stopped with that status */
static unsigned q8_0_quantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const q8_0_job *J = job;
    int code = q8_0_slice(J->x, J->kind, lo, hi, J->out);
    (void)t;
    return code == INT8Q_OK ? 0u : 1u << code;
}

int int8q_q8_0_quantize(const void *x, int kind, ptrdiff_t nblocks, uint8_t *out, int threads)
{
    q8_0_job J = {.x = x, .kind = kind, .out = out};
    unsigned bits;
    if (nblocks <= 0)
        return INT8Q_OK;
    bits = run_slices(nblocks, plan_threads(nblocks * 32, threads), q8_0_quantize_work, &J);
    /* NaN/inf wins over a float16 overflow, whichever slice saw what */
    return bits & 1u << INT8Q_NONFINITE      ? INT8Q_NONFINITE
           : bits & 1u << INT8Q_F16_OVERFLOW ? INT8Q_F16_OVERFLOW
                                             : INT8Q_OK;
}

static unsigned q8_0_dequantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const q8_0_job *J = job;
    (void)t;
    loops->q8_0_dequant(J->raw + 34 * lo, hi - lo, J->values + 32 * lo);
    return 0;
}

void int8q_q8_0_dequantize(const uint8_t *raw, ptrdiff_t nblocks, float *out, int threads)
{
    q8_0_job J = {.raw = raw, .values = out};
    if (nblocks > 0)
        run_slices(nblocks, plan_threads(nblocks * 32, threads), q8_0_dequantize_work, &J);
}
