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
 * last-level cache (one core's, as CPUID reports it;
 * INT8Q_STREAM_FALLBACK_LLC where it does not say) no longer stays there
 * anyway, so calls whose output is larger stream it, smaller ones store
 * normally and leave it in cache for the caller.  Where this was measured
 * (Intel Xeon, AVX-512: dequantize to float32 of 2^26 elements into a
 * reused buffer at 0.60 of a two-thread copy, 8.9 Gelem/s at 2^24 inside
 * its large last-level cache against 3.4 at 2^26) the read for ownership
 * is the difference.
 *
 * AMD CPUs keep regular stores (int8q_cpu_is_amd): on a 2-core AMD EPYC
 * guest (Zen 4, 32 MiB L3), with the two interleaved in one process (best
 * of 30-40, shared cores), streaming gained nothing that stood out of the
 * noise and often lost: dequantize of 2^24 elements ran at 0.45-1.1x, of
 * 2^26 at 0.8-1.8x, Q8_0 dequantize of 2^26 at 0.45-0.7x and
 * quantize_dequantize at 0.65-0.8x the speed of regular stores, which already ran at 1.1-1.5x the
 * copy (its glibc copies large buffers without streaming stores there).  Levels without streaming
 * stores (arm64: its cores stop allocating by themselves on long runs of
 * whole-line writes) always store normally.
 *
 * Streaming, a slice's loops write a tile of INT8Q_STREAM_TILE_BYTES at a
 * time into a buffer on the stack (in L1), which the level's stream_copy
 * then writes out (levels/table.h); the values are the loops' own, so the
 * stores never change a result. */
#define INT8Q_STREAM_FALLBACK_LLC ((ptrdiff_t)32 << 20)
#define INT8Q_STREAM_TILE_BYTES (16 << 10)

/* The bytes of the largest cache a core uses, 0 where the CPU does not say;
 * whether the CPU is AMD's (core/dispatch.c). */
ptrdiff_t int8q_cpu_cache_bytes(void);
int int8q_cpu_is_amd(void);

/* Whether a call writing `bytes` of output streams it (per the model above,
 * on the level in use). */
int int8q_stream_output(ptrdiff_t bytes);

/* The output bytes beyond which calls stream (PTRDIFF_MAX: never); testing
 * only: set it (0 streams every call, a negative value restores the
 * default) to force either path. */
ptrdiff_t int8q_stream_threshold(void);
void int8q_set_stream_threshold(ptrdiff_t bytes);

#endif
