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

static const int8q_loops FN(loops) = {
    FN(amax_f32), FN(amaxv_f32), FN(quant_f32), FN(quantv_f32), FN(deq_f32), FN(deqv_f32),
    FN(amax_f64), FN(amaxv_f64), FN(quant_f64), FN(quantv_f64), FN(deq_f64), FN(deqv_f64),
};

#undef DEFINE_ISA_LOOPS
#undef QUANT_ONE
#undef ROUND_EVEN
#undef FN
#undef CAT
#undef CAT_
