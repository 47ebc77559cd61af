/* Threads and OpenMP; see core/threads.h.  The only file with OpenMP
 * pragmas: every other file runs its threads through these functions. */
#include "core/threads.h"
#include "levels/table.h"

#include <stdint.h>

#ifdef _OPENMP
#include <omp.h>
#endif

int int8q_have_openmp(void)
{
#ifdef _OPENMP
    return 1;
#else
    return 0;
#endif
}

int int8q_max_threads(void)
{
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

int int8q_plan_threads(ptrdiff_t n, int threads)
{
#ifdef _OPENMP
    ptrdiff_t t = n / INT8Q_MIN_PER_THREAD;
    if (t > threads)
        t = threads;
    return t > 1 ? (int)t : 1;
#else
    (void)n, (void)threads;
    return 1;
#endif
}

void int8q_thread_slice(ptrdiff_t n, int T, int t, ptrdiff_t *lo, ptrdiff_t *hi)
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

/* Thread t's slice of [0, n) through `work`, when not empty. */
static unsigned one_slice(ptrdiff_t n, int T, int t, int8q_slice_work work, const void *job)
{
    ptrdiff_t lo, hi;
    int8q_thread_slice(n, T, t, &lo, &hi);
    return hi > lo ? work(job, lo, hi, t) : 0u;
}

unsigned int8q_run_slices(ptrdiff_t n, int T, int8q_slice_work work, const void *job)
{
    unsigned status = 0;
    if (T <= 1)
        return work(job, 0, n, 0);
#ifdef _OPENMP
#pragma omp parallel num_threads(T) reduction(| : status)
#endif
    status |= one_slice(n, T, thread_id(), work, job);
    return status;
}

int int8q_run_two_passes(int T, ptrdiff_t n1, int8q_slice_work first, const void *job1,
                         int (*between)(void *arg), void *arg, ptrdiff_t n2,
                         int8q_slice_work second, const void *job2)
{
    int status = 0;
    if (T <= 1) {
        if (n1 > 0)
            first(job1, 0, n1, 0);
        status = between(arg);
        if (status == 0 && n2 > 0)
            second(job2, 0, n2, 0);
        return status;
    }
#ifdef _OPENMP
#pragma omp parallel num_threads(T)
#endif
    {
        int t = thread_id();
        one_slice(n1, T, t, first, job1);
#ifdef _OPENMP
#pragma omp barrier
#pragma omp single
#endif
        status = between(arg);
        /* the single's implied barrier publishes status and what `between`
         * wrote */
        if (status == 0)
            one_slice(n2, T, t, second, job2);
    }
    return status;
}

/* 0 until first asked; every thread that races to fill it writes the same
 * value. */
static volatile ptrdiff_t stream_default = 0, stream_forced = -1;

ptrdiff_t int8q_stream_threshold(void)
{
    if (stream_forced >= 0)
        return stream_forced;
    if (stream_default == 0) {
        ptrdiff_t llc = int8q_cpu_cache_bytes();
        stream_default = int8q_cpu_is_amd() ? PTRDIFF_MAX
                         : llc > 0          ? llc
                                            : INT8Q_STREAM_FALLBACK_LLC;
    }
    return stream_default;
}

void int8q_set_stream_threshold(ptrdiff_t bytes)
{
    stream_forced = bytes < 0 ? -1 : bytes;
}

int int8q_stream_output(ptrdiff_t bytes)
{
    /* the size first: small calls, most of them, stop there */
    return bytes > int8q_stream_threshold() && int8q_current_loops()->stream_copy != NULL;
}
