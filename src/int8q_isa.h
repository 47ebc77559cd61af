/* Inner loops, compiled once per instruction-set level.
 *
 * int8q_kernels.c includes this file several times with ISA (a name suffix)
 * and ISA_ATTR (a function attribute such as target("avx2")) defined.  The
 * loops are written so that GCC, Clang and MSVC auto-vectorize them: no calls,
 * no early exits, selects instead of branches.  Only IEEE operations that are
 * exact by definition are used (division, multiplication, the magic-number
 * round below, int <-> float conversion of small integers), so every level
 * gives bit-identical results.
 */
#define CAT_(a, b) a##_##b
#define CAT(a, b) CAT_(a, b)
#define FN(name) CAT(name, ISA)

/* Round-half-to-even of |v| <= 128: adding 1.5 * 2^23 (2^52 for double) lands
 * in a binade whose spacing is 1, so the IEEE addition itself rounds to the
 * nearest integer, ties to even; subtracting gives that integer back exactly.
 * Needs strict IEEE evaluation (no -ffast-math, FLT_EVAL_METHOD == 0). */
#define ROUND_EVEN(T, MAGIC, v) (((v) + (T)(MAGIC)) - (T)(MAGIC))

/* One element: v = x / s, rounded, clipped to [-127, 127], stored; D is 1 when
 * the dequantized value is written too.  No clamp is needed before rounding:
 * the scale is RN(absmax / 127) and |x| <= absmax, so |v| <= 127 * (1 + 2u)
 * for a normal scale, and |v| <= 190.5 even when the scale is the smallest
 * subnormal; the magic round and the int32 conversion are exact there. */
#define QUANT_ONE(T, MAGIC, EVEN, D, xi, si, qi, di)                        \
    do {                                                                   \
        T v_ = (xi) / (si);                                                \
        int32_t i_;                                                        \
        if (EVEN) {                                                        \
            i_ = (int32_t)ROUND_EVEN(T, MAGIC, v_);                        \
        } else {                                                           \
            int32_t t_ = (int32_t)v_; /* truncates toward zero */          \
            T f_ = v_ - (T)t_;        /* exact: the fractional part */     \
            i_ = t_ + (f_ >= (T)0.5) - (f_ <= (T)-0.5);                    \
        }                                                                  \
        i_ = i_ < -127 ? -127 : i_;                                        \
        i_ = i_ > 127 ? 127 : i_;                                          \
        (qi) = (int8_t)i_;                                                 \
        if (D) (di) = (T)i_ * (si);                                        \
    } while (0)

#define DEFINE_ISA_LOOPS(SUF, T, U, ABSMASK, MAGIC)                            \
    ISA_ATTR static U FN(amax_##SUF)(const U *xb, ptrdiff_t n)                 \
    {                                                                          \
        U m = 0;                                                               \
        for (ptrdiff_t i = 0; i < n; i++) {                                    \
            U a = xb[i] & (U)(ABSMASK);                                        \
            m = a > m ? a : m;                                                 \
        }                                                                      \
        return m;                                                              \
    }                                                                          \
    ISA_ATTR static void FN(amaxv_##SUF)(const U *xb, ptrdiff_t n, U *m)       \
    {                                                                          \
        for (ptrdiff_t i = 0; i < n; i++) {                                    \
            U a = xb[i] & (U)(ABSMASK);                                        \
            m[i] = a > m[i] ? a : m[i];                                        \
        }                                                                      \
    }                                                                          \
    ISA_ATTR static void FN(quant_##SUF)(const T *x, ptrdiff_t n, T s,         \
                                         int mode, int8_t *q, T *d)            \
    {                                                                          \
        ptrdiff_t i;                                                           \
        if (mode == INT8Q_HALF_EVEN && d)                                      \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 1, 1, x[i], s, q[i], d[i]); \
        else if (mode == INT8Q_HALF_EVEN)                                      \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 1, 0, x[i], s, q[i], d[0]); \
        else if (d)                                                            \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 0, 1, x[i], s, q[i], d[i]); \
        else                                                                   \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 0, 0, x[i], s, q[i], d[0]); \
    }                                                                          \
    ISA_ATTR static void FN(quantv_##SUF)(const T *x, ptrdiff_t n, const T *s, \
                                          int mode, int8_t *q, T *d)           \
    {                                                                          \
        ptrdiff_t i;                                                           \
        if (mode == INT8Q_HALF_EVEN && d)                                      \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 1, 1, x[i], s[i], q[i], d[i]); \
        else if (mode == INT8Q_HALF_EVEN)                                      \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 1, 0, x[i], s[i], q[i], d[0]); \
        else if (d)                                                            \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 0, 1, x[i], s[i], q[i], d[i]); \
        else                                                                   \
            for (i = 0; i < n; i++) QUANT_ONE(T, MAGIC, 0, 0, x[i], s[i], q[i], d[0]); \
    }                                                                          \
    ISA_ATTR static void FN(deq_##SUF)(const int8_t *q, ptrdiff_t n, T s, T *out) \
    {                                                                          \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = (T)q[i] * s;                \
    }                                                                          \
    ISA_ATTR static void FN(deqv_##SUF)(const int8_t *q, ptrdiff_t n,          \
                                        const T *s, T *out)                    \
    {                                                                          \
        for (ptrdiff_t i = 0; i < n; i++) out[i] = (T)q[i] * s[i];             \
    }

DEFINE_ISA_LOOPS(f32, float, int32_t, 0x7fffffff, 12582912.0f)
DEFINE_ISA_LOOPS(f64, double, int64_t, 0x7fffffffffffffffll, 6755399441055744.0)

/* nblocks consecutive blocks of B elements, each abs-maxed and quantized
 * while it is in cache.  The loops are written out here rather than called:
 * for small blocks (ggml-style 32) two calls per block cost as much as the
 * work.  Returns 1 at the first block holding NaN/inf. */
#define FBLOCK_QUANT(T, MAGIC, EVEN, D)                                              \
    for (ptrdiff_t j = 0; j < B; j++)                                                \
        QUANT_ONE(T, MAGIC, EVEN, D, xb[j], scale, qb[j], db[D ? j : 0]);

#define DEFINE_FUSED_BLOCKS(SUF, T, U, ABSMASK, INF_BITS, MAGIC)                     \
    ISA_ATTR static int FN(fblocks_##SUF)(const T *x, ptrdiff_t nblocks, ptrdiff_t B,  \
                                          T *scales, int mode, int8_t *q, T *d)      \
    {                                                                                \
        for (ptrdiff_t b = 0; b < nblocks; b++) {                                    \
            const T *xb = x + b * B;                                                 \
            const U *xbits = (const U *)xb;                                          \
            int8_t *qb = q + b * B;                                                  \
            T *db = d ? d + b * B : d;                                               \
            U m = 0;                                                                 \
            T amax, scale;                                                           \
            for (ptrdiff_t j = 0; j < B; j++) {                                      \
                U a = xbits[j] & (U)(ABSMASK);                                       \
                m = a > m ? a : m;                                                   \
            }                                                                        \
            if (m >= (U)(INF_BITS)) return 1;                                        \
            memcpy(&amax, &m, sizeof amax);                                          \
            scale = amax / (T)127;                                                   \
            if (scale == (T)0) scale = (T)1;                                         \
            scales[b] = scale;                                                       \
            if (mode == INT8Q_HALF_EVEN && d) { FBLOCK_QUANT(T, MAGIC, 1, 1) }       \
            else if (mode == INT8Q_HALF_EVEN) { FBLOCK_QUANT(T, MAGIC, 1, 0) }       \
            else if (d) { FBLOCK_QUANT(T, MAGIC, 0, 1) }                             \
            else { FBLOCK_QUANT(T, MAGIC, 0, 0) }                                    \
        }                                                                            \
        return 0;                                                                    \
    }

DEFINE_FUSED_BLOCKS(f32, float, int32_t, 0x7fffffff, 0x7f800000, 12582912.0f)
DEFINE_FUSED_BLOCKS(f64, double, int64_t, 0x7fffffffffffffffll, 0x7ff0000000000000ll,
                    6755399441055744.0)

/* GGML Q8_0, ggml's reference recipe (ggml-quants.c, gguf-py's Q8_0): per
 * block of 32, d = amax / 127 in float32, id = 1 / d (0 when d is 0),
 * q = roundf(x * id) (half away from zero), then d as float16 before the 32
 * int8s.  Returns 1 at a NaN/inf block, 2 when d overflows float16.  When d
 * is so small that 1 / d overflows, ggml's roundf(x * inf) is NaN and the
 * cast gives 0: q is 0 here too. */
ISA_ATTR static int FN(q8_0_quant)(const float *x, ptrdiff_t nblocks, uint8_t *out)
{
    for (ptrdiff_t b = 0; b < nblocks; b++) {
        const float *xb = x + 32 * b;
        uint8_t *o = out + 34 * b;
        int32_t m = FN(amax_f32)((const int32_t *)xb, 32);
        float amax, d, id;
        uint16_t h;
        if (m >= 0x7f800000) return 1;
        memcpy(&amax, &m, sizeof amax);
        d = amax / 127.0f;
        id = d != 0.0f ? 1.0f / d : 0.0f;
        h = float_to_half_rtne(d);
        if ((h & 0x7fff) >= 0x7c00) return 2;
        o[0] = (uint8_t)(h & 0xff);
        o[1] = (uint8_t)(h >> 8);
        if (id > FLT_MAX) id = 0.0f;
        for (int j = 0; j < 32; j++) {
            float v = xb[j] * id;
            int32_t t = (int32_t)v;
            float f = v - (float)t;
            o[2 + j] = (uint8_t)(int8_t)(t + (f >= 0.5f) - (f <= -0.5f));
        }
    }
    return 0;
}

ISA_ATTR static void FN(q8_0_dequant)(const uint8_t *raw, ptrdiff_t nblocks, float *out)
{
    for (ptrdiff_t b = 0; b < nblocks; b++) {
        const uint8_t *r = raw + 34 * b;
        float d = half_to_float((uint16_t)(r[0] | (r[1] << 8)));
        float *o = out + 32 * b;
        for (int j = 0; j < 32; j++) o[j] = (float)(int8_t)r[2 + j] * d;
    }
}

static const int8q_loops FN(loops) = {
    FN(amax_f32), FN(amaxv_f32), FN(quant_f32), FN(quantv_f32), FN(deq_f32), FN(deqv_f32),
    FN(amax_f64), FN(amaxv_f64), FN(quant_f64), FN(quantv_f64), FN(deq_f64), FN(deqv_f64),
    FN(q8_0_quant), FN(q8_0_dequant), FN(fblocks_f32), FN(fblocks_f64),
};

#undef DEFINE_ISA_LOOPS
#undef DEFINE_FUSED_BLOCKS
#undef FBLOCK_QUANT
#undef QUANT_ONE
#undef ROUND_EVEN
#undef FN
#undef CAT
#undef CAT_
