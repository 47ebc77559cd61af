/* Digests of what the C core computes on a fixed set of adversarial inputs,
 * for tools/verify/check_arm64.sh: the same program built for x86-64 (every SIMD
 * level this CPU has) and for arm64 (run under qemu-aarch64) must print the
 * same lines, which shows the arm64 loops bit-identical to the x86 ones
 * (themselves tested against int8q.reference by the test suite).
 *
 * Usage: check_arm64 [level]   (0 baseline, 1 avx2, 2 avx512; default: the
 * best this CPU runs).  One line per case: name, status, FNV-1a digest of
 * every output byte. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/affine.h"
#include "core/kernels.h"

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t next_u64(void)
{
    /* splitmix64: the same sequence on every platform */
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static double uniform(void)
{
    return (double)(next_u64() >> 11) * (1.0 / 9007199254740992.0);
}

static uint64_t digest(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

#define N 40000 /* elements per case: many tiles, blocks and steps */

/* Values that probe the rounding: normal data, exact ties of the scale that
 * the abs-max gives, values a hair off ties, subnormals, zeros of both signs
 * and blocks of wildly different magnitudes. */
static void fill(double *x, int variant)
{
    for (int i = 0; i < N; i++) {
        double u = uniform() * 2 - 1, v;
        switch ((i / 97 + variant) % 6) {
        case 0:
            v = u * 3;
            break;
        case 1:
            v = (floor(u * 127) + 0.5) / 127 * 2; /* ties once scaled */
            break;
        case 2:
            v = ldexp(u, -140); /* float32 subnormals */
            break;
        case 3:
            v = i % 7 ? u * 1e-3 : -0.0;
            break;
        case 4:
            v = nextafter((floor(u * 254) + 0.5) / 127, 10.0); /* just off ties */
            break;
        default:
            v = u * ldexp(1.0, (int)(uniform() * 40) - 20);
        }
        x[i] = v;
    }
    x[N / 2] = 2.0; /* the abs-max of the whole tensor: scale 2/127 */
}

static uint16_t half_bits(float f)
{
    /* float32 -> float16, round to nearest even (NumPy's astype) */
    uint32_t b, sign, mant, e;
    memcpy(&b, &f, 4);
    sign = (b >> 16) & 0x8000u;
    b &= 0x7fffffffu;
    if (b >= 0x47800000u) /* overflow, inf, NaN */
        return (uint16_t)(sign | (b > 0x7f800000u ? 0x7e00u : 0x7c00u));
    if (b < 0x38800000u) { /* subnormal or zero half */
        float a;
        memcpy(&a, &b, 4);
        return (uint16_t)(sign | (uint32_t)lrintf(a * 16777216.0f));
    }
    e = b >> 23, mant = b & 0x7fffffu;
    b = ((e - 112) << 10) | (mant >> 13);
    mant &= 0x1fffu;
    if (mant > 0x1000u || (mant == 0x1000u && (b & 1)))
        b++;
    return (uint16_t)(sign | b);
}

typedef struct {
    const char *name;
    ptrdiff_t n_row, block, cmod, nb;
    int fused;
} layout_case;

static const layout_case LAYOUTS[] = {
    {"tensor", N, N, 1, 1, 0},
    {"block32", 32, 32, N / 32, 1, 1},
    {"block32-twopass", 32, 32, N / 32, 1, 0},
    {"block32-rows", 400, 32, N / 400, 13, 1}, /* rows of 400: a short last block */
    {"block256", 1000, 256, N / 1000, 4, 1},
    {"block16", 16, 16, N / 16, 1, 1}, /* short blocks: spread over tiles */
    {"block7-rows", 2000, 7, N / 2000, 286, 1},
    {"block7-rows-twopass", 2000, 7, N / 2000, 286, 0},
    {"block100-rows", 2000, 100, N / 2000, 20, 1},
    {"block64-rows", 2000, 64, N / 2000, 32, 1}, /* avx512: sixteen blocks at a time */
    {"block64-rows-twopass", 2000, 64, N / 2000, 32, 0},
    {"block128-rows", 4000, 128, N / 4000, 32, 1},
    {"channels-last", 1000, 1, 1, 1000, 0},    /* one scale per element of a row */
    {"channels-last-narrow", 10, 1, 1, 10, 0}, /* rows of 10: taken 25 at a time */
    {"channels-mid", 100, 100, 8, 1, 0},       /* rows share scales modulo 8 */
};

static void run_layouts(const char *dtype, int kind, const void *x, int f64)
{
    size_t ws = f64 ? 8 : 4;
    int8_t *q = malloc(N);
    void *d = malloc(N * ws), *scales = malloc(N * ws), *back = malloc(N * ws);
    for (size_t c = 0; c < sizeof LAYOUTS / sizeof LAYOUTS[0]; c++) {
        const layout_case *lc = &LAYOUTS[c];
        int8q_layout L = {lc->n_row, lc->block, lc->cmod, lc->nb};
        ptrdiff_t nscales = lc->cmod * lc->nb;
        for (int mode = 0; mode < 2; mode++)
            for (int dq = 0; dq < 2; dq++) {
                uint64_t h = 0xcbf29ce484222325ull;
                int status;
                memset(q, 0, N);
                memset(d, 0, N * ws);
                memset(scales, 0, N * ws);
                status = int8q_quantize_all(x, kind, N, 0, &L, scales, nscales, lc->fused, mode, q,
                                            dq ? d : NULL, 1);
                if (status != INT8Q_OK) { /* outputs then partly written, and dropped */
                    printf("quantize %s %s mode=%d dq=%d: %d\n", dtype, lc->name, mode, dq, status);
                    continue;
                }
                h = digest(h, q, N);
                h = digest(h, scales, (size_t)nscales * ws);
                if (dq)
                    h = digest(h, d, N * ws);
                if (!dq && mode == 0) {
                    int8q_dequantize(q, N, 0, &L, scales, f64, back, 1);
                    h = digest(h, back, N * ws);
                }
                printf("quantize %s %s mode=%d dq=%d: %d %016llx\n", dtype, lc->name, mode, dq,
                       status, (unsigned long long)h);
            }
    }
    {
        /* a given per-tensor scale, one that bounds the data and one that
         * saturates most of it */
        double given[2] = {2.0 / 127, 1e-3};
        for (int g = 0; g < 2; g++)
            for (int mode = 0; mode < 2; mode++) {
                float s32 = (float)given[g];
                uint64_t h = 0xcbf29ce484222325ull;
                int status =
                    int8q_quantize_given(x, kind, N, f64 ? (void *)&given[g] : &s32, g, mode, q, 1);
                if (status == INT8Q_OK)
                    h = digest(h, q, N);
                printf("given %s scale=%g mode=%d: %d %016llx\n", dtype, given[g], mode, status,
                       (unsigned long long)h);
            }
    }
    if (kind == INT8Q_IN_F64 || kind == INT8Q_IN_F32) {
        /* given scales and zero points per block of 32 (int8 and uint8
         * outputs), and clip="mse"'s error table per tensor */
        int8q_layout L = {32, 32, N / 32, 1};
        int32_t *zps = malloc(N / 32 * sizeof(int32_t));
        double *err = calloc(16, sizeof(double)), *cand = malloc(16 * sizeof(double));
        float *cand32 = malloc(16 * sizeof(float));
        int8q_layout one = {N, N, 1, 1};
        for (int k = 0; k < N / 32; k++) {
            double sk = ldexp(1.0, k % 9 - 6) * (1 + (k % 5) / 7.0);
            if (f64)
                ((double *)scales)[k] = sk;
            else
                ((float *)scales)[k] = (float)sk;
            zps[k] = k % 7 - 3;
        }
        for (int c = 0; c < 16; c++)
            cand32[c] = (float)(cand[c] = 2.0 / 127 * (16 - c) / 16);
        for (int mode = 0; mode < 2; mode++)
            for (int u = 0; u < 2; u++) {
                uint64_t h = 0xcbf29ce484222325ull;
                int bad;
                for (int k = 0; u && k < N / 32; k++)
                    zps[k] = 100 + k % 50;
                bad = int8q_affine(x, f64, N, 0, &L, scales, zps, u ? 0 : -128, u ? 255 : 127,
                                   mode, u, q, 1);
                if (!bad)
                    h = digest(h, q, N);
                printf("affine %s mode=%d uint8=%d: %d %016llx\n", dtype, mode, u, bad,
                       (unsigned long long)h);
            }
        {
            uint64_t h = 0xcbf29ce484222325ull;
            int8q_mse_errors(x, f64, N, 0, &one, f64 ? (const void *)cand : (const void *)cand32,
                             16, 0, err, 0, 1);
            h = digest(h, err, 16 * sizeof(double));
            printf("mse %s: %016llx\n", dtype, (unsigned long long)h);
        }
        free(zps), free(err), free(cand), free(cand32);
    }
    free(q), free(d), free(scales), free(back);
}

int main(int argc, char **argv)
{
    static double x64[N];
    static float x32[N];
    static uint16_t x16[N], xb16[N];
    static uint8_t raw[N / 32 * 34];
    static float back[N];
    int level = argc > 1 ? atoi(argv[1]) : int8q_isa_detect();
    if (int8q_isa_select(level) != 0) {
        fprintf(stderr, "level %d is not available here\n", level);
        return 2;
    }
    {
        /* every float16 bit pattern as a Q8_0 block's d (NaN payloads,
         * signalling NaNs and subnormals included), dequantized: each NaN
         * comes out quieted with its payload */
        enum { ALL = 65536 };
        uint8_t *blocks = malloc((size_t)ALL * 34);
        float *vals = malloc((size_t)ALL * 32 * sizeof(float));
        uint64_t h = 0xcbf29ce484222325ull;
        for (int k = 0; k < ALL; k++) {
            blocks[34 * k] = (uint8_t)(k & 0xff);
            blocks[34 * k + 1] = (uint8_t)(k >> 8);
            for (int j = 0; j < 32; j++)
                /* -128 .. 120 without 0: 0 * inf would be the platform's
                 * default NaN, whose sign differs between x86 and arm64 */
                blocks[34 * k + 2 + j] = (uint8_t)(j == 16 ? 1 : j * 8 - 128);
        }
        int8q_q8_0_dequantize(blocks, ALL, vals, 1);
        h = digest(h, vals, (size_t)ALL * 32 * sizeof(float));
        printf("q8_0 dequantize, every float16 d: %016llx\n", (unsigned long long)h);
        free(blocks), free(vals);
    }
    for (int variant = 0; variant < 3; variant++) {
        fill(x64, variant);
        if (variant == 2)
            x64[N - 5] = NAN; /* found by every path */
        for (int i = 0; i < N; i++) {
            uint32_t b;
            x32[i] = (float)x64[i];
            x16[i] = half_bits(x32[i]);
            memcpy(&b, &x32[i], 4);
            xb16[i] = (uint16_t)(b >> 16);
        }
        printf("-- variant %d\n", variant);
        run_layouts("f64", INT8Q_IN_F64, x64, 1);
        run_layouts("f32", INT8Q_IN_F32, x32, 0);
        run_layouts("f16", INT8Q_IN_F16, x16, 0);
        run_layouts("bf16", INT8Q_IN_BF16, xb16, 0);
        for (int kind = 0; kind < 4; kind++) {
            const void *src = kind == INT8Q_IN_F32   ? (const void *)x32
                              : kind == INT8Q_IN_F64 ? (const void *)x64
                              : kind == INT8Q_IN_F16 ? (const void *)x16
                                                     : (const void *)xb16;
            uint64_t h = 0xcbf29ce484222325ull;
            int status;
            memset(raw, 0, sizeof raw);
            status = int8q_q8_0_quantize(src, kind, N / 32, raw, 1);
            if (status == INT8Q_OK) {
                h = digest(h, raw, sizeof raw);
                int8q_q8_0_dequantize(raw, N / 32, back, 1);
                h = digest(h, back, sizeof back);
            }
            printf("q8_0 kind=%d: %d %016llx\n", kind, status, (unsigned long long)h);
        }
    }
    return 0;
}
