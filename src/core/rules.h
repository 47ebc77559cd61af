/* The arithmetic rules every translation unit shares, as inline functions so
 * that vectorized loops can use them: the rounding of a quotient to an
 * integer, the scale rule, the reciprocal the quantize loops multiply by and
 * the asymmetric rule.  This is the one C spelling of each (the NumPy
 * spelling, the oracle, is int8q/reference.py); core/drivers.c exports them
 * to Cython.  The hand-vectorized loops (levels/x86_avx2_f32.h,
 * levels/arm64_neon_f32.h) use the instructions
 * that compute the same rounding (vroundps, FRINTN/FRINTA), and the tests
 * compare them with these on every level. */
#ifndef INT8Q_RULES_H
#define INT8Q_RULES_H

#include <float.h>
#include <math.h>

#if defined(_MSC_VER)
#define INT8Q_INLINE static __forceinline
#define RESTRICT __restrict
#else
#define INT8Q_INLINE static inline __attribute__((always_inline))
#define RESTRICT restrict
#endif

/* Rounding of v to an integer, in v's own type, for |v| <= 2^22 (2^51 for
 * double): half to even by the magic-number addition (the sum lands in a
 * binade whose spacing is 1, so the IEEE addition itself rounds to the
 * nearest integer, ties to even, and the subtraction is exact); half away
 * from zero by stepping away from that even result at a tie (v - n, exact,
 * is +1/2 where n went down to an even n >= 0, -1/2 where it went up to an
 * even n <= 0).  Only selects, which GCC, Clang and MSVC all vectorize. */
#define INT8Q_MAGIC_F32 12582912.0f        /* 1.5 * 2^23 */
#define INT8Q_MAGIC_F64 6755399441055744.0 /* 1.5 * 2^52 */

INT8Q_INLINE float int8q_round_even_f32(float v)
{
    return (v + INT8Q_MAGIC_F32) - INT8Q_MAGIC_F32;
}

INT8Q_INLINE double int8q_round_even_f64(double v)
{
    return (v + INT8Q_MAGIC_F64) - INT8Q_MAGIC_F64;
}

/* `even`: INT8Q_HALF_EVEN's rounding, else INT8Q_HALF_AWAY's. */
INT8Q_INLINE float int8q_round_f32(float v, int even)
{
    float n = int8q_round_even_f32(v);
    if (!even) {
        float df = v - n;
        float up = ((df == 0.5f) & (n >= 0.0f)) ? 1.0f : 0.0f;
        float down = ((df == -0.5f) & (n <= 0.0f)) ? 1.0f : 0.0f;
        n = n + up - down;
    }
    return n;
}

INT8Q_INLINE double int8q_round_f64(double v, int even)
{
    double n = int8q_round_even_f64(v);
    if (!even) {
        double df = v - n;
        double up = ((df == 0.5) & (n >= 0.0)) ? 1.0 : 0.0;
        double down = ((df == -0.5) & (n <= 0.0)) ? 1.0 : 0.0;
        n = n + up - down;
    }
    return n;
}

/* scale = absmax / 127 in the working dtype, 1 where that is 0 (an all-zero
 * tensor, channel or block quantizes to zeros with scale 1). */
INT8Q_INLINE float int8q_scale_rule_f32(float amax)
{
    float s = amax / 127.0f;
    return s == 0.0f ? 1.0f : s;
}

INT8Q_INLINE double int8q_scale_rule_f64(double amax)
{
    double s = amax / 127.0;
    return s == 0.0 ? 1.0 : s;
}

/* fl(1 / s) when the reciprocal path is exact for this scale (see
 * src/templates/loops.h): s and 1 / s both normal.  Otherwise NaN, which makes every
 * element of the scale take the division path.  `bounded` is the caller's
 * promise that |x / s| <= 128. */
INT8Q_INLINE float int8q_recip_f32(float s, int bounded)
{
    /* selects on float, no branches, so that loops over many scales
     * vectorize (an int mask of the comparisons kept GCC's loops scalar) */
    float r = 1.0f / s;
    r = s >= FLT_MIN ? r : (float)NAN;
    r = r >= FLT_MIN ? r : (float)NAN;
    r = r <= FLT_MAX ? r : (float)NAN;
    return bounded ? r : (float)NAN;
}

INT8Q_INLINE double int8q_recip_f64(double s, int bounded)
{
    double r = 1.0 / s;
    r = s >= DBL_MIN ? r : (double)NAN;
    r = r >= DBL_MIN ? r : (double)NAN;
    r = r <= DBL_MAX ? r : (double)NAN;
    return bounded ? r : (double)NAN;
}

/* The asymmetric rule for a range rmin <= 0 <= rmax in the working dtype,
 * onto the integers [qmin, qmax]: scale = (rmax - rmin) / (qmax - qmin), 1
 * where that is 0, and zero point = clip(round_half_even(qmin - rmin /
 * scale), qmin, qmax), every operation in the working dtype.  The clip
 * comes before the rounding (the same result for integer bounds) so that a
 * quotient that overflows (a subnormal scale) rounds like any other.
 * Returns 1, writing nothing, when rmax - rmin overflows, else 0. */
INT8Q_INLINE int int8q_asymmetric_rule_f32(float rmin, float rmax, int qmin, int qmax, float *scale,
                                           int *zero_point)
{
    float width = rmax - rmin, s, v;
    if (!(width <= FLT_MAX))
        return 1;
    s = width / (float)(qmax - qmin);
    s = s == 0.0f ? 1.0f : s;
    v = (float)qmin - rmin / s;
    v = v > (float)qmin ? v : (float)qmin;
    v = v < (float)qmax ? v : (float)qmax;
    *scale = s;
    *zero_point = (int)int8q_round_even_f32(v);
    return 0;
}

INT8Q_INLINE int int8q_asymmetric_rule_f64(double rmin, double rmax, int qmin, int qmax,
                                           double *scale, int *zero_point)
{
    double width = rmax - rmin, s, v;
    if (!(width <= DBL_MAX))
        return 1;
    s = width / (double)(qmax - qmin);
    s = s == 0.0 ? 1.0 : s;
    v = (double)qmin - rmin / s;
    v = v > (double)qmin ? v : (double)qmin;
    v = v < (double)qmax ? v : (double)qmax;
    *scale = s;
    *zero_point = (int)int8q_round_even_f64(v);
    return 0;
}

#endif
