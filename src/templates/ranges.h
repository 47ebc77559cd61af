/* Range kernels for one working dtype: walk [s, e) of the flat index space,
 * piece by piece of elements that share a scale (core/layout.h; see
 * core/kernels.h for the layout), and hand each piece to the current
 * level's loops (int8q_current_loops).  Included by core/ranges.c once per
 * working dtype (declared in core/drivers.h as int8q_<name>_<SUF>) with
 *   T, U, SUF (f32/f64), INF_BITS, SCALE_RULE, RECIP, and HALF_INPUT (1 for
 *   float32 work, which also reads float16/bfloat16 through a stack tile). */

#define FN_(name, suf) int8q_##name##_##suf
#define FN2(name, suf) FN_(name, suf)
#define FN(name) FN2(name, SUF)
#define LOOP_(name, suf) loops->name##_##suf
#define LOOP2(name, suf) LOOP_(name, suf)
#define LOOP(name) LOOP2(name, SUF)

/* m[c] = max(m[c], |x[j cols + c]|) over `rows` rows of `cols`.  Rows of
 * at most ROW_STREAM_BYTES go one after another, one stream through
 * memory; wider rows through amaxv, eight at a time. */
static void FN(amaxv_rows)(const U *x, ptrdiff_t rows, ptrdiff_t cols, U *m)
{
    const int8q_loops *loops = int8q_current_loops();
    if (rows_one_by_one(cols, sizeof(U))) {
        for (ptrdiff_t j = 0; j < rows; j++)
            LOOP(amaxv)(x + j * cols, 1, cols, m);
    } else {
        LOOP(amaxv)(x, rows, cols, m);
    }
}

/* abs-max bit patterns of `rows` whole rows of `cols` elements with one
 * scale per column (whole_rows) into m[0 .. cols).  Rows of fewer than
 * ROW_RUN / 2 elements go g = ROW_RUN / cols at a time, as rows of g * cols
 * elements into a stack vector folded into m at the end, so that the loops
 * see runs of more than ROW_RUN / 2 elements (the last rows % g rows aside). */
static void FN(absmax_rows)(const U *x, ptrdiff_t rows, ptrdiff_t cols, U *m)
{
    ptrdiff_t g = ROW_RUN / cols < rows ? ROW_RUN / cols : rows;
    if (g >= 2) {
        U wide[ROW_RUN] = {0};
        ptrdiff_t w = g * cols, n = rows / g;
        FN(amaxv_rows)(x, n, w, wide);
        for (ptrdiff_t a = 0; a < w; a += cols)
            for (ptrdiff_t c = 0; c < cols; c++)
                m[c] = wide[a + c] > m[c] ? wide[a + c] : m[c];
        x += n * w;
        rows -= n * g;
    }
    if (rows > 0)
        FN(amaxv_rows)(x, rows, cols, m);
}

/* Narrow rows: blocks along a non-last axis (rblk) of rows of at most
 * NARROW_COLS columns (NARROW_DEQ_COLS to dequantize; core/drivers.h has
 * the measurements).  Block by block such a block is a few vectors, and
 * the loops were called per block or per row: 2^24 float32 in blocks of 32
 * along axis 0 of rows of 2 took 59 ms to quantize and 136 ms to
 * dequantize, against 5 and 8 ms along the last axis.  Here a block's
 * abs-max is taken over its rows regrouped lcm(cols, 16) elements wide,
 * and the per-element loops (quantv, deqv) see NARROW_TILE elements of
 * whole rows at a time, each element's scale (and reciprocal) spread out
 * as short blocks along the last axis have theirs (templates/loops.h). */
static inline int FN(narrow)(const int8q_layout *L, ptrdiff_t max_cols)
{
    return L->rblk && L->n_row <= max_cols;
}

/* m[c] = max(m[c], abs-max bit pattern of column c) over `rows` rows of
 * cols <= NARROW_COLS: g rows at a time as one row of w = lcm(cols, 16)
 * elements (whole vectors), folded into m at the end. */
static void FN(narrow_amax)(const U *x, ptrdiff_t rows, ptrdiff_t cols, U *m)
{
    const int8q_loops *loops = int8q_current_loops();
    const ptrdiff_t g = rows_to_whole_vectors(cols), w = g * cols, n = rows / g;
    if (n > 0) {
        U acc[16 * NARROW_COLS];
        memset(acc, 0, (size_t)w * sizeof(U));
        LOOP(amaxv)(x, n, w, acc);
        for (ptrdiff_t c = 0; c < cols; c++) {
            U mc = m[c];
            for (ptrdiff_t a = c; a < w; a += cols)
                mc = acc[a] > mc ? acc[a] : mc;
            m[c] = mc;
        }
    }
    if (rows > n * g)
        LOOP(amaxv)(x + n * w, rows - n * g, cols, m);
}

/* The abs-max bit patterns of the whole rows [r, r + rows) into m
 * (cols per block, row r's block first). */
static void FN(absmax_narrow)(const U *x, ptrdiff_t r, ptrdiff_t rows, const int8q_layout *L, U *m)
{
    const ptrdiff_t cols = L->n_row;
    FOR_EACH_ROW_BLOCK(L, r, rows, k, a, n, FN(narrow_amax)(x + a * cols, n, cols, m + k * cols));
}

/* q (and d) of the whole rows [r, r + rows), at most NARROW_TILE
 * elements, with the scales sv and reciprocals rv of their blocks (row
 * r's first). */
static void FN(quantize_spread)(const T *x, ptrdiff_t r, ptrdiff_t rows, const int8q_layout *L,
                                const T *sv, const T *rv, int mode, int8_t *q, T *d)
{
    const int8q_loops *loops = int8q_current_loops();
    T es[NARROW_TILE], er[NARROW_TILE];
    SPREAD_ROWS(L, r, rows, sv, es);
    SPREAD_ROWS(L, r, rows, rv, er);
    LOOP(quantv)(x, rows * L->n_row, es, er, mode, q, d);
}

/* quantize_range's narrow rows: the whole rows [r, r + rows), scales and
 * recips for every scale of the layout. */
static void FN(quantize_narrow)(const T *x, ptrdiff_t r, ptrdiff_t rows, const int8q_layout *L,
                                const T *scales, const T *recips, int mode, int8_t *q, T *d)
{
    const ptrdiff_t cols = L->n_row, R = NARROW_TILE / cols;
    for (ptrdiff_t a = 0; a < rows; a += R) {
        ptrdiff_t n = rows - a < R ? rows - a : R, k = row_key(L, r + a) * L->nb;
        FN(quantize_spread)(x + a * cols, r + a, n, L, scales + k, recips + k, mode, q + a * cols,
                            d ? d + a * cols : NULL);
    }
}

/* fused_rows' narrow rows, where a block holds at most NARROW_TILE
 * elements: the whole blocks of [r, r + rows), as many at a time as fit
 * the tile: their abs-maxes, scales and reciprocals, then q (and d).
 * Half precision is widened a tile at a time.  1 at a NaN/inf block. */
static int FN(fused_narrow)(const void *xv, int kind, ptrdiff_t r, ptrdiff_t rows,
                            const int8q_layout *L, T *scales, int mode, int8_t *q, T *d)
{
    const ptrdiff_t cols = L->n_row;
    const size_t es = element_size(kind);
    U m[NARROW_TILE];
    T rv[NARROW_TILE];
#if HALF_INPUT
    float buf[NARROW_TILE];
#endif
    block_walk w = block_walk_at(L, r);
    for (ptrdiff_t a = 0, k0 = row_key(L, r); a < rows;) {
        /* whole blocks, as many as the tile holds (one at least) */
        ptrdiff_t b = a, nk = 0;
        const T *xt = (const T *)(const void *)((const char *)xv + (size_t)(a * cols) * es);
        T *sv = scales + k0 * L->nb;
        int bad = 0;
        do {
            b += w.left;
            nk += cols;
            block_walk_next(L, &w);
        } while (b < rows && (b + w.left - a) * cols <= NARROW_TILE);
#if HALF_INPUT
        if (kind == INT8Q_IN_F16 || kind == INT8Q_IN_BF16) {
            widen(kind, (const uint16_t *)xv + a * cols, (b - a) * cols, buf);
            xt = buf;
        }
#endif
        memset(m, 0, (size_t)nk * sizeof(U));
        FN(absmax_narrow)((const U *)(const void *)xt, r + a, b - a, L, m);
        /* no early exit: the compiler vectorizes this loop */
        for (ptrdiff_t t = 0; t < nk; t++) {
            T amax;
            bad |= m[t] >= (U)(INF_BITS);
            memcpy(&amax, m + t, sizeof amax);
            sv[t] = SCALE_RULE(amax);
            rv[t] = RECIP(sv[t], 1);
        }
        if (bad)
            return 1;
        FN(quantize_spread)(xt, r + a, b - a, L, sv, rv, mode, q + a * cols,
                            d ? d + a * cols : NULL);
        a = b;
        k0 += nk / cols;
    }
    return 0;
}

/* dequantize_range's narrow rows: the whole rows [r, r + rows). */
static void FN(dequantize_narrow)(const int8_t *q, ptrdiff_t r, ptrdiff_t rows,
                                  const int8q_layout *L, const T *scales, T *out)
{
    const int8q_loops *loops = int8q_current_loops();
    const ptrdiff_t cols = L->n_row, R = NARROW_TILE / cols;
    T es[NARROW_TILE];
    for (ptrdiff_t a = 0; a < rows; a += R) {
        ptrdiff_t n = rows - a < R ? rows - a : R;
        const T *sv = scales + row_key(L, r + a) * L->nb;
        SPREAD_ROWS(L, r + a, n, sv, es);
        LOOP(deqv)(q + a * cols, n * cols, es, out + a * cols);
    }
}

/* absmax of bit patterns into mbits[k] for every scale k used in [s, e). */
void FN(absmax_range)(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                      U *mbits)
{
    const int8q_loops *loops = int8q_current_loops();
    for (ptrdiff_t i = s; i < e;) {
        piece p = next_piece(L, i, e);
        ptrdiff_t len = p.end - i;
#if HALF_INPUT
        if (kind == INT8Q_IN_F16 || kind == INT8Q_IN_BF16) {
            const uint16_t *h = (const uint16_t *)xv + (i - s);
            ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);
            if (rows > 0 && FN(narrow)(L, NARROW_COLS)) {
                /* whole rows, widened a tile at a time */
                float buf[HALF_TILE];
                rows = (e - i) / L->n_row;
                rows = rows < HALF_TILE / L->n_row ? rows : HALF_TILE / L->n_row;
                widen(kind, h, rows * L->n_row, buf);
                FN(absmax_narrow)((const U *)(const void *)buf, i / L->n_row, rows, L, mbits + k0);
                i += rows * L->n_row;
                continue;
            }
            if (p.per_element) {
                float buf[HALF_TILE];
                for (ptrdiff_t a = 0; a < len; a += HALF_TILE) {
                    ptrdiff_t m = len - a < HALF_TILE ? len - a : HALF_TILE;
                    widen(kind, h + a, m, buf);
                    loops->amaxv_f32((const int32_t *)buf, 1, m, mbits + p.k + a);
                }
            } else {
                /* one scale per block of the piece (a part block is one) */
                ptrdiff_t B = p.whole_blocks ? L->block : len;
                for (ptrdiff_t j = 0; j < len; j += B) {
                    U m = half_bits_as_f32_bits(kind, loops->amax_b16(h + j, B));
                    if (m > mbits[p.k + j / B])
                        mbits[p.k + j / B] = m;
                }
            }
            i = p.end;
            continue;
        }
#endif
        {
            const U *xb = (const U *)xv + (i - s);
            ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);
            if (rows > 0 && FN(narrow)(L, NARROW_COLS)) {
                rows = (e - i) / L->n_row;
                FN(absmax_narrow)(xb, i / L->n_row, rows, L, mbits + k0);
                i += rows * L->n_row;
                continue;
            }
            if (rows > 0) {
                FN(absmax_rows)(xb, rows, L->n_row, mbits + k0);
                i += rows * L->n_row;
                continue;
            }
            if (p.per_element) {
                LOOP(amaxv)(xb, 1, len, mbits + p.k);
            } else {
                /* whole blocks, or a part of one (which is then the block) */
                ptrdiff_t B = p.whole_blocks ? L->block : len;
                LOOP(amaxb)(xb, len / B, B, mbits + p.k);
            }
        }
        i = p.end;
    }
    (void)kind;
}

/* q (and d) of `rows` whole rows of `cols` elements with one scale per
 * column (whole_rows), scales s and their reciprocals r (RECIP).  Rows
 * narrower than ROW_RUN / 2 go g at a time, as in absmax_rows, with the
 * scales repeated g times. */
static void FN(quantize_rows)(const T *x, ptrdiff_t rows, ptrdiff_t cols, const T *s, const T *r,
                              int mode, int8_t *q, T *d)
{
    const int8q_loops *loops = int8q_current_loops();
    T ws[ROW_RUN], wr[ROW_RUN];
    ptrdiff_t g = ROW_RUN / cols < rows ? ROW_RUN / cols : rows, w = cols, k = 0;
    if (g >= 2) {
        w = g * cols;
        for (ptrdiff_t a = 0; a < w; a += cols) {
            memcpy(ws + a, s, (size_t)cols * sizeof(T));
            memcpy(wr + a, r, (size_t)cols * sizeof(T));
        }
        for (; k + g <= rows; k += g)
            LOOP(quantv)(x + k * cols, w, ws, wr, mode, q + k * cols, d ? d + k * cols : NULL);
    }
    for (; k < rows; k++)
        LOOP(quantv)(x + k * cols, cols, s, r, mode, q + k * cols, d ? d + k * cols : NULL);
}

/* q (and d) for [s, e) with known scales; recips[k] = RECIP(scales[k]) for
 * per-element layouts (block 1), NULL otherwise. */
void FN(quantize_range)(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                        const T *scales, const T *recips, int bounded, int mode, int8_t *q, T *d)
{
    const int8q_loops *loops = int8q_current_loops();
#if HALF_INPUT
    if (kind == INT8Q_IN_F16 || kind == INT8Q_IN_BF16) {
        float buf[HALF_TILE];
        const uint16_t *h = (const uint16_t *)xv;
        for (ptrdiff_t a = s; a < e; a += HALF_TILE) {
            ptrdiff_t m = e - a < HALF_TILE ? e - a : HALF_TILE;
            widen(kind, h + (a - s), m, buf);
            FN(quantize_range)(buf, INT8Q_IN_F32, a, a + m, L, scales, recips, bounded, mode,
                               q + (a - s), d ? d + (a - s) : NULL);
        }
        return;
    }
#endif
    {
        const T *x = (const T *)xv;
        for (ptrdiff_t i = s; i < e;) {
            ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);
            if (rows > 0 && FN(narrow)(L, NARROW_COLS)) {
                rows = (e - i) / L->n_row;
                FN(quantize_narrow)(x + (i - s), i / L->n_row, rows, L, scales, recips, mode,
                                    q + (i - s), d ? d + (i - s) : NULL);
                i += rows * L->n_row;
                continue;
            }
            if (rows > 0) {
                FN(quantize_rows)(x + (i - s), rows, L->n_row, scales + k0, recips + k0, mode,
                                  q + (i - s), d ? d + (i - s) : NULL);
                i += rows * L->n_row;
                continue;
            }
            piece p = next_piece(L, i, e);
            ptrdiff_t off = i - s, len = p.end - i;
            T *dp = d ? d + off : NULL;
            if (p.per_element)
                LOOP(quantv)(x + off, len, scales + p.k, recips + p.k, mode, q + off, dp);
            else if (p.whole_blocks)
                LOOP(quantb)(x + off, len / L->block, L->block, scales + p.k, bounded, mode,
                             q + off, dp);
            else
                LOOP(quant)(x + off, len, scales[p.k], RECIP(scales[p.k], bounded), mode, q + off,
                            dp);
            i = p.end;
        }
    }
    (void)kind;
}

/* q for [s, e) of a per-tensor layout with the caller's scale, GIVEN_TILE
 * elements at a time.  `bounded` is 1 when |x / scale| <= 128 holds for
 * every element, the bound under which the reciprocal is exact
 * (templates/loops.h), 0 when not, and -1 when unknown: then each tile's
 * abs-max comes first, while the tile is in cache, which finds NaN/inf
 * (returns 1, leaving that tile and later ones unwritten) and gives the
 * tile's bound (RN(amax / scale) <= 127 means amax / scale < 128).  Where
 * the bound fails (a scale below the data's abs-max / 127: elements
 * saturate) the loops divide. */
int FN(given_range)(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                    const T *scale, int bounded, int mode, int8_t *q)
{
    const char *x = (const char *)xv;
    ptrdiff_t es = (ptrdiff_t)element_size(kind);
    for (ptrdiff_t a = s; a < e; a += GIVEN_TILE) {
        ptrdiff_t m = e - a < GIVEN_TILE ? e - a : GIVEN_TILE;
        const char *xa = x + (a - s) * es;
        int tile_bounded = bounded;
        T r;
        if (bounded < 0) {
            U mbits = 0;
            T amax;
            FN(absmax_range)(xa, kind, a, a + m, L, &mbits);
            if (mbits >= (U)(INF_BITS))
                return 1;
            memcpy(&amax, &mbits, sizeof amax);
            tile_bounded = amax / *scale <= (T)127;
        }
        r = RECIP(*scale, tile_bounded); /* read where the layout is one element */
        FN(quantize_range)(xa, kind, a, a + m, L, scale, &r, tile_bounded, mode, q + (a - s), NULL);
    }
    return 0;
}

/* fused_range for blocks along a non-last axis (rblk): the rows of one
 * block share their n_row scales, one per column.  Per block: the abs-max
 * bit patterns down its rows into its scales (read in place), the scales
 * from them, then q (and d) while the block is still in cache (the layout
 * keeps a block within the fused bound): rows no wider than ROW_TILE
 * through quantize_rows, which takes narrow ones several at a time; wider
 * ones ROW_TILE columns at a time with the tile's reciprocals.  Half
 * precision takes its abs-max on the 16-bit patterns (narrow rows aside)
 * and is widened ROW_TILE elements at a time to be quantized (whole rows
 * where they fit).  Scales and reciprocals are those of the two-pass path,
 * and so are q and d. */
static int FN(fused_rows)(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                          T *scales, int mode, int8_t *q, T *d)
{
    const int8q_loops *loops = int8q_current_loops();
    const ptrdiff_t cols = L->n_row;
    const size_t es = element_size(kind);
    T r[ROW_TILE];
#if HALF_INPUT
    const int half = kind == INT8Q_IN_F16 || kind == INT8Q_IN_BF16;
    /* rows widened at a time where whole rows fit the tile */
    const ptrdiff_t g = cols <= ROW_TILE ? ROW_TILE / cols : 0;
    float buf[ROW_TILE];
#endif
    if (FN(narrow)(L, NARROW_COLS) && L->rblk * cols <= NARROW_TILE)
        return FN(fused_narrow)(xv, kind, s / cols, (e - s) / cols, L, scales, mode, q, d);
    for (ptrdiff_t i = s; i < e;) {
        ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);
        const char *xb = (const char *)xv + (size_t)(i - s) * es;
        U *mb = (U *)(scales + k0); /* bit patterns first, as the two passes have them */
        int bad = 0;
        memset(mb, 0, (size_t)cols * sizeof(U));
#if HALF_INPUT
        if (half && cols >= ROW_RUN / 2) {
            /* on the 16-bit patterns, kept in the first half of the block's
             * scales, then widened to float32 patterns from the last column
             * down (pattern c moves from byte 2c to byte 4c) */
            uint16_t *m16 = (uint16_t *)(void *)mb;
            if (rows_one_by_one(cols, sizeof(uint16_t))) {
                for (ptrdiff_t j = 0; j < rows; j++)
                    loops->amaxv_b16((const uint16_t *)xb + j * cols, 1, cols, m16);
            } else {
                loops->amaxv_b16((const uint16_t *)xb, rows, cols, m16);
            }
            for (ptrdiff_t c = cols; c-- > 0;) {
                uint16_t hbits;
                int32_t fbits;
                memcpy(&hbits, (const char *)mb + 2 * (size_t)c, sizeof hbits);
                fbits = half_bits_as_f32_bits(kind, hbits);
                memcpy((char *)mb + 4 * (size_t)c, &fbits, sizeof fbits);
            }
        } else if (half) {
            /* narrow rows: g at a time, widened */
            for (ptrdiff_t j = 0; j < rows; j += g) {
                ptrdiff_t n = rows - j < g ? rows - j : g;
                widen(kind, (const uint16_t *)xb + j * cols, n * cols, buf);
                FN(absmax_rows)((const U *)buf, n, cols, mb);
            }
        } else
#endif
            FN(absmax_rows)((const U *)xb, rows, cols, mb);
        /* no early exit: the compiler vectorizes this loop */
        for (ptrdiff_t c = 0; c < cols; c++) {
            U bits;
            T amax;
            memcpy(&bits, (const char *)mb + (size_t)c * sizeof(U), sizeof bits);
            memcpy(&amax, &bits, sizeof amax);
            bad |= bits >= (U)(INF_BITS);
            scales[k0 + c] = SCALE_RULE(amax);
        }
        if (bad)
            return 1;
        if (cols <= ROW_TILE) {
            for (ptrdiff_t c = 0; c < cols; c++)
                r[c] = RECIP(scales[k0 + c], 1);
#if HALF_INPUT
            if (half) {
                for (ptrdiff_t j = 0; j < rows; j += g) {
                    ptrdiff_t n = rows - j < g ? rows - j : g, off = i - s + j * cols;
                    widen(kind, (const uint16_t *)xv + off, n * cols, buf);
                    FN(quantize_rows)((const T *)buf, n, cols, scales + k0, r, mode, q + off,
                                      d ? d + off : NULL);
                }
            } else
#endif
                FN(quantize_rows)((const T *)xb, rows, cols, scales + k0, r, mode, q + (i - s),
                                  d ? d + (i - s) : NULL);
            i += rows * cols;
            continue;
        }
        for (ptrdiff_t c0 = 0; c0 < cols; c0 += ROW_TILE) {
            ptrdiff_t w = cols - c0 < ROW_TILE ? cols - c0 : ROW_TILE;
            for (ptrdiff_t c = 0; c < w; c++)
                r[c] = RECIP(scales[k0 + c0 + c], 1);
            for (ptrdiff_t j = 0; j < rows; j++) {
                ptrdiff_t off = i - s + j * cols + c0;
                const char *xr = (const char *)xv + (size_t)off * es;
#if HALF_INPUT
                if (half) {
                    widen(kind, (const uint16_t *)xr, w, buf);
                    xr = (const char *)buf;
                }
#endif
                LOOP(quantv)((const T *)xr, w, scales + k0 + c0, r, mode, q + off,
                             d ? d + off : NULL);
            }
        }
        i += rows * cols;
    }
    (void)kind;
    return 0;
}

/* Abs-max, scale and quantize of [s, e), block by block (fused layouts:
 * s on a block boundary, one block per scale, blocks of 1 included, whose
 * pieces are per element; or rblk, s and e on boundaries of blocks along
 * the blocked axis).  Returns 1 at a NaN/inf block. */
int FN(fused_range)(const void *xv, int kind, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                    T *scales, int mode, int8_t *q, T *d)
{
    const int8q_loops *loops = int8q_current_loops();
    if (L->rblk)
        return FN(fused_rows)(xv, kind, s, e, L, scales, mode, q, d);
#if HALF_INPUT
    if (kind == INT8Q_IN_F16 || kind == INT8Q_IN_BF16) {
        /* Whole blocks a tile at a time; a block larger than the tile gets
         * its abs-max from the 16-bit patterns, then is quantized a tile at
         * a time. */
        float buf[HALF_TILE];
        const uint16_t *h = (const uint16_t *)xv;
        for (ptrdiff_t a = s; a < e;) {
            ptrdiff_t p = last_block_start(L, a + HALF_TILE < e ? a + HALF_TILE : e);
            if (p > a) {
                widen(kind, h + (a - s), p - a, buf);
                if (FN(fused_range)(buf, INT8Q_IN_F32, a, p, L, scales, mode, q + (a - s),
                                    d ? d + (a - s) : NULL))
                    return 1;
                a = p;
            } else {
                ptrdiff_t b = next_block_start(L, a + 1);
                ptrdiff_t k = next_piece(L, a, b).k;
                U m = half_bits_as_f32_bits(kind, loops->amax_b16(h + (a - s), b - a));
                T amax;
                if (m >= (U)(INF_BITS))
                    return 1;
                memcpy(&amax, &m, sizeof amax);
                scales[k] = SCALE_RULE(amax);
                FN(quantize_range)(h + (a - s), kind, a, b, L, scales, NULL, 1, mode, q + (a - s),
                                   d ? d + (a - s) : NULL);
                a = b;
            }
        }
        return 0;
    }
#endif
    {
        const T *x = (const T *)xv;
        for (ptrdiff_t i = s; i < e;) {
            piece p = next_piece(L, i, e);
            ptrdiff_t off = i - s, len = p.end - i;
            T *dp = d ? d + off : NULL;
            if (p.whole_blocks || p.per_element) {
                if (LOOP(fused)(x + off, len / L->block, L->block, scales + p.k, mode, q + off, dp))
                    return 1;
            } else {
                /* the short last block of a row */
                U m = LOOP(amax)((const U *)x + off, len);
                T amax, sk;
                if (m >= (U)(INF_BITS))
                    return 1;
                memcpy(&amax, &m, sizeof amax);
                sk = SCALE_RULE(amax);
                scales[p.k] = sk;
                LOOP(quant)(x + off, len, sk, RECIP(sk, 1), mode, q + off, dp);
            }
            i = p.end;
        }
    }
    (void)kind;
    return 0;
}

void FN(dequantize_range)(const int8_t *q, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                          const T *scales, T *out)
{
    const int8q_loops *loops = int8q_current_loops();
    for (ptrdiff_t i = s; i < e;) {
        /* whole rows sharing their scales (rows of blocks along a non-last
         * axis, or channels on the last axis), several at a time */
        ptrdiff_t k0, rows = whole_rows(L, i, e, &k0);
        if (rows > 0 && FN(narrow)(L, NARROW_DEQ_COLS)) {
            rows = (e - i) / L->n_row;
            FN(dequantize_narrow)(q + (i - s), i / L->n_row, rows, L, scales, out + (i - s));
            i += rows * L->n_row;
            continue;
        }
        if (rows > 1 && L->n_row >= DEQ_ROW_MIN) {
            LOOP(deqvr)(q + (i - s), rows, L->n_row, scales + k0, out + (i - s));
            i += rows * L->n_row;
            continue;
        }
        piece p = next_piece(L, i, e);
        ptrdiff_t off = i - s, len = p.end - i;
        if (p.per_element)
            LOOP(deqv)(q + off, len, scales + p.k, out + off);
        else if (p.whole_blocks)
            LOOP(deqb)(q + off, len / L->block, L->block, scales + p.k, out + off);
        else
            LOOP(deq)(q + off, len, scales[p.k], out + off);
        i = p.end;
    }
}

#undef FN
#undef FN2
#undef FN_
#undef LOOP
#undef LOOP2
#undef LOOP_
