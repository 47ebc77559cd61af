/* The dequantize drivers (core/kernels.h: int8q_dequantize; core/affine.h:
 * int8q_dequantize_affine): one job, with zero points or without, so both
 * split and store their output the same way. */
#include "core/affine.h"
#include "core/drivers.h"
#include "core/threads.h"

typedef struct {
    const int8_t *q; /* uint8 bytes when q_unsigned */
    int q_unsigned;
    ptrdiff_t start;
    const int8q_layout *L;
    const void *scales;
    const int32_t *zps; /* NULL: symmetric */
    int f64;
    void *out;
    int stream; /* streaming stores (core/threads.h) */
} dequantize_job;

static void dequantize_range(const dequantize_job *J, ptrdiff_t lo, ptrdiff_t hi, void *out)
{
    const int8q_loops *loops = int8q_current_loops();
    ptrdiff_t s = J->start + lo, e = J->start + hi;
    if (J->zps && J->f64)
        loops->affine_deq_f64(J->q + lo, J->q_unsigned, s, e, J->L, J->scales, J->zps, out);
    else if (J->zps)
        loops->affine_deq_f32(J->q + lo, J->q_unsigned, s, e, J->L, J->scales, J->zps, out);
    else if (J->f64)
        int8q_dequantize_range_f64(J->q + lo, s, e, J->L, J->scales, out);
    else
        int8q_dequantize_range_f32(J->q + lo, s, e, J->L, J->scales, out);
}

/* [lo, hi) a tile at a time into a stack buffer, then streamed to out. */
STREAMED void dequantize_streamed(const dequantize_job *J, ptrdiff_t lo, ptrdiff_t hi)
{
    double tile[INT8Q_STREAM_TILE_BYTES / sizeof(double)];
    const int8q_loops *loops = int8q_current_loops();
    size_t es = J->f64 ? 8 : 4;
    for (ptrdiff_t a = lo, b; a < hi; a = b) {
        b = stream_tile_end(J->out, es, a, hi, (ptrdiff_t)(sizeof tile / es));
        dequantize_range(J, a, b, tile);
        loops->stream_copy((char *)J->out + (size_t)a * es, tile, (size_t)(b - a) * es);
    }
    loops->stream_fence();
}

static unsigned dequantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const dequantize_job *J = job;
    (void)t;
    if (J->stream)
        dequantize_streamed(J, lo, hi);
    else
        dequantize_range(J, lo, hi, (char *)J->out + (size_t)lo * (J->f64 ? 8 : 4));
    return 0;
}

static void run_dequantize(dequantize_job *J, ptrdiff_t n, int threads)
{
    J->stream = int8q_stream_output(n * (J->f64 ? 8 : 4));
    if (n > 0)
        int8q_run_slices(n, int8q_plan_threads(n, threads), dequantize_work, J);
}

void int8q_dequantize(const int8_t *q, ptrdiff_t n, ptrdiff_t start, const int8q_layout *L,
                      const void *scales, int f64, void *out, int threads)
{
    dequantize_job J = {.q = q, .start = start, .L = L, .scales = scales, .f64 = f64, .out = out};
    run_dequantize(&J, n, threads);
}

void int8q_dequantize_affine(const void *q, int q_unsigned, ptrdiff_t n, ptrdiff_t start,
                             const int8q_layout *L, const void *scales, const int32_t *zps, int f64,
                             void *out, int threads)
{
    dequantize_job J = {.q = q,
                        .q_unsigned = q_unsigned,
                        .start = start,
                        .L = L,
                        .scales = scales,
                        .zps = zps,
                        .f64 = f64,
                        .out = out};
    run_dequantize(&J, n, threads);
}
