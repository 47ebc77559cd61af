/* The dequantize driver (core/kernels.h: int8q_dequantize). */
#include "core/drivers.h"
#include "core/threads.h"

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
        int8q_dequantize_range_f64(J->q + lo, J->start + lo, J->start + hi, J->L, J->scales,
                                   (double *)J->out + lo);
    else
        int8q_dequantize_range_f32(J->q + lo, J->start + lo, J->start + hi, J->L, J->scales,
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
