/* Threads: the one home of the thread plan, the slicing of a call among
 * threads and OpenMP (the only file with OpenMP pragmas is core/threads.c).
 * Every driver runs its threads through these functions, so the threshold
 * and the slicing rule are the same for every entry point.
 *
 * The plan: a call on n elements wakes min(threads, n / MIN_PER_THREAD)
 * threads, at least 1: below MIN_PER_THREAD elements per thread, waking
 * another thread costs more than it saves.  Thread t of T works on
 * [n t / T, n (t + 1) / T); drivers whose work must keep blocks whole move
 * those bounds to block boundaries themselves (core/layout.h).  One
 * parallel region per call at most, none on a single thread.  Without
 * OpenMP the same code runs serially. */
#ifndef INT8Q_THREADS_H
#define INT8Q_THREADS_H

#include <stddef.h>

/* Elements below which a call runs on the calling thread alone. */
#define INT8Q_MIN_PER_THREAD ((ptrdiff_t)1 << 17)

/* Whether this build has OpenMP, and the threads OpenMP would use. */
int int8q_have_openmp(void);
int int8q_max_threads(void);

/* Threads worth waking for n elements, with at most `threads`. */
int int8q_plan_threads(ptrdiff_t n, int threads);

/* Thread t's share [lo, hi) of [0, n) among T threads. */
void int8q_thread_slice(ptrdiff_t n, int T, int t, ptrdiff_t *lo, ptrdiff_t *hi);

/* The work of one thread: items [lo, hi) of a call (thread t); returns 0,
 * or status bits that the caller turns into its status. */
typedef unsigned (*int8q_slice_work)(const void *job, ptrdiff_t lo, ptrdiff_t hi, int t);

/* `work` over [0, n) in T slices, one per thread of one parallel region (on
 * the calling thread alone when T is 1); the slices' status bits OR'ed. */
unsigned int8q_run_slices(ptrdiff_t n, int T, int8q_slice_work work, const void *job);

/* Two passes in one parallel region: `first` over [0, n1) in T slices, then
 * `between(arg)` on one thread once every slice is done, then, if it
 * returned 0, `second` over [0, n2) in T slices.  Returns what `between`
 * returned.  (One region instead of two saves a wake-up of every thread.) */
int int8q_run_two_passes(int T, ptrdiff_t n1, int8q_slice_work first, const void *job1,
                         int (*between)(void *arg), void *arg, ptrdiff_t n2,
                         int8q_slice_work second, const void *job2);

#endif
