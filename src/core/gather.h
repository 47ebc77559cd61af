/* Reading inputs the loops cannot take in place: strided views, F order,
 * reversed byte order.  The drivers (core/drivers.c) gather such an input
 * into a small per-thread buffer in flat C order and native byte order, and
 * run the same loops on it, so results are those of the same values read in
 * place (and the kernels stay free of per-layout code). */
#ifndef INT8Q_GATHER_H
#define INT8Q_GATHER_H

#include <stddef.h>

/* Most axes an input may have (NumPy 2 allows 64). */
#define INT8Q_MAX_DIMS 64

/* Element i of the flat C order lies at base + sum(index[a] * strides[a]),
 * index the multi-index of i; its `itemsize` bytes are reversed when
 * `swapped`.  Made by int8q_strided_init, which drops axes of length 1 and
 * merges axes that step through memory as one. */
typedef struct {
    const char *base;
    int ndim, itemsize, swapped;
    ptrdiff_t shape[INT8Q_MAX_DIMS];
    ptrdiff_t strides[INT8Q_MAX_DIMS]; /* bytes, any sign */
} int8q_strided;

/* Fill `s` for an array of `ndim` axes (at most INT8Q_MAX_DIMS) with the
 * given shape and byte strides, element 0 at `base`, elements of `itemsize`
 * bytes (2, 4 or 8).  Returns 0, or -1 for more axes or another size. */
int int8q_strided_init(int8q_strided *s, const void *base, int ndim, const ptrdiff_t *shape,
                       const ptrdiff_t *strides, int itemsize, int swapped);

/* `m` = the elements of `s` in memory order, for an order-free reduction
 * that repeats do not change (the abs-max): axes sorted by falling stride,
 * negative strides turned around, broadcast (stride 0) axes dropped.  The
 * elements of an array in F order, or any axis order, then form one run. */
void int8q_strided_for_max(const int8q_strided *s, int8q_strided *m);

/* Number of elements of `s`. */
ptrdiff_t int8q_strided_size(const int8q_strided *s);

/* Whether `s` is one run of native-order elements (readable in place at
 * s->base). */
int int8q_strided_is_flat(const int8q_strided *s);

/* Elements to gather at a time from `s`, at least `least`: more for inputs
 * gathered across rows (transposed), whose cache lines then serve more
 * rows each before they are evicted. */
ptrdiff_t int8q_gather_step(const int8q_strided *s, ptrdiff_t least);

/* The inner loops of a gather, from the current SIMD level's table
 * (levels/table.h).  copy_run copies count elements of `size` bytes from p,
 * `stride` bytes apart, to dst, their bytes reversed when `swapped`.
 * tile8x8, where the level has one (else NULL), transposes an 8 x 8 tile of
 * 4-byte elements: dst[r * dst_row + c] = element c of the column of 8
 * consecutive elements at src + c * col, for rows r and columns c < 8 (byte
 * offsets; dst_row in bytes). */
typedef void (*int8q_copy_run)(const char *p, ptrdiff_t stride, ptrdiff_t count, int size,
                               int swapped, char *dst);
typedef void (*int8q_tile8x8)(const char *src, ptrdiff_t col, char *dst, ptrdiff_t dst_row);
typedef struct {
    int8q_copy_run copy_run;
    int8q_tile8x8 tile8x8;
} int8q_gather_loops;

/* dst = elements [first, first + count) of `s` in flat C order, in native
 * byte order (dst holds count * itemsize bytes). */
void int8q_gather(const int8q_strided *s, ptrdiff_t first, ptrdiff_t count, void *dst,
                  const int8q_gather_loops *loops);

#endif
