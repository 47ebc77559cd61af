/* What the driver files of core/ share (ranges.c, absmax.c, quantize.c,
 * dequantize.c, q8_0.c; see core/kernels.h for the drivers): their tuning
 * constants, reading half-precision input, the range kernels of
 * templates/ranges.h, and the quantize-side job with its input reading and
 * abs-max pass.  All compiled with the baseline flags only. */
#ifndef INT8Q_DRIVERS_H
#define INT8Q_DRIVERS_H

#include "core/const_length.h"
#include "core/kernels.h"
#include "levels/table.h"

/* Per-thread abs-max partials are used while they stay this small. */
#define MAX_PARTIALS ((ptrdiff_t)1 << 20)
/* Half-precision elements widened to float32 at a time, on the stack. */
#define HALF_TILE 1024
/* Elements a loop takes at least, where rows with one scale per column are
 * narrower (templates/ranges.h absmax_rows, quantize_rows): 256 keeps the
 * per-call cost small and the stack vectors at 2 KiB. */
#define ROW_RUN 256
/* Rows with one scale per column no longer than this (bytes) are abs-maxed
 * one after another (templates/ranges.h amaxv_rows), wider ones eight at a
 * time.  Eight short rows at once are eight streams too short for the
 * hardware prefetchers: blocks of 32 along axis 0 of (65536, 256) float32
 * from memory took 7.3-8.5 ms that way and 5.3-5.7 ms row by row, one scale
 * per column of that array 7.2-8.5 and 5.2-5.4 ms (one core).  Rows of
 * 1024 and 2048 float32 are faster eight at a time (per column, 2 threads:
 * 2.3-3.3 ms against 3.5-4.1 row by row).  2^24 elements, AMD EPYC Zen 4,
 * avx512. */
#define ROW_STREAM_BYTES 2048

/* Whether rows of `cols` elements of `size` bytes are abs-maxed one after
 * another (ROW_STREAM_BYTES). */
static inline int rows_one_by_one(ptrdiff_t cols, size_t size)
{
    return (size_t)cols * size <= ROW_STREAM_BYTES;
}
/* Columns a fused pass over blocks along a non-last axis quantizes at a
 * time (templates/ranges.h fused_rows): their reciprocals and widened
 * half-precision values stay on the stack (12 KiB for float64). */
#define ROW_TILE 1024
/* Rows of at most NARROW_COLS columns (NARROW_DEQ_COLS to dequantize)
 * with blocks along a non-last axis go NARROW_TILE elements of whole rows
 * at a time, each element's scale spread out (templates/ranges.h, narrow
 * rows).  Blocks of 32 along axis 0 of 2^24 elements, one core of an AMD
 * EPYC Zen 4 (avx512), spread against row by row: quantize float32 rows
 * of 16 7.0 against 8.8 ms, 20 14.0 against 19.3, 32 10.2 against 5.8;
 * float64 16 24.0 against 22.2, 20 35.6 against 32.9; dequantize float32
 * rows of 32 10.9 against 14.6. */
#define NARROW_COLS 16
#define NARROW_DEQ_COLS 32
#define NARROW_TILE 1024
/* Row length from which a dequantize of rows sharing their scales (one per
 * column) takes them several rows at a time (templates/ranges.h). */
#define DEQ_ROW_MIN 256
/* Elements of a strided input gathered at a time (64 KiB of float32): small
 * enough to stay in cache between the gather and the loops. */
#define GATHER_ELEMENTS ((ptrdiff_t)1 << 14)
/* Bytes of gather buffers a call may hold, all threads together (the
 * contract keeps temporaries under 16 MiB). */
#define GATHER_BUDGET ((ptrdiff_t)8 << 20)
/* Elements of a per-tensor input with a given scale checked at a time
 * (templates/ranges.h given_range): 16 KiB of float32, read again from L1. */
#define GIVEN_TILE 4096

/* A function that holds a stream tile on its stack (the streamed paths
 * below): kept out of line, so that calls storing normally neither reserve
 * nor probe that stack (inlined, it cost a small dequantize 20 ns). */
#if defined(_MSC_VER)
#define STREAMED static __declspec(noinline)
#else
#define STREAMED static __attribute__((noinline))
#endif

/* Where a streamed slice (core/threads.h: int8q_stream_output) ends the
 * tile of output elements that starts at a: at most `tile` elements, fewer
 * so that the next tile starts on a 64-byte line of out (es bytes per
 * element) when the elements fall on line boundaries at all; then only the
 * slice's first and last lines are stored normally. */
static inline ptrdiff_t stream_tile_end(const void *out, size_t es, ptrdiff_t a, ptrdiff_t hi,
                                        ptrdiff_t tile)
{
    ptrdiff_t b = a + tile;
    size_t off;
    if (b >= hi)
        return hi;
    off = (size_t)(((uintptr_t)out + (size_t)b * es) & 63);
    return off % es == 0 ? b - (ptrdiff_t)(off / es) : b;
}

static inline size_t element_size(int kind)
{
    return kind == INT8Q_IN_F64 ? 8 : kind == INT8Q_IN_F32 ? 4 : 2;
}

static inline void widen(int kind, const uint16_t *h, ptrdiff_t n, float *out)
{
    const int8q_loops *loops = int8q_current_loops();
    if (kind == INT8Q_IN_F16)
        loops->f16_to_f32(h, n, out);
    else
        loops->bf16_to_f32(h, n, out);
}

/* The range kernels (templates/ranges.h, instantiated by core/ranges.c per
 * working dtype): [s, e) of the flat index space, x at element s. */
void int8q_absmax_range_f32(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e,
                            const int8q_layout *L, int32_t *mbits);
void int8q_absmax_range_f64(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e,
                            const int8q_layout *L, int64_t *mbits);
void int8q_quantize_range_f32(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e,
                              const int8q_layout *L, const float *scales, const float *recips,
                              int bounded, int mode, int8_t *q, float *d);
void int8q_quantize_range_f64(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e,
                              const int8q_layout *L, const double *scales, const double *recips,
                              int bounded, int mode, int8_t *q, double *d);
int int8q_given_range_f32(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                          const float *scale, int bounded, int mode, int8_t *q);
int int8q_given_range_f64(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                          const double *scale, int bounded, int mode, int8_t *q);
int int8q_fused_range_f32(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                          float *scales, int mode, int8_t *q, float *d);
int int8q_fused_range_f64(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                          double *scales, int mode, int8_t *q, double *d);
void int8q_dequantize_range_f32(const int8_t *q, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                                const float *scales, float *out);
void int8q_dequantize_range_f64(const int8_t *q, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                                const double *scales, double *out);

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
    int stream; /* q and d written with streaming stores (core/threads.h) */
} quantize_job;

/* The work on items [lo, hi) of a job's input, with x pointing at item lo
 * (in place or gathered); `arg` is what the caller passed along.  Returns
 * status bits as a slice_work does. */
typedef unsigned (*input_work)(const quantize_job *J, const char *x, ptrdiff_t lo, ptrdiff_t hi,
                               void *arg);

/* Input reading and the abs-max pass (core/absmax.c), which the quantize
 * drivers (core/quantize.c) share. */

/* Per-thread gather buffers for *T threads when the job reads a strided
 * input (nothing otherwise), allocated before any thread runs so that a
 * failure writes nothing.  A step holds at least one block when `blocks`
 * (the fused loops take whole blocks).  All buffers together stay within
 * GATHER_BUDGET: shorter steps, or fewer threads where even a step of one
 * block would not fit.  Returns INT8Q_OK or INT8Q_NOMEM. */
int int8q_plan_gather(quantize_job *J, int *T, int blocks);

/* each(J, x, lo, hi, arg) over [lo, hi) as thread t: once, in place, for an
 * input the loops read directly; otherwise a step at a time gathered into
 * thread t's buffer (steps end on block boundaries when `blocks`; lo is
 * then on one).  Stops at the first step that reports status bits. */
unsigned int8q_over_input(const quantize_job *J, int t, ptrdiff_t lo, ptrdiff_t hi, int blocks,
                          input_work each, void *arg);

/* Max of the T per-thread partial rows into m (bit patterns, integer max). */
void int8q_combine_partials(int f64, const void *partials, int T, ptrdiff_t nscales, void *m);

/* Threads for an abs-max pass over J's input and where their results go
 * (J->own_blocks, J->partials); 0 when out of memory. */
int int8q_plan_absmax(quantize_job *J, int threads);

/* The slices of an abs-max pass (int8q_run_slices) planned so. */
unsigned int8q_absmax_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t);

/* The abs-max pass of a job with one scale (per tensor) over a whole
 * strided input reads it in memory order instead (int8q_strided_for_max):
 * an array in F order, or any axis order, is then read in place, others in
 * longer runs.  `m` and `one` hold what J then points at. */
void int8q_max_in_memory_order(quantize_job *J, int8q_strided *m, int8q_layout *one);

#endif
