/* The GGML Q8_0 drivers (core/kernels.h): whole blocks of 32 floats to
 * 34 bytes and back, on threads, from any input kind and layout. */
#include "core/drivers.h"
#include "core/threads.h"

#include <stdlib.h>

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
    int stream; /* values written with streaming stores (core/threads.h) */
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

/* Blocks [lo, hi) a tile at a time into a stack buffer, then streamed. */
STREAMED void q8_0_dequantize_streamed(const q8_0_job *J, ptrdiff_t lo, ptrdiff_t hi)
{
    const int8q_loops *loops = int8q_current_loops();
    float tile[INT8Q_STREAM_TILE_BYTES / sizeof(float)];
    const ptrdiff_t per = (ptrdiff_t)(sizeof tile / sizeof tile[0]) / 32;
    for (ptrdiff_t b = lo; b < hi; b += per) {
        ptrdiff_t m = hi - b < per ? hi - b : per;
        loops->q8_0_dequant(J->raw + 34 * b, m, tile);
        loops->stream_copy(J->values + 32 * b, tile, (size_t)m * 32 * sizeof(float));
    }
    loops->stream_fence();
}

static unsigned q8_0_dequantize_work(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t)
{
    const q8_0_job *J = job;
    (void)t;
    if (J->stream)
        q8_0_dequantize_streamed(J, lo, hi);
    else
        int8q_current_loops()->q8_0_dequant(J->raw + 34 * lo, hi - lo, J->values + 32 * lo);
    return 0;
}

void int8q_q8_0_dequantize(const uint8_t *raw, ptrdiff_t nblocks, float *out, int threads)
{
    q8_0_job J = {.raw = raw, .values = out, .stream = int8q_stream_output(nblocks * 128)};
    if (nblocks > 0)
        int8q_run_slices(nblocks, int8q_plan_threads(nblocks * 32, threads), q8_0_dequantize_work,
                         &J);
}
