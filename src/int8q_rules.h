/* The arithmetic rules every translation unit shares, as inline functions so
 * that vectorized loops can use them: the scale rule and the reciprocal the
 * quantize loops multiply by.  One home each; int8q_kernels.c exports the
 * scale rule to Cython (int8q_scale_f32/_f64). */
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
 * int8q_loops.h): s and 1 / s both normal.  Otherwise NaN, which makes every
 * element of the scale take the division path.  `bounded` is the caller's
 * promise that |x / s| <= 128. */
INT8Q_INLINE float int8q_recip_f32(float s, int bounded)
{
    float r = 1.0f / s;
    int ok = bounded && s >= FLT_MIN && r >= FLT_MIN && r <= FLT_MAX;
    return ok ? r : (float)NAN;
}

INT8Q_INLINE double int8q_recip_f64(double s, int bounded)
{
    double r = 1.0 / s;
    int ok = bounded && s >= DBL_MIN && r >= DBL_MIN && r <= DBL_MAX;
    return ok ? r : (double)NAN;
}

#endif
