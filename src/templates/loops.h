/* The inner loops for one working dtype, included by templates/level_body.h once
 * per dtype in every instruction-set level's translation unit, with
 *   T        float or double              U      int32_t or int64_t
 *   SUF      f32 or f64 (name suffix)     ABSMASK, INF_BITS  sign mask, inf
 *   BAND     2^-14 or 2^-40 (the near-tie band, below)
 *   SCALE_RULE, RECIP                     core/rules.h for this dtype
 * Plain C that GCC, Clang and MSVC auto-vectorize for the level's flags: no
 * calls in the hot loops, selects instead of branches.  Only IEEE operations
 * that are exactly specified are used, so every level gives the same bits.
 *
 * Rounding is core/rules.h's int8q_round_* (exact for |v| <= 2^22, 2^51
 * for double).  No clamp is needed before rounding: |x / s| <= 190.5 even for the smallest
 * subnormal scale, and a larger quotient of a given scale (any size, inf
 * included) still rounds monotonically to an n of its sign with |n| >= 128
 * (>= 2^22 beyond 2^22), which the clamp then saturates as it should.
 * The clamp to [-127, 127] comes after; a NaN fails `n > -127` and becomes
 * -127, so the int conversion never sees NaN.
 *
 * Exact reciprocal path.  With a scale from the abs-max, |x / s| <= 128
 * (|x| <= amax and s = RN(amax / 127), so |x / s| <= 127 (1 + u) with
 * u = 2^-24 for float, 2^-53 for double).  The reference computes
 * q = round(RN(x / s)); the loops compute y = RN(x * r) with r = RN(1 / s).
 * Let z = x / s exactly.  Then
 *     |RN(x / s) - z| <= u |z| <= 128 u
 *     y = z (1 + e1)(1 + e2), |e1|, |e2| <= u, so |y - z| <= 128 (2u + u^2)
 * (r normal and y normal or |y| < 2^-126, when its absolute error is far
 * below these bounds; int8q_recip_* hands out r only for normal s and 1/s).
 * For float, 128 (2u + u^2) < 2^-15 and 128 u = 2^-17.  If y lies at
 * distance >= BAND = 2^-14 from every half-integer k + 1/2, then z lies at
 * distance > 2^-14 - 2^-15 = 2^-15 from it on the same side, and RN(x / s)
 * at distance > 2^-15 - 2^-17 > 0, still on the same side: both round to the
 * same integer, with ties to even and with ties away alike (neither is a
 * tie).  A tile holding an element with y within BAND of a half-integer
 * is redone with the true division (quant_fixup); about 2 BAND of the
 * elements (0.012 %) of random data, more of values with few significant
 * bits (0.4 % of float32 values rounded from bfloat16).  For double
 * the same argument gives 128 (2u + u^2) < 2^-44 and BAND = 2^-40.  The
 * distance test, 1/2 - |y - ROUND_EVEN(y)|, is computed exactly: |y - n| is
 * exact by Sterbenz's lemma (n within a factor 2 of y, or n = 0), and
 * 1/2 - t is exact for t in [1/4, 1/2], while for t < 1/4 the result is
 * > 1/4 > BAND whatever the rounding.  A NaN r (scale not eligible) makes
 * the test fail for every element of that scale, which then divides.
 * tools/verify/check_reciprocal.py sweeps every x in [s/4, 128 s] for many scales.
 */

#define FN_(name, suf) name##_##suf
#define FN2(name, suf) FN_(name, suf)
#define FN(name) FN2(name, SUF)

/* Elements the reciprocal loop handles between two looks at its near-tie
 * count: small enough that redoing a tile costs little. */
#define RECIP_TILE 128
/* Blocks of the fused/per-block loops whose scales are found together. */
#define BLOCK_GROUP 16

INT8Q_INLINE T FN(round_even)(T v)
{
    return FN(int8q_round_even)(v);
}

/* The quantized value of v = x / s (or x * r) as an integral T in
 * [-127, 127], rounded per mode (core/rules.h).  The clamp comes after the
 * rounding; a NaN fails `n > -127` and becomes -127, so the int conversion
 * never sees NaN.  Everything is a select on T, which GCC, Clang and MSVC
 * all vectorize (an int result feeding both outputs defeats GCC's
 * vectorizer). */
INT8Q_INLINE T FN(q_of)(T v, int even)
{
    T n = FN(int8q_round)(v, even);
    n = n > (T)-127 ? n : (T)-127;
    return n < (T)127 ? n : (T)127;
}

/* Whether y = x * r needs the division (within BAND of a tie, or NaN). */
INT8Q_INLINE int FN(near_tie)(T y)
{
    T t = (T)0.5 - (T)fabs(y - FN(round_even)(y));
    return !(t >= (T)(BAND));
}

INT8Q_INLINE void FN(quant_div_body)(const T *RESTRICT x, ptrdiff_t n, T s, int even, int dq,
                                     int8_t *RESTRICT q, T *RESTRICT d)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        T v = FN(q_of)(x[i] / s, even);
        q[i] = (int8_t)(int32_t)v;
        if (dq)
            d[i] = v * s;
    }
}

/* One tile with the reciprocal; returns the number of near ties, which the
 * caller then redoes by division. */
INT8Q_INLINE int FN(quant_recip_body)(const T *RESTRICT x, ptrdiff_t n, T s, T r, int even, int dq,
                                      int8_t *RESTRICT q, T *RESTRICT d)
{
    int near = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        T y = x[i] * r;
        T v = FN(q_of)(y, even);
        near += FN(near_tie)(y);
        q[i] = (int8_t)(int32_t)v;
        if (dq)
            d[i] = v * s;
    }
    return near;
}

/* Redo by division a tile that holds a near tie: every element of it, as
 * division gives the reciprocal's result away from ties, and the whole
 * tile divides in vectors where picking out its near ties went element by
 * element.  Near ties are common where the values carry few bits: a
 * (4096, 4096) float32 of bfloat16 values in blocks of 32 took 5.4 ms
 * element by element and 4.6 ms so, random float32 3.7-3.8 ms (one core
 * of an AMD EPYC Zen 4, avx512). */
static void FN(quant_fixup)(const T *x, ptrdiff_t n, T s, int even, int8_t *q, T *d)
{
    if (d)
        FN(quant_div_body)(x, n, s, even, 1, q, d);
    else
        FN(quant_div_body)(x, n, s, even, 0, q, NULL);
}

INT8Q_INLINE void FN(quant_one_scale)(const T *x, ptrdiff_t n, T s, T r, int even, int dq,
                                      int8_t *q, T *d)
{
    if (r != r) {
        FN(quant_div_body)(x, n, s, even, dq, q, d);
        return;
    }
    for (ptrdiff_t i = 0; i < n; i += RECIP_TILE) {
        ptrdiff_t m = n - i < RECIP_TILE ? n - i : RECIP_TILE;
        if (FN(quant_recip_body)(x + i, m, s, r, even, dq, q + i, dq ? d + i : d))
            FN(quant_fixup)(x + i, m, s, even, q + i, dq ? d + i : NULL);
    }
}

static void FN(quant)(const T *x, ptrdiff_t n, T s, T r, int mode, int8_t *q, T *d)
{
    /* one specialised loop per (rounding, dequantize) */
    if (mode == INT8Q_HALF_EVEN && d)
        FN(quant_one_scale)(x, n, s, r, 1, 1, q, d);
    else if (mode == INT8Q_HALF_EVEN)
        FN(quant_one_scale)(x, n, s, r, 1, 0, q, d);
    else if (d)
        FN(quant_one_scale)(x, n, s, r, 0, 1, q, d);
    else
        FN(quant_one_scale)(x, n, s, r, 0, 0, q, d);
}

INT8Q_INLINE int FN(quantv_body)(const T *RESTRICT x, ptrdiff_t n, const T *RESTRICT s,
                                 const T *RESTRICT r, int even, int dq, int8_t *RESTRICT q,
                                 T *RESTRICT d)
{
    int near = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        T y = x[i] * r[i];
        T v = FN(q_of)(y, even);
        near += FN(near_tie)(y);
        q[i] = (int8_t)(int32_t)v;
        if (dq)
            d[i] = v * s[i];
    }
    return near;
}

INT8Q_INLINE void FN(quantv_div_body)(const T *RESTRICT x, ptrdiff_t n, const T *RESTRICT s,
                                      int even, int dq, int8_t *RESTRICT q, T *RESTRICT d)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        T v = FN(q_of)(x[i] / s[i], even);
        q[i] = (int8_t)(int32_t)v;
        if (dq)
            d[i] = v * s[i];
    }
}

/* quant_fixup with one scale per element */
static void FN(quantv_fixup)(const T *x, ptrdiff_t n, const T *s, int even, int8_t *q, T *d)
{
    if (d)
        FN(quantv_div_body)(x, n, s, even, 1, q, d);
    else
        FN(quantv_div_body)(x, n, s, even, 0, q, NULL);
}

INT8Q_INLINE void FN(quantv_tiles)(const T *x, ptrdiff_t n, const T *s, const T *r, int even,
                                   int dq, int8_t *q, T *d)
{
    for (ptrdiff_t i = 0; i < n; i += RECIP_TILE) {
        ptrdiff_t m = n - i < RECIP_TILE ? n - i : RECIP_TILE;
        if (FN(quantv_body)(x + i, m, s + i, r + i, even, dq, q + i, dq ? d + i : d))
            FN(quantv_fixup)(x + i, m, s + i, even, q + i, dq ? d + i : NULL);
    }
}

/* One scale per element; r[i] is RECIP(s[i]) (NaN where division is due). */
static void FN(quantv)(const T *x, ptrdiff_t n, const T *s, const T *r, int mode, int8_t *q, T *d)
{
    if (mode == INT8Q_HALF_EVEN && d)
        FN(quantv_tiles)(x, n, s, r, 1, 1, q, d);
    else if (mode == INT8Q_HALF_EVEN)
        FN(quantv_tiles)(x, n, s, r, 1, 0, q, d);
    else if (d)
        FN(quantv_tiles)(x, n, s, r, 0, 1, q, d);
    else
        FN(quantv_tiles)(x, n, s, r, 0, 0, q, d);
}

INT8Q_INLINE U FN(amax_body)(const U *xb, ptrdiff_t n)
{
    U m = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        U a = xb[i] & (U)(ABSMASK);
        m = a > m ? a : m;
    }
    return m;
}

static U FN(amax)(const U *xb, ptrdiff_t n)
{
    return FN(amax_body)(xb, n);
}

/* Short blocks are taken SPREAD_TILE elements of whole blocks at a time,
 * with their scales (and reciprocals) spread out one per element, so that
 * the per-element loops (quantv, deqv) take the whole tile in vectors.
 * Block by block, a block shorter than the vectors' unrolled step went
 * element by element: 2^24 float32 in blocks of 16 took 45 ms to quantize,
 * against 3.8 ms in blocks of 32.  Longer blocks have a broadcast scale
 * over whole vectors, and where the spreading costs more than their
 * scalar tail saves they stay block by block.  Spread below (2^24
 * elements, one core of an AMD EPYC Zen 4, avx512):
 *   SPREAD_BELOW      quantize, abs-max and given scales (fused, quantb,
 *                     templates/affine_loops.h): float32 given scales 48
 *                     6.7-7.0 ms spread, 14.7 block by block, 64 5.7
 *                     against 5.2; float64 abs-max 48 18.9 against 23.6,
 *                     64 17.3 against 13.4.  (The x86 levels spread up to
 *                     256 with their own per-element loop: levels/x86_avx2_f32.h.)
 *   SPREAD_DEQ_BELOW  dequantize (deqb): float32 16 3.9-4.1 ms spread,
 *                     10.8 block by block; 64 3.5-5.1 against 2.8-3.0 */
#ifndef SPREAD_BELOW /* once for both dtypes */
#define SPREAD_BELOW 64
#define SPREAD_DEQ_BELOW 32
#define SPREAD_TILE 1024
#endif

/* m[k] = abs-max bit pattern of block k, for g blocks of B. */
INT8Q_INLINE void FN(amax_blocks)(const U *xb, ptrdiff_t g, ptrdiff_t B, U *m)
{
    FOR_BLOCK_LENGTH(B, for (ptrdiff_t k = 0; k < g; k++) m[k] = FN(amax_body)(xb + k * Bc, Bc))
}

/* out[k B + j] = v[k] for j < B, k < g. */
INT8Q_INLINE void FN(spread)(const T *v, ptrdiff_t g, ptrdiff_t B, T *out)
{
    FOR_BLOCK_LENGTH(B, for (ptrdiff_t k = 0; k < g; k++) for (ptrdiff_t j = 0; j < Bc; j++)
                            out[k * Bc + j] = v[k])
}

/* m[b] = max(m[b], abs-max of block b) for nblocks blocks of B. */
static void FN(amaxb)(const U *xb, ptrdiff_t nblocks, ptrdiff_t B, U *m)
{
    U t[SPREAD_TILE];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += SPREAD_TILE) {
        ptrdiff_t g = nblocks - b0 < SPREAD_TILE ? nblocks - b0 : SPREAD_TILE;
        FN(amax_blocks)(xb + b0 * B, g, B, t);
        for (ptrdiff_t k = 0; k < g; k++)
            m[b0 + k] = t[k] > m[b0 + k] ? t[k] : m[b0 + k];
    }
}

/* A per-element quantize loop: the template's quantv or a level's own. */
typedef void (*FN(quantv_loop))(const T *x, ptrdiff_t n, const T *s, const T *r, int mode,
                                int8_t *q, T *d);

/* quantb for blocks shorter than SPREAD_BELOW. */
INT8Q_INLINE void FN(quantb_spread)(const T *x, ptrdiff_t nblocks, ptrdiff_t B, const T *s,
                                    int bounded, int mode, int8_t *q, T *d, FN(quantv_loop) quantv)
{
    const ptrdiff_t G = SPREAD_TILE / B;
    T r[SPREAD_TILE], es[SPREAD_TILE], er[SPREAD_TILE];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += G) {
        ptrdiff_t g = nblocks - b0 < G ? nblocks - b0 : G, o = b0 * B;
        for (ptrdiff_t k = 0; k < g; k++)
            r[k] = RECIP(s[b0 + k], bounded);
        FN(spread)(s + b0, g, B, es);
        FN(spread)(r, g, B, er);
        quantv(x + o, g * B, es, er, mode, q + o, d ? d + o : NULL);
    }
}

/* s[k] = SCALE_RULE and r[k] = RECIP of the abs-max bit patterns m[k],
 * k < g, in vectors; returns 1, writing nothing, when one is NaN/inf. */
INT8Q_INLINE int FN(scales_of)(const U *RESTRICT m, ptrdiff_t g, T *RESTRICT s, T *RESTRICT r)
{
    U worst = 0;
    for (ptrdiff_t k = 0; k < g; k++)
        worst = m[k] > worst ? m[k] : worst;
    if (worst >= (U)(INF_BITS))
        return 1;
    for (ptrdiff_t k = 0; k < g; k++) {
        T a, sk;
        memcpy(&a, m + k, sizeof a);
        sk = SCALE_RULE(a);
        s[k] = sk;
        r[k] = RECIP(sk, 1);
    }
    return 0;
}

/* fused for blocks shorter than SPREAD_BELOW. */
INT8Q_INLINE int FN(fused_spread)(const T *x, ptrdiff_t nblocks, ptrdiff_t B, T *scales, int mode,
                                  int8_t *q, T *d, FN(quantv_loop) quantv)
{
    const ptrdiff_t G = SPREAD_TILE / B;
    U m[SPREAD_TILE];
    T r[SPREAD_TILE], es[SPREAD_TILE], er[SPREAD_TILE];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += G) {
        ptrdiff_t g = nblocks - b0 < G ? nblocks - b0 : G, o = b0 * B;
        FN(amax_blocks)((const U *)(x + o), g, B, m);
        if (FN(scales_of)(m, g, scales + b0, r))
            return 1;
        FN(spread)(scales + b0, g, B, es);
        FN(spread)(r, g, B, er);
        quantv(x + o, g * B, es, er, mode, q + o, d ? d + o : NULL);
    }
    return 0;
}

/* nblocks blocks of B with given scales: the reciprocals of a group of
 * blocks in one vector division, then each block quantized. */
INT8Q_INLINE void FN(quantb_body)(const T *x, ptrdiff_t nblocks, ptrdiff_t B, const T *s,
                                  int bounded, int even, int dq, int8_t *q, T *d)
{
    T r[BLOCK_GROUP];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += BLOCK_GROUP) {
        ptrdiff_t g = nblocks - b0 < BLOCK_GROUP ? nblocks - b0 : BLOCK_GROUP;
        for (ptrdiff_t k = 0; k < g; k++)
            r[k] = RECIP(s[b0 + k], bounded);
        for (ptrdiff_t k = 0; k < g; k++) {
            ptrdiff_t o = (b0 + k) * B;
            FN(quant_one_scale)(x + o, B, s[b0 + k], r[k], even, dq, q + o, dq ? d + o : d);
        }
    }
}

static void FN(quantb)(const T *x, ptrdiff_t nblocks, ptrdiff_t B, const T *s, int bounded,
                       int mode, int8_t *q, T *d)
{
    if (B < SPREAD_BELOW)
        FN(quantb_spread)(x, nblocks, B, s, bounded, mode, q, d, FN(quantv));
    else if (mode == INT8Q_HALF_EVEN && d)
        FN(quantb_body)(x, nblocks, B, s, bounded, 1, 1, q, d);
    else if (mode == INT8Q_HALF_EVEN)
        FN(quantb_body)(x, nblocks, B, s, bounded, 1, 0, q, d);
    else if (d)
        FN(quantb_body)(x, nblocks, B, s, bounded, 0, 1, q, d);
    else
        FN(quantb_body)(x, nblocks, B, s, bounded, 0, 0, q, d);
}

INT8Q_INLINE U FN(amax2)(U a, U b)
{
    a &= (U)(ABSMASK);
    b &= (U)(ABSMASK);
    return a > b ? a : b;
}

/* m[i] = max(m[i], |x[r n + i]|) over the `rows` rows of n elements (one
 * scale per column).  Eight rows at a time, then four: m is loaded and
 * stored once per eight rows, and eight streams of x are read at once,
 * which keeps more of memory's latency hidden from one core (four rows
 * at a time were 1.5x faster in L2, 1.3x in L3 than row by row, one core
 * of the AMD EPYC, AVX2; eight took per column and blocks along axis 0 of
 * 2^26 float32 from memory 1.05-1.08x faster again than four, Zen 4,
 * avx512). */
static void FN(amaxv)(const U *RESTRICT xb, ptrdiff_t rows, ptrdiff_t n, U *RESTRICT m)
{
    ptrdiff_t r = 0;
    for (; r + 8 <= rows; r += 8) {
        const U *x0 = xb + r * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;
        const U *x4 = x3 + n, *x5 = x4 + n, *x6 = x5 + n, *x7 = x6 + n;
        for (ptrdiff_t i = 0; i < n; i++) {
            U a = FN(amax2)(x0[i], x1[i]), b = FN(amax2)(x2[i], x3[i]);
            U c = FN(amax2)(x4[i], x5[i]), e = FN(amax2)(x6[i], x7[i]);
            a = a > b ? a : b;
            c = c > e ? c : e;
            a = a > c ? a : c;
            m[i] = a > m[i] ? a : m[i];
        }
    }
    for (; r + 4 <= rows; r += 4) {
        const U *x0 = xb + r * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;
        for (ptrdiff_t i = 0; i < n; i++) {
            U a = FN(amax2)(x0[i], x1[i]), b = FN(amax2)(x2[i], x3[i]);
            a = a > b ? a : b;
            m[i] = a > m[i] ? a : m[i];
        }
    }
    for (; r < rows; r++) {
        const U *x0 = xb + r * n;
        for (ptrdiff_t i = 0; i < n; i++) {
            U a = x0[i] & (U)(ABSMASK);
            m[i] = a > m[i] ? a : m[i];
        }
    }
}

/* Fused blocks: a group of blocks is abs-maxed, its scales and reciprocals
 * found with one vector division each, then each block is quantized while
 * it is still in L1. */
INT8Q_INLINE int FN(fused_body)(const T *x, ptrdiff_t nblocks, ptrdiff_t B, T *scales, int even,
                                int dq, int8_t *q, T *d)
{
    U m[BLOCK_GROUP];
    T r[BLOCK_GROUP];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += BLOCK_GROUP) {
        ptrdiff_t g = nblocks - b0 < BLOCK_GROUP ? nblocks - b0 : BLOCK_GROUP;
        FN(amax_blocks)((const U *)(x + b0 * B), g, B, m);
        if (FN(scales_of)(m, g, scales + b0, r))
            return 1;
        for (ptrdiff_t k = 0; k < g; k++) {
            ptrdiff_t o = (b0 + k) * B;
            FN(quant_one_scale)(x + o, B, scales[b0 + k], r[k], even, dq, q + o, dq ? d + o : d);
        }
    }
    return 0;
}

static int FN(fused)(const T *x, ptrdiff_t nblocks, ptrdiff_t B, T *scales, int mode, int8_t *q,
                     T *d)
{
    /* GGML's block size 32 gets loops of known length (no remainder code) */
    if (B == 32) {
        if (mode == INT8Q_HALF_EVEN && d)
            return FN(fused_body)(x, nblocks, 32, scales, 1, 1, q, d);
        if (mode == INT8Q_HALF_EVEN)
            return FN(fused_body)(x, nblocks, 32, scales, 1, 0, q, d);
        if (d)
            return FN(fused_body)(x, nblocks, 32, scales, 0, 1, q, d);
        return FN(fused_body)(x, nblocks, 32, scales, 0, 0, q, d);
    }
    if (B < SPREAD_BELOW)
        return FN(fused_spread)(x, nblocks, B, scales, mode, q, d, FN(quantv));
    if (mode == INT8Q_HALF_EVEN && d)
        return FN(fused_body)(x, nblocks, B, scales, 1, 1, q, d);
    if (mode == INT8Q_HALF_EVEN)
        return FN(fused_body)(x, nblocks, B, scales, 1, 0, q, d);
    if (d)
        return FN(fused_body)(x, nblocks, B, scales, 0, 1, q, d);
    return FN(fused_body)(x, nblocks, B, scales, 0, 0, q, d);
}

static void FN(deq)(const int8_t *RESTRICT q, ptrdiff_t n, T s, T *RESTRICT out)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = (T)q[i] * s;
}

static void FN(deqv)(const int8_t *RESTRICT q, ptrdiff_t n, const T *RESTRICT s, T *RESTRICT out)
{
    for (ptrdiff_t i = 0; i < n; i++)
        out[i] = (T)q[i] * s[i];
}

/* out[r n + i] = q[r n + i] * s[i] over `rows` rows of n (one scale per
 * column): four rows per load of the scales.  Row by row, a wide row's
 * scales (16 KiB for 4096 float32 columns) went through L1 again for each
 * row beside the row's output, and from memory a dequantize of blocks
 * along axis 0 ran at 0.7x one of blocks along the last axis (AMD EPYC,
 * Zen 4, 2^24 float32; 0.8x four rows at a time, which two or eight did
 * not beat).  The rows go through restrict arguments, so that compilers
 * vectorize without checks for overlap between them. */
INT8Q_INLINE void FN(deqv4)(const int8_t *RESTRICT q0, const int8_t *RESTRICT q1,
                            const int8_t *RESTRICT q2, const int8_t *RESTRICT q3, ptrdiff_t n,
                            const T *RESTRICT s, T *RESTRICT o0, T *RESTRICT o1, T *RESTRICT o2,
                            T *RESTRICT o3)
{
    for (ptrdiff_t i = 0; i < n; i++) {
        T si = s[i];
        o0[i] = (T)q0[i] * si;
        o1[i] = (T)q1[i] * si;
        o2[i] = (T)q2[i] * si;
        o3[i] = (T)q3[i] * si;
    }
}

static void FN(deqvr)(const int8_t *q, ptrdiff_t rows, ptrdiff_t n, const T *s, T *out)
{
    ptrdiff_t r = 0;
    for (; r + 4 <= rows; r += 4) {
        const int8_t *q0 = q + r * n;
        T *o0 = out + r * n;
        FN(deqv4)(q0, q0 + n, q0 + 2 * n, q0 + 3 * n, n, s, o0, o0 + n, o0 + 2 * n, o0 + 3 * n);
    }
    for (; r < rows; r++)
        FN(deqv)(q + r * n, n, s, out + r * n);
}

static void FN(deqb)(const int8_t *RESTRICT q, ptrdiff_t nblocks, ptrdiff_t B, const T *RESTRICT s,
                     T *RESTRICT out)
{
    if (B < SPREAD_DEQ_BELOW) {
        const ptrdiff_t G = SPREAD_TILE / B;
        T es[SPREAD_TILE];
        for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += G) {
            ptrdiff_t g = nblocks - b0 < G ? nblocks - b0 : G, o = b0 * B;
            FN(spread)(s + b0, g, B, es);
            FN(deqv)(q + o, g * B, es, out + o);
        }
        return;
    }
    for (ptrdiff_t b = 0; b < nblocks; b++) {
        const int8_t *qb = q + b * B;
        T *ob = out + b * B;
        T sb = s[b];
        for (ptrdiff_t j = 0; j < B; j++)
            ob[j] = (T)qb[j] * sb;
    }
}

#undef RECIP_TILE
#undef BLOCK_GROUP
#undef FN
#undef FN2
#undef FN_
