/* Hand-vectorized float32 loops for arm64 (NEON, which every AArch64 CPU
 * has): the hand-loop family arm64_neon_f32 of levels/levels.def, the
 * baseline's there.  Included by templates/level_body.h after the
 * plain loops of templates/loops.h, which these call for remainders, for
 * the elements they hand back (near ties, scales without an exact
 * reciprocal) and for everything the compilers already vectorize well.  The
 * same design as levels/x86_avx2_f32.h, with 4-lane vectors: 32 elements
 * are one unit of eight vectors, rounded by FRINTN (ties to even, whatever
 * the FPCR says) or FRINTA (ties away, C's roundf, for Q8_0), narrowed by two
 * saturating moves and clamped once as bytes.
 *
 * Every result is the one the plain loops give (the same IEEE operations,
 * or ones with the same result; see templates/loops.h for why the
 * reciprocal is exact).  This header never compiles on x86, so
 * tools/verify/check_arm64.sh builds the core for arm64 and runs it under
 * qemu-aarch64 against the x86-64 build on adversarial inputs. */

#if !(defined(__aarch64__) || defined(_M_ARM64))
#error "the hand loops arm64_neon_f32 are for arm64 levels (levels/levels.def)"
#endif

#include <arm_neon.h>

#define NEON_HALF_MINUS_BAND 0.49993896484375f /* 1/2 - 2^-14, exact */

/* The 32 int32 values of i[0..7] (each in int32 range) as int8 in
 * [-127, 127], in order, at q. */
INT8Q_INLINE void store_q32_neon(int8_t *q, const int32x4_t i[8])
{
    int16x8_t a = vcombine_s16(vqmovn_s32(i[0]), vqmovn_s32(i[1]));
    int16x8_t b = vcombine_s16(vqmovn_s32(i[2]), vqmovn_s32(i[3]));
    int16x8_t c = vcombine_s16(vqmovn_s32(i[4]), vqmovn_s32(i[5]));
    int16x8_t e = vcombine_s16(vqmovn_s32(i[6]), vqmovn_s32(i[7]));
    const int8x16_t lo = vdupq_n_s8(-127); /* the saturating moves gave >= -128 */
    vst1q_s8(q, vmaxq_s8(vcombine_s8(vqmovn_s16(a), vqmovn_s16(b)), lo));
    vst1q_s8(q + 16, vmaxq_s8(vcombine_s8(vqmovn_s16(c), vqmovn_s16(e)), lo));
}

/* q = round_even(x * r) for 32 elements (and d = q * s when dq), with r[j]
 * and s[j] for element j when `each`, else r[0] and s[0] for all; returns
 * nonzero when one of them lies within BAND of a tie (or r is NaN: no exact
 * reciprocal), which the caller then redoes by division.  Away from ties
 * both roundings agree, so one loop serves both modes. */
INT8Q_INLINE int tile32_neon(const float *x, const float *r, const float *s, int each, int dq,
                             int8_t *q, float *d)
{
    const float32x4_t band = vdupq_n_f32(NEON_HALF_MINUS_BAND);
    uint32x4_t far = vdupq_n_u32(0xffffffffu);
    int32x4_t i[8];
    for (int k = 0; k < 8; k++) {
        float32x4_t rk = each ? vld1q_f32(r + 4 * k) : vdupq_n_f32(r[0]);
        float32x4_t y = vmulq_f32(vld1q_f32(x + 4 * k), rk);
        float32x4_t n = vrndnq_f32(y);
        /* |y - n| <= 1/2 - BAND is templates/loops.h's "not near_tie"
         * (false for NaN); |y - n| is exact */
        far = vandq_u32(far, vcleq_f32(vabdq_f32(y, n), band));
        i[k] = vcvtq_s32_f32(n); /* n is integral, |n| <= 129 (or NaN: redone) */
        if (dq) {
            float32x4_t sk = each ? vld1q_f32(s + 4 * k) : vdupq_n_f32(s[0]);
            int32x4_t c = vmaxq_s32(vminq_s32(i[k], vdupq_n_s32(127)), vdupq_n_s32(-127));
            /* from the integer, so 0 is +0 as in the plain loops */
            vst1q_f32(d + 4 * k, vmulq_f32(vcvtq_f32_s32(c), sk));
        }
    }
    store_q32_neon(q, i);
    return vminvq_u32(far) == 0;
}

static void quant_f32_neon(const float *x, ptrdiff_t n, float s, float r, int mode, int8_t *q,
                           float *d)
{
    ptrdiff_t i = 0;
    int even = mode == INT8Q_HALF_EVEN;
    if (r == r) { /* NaN: no exact reciprocal, the plain loop divides */
        for (; i + 32 <= n; i += 32)
            if (d ? tile32_neon(x + i, &r, &s, 0, 1, q + i, d + i)
                  : tile32_neon(x + i, &r, &s, 0, 0, q + i, NULL))
                quant_fixup_f32(x + i, 32, s, even, q + i, d ? d + i : NULL);
    }
    if (i < n)
        quant_f32(x + i, n - i, s, r, mode, q + i, d ? d + i : NULL);
}

/* One scale per element (channels on the last axis): r[i] = RECIP(s[i]),
 * NaN where the division is due, which the near-tie test then catches. */
static void quantv_f32_neon(const float *x, ptrdiff_t n, const float *s, const float *r, int mode,
                            int8_t *q, float *d)
{
    ptrdiff_t i = 0;
    int even = mode == INT8Q_HALF_EVEN;
    for (; i + 32 <= n; i += 32)
        if (d ? tile32_neon(x + i, r + i, s + i, 1, 1, q + i, d + i)
              : tile32_neon(x + i, r + i, s + i, 1, 0, q + i, NULL))
            quantv_fixup_f32(x + i, 32, s + i, even, q + i, d ? d + i : NULL);
    if (i < n)
        quantv_f32(x + i, n - i, s + i, r + i, mode, q + i, d ? d + i : NULL);
}

/* The abs-max bit pattern of 32 floats. */
INT8Q_INLINE uint32_t amax32_neon(const float *x)
{
    const uint32_t *b = (const uint32_t *)x;
    uint32x4_t m = vdupq_n_u32(0);
    for (int k = 0; k < 8; k++)
        m = vmaxq_u32(m, vandq_u32(vld1q_u32(b + 4 * k), vdupq_n_u32(0x7fffffffu)));
    return vmaxvq_u32(m);
}

/* Known scales per block (the second pass of the two-pass path). */
static void quantb_f32_neon(const float *x, ptrdiff_t nblocks, ptrdiff_t B, const float *s,
                            int bounded, int mode, int8_t *q, float *d)
{
    if (B < SPREAD_BELOW) {
        quantb_spread_f32(x, nblocks, B, s, bounded, mode, q, d, quantv_f32_neon);
        return;
    }
    if (B % 32 != 0) {
        quantb_f32(x, nblocks, B, s, bounded, mode, q, d);
        return;
    }
    for (ptrdiff_t b = 0; b < nblocks; b++)
        quant_f32_neon(x + b * B, B, s[b], int8q_recip_f32(s[b], bounded), mode, q + b * B,
                       d ? d + b * B : NULL);
}

/* m[b] = max(m[b], abs-max bits of block b) (the first pass). */
static void amaxb_f32_neon(const int32_t *xb, ptrdiff_t nblocks, ptrdiff_t B, int32_t *m)
{
    if (B != 32) {
        amaxb_f32(xb, nblocks, B, m);
        return;
    }
    for (ptrdiff_t b = 0; b < nblocks; b++) {
        int32_t a = (int32_t)amax32_neon((const float *)(xb + 32 * b));
        m[b] = a > m[b] ? a : m[b];
    }
}

/* Blocks of 32 (or whole rows of 256 and more; shorter ones spread,
 * templates/loops.h): abs-max, scale
 * (SCALE_RULE) and quantize while the block is in L1.  Returns 1 at a
 * NaN/inf block, leaving it and later ones unwritten. */
static int fused_f32_neon(const float *x, ptrdiff_t nblocks, ptrdiff_t B, float *scales, int mode,
                          int8_t *q, float *d)
{
    if (B != 32 && B < SPREAD_BELOW)
        return fused_spread_f32(x, nblocks, B, scales, mode, q, d, quantv_f32_neon);
    if (B != 32 && B < 256)
        return fused_f32(x, nblocks, B, scales, mode, q, d);
    for (ptrdiff_t b = 0; b < nblocks; b++) {
        const float *xb = x + b * B;
        int32_t m = B == 32 ? (int32_t)amax32_neon(xb) : amax_f32((const int32_t *)xb, B);
        float amax, sb;
        if (m >= INF_BITS_F32)
            return 1;
        memcpy(&amax, &m, sizeof amax);
        sb = int8q_scale_rule_f32(amax);
        scales[b] = sb;
        quant_f32_neon(xb, B, sb, int8q_recip_f32(sb, 1), mode, q + b * B, d ? d + b * B : NULL);
    }
    return 0;
}

/* GGML Q8_0 (see q8_0_quant in templates/level_body.h for the recipe), four
 * blocks at a time: d and id for the four in one vector division each,
 * their float16 bits in one FCVTN (round to nearest even, as NumPy's
 * astype), q = roundf(x * id) as FRINTA. */
static int q8_0_quant_neon(const float *x, ptrdiff_t nblocks, uint8_t *out)
{
    ptrdiff_t b = 0;
    for (; b + 4 <= nblocks; b += 4) {
        const float *xg = x + 32 * b;
        uint8_t *og = out + 34 * b;
        uint32_t m[4];
        uint16_t hs[4];
        float ids[4];
        float32x4_t dv, id;
        uint16x4_t h;
        for (int k = 0; k < 4; k++)
            m[k] = amax32_neon(xg + 32 * k);
        if (vmaxvq_u32(vld1q_u32(m)) >= (uint32_t)INF_BITS_F32)
            return INT8Q_NONFINITE;
        dv = vdivq_f32(vreinterpretq_f32_u32(vld1q_u32(m)), vdupq_n_f32(127.0f));
        id = vdivq_f32(vdupq_n_f32(1.0f), dv); /* inf when d is 0 or tiny: then 0 */
        id = vreinterpretq_f32_u32(
            vandq_u32(vreinterpretq_u32_f32(id), vcleq_f32(id, vdupq_n_f32(FLT_MAX))));
        h = vreinterpret_u16_f16(vcvt_f16_f32(dv));
        if (vmaxv_u16(vand_u16(h, vdup_n_u16(0x7fff))) >= 0x7c00)
            return INT8Q_F16_OVERFLOW;
        vst1_u16(hs, h);
        vst1q_f32(ids, id);
        for (int k = 0; k < 4; k++) {
            const float *xb = xg + 32 * k;
            uint8_t *o = og + 34 * k;
            float32x4_t idk = vdupq_n_f32(ids[k]);
            int32x4_t i[8];
            o[0] = (uint8_t)(hs[k] & 0xff);
            o[1] = (uint8_t)(hs[k] >> 8);
            for (int j = 0; j < 8; j++) /* |x * id| < 127.5 */
                i[j] = vcvtq_s32_f32(vrndaq_f32(vmulq_f32(vld1q_f32(xb + 4 * j), idk)));
            store_q32_neon((int8_t *)o + 2, i);
        }
    }
    if (b == nblocks)
        return INT8Q_OK;
    return q8_0_quant(x + 32 * b, nblocks - b, out + 34 * b);
}

#undef NEON_HALF_MINUS_BAND

/* The table entries these loops take (templates/level_body.h). */
#define BY_HAND(name) name##_neon
