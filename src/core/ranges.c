/* The range kernels of templates/ranges.h for float32 work (which also
 * reads float16 and bfloat16) and float64 work, which the drivers of
 * core/drivers.h hand their slices to.  Compiled with the baseline flags;
 * the inner loops are the current level's (levels/table.h). */
#include "core/drivers.h"
#include "core/layout.h"
#include "core/rules.h"

#include <string.h>

/* The float32 bit pattern of a non-negative half-precision bit pattern
 * (monotone, so the max of patterns maps to the max of values; NaN and inf
 * stay above every finite value). */
static int32_t half_bits_as_f32_bits(int kind, int32_t h)
{
    int32_t bits;
    float f;
    if (kind == INT8Q_IN_BF16)
        return h << 16;
    f = int8q_half_to_float((uint16_t)h);
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

#define T float
#define U int32_t
#define SUF f32
#define INF_BITS 0x7f800000
#define SCALE_RULE int8q_scale_rule_f32
#define RECIP int8q_recip_f32
#define HALF_INPUT 1
#include "templates/ranges.h"
#undef T
#undef U
#undef SUF
#undef INF_BITS
#undef SCALE_RULE
#undef RECIP
#undef HALF_INPUT

#define T double
#define U int64_t
#define SUF f64
#define INF_BITS 0x7ff0000000000000ll
#define SCALE_RULE int8q_scale_rule_f64
#define RECIP int8q_recip_f64
#define HALF_INPUT 0
#include "templates/ranges.h"
#undef T
#undef U
#undef SUF
#undef INF_BITS
#undef SCALE_RULE
#undef RECIP
#undef HALF_INPUT
