/* Hand-vectorized float32 loops for the levels that have AVX2: the hand-loop
 * family x86_avx2_f32 of levels/levels.def (the avx2 and avx512 levels;
 * MSVC's /arch:AVX2 and /arch:AVX512 define __AVX2__ too).  Included by
 * templates/level_body.h after the plain loops of
 * templates/loops.h, which these call for remainders, for the elements
 * they hand back (near ties, scales without an exact reciprocal) and for
 * everything the compilers already vectorize well.
 *
 * Why by hand: in cache on this project's 2-core AMD EPYC (AVX2), the
 * auto-vectorized loops took 1.6 cycles per element for the reciprocal
 * quantize and 1.2 for Q8_0; these take 0.5 and 0.75 (per block 32: 0.87
 * while each block went through quant_f32_avx2, about 0.55 since its scale
 * and reciprocal are broadcast from the vector lanes: the same time as Q8_0
 * side by side).
 * Here 32 elements are one unit: four vectors of 8, rounded to integers by
 * vroundps with the rounding given in the instruction (not MXCSR's), narrowed
 * by two saturating packs and clamped once as bytes; eight blocks of 32 (or
 * of another multiple of 8 from 64 to 248) get their abs-max reduced
 * together and their scales and reciprocals from one vector division each.
 * Other blocks under 256 go through this level's per-element loop with
 * their scales spread (templates/loops.h).
 *
 * Every result is the one the plain loops give (the same IEEE operations,
 * or ones with the same result: vroundps and the magic-number addition both
 * round to nearest even; see templates/loops.h for why the reciprocal is
 * exact); the test suite runs both levels on the same inputs. */

#if !defined(__AVX2__)
#error "the hand loops x86_avx2_f32 need a level whose flags enable AVX2 (levels/levels.def)"
#endif

#include <immintrin.h>

#define HALF_MINUS_BAND 0.49993896484375f /* 1/2 - 2^-14, exact */

/* The 32 int32 values of i[0..3] (each in int32 range) as int8 in
 * [-127, 127], in order, at q. */
INT8Q_INLINE void store_q32(int8_t *q, const __m256i i[4])
{
    /* packs work within 128-bit lanes: bytes come out as groups of 4 in the
     * order i0 i1 i2 i3 (low halves) then i0 i1 i2 i3 (high halves) */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(i[0], i[1]), _mm256_packs_epi32(i[2], i[3]));
    p = _mm256_max_epi8(p, _mm256_set1_epi8(-127)); /* the saturating packs gave >= -128 */
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)q, p);
}

/* q = round_even(x * r) for 32 elements (and d = q * s when dq), with r[k]
 * and s[k] for the 8 elements of vector k; returns nonzero when one of them
 * lies within BAND of a tie (or r is NaN: no exact reciprocal), which the
 * caller then redoes by division (quant_fixup_f32).  Away from ties both
 * roundings agree, so one loop serves both modes. */
INT8Q_INLINE int tile32(const float *x, const __m256 r[4], const __m256 s[4], int dq, int8_t *q,
                        float *d)
{
    const __m256 band = _mm256_set1_ps(HALF_MINUS_BAND);
    const __m256 abs_mask = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
    __m256 near = _mm256_setzero_ps();
    __m256i i[4];
    for (int k = 0; k < 4; k++) {
        __m256 y = _mm256_mul_ps(_mm256_loadu_ps(x + 8 * k), r[k]);
        __m256 n = _mm256_round_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        /* |y - n| > 1/2 - BAND (or NaN) is templates/loops.h's near_tie:
         * |y - n| is exact, and so is 1/2 - |y - n| wherever it matters */
        __m256 t = _mm256_and_ps(_mm256_sub_ps(y, n), abs_mask);
        near = _mm256_or_ps(near, _mm256_cmp_ps(t, band, _CMP_NLE_UQ));
        i[k] = _mm256_cvttps_epi32(n); /* n is integral, |n| <= 129 (or NaN) */
        if (dq) {
            __m256i c = _mm256_min_epi32(i[k], _mm256_set1_epi32(127));
            c = _mm256_max_epi32(c, _mm256_set1_epi32(-127));
            /* from the integer, so 0 is +0 as in the plain loops */
            _mm256_storeu_ps(d + 8 * k, _mm256_mul_ps(_mm256_cvtepi32_ps(c), s[k]));
        }
    }
    store_q32(q, i);
    return _mm256_movemask_ps(near);
}

static void quant_f32_avx2(const float *x, ptrdiff_t n, float s, float r, int mode, int8_t *q,
                           float *d)
{
    ptrdiff_t i = 0;
    int even = mode == INT8Q_HALF_EVEN;
    if (r == r) { /* NaN: no exact reciprocal, the plain loop divides */
        __m256 rv[4], sv[4];
        for (int k = 0; k < 4; k++)
            rv[k] = _mm256_set1_ps(r), sv[k] = _mm256_set1_ps(s);
        if (d) {
            for (; i + 32 <= n; i += 32)
                if (tile32(x + i, rv, sv, 1, q + i, d + i))
                    quant_fixup_f32(x + i, 32, s, even, q + i, d + i);
        } else {
            for (; i + 32 <= n; i += 32)
                if (tile32(x + i, rv, sv, 0, q + i, NULL))
                    quant_fixup_f32(x + i, 32, s, even, q + i, NULL);
        }
    }
    if (i < n)
        quant_f32(x + i, n - i, s, r, mode, q + i, d ? d + i : NULL);
}

#if defined(__AVX512F__)
/* tile32 with one scale per element, 64 elements in 16-lane vectors (the
 * avx512 level): the same operations (vrndscaleps rounds to nearest even as
 * vroundps does), q packed from the four vectors as store_q32 does.
 * Per column (axis=1 of a (4096, 4096) float32, in L3) the quantize pass
 * took 0.84 ms with tile32, and the numba kernel's 0.60 on one core of the
 * AMD EPYC (Zen 4), which LLVM compiles to 16-lane vectors.  The packs
 * (six vector operations for 64 bytes of q, against sixteen to clamp and
 * narrow each vector with vpmovdb) made per column and blocks along axis
 * 0 of 2^26 float32 1.05-1.1x faster again there. */
INT8Q_INLINE int tile64v(const float *x, const float *s, const float *r, int dq, int8_t *q,
                         float *d)
{
    const __m512 band = _mm512_set1_ps(HALF_MINUS_BAND);
    const __m512i abs_bits = _mm512_set1_epi32(0x7fffffff);
    /* dword 4 v + l of the packed bytes is group l of vector v */
    const __m512i order = _mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15);
    __mmask16 near = 0;
    __m512i i[4], p;
    for (int k = 0; k < 4; k++) {
        __m512 y = _mm512_mul_ps(_mm512_loadu_ps(x + 16 * k), _mm512_loadu_ps(r + 16 * k));
        __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m512 t = _mm512_castsi512_ps(
            _mm512_and_si512(_mm512_castps_si512(_mm512_sub_ps(y, n)), abs_bits));
        near |= _mm512_cmp_ps_mask(t, band, _CMP_NLE_UQ);
        /* n is integral, |n| <= 129 (or NaN: cvtt gives INT_MIN) */
        i[k] = _mm512_cvttps_epi32(n);
        if (dq) {
            __m512i c = _mm512_max_epi32(_mm512_min_epi32(i[k], _mm512_set1_epi32(127)),
                                         _mm512_set1_epi32(-127));
            _mm512_storeu_ps(d + 16 * k,
                             _mm512_mul_ps(_mm512_cvtepi32_ps(c), _mm512_loadu_ps(s + 16 * k)));
        }
    }
    /* q: the saturating packs (int32 -> int16 -> int8, per 128-bit lane)
     * clamp to [-128, 127] as the clamp to [-127, 127] does but at -128,
     * which the byte max then lifts; one permute puts the lanes in order */
    p = _mm512_packs_epi16(_mm512_packs_epi32(i[0], i[1]), _mm512_packs_epi32(i[2], i[3]));
    p = _mm512_max_epi8(_mm512_permutexvar_epi32(order, p), _mm512_set1_epi8(-127));
    _mm512_storeu_si512((void *)q, p);
    return near != 0;
}
#endif

/* One scale per element (channels on the last axis): r[i] = RECIP(s[i]),
 * NaN where the division is due, which the near-tie test then catches. */
static void quantv_f32_avx2(const float *x, ptrdiff_t n, const float *s, const float *r, int mode,
                            int8_t *q, float *d)
{
    ptrdiff_t i = 0;
    int even = mode == INT8Q_HALF_EVEN;
#if defined(__AVX512F__)
    if (d) {
        for (; i + 64 <= n; i += 64)
            if (tile64v(x + i, s + i, r + i, 1, q + i, d + i))
                quantv_fixup_f32(x + i, 64, s + i, even, q + i, d + i);
    } else {
        for (; i + 64 <= n; i += 64)
            if (tile64v(x + i, s + i, r + i, 0, q + i, NULL))
                quantv_fixup_f32(x + i, 64, s + i, even, q + i, NULL);
    }
#endif
    for (; i + 32 <= n; i += 32) {
        __m256 rv[4], sv[4];
        for (int k = 0; k < 4; k++)
            rv[k] = _mm256_loadu_ps(r + i + 8 * k), sv[k] = _mm256_loadu_ps(s + i + 8 * k);
        if (d) {
            if (tile32(x + i, rv, sv, 1, q + i, d + i))
                quantv_fixup_f32(x + i, 32, s + i, even, q + i, d + i);
        } else if (tile32(x + i, rv, sv, 0, q + i, NULL)) {
            quantv_fixup_f32(x + i, 32, s + i, even, q + i, NULL);
        }
    }
    if (i < n)
        quantv_f32(x + i, n - i, s + i, r + i, mode, q + i, d ? d + i : NULL);
}

/* The abs-max bit patterns of 32 floats, still as 8 lanes. */
INT8Q_INLINE __m256i amax32(const float *x)
{
    const __m256i abs_bits = _mm256_set1_epi32(0x7fffffff);
    const __m256i *v = (const __m256i *)x;
    __m256i a0 = _mm256_and_si256(_mm256_loadu_si256(v), abs_bits);
    __m256i a1 = _mm256_and_si256(_mm256_loadu_si256(v + 1), abs_bits);
    __m256i a2 = _mm256_and_si256(_mm256_loadu_si256(v + 2), abs_bits);
    __m256i a3 = _mm256_and_si256(_mm256_loadu_si256(v + 3), abs_bits);
    return _mm256_max_epi32(_mm256_max_epi32(a0, a1), _mm256_max_epi32(a2, a3));
}

/* Lane k of the result is the max of the 8 lanes of m[k]: a transpose and
 * a reduction in one (21 instructions for 8 blocks). */
INT8Q_INLINE __m256i hmax8(const __m256i m[8])
{
    __m256i t0 =
        _mm256_max_epi32(_mm256_unpacklo_epi32(m[0], m[1]), _mm256_unpackhi_epi32(m[0], m[1]));
    __m256i t1 =
        _mm256_max_epi32(_mm256_unpacklo_epi32(m[2], m[3]), _mm256_unpackhi_epi32(m[2], m[3]));
    __m256i t2 =
        _mm256_max_epi32(_mm256_unpacklo_epi32(m[4], m[5]), _mm256_unpackhi_epi32(m[4], m[5]));
    __m256i t3 =
        _mm256_max_epi32(_mm256_unpacklo_epi32(m[6], m[7]), _mm256_unpackhi_epi32(m[6], m[7]));
    /* per 128-bit lane: max over that lane of m0..m3 and of m4..m7 */
    __m256i u0 = _mm256_max_epi32(_mm256_unpacklo_epi64(t0, t1), _mm256_unpackhi_epi64(t0, t1));
    __m256i u1 = _mm256_max_epi32(_mm256_unpacklo_epi64(t2, t3), _mm256_unpackhi_epi64(t2, t3));
    return _mm256_max_epi32(_mm256_permute2x128_si256(u0, u1, 0x20),
                            _mm256_permute2x128_si256(u0, u1, 0x31));
}

/* The abs-max bit patterns of 8 blocks of 32; nonzero when one is NaN/inf. */
/* amax lane k: the abs-max of eight blocks from their patterns m[k] (as
 * hmax8); nonzero when one is NaN/inf. */
INT8Q_INLINE int max8(const __m256i m[8], __m256 *amax)
{
    __m256i all = hmax8(m);
    *amax = _mm256_castsi256_ps(all);
    return !_mm256_testz_si256(_mm256_cmpgt_epi32(all, _mm256_set1_epi32(INF_BITS_F32 - 1)),
                               _mm256_set1_epi32(-1));
}

INT8Q_INLINE int amax8x32(const float *x, __m256 *amax)
{
    __m256i m[8];
    for (int k = 0; k < 8; k++)
        m[k] = amax32(x + 32 * k);
    return max8(m, amax);
}

/* SCALE_RULE of eight abs-maxes: amax / 127, 1 where that is 0. */
INT8Q_INLINE __m256 scale8(__m256 amax)
{
    __m256 s = _mm256_div_ps(amax, _mm256_set1_ps(127.0f));
    return _mm256_blendv_ps(s, _mm256_set1_ps(1.0f),
                            _mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_EQ_OQ));
}

/* RECIP (core/rules.h) of 8 scales at once: fl(1 / s) where s and 1 / s
 * are normal and `bounded`, NaN (the division path) elsewhere. */
INT8Q_INLINE __m256 recip8(__m256 s, int bounded)
{
    __m256 r = _mm256_div_ps(_mm256_set1_ps(1.0f), s);
    __m256 ok = _mm256_and_ps(_mm256_cmp_ps(s, _mm256_set1_ps(FLT_MIN), _CMP_GE_OQ),
                              _mm256_cmp_ps(r, _mm256_set1_ps(FLT_MIN), _CMP_GE_OQ));
    ok = _mm256_and_ps(ok, _mm256_cmp_ps(r, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ));
    if (!bounded)
        ok = _mm256_setzero_ps();
    return _mm256_blendv_ps(_mm256_set1_ps(NAN), r, ok);
}

/* Eight blocks of 32 with scales s and reciprocals r (lane k for block k):
 * each block one tile32 with its lane broadcast, a block with an element
 * near a tie (every block where r is NaN: no exact reciprocal) redone by
 * division. */
INT8Q_INLINE void quant8x32(const float *x, __m256 s, __m256 r, int mode, int8_t *q, float *d)
{
    int even = mode == INT8Q_HALF_EVEN;
    for (int k = 0; k < 8; k++) {
        const __m256i lane = _mm256_set1_epi32(k);
        const __m256 rk = _mm256_permutevar8x32_ps(r, lane), sk = _mm256_permutevar8x32_ps(s, lane);
        const __m256 rv[4] = {rk, rk, rk, rk}, sv[4] = {sk, sk, sk, sk};
        float *dk = d ? d + 32 * k : NULL;
        if (d ? tile32(x + 32 * k, rv, sv, 1, q + 32 * k, dk)
              : tile32(x + 32 * k, rv, sv, 0, q + 32 * k, NULL))
            quant_fixup_f32(x + 32 * k, 32, _mm256_cvtss_f32(sk), even, q + 32 * k, dk);
    }
}

/* Eight blocks of 32: abs-max, scales (SCALE_RULE) and reciprocals with one
 * vector division each, then the blocks.  Returns 1, writing nothing, when
 * a block holds NaN/inf. */
INT8Q_INLINE int fused8x32(const float *x, float *scales, int mode, int8_t *q, float *d)
{
    __m256 amax, s;
    if (amax8x32(x, &amax))
        return 1;
    s = scale8(amax);
    _mm256_storeu_ps(scales, s);
    quant8x32(x, s, recip8(s, 1), mode, q, d);
    return 0;
}

/* Eight blocks of B = 8 j elements (B < 256) with scales s and
 * reciprocals r (RECIP), each vector of x with its block's broadcast; a
 * vector holding a near tie (or whose block has no exact reciprocal)
 * redone by division. */
INT8Q_INLINE void quant8b(const float *x, ptrdiff_t B, const float *s, const float *r, int mode,
                          int8_t *q, float *d)
{
    const ptrdiff_t per = B / 8; /* vectors a block */
    int even = mode == INT8Q_HALF_EVEN;
    float rz[256], sz[256]; /* each of the B vectors' reciprocal and scale */
    for (ptrdiff_t b = 0; b < 8; b++)
        for (ptrdiff_t j = 0; j < per; j++)
            rz[b * per + j] = r[b], sz[b * per + j] = s[b];
    for (ptrdiff_t v = 0; v < B; v += 4) {
        __m256 rv[4], sv[4];
        ptrdiff_t o = 8 * v;
        for (int k = 0; k < 4; k++)
            rv[k] = _mm256_set1_ps(rz[v + k]), sv[k] = _mm256_set1_ps(sz[v + k]);
        if (d ? tile32(x + o, rv, sv, 1, q + o, d + o) : tile32(x + o, rv, sv, 0, q + o, NULL))
            for (int k = 0; k < 4; k++)
                quant_fixup_f32(x + o + 8 * k, 8, sz[v + k], even, q + o + 8 * k,
                                d ? d + o + 8 * k : NULL);
    }
}

/* Eight blocks of B = 8 j elements (B < 256): abs-max, scales and
 * reciprocals as fused8x32 finds them, then quant8b.  Returns 1, writing
 * nothing, when a block holds NaN/inf. */
INT8Q_INLINE int fused8b(const float *x, ptrdiff_t B, float *scales, int mode, int8_t *q, float *d)
{
    const __m256i abs_bits = _mm256_set1_epi32(0x7fffffff);
    __m256i m[8];
    __m256 amax, s;
    float rr[8];
    for (ptrdiff_t b = 0; b < 8; b++) {
        const __m256i *v = (const __m256i *)(x + b * B);
        __m256i a = _mm256_and_si256(_mm256_loadu_si256(v), abs_bits);
        for (ptrdiff_t j = 1; j < B / 8; j++)
            a = _mm256_max_epi32(a, _mm256_and_si256(_mm256_loadu_si256(v + j), abs_bits));
        m[b] = a;
    }
    if (max8(m, &amax))
        return 1;
    s = scale8(amax);
    _mm256_storeu_ps(scales, s);
    _mm256_storeu_ps(rr, recip8(s, 1));
    quant8b(x, B, scales, rr, mode, q, d);
    return 0;
}

/* Known scales per block (the second pass of the two-pass path). */
static void quantb_f32_avx2(const float *x, ptrdiff_t nblocks, ptrdiff_t B, const float *s,
                            int bounded, int mode, int8_t *q, float *d)
{
    ptrdiff_t b = 0;
    if (B == 32) {
        for (; b + 8 <= nblocks; b += 8) {
            __m256 sv = _mm256_loadu_ps(s + b);
            quant8x32(x + 32 * b, sv, recip8(sv, bounded), mode, q + 32 * b, d ? d + 32 * b : NULL);
        }
    } else if (B < SPREAD_BELOW) {
        quantb_spread_f32(x, nblocks, B, s, bounded, mode, q, d, quantv_f32_avx2);
        return;
    } else {
        if (B % 8 == 0 && B < 256)
            for (; b + 8 <= nblocks; b += 8) {
                float rr[8];
                _mm256_storeu_ps(rr, recip8(_mm256_loadu_ps(s + b), bounded));
                quant8b(x + b * B, B, s + b, rr, mode, q + b * B, d ? d + b * B : NULL);
            }
        for (; b < nblocks; b++)
            quant_f32_avx2(x + b * B, B, s[b], int8q_recip_f32(s[b], bounded), mode, q + b * B,
                           d ? d + b * B : NULL);
    }
    if (b < nblocks)
        quantb_f32(x + b * B, nblocks - b, B, s + b, bounded, mode, q + b * B,
                   d ? d + b * B : NULL);
}

/* m[b] = max(m[b], abs-max bits of block b) (the first pass). */
static void amaxb_f32_avx2(const int32_t *xb, ptrdiff_t nblocks, ptrdiff_t B, int32_t *m)
{
    ptrdiff_t b = 0;
    if (B == 32) {
        for (; b + 8 <= nblocks; b += 8) {
            __m256i k[8], all;
            for (int j = 0; j < 8; j++)
                k[j] = amax32((const float *)(xb + 32 * (b + j)));
            all = _mm256_max_epi32(hmax8(k), _mm256_loadu_si256((const __m256i *)(m + b)));
            _mm256_storeu_si256((__m256i *)(m + b), all);
        }
    }
    if (b < nblocks)
        amaxb_f32(xb + b * B, nblocks - b, B, m + b);
}

static int fused_f32_avx2(const float *x, ptrdiff_t nblocks, ptrdiff_t B, float *scales, int mode,
                          int8_t *q, float *d)
{
    ptrdiff_t b = 0;
    if (B == 32) {
        for (; b + 8 <= nblocks; b += 8)
            if (fused8x32(x + 32 * b, scales + b, mode, q + 32 * b, d ? d + 32 * b : NULL))
                return 1;
    } else if (B < 256) {
        /* spread (templates/loops.h) with this level's per-element loop,
         * which pays up to the long blocks: blocks of 100, 2^24 float32,
         * one core of an AMD EPYC Zen 4, 4.7 ms against 7.2 block by block */
        if (B % 8 == 0 && B >= 64)
            for (; b + 8 <= nblocks; b += 8)
                if (fused8b(x + b * B, B, scales + b, mode, q + b * B, d ? d + b * B : NULL))
                    return 1;
        return fused_spread_f32(x + b * B, nblocks - b, B, scales + b, mode, q + b * B,
                                d ? d + b * B : NULL, quantv_f32_avx2);
    } else {
        /* long blocks (per row): abs-max, then quantize while in L1/L2 */
        for (; b < nblocks; b++) {
            const float *xb = x + b * B;
            int32_t m = amax_f32((const int32_t *)xb, B);
            float amax, sb;
            if (m >= INF_BITS_F32)
                return 1;
            memcpy(&amax, &m, sizeof amax);
            sb = int8q_scale_rule_f32(amax);
            scales[b] = sb;
            quant_f32_avx2(xb, B, sb, int8q_recip_f32(sb, 1), mode, q + b * B,
                           d ? d + b * B : NULL);
        }
    }
    if (b == nblocks)
        return 0;
    return fused_f32(x + b * B, nblocks - b, B, scales + b, mode, q + b * B, d ? d + b * B : NULL);
}

/* GGML Q8_0 (see q8_0_quant in templates/level_body.h for the recipe), eight
 * blocks at a time: d and id for the eight in one vector division each,
 * their float16 bits in one vcvtps2ph (round to nearest even, as NumPy's
 * astype), q = roundf(x * id) as trunc plus a step at |fraction| >= 1/2. */
static int q8_0_quant_avx2(const float *x, ptrdiff_t nblocks, uint8_t *out)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    const __m256 minus_half = _mm256_set1_ps(-0.5f);
    ptrdiff_t b = 0;
    for (; b + 8 <= nblocks; b += 8) {
        const float *xg = x + 32 * b;
        uint8_t *og = out + 34 * b;
        uint16_t hs[8];
        float ids[8];
        __m256 amax, dv, id;
        __m128i h;
        if (amax8x32(xg, &amax))
            return INT8Q_NONFINITE;
        dv = _mm256_div_ps(amax, _mm256_set1_ps(127.0f));
        id = _mm256_div_ps(one, dv); /* inf when d is 0 or tiny: then 0 */
        id = _mm256_and_ps(id, _mm256_cmp_ps(id, _mm256_set1_ps(FLT_MAX), _CMP_LE_OQ));
        h = _mm256_cvtps_ph(dv, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        if (!_mm_testz_si128(
                _mm_cmpgt_epi16(_mm_and_si128(h, _mm_set1_epi16(0x7fff)), _mm_set1_epi16(0x7bff)),
                _mm_set1_epi16(-1)))
            return INT8Q_F16_OVERFLOW;
        _mm_storeu_si128((__m128i *)hs, h);
        _mm256_storeu_ps(ids, id);
        for (int k = 0; k < 8; k++) {
            const float *xb = xg + 32 * k;
            uint8_t *o = og + 34 * k;
            __m256 idk = _mm256_set1_ps(ids[k]);
            __m256i i[4];
            o[0] = (uint8_t)(hs[k] & 0xff);
            o[1] = (uint8_t)(hs[k] >> 8);
            for (int j = 0; j < 4; j++) {
                __m256 v = _mm256_mul_ps(_mm256_loadu_ps(xb + 8 * j), idk); /* |v| < 127.5 */
                __m256 t = _mm256_round_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
                __m256 f = _mm256_sub_ps(v, t); /* exact */
                t = _mm256_add_ps(t, _mm256_and_ps(_mm256_cmp_ps(f, half, _CMP_GE_OQ), one));
                t = _mm256_sub_ps(t, _mm256_and_ps(_mm256_cmp_ps(f, minus_half, _CMP_LE_OQ), one));
                i[j] = _mm256_cvttps_epi32(t);
            }
            store_q32((int8_t *)o + 2, i);
        }
    }
    if (b == nblocks)
        return INT8Q_OK;
    return q8_0_quant(x + 32 * b, nblocks - b, out + 34 * b);
}

#undef HALF_MINUS_BAND

/* The table entries these loops take (templates/level_body.h). */
#define BY_HAND(name) name##_avx2
