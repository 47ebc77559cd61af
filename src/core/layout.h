/* Walking the flat index space of a layout (core/kernels.h): the pieces of
 * elements that share a scale, and block boundaries, which drivers that keep
 * blocks whole move their thread slices to.  Shared by core/drivers.c and
 * core/affine.c. */
#ifndef INT8Q_LAYOUT_H
#define INT8Q_LAYOUT_H

#include "core/kernels.h"

/* A run of elements [i, end) that the loops take in one call: a row piece
 * with one scale per element (per_element, scales from k on), whole blocks
 * of a row (whole_blocks, scales from k on), or part of one block (scale k). */
typedef struct {
    ptrdiff_t end, k;
    int per_element, whole_blocks;
} piece;

static inline piece next_piece(const int8q_layout *L, ptrdiff_t i, ptrdiff_t e)
{
    ptrdiff_t r = i / L->n_row, row0 = r * L->n_row, c = i - row0;
    ptrdiff_t row_end = row0 + L->n_row < e ? row0 + L->n_row : e;
    ptrdiff_t base = (r % L->cmod) * L->nb, b, nfull, blk_end;
    piece p;
    p.per_element = L->block == 1;
    p.whole_blocks = 0;
    if (p.per_element) {
        p.end = row_end;
        p.k = base + c;
        return p;
    }
    b = c / L->block;
    p.k = base + b;
    if (c == 0 && L->nb * L->block == L->n_row) {
        /* Rows of whole blocks use consecutive scales until r wraps around
         * cmod: one piece for all of them, so that a (rows, B) array with
         * one block per row reaches the loops in one call, not per row. */
        ptrdiff_t rows = (e - i) / L->n_row, left = L->cmod - r % L->cmod;
        rows = rows < left ? rows : left;
        if (rows > 1) {
            p.end = i + rows * L->n_row;
            p.whole_blocks = 1;
            return p;
        }
    }
    nfull = (row_end - i) / L->block;
    if (c == b * L->block && nfull > 0) {
        p.end = i + nfull * L->block;
        p.whole_blocks = 1;
        return p;
    }
    blk_end = row0 + (b + 1) * L->block;
    p.end = blk_end < row_end ? blk_end : row_end;
    return p;
}

/* The whole rows that [i, e) starts with, when the layout has one scale
 * per column (block 1, cmod 1: channels on the last axis) and i is a row
 * start: every such row uses scales 0 .. n_row - 1, so loops can take many
 * rows in one call.  0 otherwise. */
static inline ptrdiff_t whole_rows(const int8q_layout *L, ptrdiff_t i, ptrdiff_t e)
{
    if (L->block != 1 || L->cmod != 1 || i % L->n_row != 0)
        return 0;
    return (e - i) / L->n_row;
}

/* Smallest block boundary >= p (p itself when it is one). */
static inline ptrdiff_t next_block_start(const int8q_layout *L, ptrdiff_t p)
{
    ptrdiff_t r = p / L->n_row, c = p - r * L->n_row;
    ptrdiff_t up = (c + L->block - 1) / L->block * L->block;
    return up >= L->n_row ? (r + 1) * L->n_row : r * L->n_row + up;
}

/* Largest block boundary <= p. */
static inline ptrdiff_t last_block_start(const int8q_layout *L, ptrdiff_t p)
{
    ptrdiff_t r = p / L->n_row, c = p - r * L->n_row;
    return r * L->n_row + c / L->block * L->block;
}

/* Whether every scale used in [start, start + n) belongs to one contiguous
 * block of it (rows do not come back to a scale modulo cmod, and start is
 * on a block boundary), so that threads owning whole blocks can write the
 * abs-max of each directly. */
static inline int blocks_own_scales(const int8q_layout *L, ptrdiff_t start, ptrdiff_t n)
{
    return L->block > 1 && start + n <= L->cmod * L->n_row && next_block_start(L, start) == start;
}

/* A thread's [lo, hi) moved to block boundaries, so that each block is one
 * thread's (the slices of all threads still cover [0, n)). */
static inline void whole_blocks(const int8q_layout *L, ptrdiff_t start, ptrdiff_t n, ptrdiff_t *lo,
                                ptrdiff_t *hi)
{
    *lo = next_block_start(L, start + *lo) - start;
    *hi = next_block_start(L, start + *hi) - start;
    if (*hi > n)
        *hi = n;
}

#endif
