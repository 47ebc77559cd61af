/* The inner loops of one instruction-set level, as a table the drivers in
 * core/ call through.  Each level is its own translation unit
 * (levels/level.c compiled with that level's flags), which fills a table
 * with templates/level_body.h; core/dispatch.c picks a table at run time.
 *
 * All loops are serial and see plain contiguous arrays: x, q, d and out at
 * element 0 of the piece they work on.  See templates/loops.h for what each
 * one computes and why it is exact. */
#ifndef INT8Q_LEVEL_H
#define INT8Q_LEVEL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "core/gather.h"
#include "core/kernels.h"

/* Byte reversal (the compilers' builtins; one instruction each). */
#ifdef _MSC_VER
#include <stdlib.h>
#define int8q_bswap16 _byteswap_ushort
#define int8q_bswap32 _byteswap_ulong
#define int8q_bswap64 _byteswap_uint64
#else
#define int8q_bswap16 __builtin_bswap16
#define int8q_bswap32 __builtin_bswap32
#define int8q_bswap64 __builtin_bswap64
#endif

typedef struct {
    /* max over |x| of the bit patterns (core/kernels.h); 16-bit patterns for
     * float16/bfloat16, whose abs-max order is the same integer order */
    int32_t (*amax_f32)(const int32_t *xb, ptrdiff_t n);
    int64_t (*amax_f64)(const int64_t *xb, ptrdiff_t n);
    int32_t (*amax_b16)(const uint16_t *xb, ptrdiff_t n);
    /* m[i] = max(m[i], |x[r n + i]|) over `rows` rows of n 16-bit patterns */
    void (*amaxv_b16)(const uint16_t *xb, ptrdiff_t rows, ptrdiff_t n, uint16_t *m);
    /* m[b] = max(m[b], abs-max of block b) for nblocks blocks of B */
    void (*amaxb_f32)(const int32_t *xb, ptrdiff_t nblocks, ptrdiff_t B, int32_t *m);
    void (*amaxb_f64)(const int64_t *xb, ptrdiff_t nblocks, ptrdiff_t B, int64_t *m);
    /* m[i] = max(m[i], |x[r n + i]|) over `rows` rows of n, on bit patterns
     * (per-channel, last axis) */
    void (*amaxv_f32)(const int32_t *xb, ptrdiff_t rows, ptrdiff_t n, int32_t *m);
    void (*amaxv_f64)(const int64_t *xb, ptrdiff_t rows, ptrdiff_t n, int64_t *m);

    /* q = clip(round(x / s)), d = q * s when d is not NULL; r = fl(1 / s) or
     * NaN from int8q_recip_*.  One scale for the n elements (quant), one per
     * element (quantv), or nblocks blocks of B with their own (quantb). */
    void (*quant_f32)(const float *x, ptrdiff_t n, float s, float r, int mode, int8_t *q, float *d);
    void (*quant_f64)(const double *x, ptrdiff_t n, double s, double r, int mode, int8_t *q,
                      double *d);
    void (*quantv_f32)(const float *x, ptrdiff_t n, const float *s, const float *r, int mode,
                       int8_t *q, float *d);
    void (*quantv_f64)(const double *x, ptrdiff_t n, const double *s, const double *r, int mode,
                       int8_t *q, double *d);
    void (*quantb_f32)(const float *x, ptrdiff_t nblocks, ptrdiff_t B, const float *s, int bounded,
                       int mode, int8_t *q, float *d);
    void (*quantb_f64)(const double *x, ptrdiff_t nblocks, ptrdiff_t B, const double *s,
                       int bounded, int mode, int8_t *q, double *d);

    /* Whole blocks abs-maxed, scaled and quantized while in cache; returns 1
     * (leaving that block and later ones unwritten) at a NaN/inf block. */
    int (*fused_f32)(const float *x, ptrdiff_t nblocks, ptrdiff_t B, float *scales, int mode,
                     int8_t *q, float *d);
    int (*fused_f64)(const double *x, ptrdiff_t nblocks, ptrdiff_t B, double *scales, int mode,
                     int8_t *q, double *d);

    /* out = q * s: one scale, one per element, or per block of B */
    void (*deq_f32)(const int8_t *q, ptrdiff_t n, float s, float *out);
    void (*deq_f64)(const int8_t *q, ptrdiff_t n, double s, double *out);
    void (*deqv_f32)(const int8_t *q, ptrdiff_t n, const float *s, float *out);
    void (*deqv_f64)(const int8_t *q, ptrdiff_t n, const double *s, double *out);
    /* one scale per column of `rows` rows of n */
    void (*deqvr_f32)(const int8_t *q, ptrdiff_t rows, ptrdiff_t n, const float *s, float *out);
    void (*deqvr_f64)(const int8_t *q, ptrdiff_t rows, ptrdiff_t n, const double *s, double *out);
    void (*deqb_f32)(const int8_t *q, ptrdiff_t nblocks, ptrdiff_t B, const float *s, float *out);
    void (*deqb_f64)(const int8_t *q, ptrdiff_t nblocks, ptrdiff_t B, const double *s, double *out);

    /* elements of a strided or byte-swapped input (core/gather.h) */
    int8q_gather_loops gather;

    /* exact widening of half-precision bit patterns to float32 */
    void (*f16_to_f32)(const uint16_t *h, ptrdiff_t n, float *out);
    void (*bf16_to_f32)(const uint16_t *h, ptrdiff_t n, float *out);

    /* GGML Q8_0 (core/kernels.h) */
    int (*q8_0_quant)(const float *x, ptrdiff_t nblocks, uint8_t *out);
    void (*q8_0_dequant)(const uint8_t *raw, ptrdiff_t nblocks, float *out);

    /* given scales and zero points, and clip="mse"'s error tables
     * (core/affine.h: int8q_affine_range_*, int8q_mse_errors_range_*) */
    int (*affine_f32)(const float *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                      const float *scales, const int32_t *zps, int qmin, int qmax, int mode,
                      int out_unsigned, void *q);
    int (*affine_f64)(const double *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                      const double *scales, const int32_t *zps, int qmin, int qmax, int mode,
                      int out_unsigned, void *q);
    /* out = (q - zps[k]) * scales[k], q int8 or uint8 (q_unsigned) */
    void (*affine_deq_f32)(const void *q, int q_unsigned, ptrdiff_t s, ptrdiff_t e,
                           const int8q_layout *L, const float *scales, const int32_t *zps,
                           float *out);
    void (*affine_deq_f64)(const void *q, int q_unsigned, ptrdiff_t s, ptrdiff_t e,
                           const int8q_layout *L, const double *scales, const int32_t *zps,
                           double *out);
    void (*mse_f32)(const float *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                    const float *cand, int ncand, int mode, double *err);
    void (*mse_f64)(const double *x, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                    const double *cand, int ncand, int mode, double *err);
    /* lo[k] = min(lo[k], key), hi[k] = max(hi[k], key) over the order keys
     * of the bit patterns of every element with scale k (core/affine.h:
     * int8q_minmax) */
    void (*minmax_f32)(const int32_t *xb, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                       int32_t *lo, int32_t *hi);
    void (*minmax_f64)(const int64_t *xb, ptrdiff_t s, ptrdiff_t e, const int8q_layout *L,
                       int64_t *lo, int64_t *hi);

    /* zlib's CRC-32 of n bytes continued from crc; NULL on levels without a
     * fast one (the caller uses zlib's) */
    uint32_t (*crc32)(uint32_t crc, const unsigned char *p, size_t n);

    /* n bytes from src (a tile in cache) to dst with streaming stores, any
     * alignment (partial lines at either end stored normally), and the fence
     * that orders them before a thread's work is seen done; NULL on levels
     * without streaming stores (core/threads.h: int8q_stream_output) */
    void (*stream_copy)(void *dst, const void *src, size_t n);
    void (*stream_fence)(void);
} int8q_loops;

/* The table of the level in use (int8q_isa_select, core/dispatch.c). */
const int8q_loops *int8q_current_loops(void);

/* Each level's table (levels/level.c), NULL where the build left it out. */
const int8q_loops *int8q_level_baseline(void);
#define INT8Q_LEVEL(name, arch, gnu_flags, msvc_flags, features, loops)                            \
    const int8q_loops *int8q_level_##name(void);
#include "levels/levels.def"
#undef INT8Q_LEVEL

/* float32 -> float16 bits, round to nearest even, as NumPy's astype does
 * (F. Giesen's float_to_half_fast3_rtne).  Exact for every input. */
static inline uint16_t int8q_half_from_float(float value)
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
        f += mant_odd;                              /* ties to even */
        o = (uint16_t)(f >> 13);
    }
    return (uint16_t)(o | (sign >> 16));
}

/* float16 bits -> float32, exact (NaN payloads kept, as NumPy does). */
static inline float int8q_half_to_float(uint16_t h)
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

#endif
