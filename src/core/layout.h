/* Walking the flat index space of a layout (core/kernels.h): the pieces of
 * elements that share a scale, and block boundaries, which drivers that keep
 * blocks whole move their thread slices to.  Shared by core/drivers.c and
 * core/affine.c. */
#ifndef INT8Q_LAYOUT_H
#define INT8Q_LAYOUT_H

#include "core/const_length.h"
#include "core/kernels.h"

/* A run of elements [i, end) that the loops take in one call: a row piece
 * with one scale per element (per_element, scales from k on), whole blocks
 * of a row (whole_blocks, scales from k on), or part of one block (scale k). */
typedef struct {
    ptrdiff_t end, k;
    int per_element, whole_blocks;
} piece;

/* The row key of row r (core/kernels.h): its scales start at key * nb. */
static inline ptrdiff_t row_key(const int8q_layout *L, ptrdiff_t r)
{
    if (!L->rblk)
        return r % L->cmod;
    return r / L->rgrp * ((L->rgrp + L->rblk - 1) / L->rblk) + r % L->rgrp / L->rblk;
}

/* With rblk: the first row after r's block along the blocked axis. */
static inline ptrdiff_t row_block_end(const int8q_layout *L, ptrdiff_t r)
{
    ptrdiff_t a = r % L->rgrp, end = (a / L->rblk + 1) * L->rblk;
    return r - a + (end < L->rgrp ? end : L->rgrp);
}

static inline piece next_piece(const int8q_layout *L, ptrdiff_t i, ptrdiff_t e)
{
    ptrdiff_t r = i / L->n_row, row0 = r * L->n_row, c = i - row0;
    ptrdiff_t row_end = row0 + L->n_row < e ? row0 + L->n_row : e;
    ptrdiff_t base = row_key(L, r) * L->nb, b, nfull, blk_end;
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
    if (c == 0 && L->nb * L->block == L->n_row && !L->rblk) {
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

/* Walking whole rows of a layout with blocks along the blocked axis
 * (rblk), block by block: the rows left in the current row's block, with
 * no division per block (the narrow-row loops of templates/ranges.h and
 * templates/affine_loops.h meet a block every few vectors).  Consecutive
 * blocks have consecutive row keys, across groups too. */
typedef struct {
    ptrdiff_t pos;  /* the current row's index along the blocked axis */
    ptrdiff_t left; /* rows from it to the end of its block */
} block_walk;

static inline block_walk block_walk_at(const int8q_layout *L, ptrdiff_t r)
{
    block_walk w;
    w.pos = r % L->rgrp;
    w.left = row_block_end(L, r) - r;
    return w;
}

/* To the first row of the next block. */
static inline void block_walk_next(const int8q_layout *L, block_walk *w)
{
    w->pos += w->left;
    if (w->pos == L->rgrp)
        w->pos = 0;
    w->left = L->rgrp - w->pos < L->rblk ? L->rgrp - w->pos : L->rblk;
}

/* How many rows of `cols` elements make one row of lcm(cols, 16) elements,
 * whole vectors: the narrow-row abs-max and min/max loops take a block's
 * rows that many at a time. */
static inline ptrdiff_t rows_to_whole_vectors(ptrdiff_t cols)
{
    ptrdiff_t low = cols & -cols; /* the largest power of two dividing cols */
    return 16 / (low < 16 ? low : 16);
}

/* BODY for each block met in the whole rows [r, r + rows) of an rblk
 * layout, with K its number counted from row r's block, A the offset of
 * its first row there from r and N its rows there. */
#define FOR_EACH_ROW_BLOCK(L, r, rows, K, A, N, BODY)                                              \
    do {                                                                                           \
        const ptrdiff_t rows_ = (rows);                                                            \
        block_walk w_ = block_walk_at((L), (r));                                                   \
        for (ptrdiff_t A = 0, K = 0; A < rows_; K++, block_walk_next((L), &w_)) {                  \
            const ptrdiff_t N = w_.left < rows_ - A ? w_.left : rows_ - A;                         \
            BODY;                                                                                  \
            A += N;                                                                                \
        }                                                                                          \
    } while (0)

/* For the whole rows [r, r + rows) of an rblk layout, each element's
 * value for its column and its row's block: out[j cols + c] = v[k cols +
 * c], k the row's block counted from row r's.  Scales (float, double) in
 * templates/ranges.h and zero points (int32_t) in templates/affine_loops.h,
 * so that the per-element loops take many narrow rows at once; a block's
 * rows are written by a loop compiled for constant widths. */
#define SPREAD_ROWS(L, r, rows, v, out)                                                            \
    FOR_EACH_ROW_BLOCK(                                                                            \
        L, r, rows, k_, a_, n_,                                                                    \
        FOR_BLOCK_LENGTH((L)->n_row, REPEAT_ROW(n_, Bc, (v) + k_ * Bc, (out) + a_ * Bc)))

/* dst[j cols + c] = src[c] for j < n, c < cols. */
#define REPEAT_ROW(n, cols, src, dst)                                                              \
    for (ptrdiff_t j_ = 0; j_ < (n); j_++) {                                                       \
        for (ptrdiff_t c_ = 0; c_ < (cols); c_++)                                                  \
            (dst)[j_ * (cols) + c_] = (src)[c_];                                                   \
    }

/* The whole rows that [i, e) starts with that use the same scales, one per
 * column (block 1), when i is a row start: all of them for channels on the
 * last axis (cmod 1), the rest of a block along the blocked axis with rblk.
 * Their scales start at *k; loops can take many rows in one call.  0
 * otherwise. */
static inline ptrdiff_t whole_rows(const int8q_layout *L, ptrdiff_t i, ptrdiff_t e, ptrdiff_t *k)
{
    ptrdiff_t r, rows;
    *k = 0;
    if (L->block != 1 || (L->cmod != 1 && !L->rblk) || i % L->n_row != 0)
        return 0;
    rows = (e - i) / L->n_row;
    if (L->rblk && rows > 0) {
        r = i / L->n_row;
        *k = row_key(L, r) * L->nb;
        rows = rows < row_block_end(L, r) - r ? rows : row_block_end(L, r) - r;
    }
    return rows;
}

/* With rblk, the layout's blocks are its blocks along the blocked axis:
 * whole rows from a row where one starts (every scale of those rows is
 * theirs alone). */

/* Elements of a whole block: with rblk, rows of one block along the axis. */
static inline ptrdiff_t block_elements(const int8q_layout *L)
{
    return L->rblk ? L->rblk * L->n_row : L->block;
}

/* Smallest block boundary >= p (p itself when it is one). */
static inline ptrdiff_t next_block_start(const int8q_layout *L, ptrdiff_t p)
{
    ptrdiff_t r = p / L->n_row, c = p - r * L->n_row, up;
    if (L->rblk) {
        ptrdiff_t a = r % L->rgrp;
        if (c == 0 && a % L->rblk == 0)
            return p;
        return row_block_end(L, r) * L->n_row;
    }
    up = (c + L->block - 1) / L->block * L->block;
    return up >= L->n_row ? (r + 1) * L->n_row : r * L->n_row + up;
}

/* Largest block boundary <= p. */
static inline ptrdiff_t last_block_start(const int8q_layout *L, ptrdiff_t p)
{
    ptrdiff_t r = p / L->n_row, c = p - r * L->n_row;
    if (L->rblk) {
        ptrdiff_t a = r % L->rgrp;
        return (r - a % L->rblk) * L->n_row;
    }
    return r * L->n_row + c / L->block * L->block;
}

/* Whether every scale used in [start, start + n) belongs to one contiguous
 * block of it (rows do not come back to a scale modulo cmod, and start is
 * on a block boundary), so that threads owning whole blocks can write the
 * abs-max of each directly. */
static inline int blocks_own_scales(const int8q_layout *L, ptrdiff_t start, ptrdiff_t n)
{
    if (L->rblk) /* row keys never come back */
        return next_block_start(L, start) == start;
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
