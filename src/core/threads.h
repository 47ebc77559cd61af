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

/* Stores: the one home of the choice between regular and streaming
 * (non-temporal) stores for a call's output, made once per call by the
 * drivers that write more than they read (dequantize, Q8_0 dequantize,
 * quantize_dequantize's outputs).
 *
 * Cost model.  A regular store to a line that is not in cache reads the
 * line first (read for ownership), so an output that ends up in memory
 * costs its bytes twice: dequantize to float32 moves 1 + 4 + 4 bytes per
 * element instead of 1 + 4, which caps it at 5/9 of a copy's speed where
 * memcpy writes large buffers with streaming stores.  Streaming stores write
 * whole lines without reading them, but bypass the caches and evict the
 * lines they write: an output that would have stayed in the last-level
 * cache is then read back from memory by the caller's next step, which
 * costs more than the read for ownership saved.  An output larger than the
 * last-level cache no longer stays there anyway, so calls whose output is larger stream it, smaller
 * ones store normally and leave it in cache for the caller.  Measured on a 2-core AMD EPYC (Zen 4,
 * 32 MiB L3), dequantize to float32 into a reused buffer: regular stores are 1.1-1.7x faster than
 * streaming up to a 32 MiB output (2^23 elements), the two are even at 48-64 MiB, and streaming
 * is 1.1-1.6x faster from 128 MiB on (noisy: shared cores).  The last-level cache size is CPUID's
 * (int8q_cpu_cache_bytes), INT8Q_STREAM_FALLBACK_LLC where it does not say.  Levels without
 * streaming stores (arm64: its cores already stop allocating on long runs of whole-line writes)
 * always store normally.
 *
 * Streaming, a slice's loops write a tile of INT8Q_STREAM_TILE_BYTES at a
 * time into a buffer on the stack (in L1), which the level's stream_copy
 * then writes out (levels/table.h); the values are the loops' own, so the
 * stores never change a result. */
#define INT8Q_STREAM_FALLBACK_LLC ((ptrdiff_t)32 << 20)
#define INT8Q_STREAM_TILE_BYTES (16 << 10)

/* The bytes of the largest cache a core uses (core/dispatch.c), 0 where the
 * CPU does not say. */
ptrdiff_t int8q_cpu_cache_bytes(void);

/* Whether a call writing `bytes` of output streams it (per the model above,
 * on the level in use). */
int int8q_stream_output(ptrdiff_t bytes);

/* The output bytes beyond which calls stream; testing only: set it (0
 * streams every call, a negative value restores the default) to force
 * either path. */
ptrdiff_t int8q_stream_threshold(void);
void int8q_set_stream_threshold(ptrdiff_t bytes);

#endif
