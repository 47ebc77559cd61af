/* One instruction-set level: the loops of templates/loops.h for float32 and
 * float64, the half-precision conversions and GGML Q8_0, gathered into the
 * table `level_loops`, with the hand loops of the level's family
 * (INT8Q_LEVEL_LOOPS, levels/levels.def) where it has them.  Included once
 * by levels/level.c, which is compiled with that level's flags (setup.py).
 * Smaller helpers (half-precision conversion, gather shuffles, CRC-32) use
 * the instructions the flags enable, as the compilers' own macros say
 * (__F16C__, __AVX2__, __PCLMUL__, __aarch64__). */
#include "core/const_length.h"
#include "core/kernels.h"
#include "core/rules.h"
#include "levels/table.h"

#include <float.h>
#include <math.h>
#include <string.h>

#if defined(__F16C__) || (defined(_MSC_VER) && defined(__AVX2__))
#include <immintrin.h>
#define LEVEL_F16C 1 /* vcvtph2ps / vcvtps2ph */
#else
#define LEVEL_F16C 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#include <arm_neon.h>
#define LEVEL_NEON 1 /* every AArch64 CPU: fcvtl / fcvtn for half precision */
#else
#define LEVEL_NEON 0
#endif

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
/* The magic-number round needs float arithmetic done in float (x87 excess
 * precision would break it).  Every supported target is fine. */
#error "int8q needs FLT_EVAL_METHOD == 0 (SSE2 or better on x86)"
#endif

#define T float
#define U int32_t
#define SUF f32
#define ABSMASK 0x7fffffff
#define INF_BITS 0x7f800000
#define BAND 6.103515625e-05f /* 2^-14 */
#define SCALE_RULE int8q_scale_rule_f32
#define RECIP int8q_recip_f32
#include "templates/loops.h"
#undef T
#undef U
#undef SUF
#undef ABSMASK
#undef INF_BITS
#undef BAND
#undef SCALE_RULE
#undef RECIP

#define T double
#define U int64_t
#define SUF f64
#define ABSMASK 0x7fffffffffffffffll
#define INF_BITS 0x7ff0000000000000ll
#define BAND 9.094947017729282e-13 /* 2^-40 */
#define SCALE_RULE int8q_scale_rule_f64
#define RECIP int8q_recip_f64
#include "templates/loops.h"
#undef T
#undef U
#undef SUF
#undef ABSMASK
#undef INF_BITS
#undef BAND
#undef SCALE_RULE
#undef RECIP

static int32_t amax_b16(const uint16_t *xb, ptrdiff_t n)
{
    uint16_t m = 0;
    for (ptrdiff_t i = 0; i < n; i++) {
        uint16_t a = (uint16_t)(xb[i] & 0x7fffu);
        m = a > m ? a : m;
    }
    return m;
}

INT8Q_INLINE uint16_t abs_max_b16(uint16_t a, uint16_t b)
{
    a = (uint16_t)(a & 0x7fffu);
    b = (uint16_t)(b & 0x7fffu);
    return a > b ? a : b;
}

/* m[i] = max(m[i], |x[r n + i]|) over `rows` rows of n 16-bit patterns
 * (float16 or bfloat16, one scale per column), eight rows at a time as
 * amaxv takes them, then one. */
static void amaxv_b16(const uint16_t *RESTRICT xb, ptrdiff_t rows, ptrdiff_t n,
                      uint16_t *RESTRICT m)
{
    ptrdiff_t r = 0;
    for (; r + 8 <= rows; r += 8) {
        const uint16_t *x0 = xb + r * n, *x1 = x0 + n, *x2 = x1 + n, *x3 = x2 + n;
        const uint16_t *x4 = x3 + n, *x5 = x4 + n, *x6 = x5 + n, *x7 = x6 + n;
        for (ptrdiff_t i = 0; i < n; i++) {
            uint16_t a = abs_max_b16(x0[i], x1[i]), b = abs_max_b16(x2[i], x3[i]);
            uint16_t c = abs_max_b16(x4[i], x5[i]), e = abs_max_b16(x6[i], x7[i]);
            a = a > b ? a : b;
            c = c > e ? c : e;
            a = a > c ? a : c;
            m[i] = a > m[i] ? a : m[i];
        }
    }
    for (; r < rows; r++) {
        const uint16_t *x0 = xb + r * n;
        for (ptrdiff_t i = 0; i < n; i++)
            m[i] = abs_max_b16(x0[i], m[i]);
    }
}

/* count elements of `size` bytes (2, 4 or 8) from p, `stride` bytes apart,
 * to dst, their bytes reversed when `swapped` (core/gather.h).  Every
 * access goes through memcpy: such inputs need not be aligned. */
static void copy_run(const char *p, ptrdiff_t stride, ptrdiff_t count, int size, int swapped,
                     char *dst)
{
    ptrdiff_t j = 0;
    if (!swapped && stride == size) {
        memcpy(dst, p, (size_t)(count * size));
        return;
    }
#if defined(__AVX2__)
    if (stride == size) { /* reversed bytes in place: one byte shuffle per 32 */
        const __m256i rev =
            size == 8 ? _mm256_setr_epi8(7, 6, 5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6,
                                         5, 4, 3, 2, 1, 0, 15, 14, 13, 12, 11, 10, 9, 8)
            : size == 4 ? _mm256_setr_epi8(3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12, 3,
                                           2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12)
                        : _mm256_setr_epi8(1, 0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14, 1,
                                           0, 3, 2, 5, 4, 7, 6, 9, 8, 11, 10, 13, 12, 15, 14);
        ptrdiff_t per = 32 / size;
        for (; j + per <= count; j += per)
            _mm256_storeu_si256(
                (__m256i *)(dst + j * size),
                _mm256_shuffle_epi8(_mm256_loadu_si256((const __m256i *)(p + j * size)), rev));
    } else if (stride == 2 * size && !swapped && size >= 4) {
        /* every other element (x[::2], the real parts of complex arrays):
         * two loads, the even lanes shuffled out */
        for (; j + 32 / size <= count; j += 32 / size) {
            const char *a = p + j * stride;
            __m256i v;
            if (size == 4)
                v = _mm256_castps_si256(_mm256_shuffle_ps(_mm256_loadu_ps((const float *)a),
                                                          _mm256_loadu_ps((const float *)a + 8),
                                                          _MM_SHUFFLE(2, 0, 2, 0)));
            else
                v = _mm256_castpd_si256(_mm256_unpacklo_pd(_mm256_loadu_pd((const double *)a),
                                                           _mm256_loadu_pd((const double *)a + 4)));
            /* the lanes came out as 0 1 4 5 | 2 3 6 7 (64-bit pairs) */
            _mm256_storeu_si256((__m256i *)(dst + j * size), _mm256_permute4x64_epi64(v, 0xd8));
        }
    }
#endif
#define RUN(U, SWAP)                                                                               \
    for (; j < count; j++) {                                                                       \
        U v;                                                                                       \
        memcpy(&v, p + j * stride, sizeof v);                                                      \
        v = SWAP(v);                                                                               \
        memcpy(dst + j * (ptrdiff_t)sizeof v, &v, sizeof v);                                       \
    }
#define SAME(v) (v)
    if (size == 4) {
        if (swapped)
            RUN(uint32_t, int8q_bswap32)
        else
            RUN(uint32_t, SAME)
    } else if (size == 8) {
        if (swapped)
            RUN(uint64_t, int8q_bswap64)
        else
            RUN(uint64_t, SAME)
    } else {
        if (swapped)
            RUN(uint16_t, int8q_bswap16)
        else
            RUN(uint16_t, SAME)
    }
#undef SAME
#undef RUN
}

#if defined(__AVX2__)
/* An 8 x 8 tile of 4-byte elements transposed in registers (core/gather.h):
 * eight column loads, three rounds of shuffles, eight row stores. */
static void tile8x8(const char *src, ptrdiff_t col, char *dst, ptrdiff_t dst_row)
{
    __m256 c[8], t[8], u[8];
    int k;
    for (k = 0; k < 8; k++)
        c[k] = _mm256_loadu_ps((const float *)(src + k * col));
    for (k = 0; k < 8; k += 2) { /* pairs of columns interleaved */
        t[k] = _mm256_unpacklo_ps(c[k], c[k + 1]);
        t[k + 1] = _mm256_unpackhi_ps(c[k], c[k + 1]);
    }
    for (k = 0; k < 8; k += 4) { /* then fours */
        u[k] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 1] = _mm256_shuffle_ps(t[k], t[k + 2], _MM_SHUFFLE(3, 2, 3, 2));
        u[k + 2] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(1, 0, 1, 0));
        u[k + 3] = _mm256_shuffle_ps(t[k + 1], t[k + 3], _MM_SHUFFLE(3, 2, 3, 2));
    }
    for (k = 0; k < 4; k++) { /* and the 128-bit halves: rows k and k + 4 */
        _mm256_storeu_ps((float *)(dst + k * dst_row),
                         _mm256_permute2f128_ps(u[k], u[k + 4], 0x20));
        _mm256_storeu_ps((float *)(dst + (k + 4) * dst_row),
                         _mm256_permute2f128_ps(u[k], u[k + 4], 0x31));
    }
}
#define TILE8X8 tile8x8
#else
#define TILE8X8 NULL
#endif

/* bfloat16 is the top half of a float32: widening is a shift. */
static void bf16_to_f32(const uint16_t *h, ptrdiff_t n, float *out)
{
    uint32_t *o = (uint32_t *)out;
    for (ptrdiff_t i = 0; i < n; i++)
        o[i] = (uint32_t)h[i] << 16;
}

static void f16_to_f32(const uint16_t *h, ptrdiff_t n, float *out)
{
    ptrdiff_t i = 0;
#if LEVEL_F16C
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(h + i))));
#elif LEVEL_NEON
    for (; i + 4 <= n; i += 4)
        vst1q_f32(out + i, vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16(h + i))));
#endif
    for (; i < n; i++)
        out[i] = int8q_half_to_float(h[i]);
}

/* float32 -> float16 bits, round to nearest even (NumPy's astype). */
static void f32_to_f16(const float *x, ptrdiff_t n, uint16_t *out)
{
    ptrdiff_t i = 0;
#if LEVEL_F16C
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128(
            (__m128i *)(out + i),
            _mm256_cvtps_ph(_mm256_loadu_ps(x + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
#elif LEVEL_NEON
    for (; i + 4 <= n; i += 4)
        vst1_u16(out + i, vreinterpret_u16_f16(vcvt_f16_f32(vld1q_f32(x + i))));
#endif
    for (; i < n; i++)
        out[i] = int8q_half_from_float(x[i]);
}

/* GGML Q8_0, ggml's reference recipe (ggml-quants.c quantize_row_q8_0_ref,
 * gguf-py's quants.Q8_0): per block of 32, d = amax / 127 in float32,
 * id = 1 / d (0 when d is 0), q = roundf(x * id) (half away from zero), then
 * d as float16 before the 32 int8s.  A group of blocks has its d and id
 * computed with one vector division each and its d converted to float16
 * together.  When d is so small that 1 / d overflows, ggml's
 * roundf(x * inf) is NaN and the cast gives 0: q is 0 here too (id = 0). */
#define Q8_GROUP 16

static int q8_0_quant(const float *x, ptrdiff_t nblocks, uint8_t *out)
{
    int32_t m[Q8_GROUP];
    float d[Q8_GROUP], id[Q8_GROUP];
    uint16_t h[Q8_GROUP];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += Q8_GROUP) {
        ptrdiff_t g = nblocks - b0 < Q8_GROUP ? nblocks - b0 : Q8_GROUP;
        int32_t worst = 0;
        uint16_t hworst = 0;
        for (ptrdiff_t k = 0; k < g; k++) {
            const int32_t *xb = (const int32_t *)(x + 32 * (b0 + k));
            int32_t mk = 0;
            for (int j = 0; j < 32; j++) {
                int32_t a = xb[j] & 0x7fffffff;
                mk = a > mk ? a : mk;
            }
            m[k] = mk;
            worst = mk > worst ? mk : worst;
        }
        if (worst >= 0x7f800000)
            return INT8Q_NONFINITE;
        memcpy(d, m, (size_t)g * sizeof d[0]);
        for (ptrdiff_t k = 0; k < g; k++) {
            float dk = d[k] / 127.0f;
            float ik = 1.0f / dk; /* inf when dk is 0 or tiny */
            d[k] = dk;
            id[k] = ik <= FLT_MAX ? ik : 0.0f;
        }
        f32_to_f16(d, g, h);
        for (ptrdiff_t k = 0; k < g; k++) {
            uint16_t hk = (uint16_t)(h[k] & 0x7fff);
            hworst = hk > hworst ? hk : hworst;
        }
        if (hworst >= 0x7c00)
            return INT8Q_F16_OVERFLOW;
        for (ptrdiff_t k = 0; k < g; k++) {
            const float *xb = x + 32 * (b0 + k);
            uint8_t *o = out + 34 * (b0 + k);
            int8_t qb[32];
            float ik = id[k];
            o[0] = (uint8_t)(h[k] & 0xff);
            o[1] = (uint8_t)(h[k] >> 8);
            for (int j = 0; j < 32; j++) {
                float v = xb[j] * ik;                           /* |v| <= 127 (1 + 3u) */
                qb[j] = (int8_t)(int32_t)int8q_round_f32(v, 0); /* half away, as ggml */
            }
            memcpy(o + 2, qb, 32);
        }
    }
    return INT8Q_OK;
}

static void q8_0_dequant(const uint8_t *raw, ptrdiff_t nblocks, float *out)
{
    float d[Q8_GROUP];
    uint16_t h[Q8_GROUP];
    for (ptrdiff_t b0 = 0; b0 < nblocks; b0 += Q8_GROUP) {
        ptrdiff_t g = nblocks - b0 < Q8_GROUP ? nblocks - b0 : Q8_GROUP;
        for (ptrdiff_t k = 0; k < g; k++) {
            const uint8_t *r = raw + 34 * (b0 + k);
            h[k] = (uint16_t)(r[0] | (r[1] << 8));
        }
        f16_to_f32(h, g, d);
        for (ptrdiff_t k = 0; k < g; k++) {
            const int8_t *qb = (const int8_t *)(raw + 34 * (b0 + k) + 2);
            float *o = out + 32 * (b0 + k);
            float dk = d[k];
            for (int j = 0; j < 32; j++)
                o[j] = (float)qb[j] * dk;
        }
    }
}

/* The level's hand loops (levels/levels.def): the header
 * levels/<INT8Q_LEVEL_LOOPS>.h, which defines BY_HAND(name), the loop that
 * takes table entry `name`. */
#ifndef INT8Q_LEVEL_LOOPS
#error "compile with INT8Q_LEVEL_LOOPS defined to the level's hand loops (setup.py does)"
#endif
#define LOOPS_HEADER_(family) #family
#define LOOPS_HEADER(family) LOOPS_HEADER_(family)
#define INF_BITS_F32 0x7f800000
/* the path's tokens as written (no spaces around the slash) */
/* clang-format off */
#include LOOPS_HEADER(levels/INT8Q_LEVEL_LOOPS.h)
/* clang-format on */
#undef INF_BITS_F32
#undef LOOPS_HEADER
#undef LOOPS_HEADER_

#include "templates/affine_loops.h"

#if defined(__PCLMUL__) || (defined(_MSC_VER) && defined(__AVX2__))
#include "levels/x86_crc32.h"
#define CRC32_LOOP crc32_clmul
#else
#define CRC32_LOOP NULL /* zlib's, through the caller */
#endif

/* Streaming (non-temporal) stores of whole 64-byte lines: SSE2 on every
 * x86-64 CPU, two 32-byte AVX stores a line where the level's flags enable
 * AVX (the avx2 and avx512 levels; MSVC's /arch:AVX2 and /arch:AVX512
 * define __AVX__).  Not one 64-byte AVX-512 store: pairs of 32-byte ones
 * fill a line as well (glibc's AVX2 memcpy streams so), and on an AMD EPYC
 * (Zen 4) the 64-byte ones streamed a dequantize output at 0.55-1.1x their
 * speed, mostly slower (interleaved in one process, shared cores).  Other
 * architectures store normally: arm64 cores switch to non-allocating writes
 * by themselves on long runs of whole-line stores, and their non-temporal
 * STNP is only a hint. */
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#include <stdint.h>

static void stream_copy(void *dst, const void *src, size_t n)
{
    char *d = (char *)dst;
    const char *s = (const char *)src;
    size_t head = (size_t)(-(uintptr_t)d & 63);
    if (head > n)
        head = n;
    memcpy(d, s, head); /* up to the first line boundary */
    d += head, s += head, n -= head;
    for (; n >= 64; n -= 64, d += 64, s += 64) {
#if defined(__AVX__)
        _mm256_stream_si256((__m256i *)d, _mm256_loadu_si256((const __m256i *)s));
        _mm256_stream_si256((__m256i *)(d + 32), _mm256_loadu_si256((const __m256i *)(s + 32)));
#else
        for (int k = 0; k < 64; k += 16)
            _mm_stream_si128((__m128i *)(d + k), _mm_loadu_si128((const __m128i *)(s + k)));
#endif
    }
    memcpy(d, s, n); /* the last partial line */
}

static void stream_fence(void)
{
    _mm_sfence();
}
#define STREAM_COPY stream_copy
#define STREAM_FENCE stream_fence
#else
#define STREAM_COPY NULL
#define STREAM_FENCE NULL
#endif

static const int8q_loops level_loops = {
    .amax_f32 = amax_f32,
    .amax_f64 = amax_f64,
    .amax_b16 = amax_b16,
    .amaxv_b16 = amaxv_b16,
    .amaxb_f32 = BY_HAND(amaxb_f32),
    .amaxb_f64 = amaxb_f64,
    .amaxv_f32 = amaxv_f32,
    .amaxv_f64 = amaxv_f64,
    .quant_f32 = BY_HAND(quant_f32),
    .quant_f64 = quant_f64,
    .quantv_f32 = BY_HAND(quantv_f32),
    .quantv_f64 = quantv_f64,
    .quantb_f32 = BY_HAND(quantb_f32),
    .quantb_f64 = quantb_f64,
    .fused_f32 = BY_HAND(fused_f32),
    .fused_f64 = fused_f64,
    .deq_f32 = deq_f32,
    .deq_f64 = deq_f64,
    .deqv_f32 = deqv_f32,
    .deqv_f64 = deqv_f64,
    .deqvr_f32 = deqvr_f32,
    .deqvr_f64 = deqvr_f64,
    .deqb_f32 = deqb_f32,
    .deqb_f64 = deqb_f64,
    .f16_to_f32 = f16_to_f32,
    .bf16_to_f32 = bf16_to_f32,
    .gather = {copy_run, TILE8X8},
    .q8_0_quant = BY_HAND(q8_0_quant),
    .q8_0_dequant = q8_0_dequant,
    .affine_f32 = affine_f32,
    .affine_f64 = affine_f64,
    .affine_deq_f32 = affine_deq_f32,
    .affine_deq_f64 = affine_deq_f64,
    .mse_f32 = mse_f32,
    .mse_f64 = mse_f64,
    .minmax_f32 = minmax_f32,
    .minmax_f64 = minmax_f64,
    .crc32 = CRC32_LOOP,
    .stream_copy = STREAM_COPY,
    .stream_fence = STREAM_FENCE,
};
