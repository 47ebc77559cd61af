/* CRC-32 (the ZIP and zlib checksum: reflected polynomial 0xEDB88320) with
 * carry-less multiplication, for the x86 levels (PCLMULQDQ, which every CPU
 * with AVX2 has: GCC/Clang -mpclmul, MSVC without a flag).  Included by
 * templates/level_body.h.
 *
 * Why: .npz archives carry a CRC-32 per member, which reading checks and
 * writing computes.  zlib's table-driven CRC-32 runs at about 3.7 GB/s on
 * the project's AMD EPYC (Zen 3), which made the checksum a larger cost than
 * reading the bytes; folding 64 bytes at a time with PCLMULQDQ runs near the
 * memory bandwidth.
 *
 * The method: "Fast CRC Computation for Generic Polynomials Using PCLMULQDQ
 * Instruction" (V. Gopal, E. Ozturk et al., Intel, 2009): four 128-bit lanes
 * folded forward 512 bits at a time, folded into one lane, then 16 bytes at
 * a time, reduced to 64 and then 32 bits (Barrett).  The constants are the
 * paper's for the bit-reflected polynomial: x^(k) mod P(x) for the fold
 * distances, P(x) itself and floor(x^64 / P(x)).  Bytes before the first 64
 * and after the last 16 go bit by bit.  The result is zlib.crc32's, for any
 * length and start value (the test suite compares them). */

#include <immintrin.h>
#include <wmmintrin.h>

#define CRC32_POLY 0xEDB88320u

/* The CRC register (not inverted) after n bytes at p, bit by bit. */
static uint32_t crc32_bits(uint32_t c, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (CRC32_POLY & (0u - (c & 1u)));
    }
    return c;
}

/* The CRC register after n bytes at p, n >= 64 and a multiple of 16. */
static uint32_t crc32_fold(uint32_t c, const unsigned char *p, size_t n)
{
    const __m128i k1k2 = _mm_set_epi64x(0x01c6e41596, 0x0154442bd4); /* fold 512 bits */
    const __m128i k3k4 = _mm_set_epi64x(0x00ccaa009e, 0x01751997d0); /* fold 128 bits */
    const __m128i k5 = _mm_set_epi64x(0, 0x0163cd6124);              /* 64 to 32 bits */
    const __m128i poly = _mm_set_epi64x(0x01f7011641, 0x01db710641); /* Barrett: mu, P */
    const __m128i low32 = _mm_setr_epi32(-1, 0, -1, 0);
    __m128i x1 = _mm_loadu_si128((const __m128i *)p), x2, x3, x4, t;
    x2 = _mm_loadu_si128((const __m128i *)(p + 16));
    x3 = _mm_loadu_si128((const __m128i *)(p + 32));
    x4 = _mm_loadu_si128((const __m128i *)(p + 48));
    x1 = _mm_xor_si128(x1, _mm_cvtsi32_si128((int)c));
    p += 64, n -= 64;
    for (; n >= 64; p += 64, n -= 64) {
#define FOLD(x, off)                                                                               \
    t = _mm_clmulepi64_si128(x, k1k2, 0x00);                                                       \
    x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k1k2, 0x11), t),                       \
                      _mm_loadu_si128((const __m128i *)(p + off)))
        FOLD(x1, 0);
        FOLD(x2, 16);
        FOLD(x3, 32);
        FOLD(x4, 48);
#undef FOLD
    }
    /* the four lanes into one, then 16 bytes at a time */
#define FOLD1(x, next)                                                                             \
    t = _mm_clmulepi64_si128(x, k3k4, 0x00);                                                       \
    x = _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(x, k3k4, 0x11), next), t)
    FOLD1(x1, x2);
    FOLD1(x1, x3);
    FOLD1(x1, x4);
    for (; n >= 16; p += 16, n -= 16) {
        FOLD1(x1, _mm_loadu_si128((const __m128i *)p));
    }
#undef FOLD1
    /* 128 to 64 bits, 64 to 32, then Barrett's reduction */
    t = _mm_clmulepi64_si128(x1, k3k4, 0x10);
    x1 = _mm_xor_si128(_mm_srli_si128(x1, 8), t);
    t = _mm_srli_si128(x1, 4);
    x1 = _mm_xor_si128(_mm_clmulepi64_si128(_mm_and_si128(x1, low32), k5, 0x00), t);
    t = _mm_clmulepi64_si128(_mm_and_si128(x1, low32), poly, 0x10);
    t = _mm_clmulepi64_si128(_mm_and_si128(t, low32), poly, 0x00);
    return (uint32_t)_mm_extract_epi32(_mm_xor_si128(x1, t), 1);
}

/* zlib.crc32(p[0:n], crc). */
static uint32_t crc32_clmul(uint32_t crc, const unsigned char *p, size_t n)
{
    uint32_t c = ~crc;
    if (n >= 64) {
        size_t body = n & ~(size_t)15;
        c = crc32_fold(c, p, body);
        p += body, n -= body;
    }
    return ~crc32_bits(c, p, n);
}
