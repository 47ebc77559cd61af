/* Gathering strided and byte-swapped inputs; see core/gather.h. */
#include "core/gather.h"

/* Append axis (size, stride) to s's first n axes, merged into the last one
 * when that steps over exactly this one; returns the new count. */
static int push_axis(int8q_strided *s, int n, ptrdiff_t size, ptrdiff_t stride)
{
    if (size == 1)
        return n; /* its stride never matters */
    if (n > 0 && s->strides[n - 1] == size * stride) {
        s->shape[n - 1] *= size;
        s->strides[n - 1] = stride;
        return n;
    }
    s->shape[n] = size;
    s->strides[n] = stride;
    return n + 1;
}

/* s->ndim = n, or one axis of one element when n is 0 */
static void set_ndim(int8q_strided *s, int n)
{
    if (n == 0) {
        s->shape[0] = 1;
        s->strides[0] = s->itemsize;
        n = 1;
    }
    s->ndim = n;
}

int int8q_strided_init(int8q_strided *s, const void *base, int ndim, const ptrdiff_t *shape,
                       const ptrdiff_t *strides, int itemsize, int swapped)
{
    int a, n = 0;
    if (ndim < 0 || ndim > INT8Q_MAX_DIMS || (itemsize != 2 && itemsize != 4 && itemsize != 8))
        return -1;
    s->base = (const char *)base;
    s->itemsize = itemsize;
    s->swapped = swapped;
    for (a = 0; a < ndim; a++)
        n = push_axis(s, n, shape[a], strides[a]);
    set_ndim(s, n);
    return 0;
}

void int8q_strided_for_max(const int8q_strided *s, int8q_strided *m)
{
    ptrdiff_t shape[INT8Q_MAX_DIMS], strides[INT8Q_MAX_DIMS];
    int a, b, k = 0, n = 0;
    m->base = s->base;
    m->itemsize = s->itemsize;
    m->swapped = s->swapped;
    for (a = 0; a < s->ndim; a++) {
        ptrdiff_t size = s->shape[a], stride = s->strides[a];
        if (stride == 0)
            continue;     /* repeats of the same elements */
        if (stride < 0) { /* the same elements from the other end */
            m->base += (size - 1) * stride;
            stride = -stride;
        }
        /* insertion by falling stride */
        for (b = k; b > 0 && strides[b - 1] < stride; b--) {
            shape[b] = shape[b - 1];
            strides[b] = strides[b - 1];
        }
        shape[b] = size;
        strides[b] = stride;
        k++;
    }
    for (a = 0; a < k; a++)
        n = push_axis(m, n, shape[a], strides[a]);
    set_ndim(m, n);
}

ptrdiff_t int8q_strided_size(const int8q_strided *s)
{
    ptrdiff_t n = 1;
    for (int a = 0; a < s->ndim; a++)
        n *= s->shape[a];
    return n;
}

int int8q_strided_is_flat(const int8q_strided *s)
{
    return s->ndim == 1 && s->strides[0] == s->itemsize && !s->swapped;
}

/* Columns a tile covers when rows are gathered across (transposed inputs):
 * few, because the columns of an F-ordered matrix lie a power-of-two
 * distance apart and map onto the same cache sets (measured, 4096 x 4096
 * float32 per tensor: 8 columns 27 ms, 16 columns 37 ms, 64 columns 44 ms). */
#define TILE_COLUMNS 8

/* Whether rows of `s` are better gathered a tile of columns at a time:
 * stepping along a row (the last axis) jumps further through memory than
 * stepping down a column (F order, transposed views), so that reading row
 * after row whole would touch a new cache line and page for every element;
 * a tile of columns is read down its rows instead, its lines staying in
 * cache from one row to the next. */
static int across_rows(const int8q_strided *s)
{
    ptrdiff_t col, row;
    if (s->ndim < 2)
        return 0;
    col = s->strides[s->ndim - 1];
    row = s->strides[s->ndim - 2];
    return (col < 0 ? -col : col) > (row < 0 ? -row : row);
}

/* Rows gathered at a time across rows: a column's cache line (16 float32)
 * then serves 16 rows before it leaves the cache, and the 8-column tiles
 * run 64 rows deep (measured on a 4096 x 4096 F-ordered float32 array: 16
 * rows a step 27 ms, 64 rows 23 ms per tensor). */
#define ROWS_ACROSS 64
/* ... unless that makes the step larger than this (2 MiB of float32; an
 * F-ordered 4096 x 8192 float32 array per tensor took 0.76 Gelem/s with
 * steps of 2^18, 0.87 with 2^19, 0.95 with 2^20, whose 4 MiB buffers per
 * thread the budget of core/drivers.c would then cut). */
#define MAX_STEP ((ptrdiff_t)1 << 19)

ptrdiff_t int8q_gather_step(const int8q_strided *s, ptrdiff_t least)
{
    ptrdiff_t rows = ROWS_ACROSS * s->shape[s->ndim - 1];
    if (across_rows(s) && rows > least)
        return rows < MAX_STEP ? rows : MAX_STEP > least ? MAX_STEP : least;
    return least;
}

void int8q_gather(const int8q_strided *s, ptrdiff_t first, ptrdiff_t count, void *dst,
                  const int8q_gather_loops *loops)
{
    ptrdiff_t index[INT8Q_MAX_DIMS], rest = first;
    const int last = s->ndim - 1;
    const ptrdiff_t ncols = s->shape[last], col = s->strides[last];
    const int tiled = across_rows(s);
    char *out = (char *)dst;
    int a;
    for (a = last; a >= 0; a--) {
        index[a] = rest % s->shape[a];
        rest /= s->shape[a];
    }
    while (count > 0) {
        const char *p = s->base;
        ptrdiff_t run = ncols - index[last], rows = 0;
        for (a = 0; a <= last; a++)
            p += index[a] * s->strides[a];
        if (tiled && index[last] == 0) { /* whole rows of one matrix ahead */
            rows = s->shape[last - 1] - index[last - 1];
            rows = rows < count / ncols ? rows : count / ncols;
        }
        if (rows > 1) {
            /* a tile of columns at a time down all those rows */
            ptrdiff_t row = s->strides[last - 1], r, c;
            for (c = 0; c < ncols; c += TILE_COLUMNS) {
                ptrdiff_t w = ncols - c < TILE_COLUMNS ? ncols - c : TILE_COLUMNS;
                r = 0;
                /* columns of consecutive 4-byte elements (F order): 8 x 8
                 * tiles transposed in registers where the level can */
                if (w == 8 && loops->tile8x8 && s->itemsize == 4 && row == 4 && !s->swapped)
                    for (; r + 8 <= rows; r += 8)
                        loops->tile8x8(p + r * row + c * col, col, out + (r * ncols + c) * 4,
                                       ncols * 4);
                for (; r < rows; r++)
                    loops->copy_run(p + r * row + c * col, col, w, s->itemsize, s->swapped,
                                    out + (r * ncols + c) * s->itemsize);
            }
            run = rows * ncols;
            index[last - 1] += rows - 1; /* the carry below adds the last */
        } else {
            run = run < count ? run : count;
            loops->copy_run(p, col, run, s->itemsize, s->swapped, out);
        }
        out += run * s->itemsize;
        count -= run;
        /* the next row: carry into the outer axes */
        index[last] = 0;
        for (a = last - 1; a >= 0 && ++index[a] == s->shape[a]; a--)
            index[a] = 0;
    }
}
