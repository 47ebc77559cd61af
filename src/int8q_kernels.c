/* Range kernels and run-time instruction-set dispatch; see int8q_kernels.h. */
#include "int8q_kernels.h"

#include <float.h>
#include <string.h>

#if defined(FLT_EVAL_METHOD) && FLT_EVAL_METHOD != 0
/* The magic-number round in int8q_isa.h needs float arithmetic done in float
 * (x87 excess precision would break it).  Every supported target is fine. */
#error "int8q needs FLT_EVAL_METHOD == 0 (SSE2 or better on x86)"
#endif

/* The inner loops of one instruction-set level. */
typedef struct {
    int32_t (*amax_f32)(const int32_t *, ptrdiff_t);
    void (*amaxv_f32)(const int32_t *, ptrdiff_t, int32_t *);
    void (*quant_f32)(const float *, ptrdiff_t, float, int, int8_t *, float *);
    void (*quantv_f32)(const float *, ptrdiff_t, const float *, int, int8_t *, float *);
    void (*deq_f32)(const int8_t *, ptrdiff_t, float, float *);
    void (*deqv_f32)(const int8_t *, ptrdiff_t, const float *, float *);
    int64_t (*amax_f64)(const int64_t *, ptrdiff_t);
    void (*amaxv_f64)(const int64_t *, ptrdiff_t, int64_t *);
    void (*quant_f64)(const double *, ptrdiff_t, double, int, int8_t *, double *);
    void (*quantv_f64)(const double *, ptrdiff_t, const double *, int, int8_t *, double *);
    void (*deq_f64)(const int8_t *, ptrdiff_t, double, double *);
    void (*deqv_f64)(const int8_t *, ptrdiff_t, const double *, double *);
    int (*q8_0_quant)(const float *, ptrdiff_t, uint8_t *);
    void (*q8_0_dequant)(const uint8_t *, ptrdiff_t, float *);
    int (*fblocks_f32)(const float *, ptrdiff_t, ptrdiff_t, float *, int, int8_t *, float *);
    int (*fblocks_f64)(const double *, ptrdiff_t, ptrdiff_t, double *, int, int8_t *, double *);
} int8q_loops;

/* float32 -> float16 bits, round to nearest even, as NumPy's astype does
 * (F. Giesen's float_to_half_fast3_rtne).  Exact for every input. */
static inline uint16_t float_to_half_rtne(float value)
{
    const uint32_t f32_infinity = 255u << 23;
    const uint32_t f16_overflow = (127u + 16u) << 23; /* 65536.0f */
    const uint32_t denorm_magic_bits = ((127u - 15u) + (23u - 10u) + 1u) << 23;
    uint32_t f, sign;
    uint16_t o;
    memcpy(&f, &value, sizeof f);
    sign = f & 0x80000000u;
    f ^= sign;
    if (f >= f16_overflow) {
        o = f > f32_infinity ? 0x7e00 : 0x7c00;
    } else if (f < (113u << 23)) {
        /* Result is subnormal or zero: let the FPU align and round it. */
        float ff, magic;
        uint32_t r;
        memcpy(&ff, &f, sizeof ff);
        memcpy(&magic, &denorm_magic_bits, sizeof magic);
        ff += magic;
        memcpy(&r, &ff, sizeof r);
        o = (uint16_t)(r - denorm_magic_bits);
    } else {
        uint32_t mant_odd = (f >> 13) & 1u;
        f += ((uint32_t)(15 - 127) << 23) + 0xfffu; /* rebias, round */
        f += mant_odd;                                /* ties to even */
        o = (uint16_t)(f >> 13);
    }
    return (uint16_t)(o | (sign >> 16));
}

/* float16 bits -> float32, exact. */
static inline float half_to_float(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu, mant = h & 0x3ffu, bits;
    float f;
    if (exp == 0) {
        f = (float)mant * 5.9604644775390625e-8f; /* mant * 2^-24, exact */
        return sign ? -f : f;
    }
    if (exp == 31)
        bits = sign | 0x7f800000u | (mant << 13);
    else
        bits = sign | ((exp + 112u) << 23) | (mant << 13);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* Baseline: whatever the compiler targets by default (SSE2 on x86-64, NEON on
 * arm64). */
#define ISA baseline
#define ISA_ATTR
#include "int8q_isa.h"
#undef ISA
#undef ISA_ATTR

/* x86 levels, only where the compiler understands per-function targets: the
 * rest of the extension stays baseline, so the wheel runs on any x86-64. */
#if (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#define INT8Q_HAVE_X86_LEVELS 1
#define ISA avx2
#define ISA_ATTR __attribute__((target("avx2")))
#include "int8q_isa.h"
#undef ISA
#undef ISA_ATTR
#define ISA avx512
#define ISA_ATTR __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq")))
#include "int8q_isa.h"
#undef ISA
#undef ISA_ATTR
#endif

static const int8q_loops *loops = &loops_baseline;
static int current_level = INT8Q_ISA_BASELINE;

int int8q_isa_compiled(int level)
{
    if (level == INT8Q_ISA_BASELINE) return 1;
#ifdef INT8Q_HAVE_X86_LEVELS
    if (level == INT8Q_ISA_AVX2 || level == INT8Q_ISA_AVX512) return 1;
#endif
    return 0;
}

static int cpu_supports(int level)
{
    if (level == INT8Q_ISA_BASELINE) return 1;
#ifdef INT8Q_HAVE_X86_LEVELS
    __builtin_cpu_init();
    /* libgcc and compiler-rt also check that the OS saves the wide registers. */
    if (level == INT8Q_ISA_AVX2) return __builtin_cpu_supports("avx2") != 0;
    if (level == INT8Q_ISA_AVX512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
#endif
    return 0;
}

int int8q_isa_detect(void)
{
    int level;
    for (level = INT8Q_ISA_AVX512; level > INT8Q_ISA_BASELINE; level--)
        if (int8q_isa_compiled(level) && cpu_supports(level)) return level;
    return INT8Q_ISA_BASELINE;
}

int int8q_isa_select(int level)
{
    if (!int8q_isa_compiled(level) || !cpu_supports(level)) return -1;
    switch (level) {
#ifdef INT8Q_HAVE_X86_LEVELS
    case INT8Q_ISA_AVX2: loops = &loops_avx2; break;
    case INT8Q_ISA_AVX512: loops = &loops_avx512; break;
#endif
    default: loops = &loops_baseline; break;
    }
    current_level = level;
    return 0;
}

int int8q_isa_current(void) { return current_level; }

/* Walk [s, e) one row piece at a time.  Inside the loop: r (row), c (column of
 * the first element), i (flat index), row_end, base (first scale number of the
 * row) and off (i - s, the offset into the range's pointers). */
#define FOR_ROW_PIECES(L, s, e)                                                  \
    for (ptrdiff_t i = (s); i < (e);) {                                          \
        ptrdiff_t r = i / (L)->n_row, c = i - r * (L)->n_row;                    \
        ptrdiff_t row_end = (r + 1) * (L)->n_row < (e) ? (r + 1) * (L)->n_row : (e); \
        ptrdiff_t base = (r % (L)->cmod) * (L)->nb, off = i - (s);

/* Inside FOR_ROW_PIECES when block > 1: each block piece [i, blk_end) with
 * scale number k. */
#define FOR_BLOCK_PIECES(L)                                                      \
    for (; i < row_end; c = i - r * (L)->n_row, off = i - s) {                   \
        ptrdiff_t b = c / (L)->block;                                            \
        ptrdiff_t blk_end = r * (L)->n_row + (b + 1) * (L)->block;              \
        ptrdiff_t k = base + b;                                                  \
        if (blk_end > row_end) blk_end = row_end;

#define DEFINE_RANGES(SUF, T, U, INF_BITS)                                          \
    void int8q_absmax_range_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e,             \
                                  const int8q_layout *L, U *mbits)                  \
    {                                                                               \
        const U *xb = (const U *)x;                                                 \
        FOR_ROW_PIECES(L, s, e)                                                     \
            if (L->block == 1) {                                                    \
                loops->amaxv_##SUF(xb + off, row_end - i, mbits + base + c);        \
                i = row_end;                                                        \
                continue;                                                           \
            }                                                                       \
            FOR_BLOCK_PIECES(L)                                                     \
                U m = loops->amax_##SUF(xb + off, blk_end - i);                     \
                if (m > mbits[k]) mbits[k] = m;                                     \
                i = blk_end;                                                        \
            }                                                                       \
        }                                                                           \
    }                                                                               \
    void int8q_quantize_range_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e,           \
                                    const int8q_layout *L, const T *scales,         \
                                    int mode, int8_t *q, T *d)                      \
    {                                                                               \
        FOR_ROW_PIECES(L, s, e)                                                     \
            if (L->block == 1) {                                                    \
                loops->quantv_##SUF(x + off, row_end - i, scales + base + c, mode,  \
                                    q + off, d ? d + off : NULL);                   \
                i = row_end;                                                        \
                continue;                                                           \
            }                                                                       \
            FOR_BLOCK_PIECES(L)                                                     \
                loops->quant_##SUF(x + off, blk_end - i, scales[k], mode, q + off,  \
                                   d ? d + off : NULL);                             \
                i = blk_end;                                                        \
            }                                                                       \
        }                                                                           \
    }                                                                               \
    int int8q_fused_range_##SUF(const T *x, ptrdiff_t s, ptrdiff_t e,               \
                                const int8q_layout *L, T *scales, int mode,         \
                                int8_t *q, T *d)                                    \
    {                                                                               \
        const U *xb = (const U *)x;                                                 \
        FOR_ROW_PIECES(L, s, e)                                                     \
            /* Whole blocks first, in one call (s is on a block boundary). */      \
            ptrdiff_t nfull = (row_end - i) / L->block;                             \
            if (nfull > 0) {                                                        \
                if (loops->fblocks_##SUF(x + off, nfull, L->block,                  \
                                         scales + base + c / L->block, mode,        \
                                         q + off, d ? d + off : NULL))              \
                    return 1;                                                       \
                i += nfull * L->block;                                              \
                c = i - r * L->n_row;                                               \
                off = i - s;                                                        \
            }                                                                       \
            FOR_BLOCK_PIECES(L)                                                     \
                U m = loops->amax_##SUF(xb + off, blk_end - i);                     \
                T amax, scale;                                                      \
                if (m >= (U)(INF_BITS)) return 1;                                   \
                memcpy(&amax, &m, sizeof amax);                                     \
                scale = amax / (T)127;                                              \
                if (scale == (T)0) scale = (T)1;                                    \
                scales[k] = scale;                                                  \
                loops->quant_##SUF(x + off, blk_end - i, scale, mode, q + off,      \
                                   d ? d + off : NULL);                             \
                i = blk_end;                                                        \
            }                                                                       \
        }                                                                           \
        return 0;                                                                   \
    }                                                                               \
    void int8q_dequantize_range_##SUF(const int8_t *q, ptrdiff_t s, ptrdiff_t e,    \
                                      const int8q_layout *L, const T *scales,       \
                                      T *out)                                       \
    {                                                                               \
        FOR_ROW_PIECES(L, s, e)                                                     \
            if (L->block == 1) {                                                    \
                loops->deqv_##SUF(q + off, row_end - i, scales + base + c, out + off); \
                i = row_end;                                                        \
                continue;                                                           \
            }                                                                       \
            FOR_BLOCK_PIECES(L)                                                     \
                loops->deq_##SUF(q + off, blk_end - i, scales[k], out + off);       \
                i = blk_end;                                                        \
            }                                                                       \
        }                                                                           \
    }

int int8q_q8_0_quantize(const float *x, ptrdiff_t nblocks, uint8_t *out)
{
    return loops->q8_0_quant(x, nblocks, out);
}

void int8q_q8_0_dequantize(const uint8_t *raw, ptrdiff_t nblocks, float *out)
{
    loops->q8_0_dequant(raw, nblocks, out);
}

DEFINE_RANGES(f32, float, int32_t, 0x7f800000)
DEFINE_RANGES(f64, double, int64_t, 0x7ff0000000000000ll)
