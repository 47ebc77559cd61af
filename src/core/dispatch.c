/* Run-time instruction-set dispatch: the levels of levels/levels.def, which
 * of them this build has and this CPU runs, and the table of loops in use.
 * Compiled with the baseline flags. */
#include "core/kernels.h"
#include "levels/table.h"

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#define INT8Q_X86 1
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define INT8Q_X86 1
#else
#define INT8Q_X86 0
#endif

/* CPU features a level's flags may need (levels/levels.def), each with the
 * OS support for its registers. */
enum {
    INT8Q_CPU_AVX2 = 1 << 0,  /* AVX, AVX2, FMA, F16C, PCLMULQDQ; YMM state */
    INT8Q_CPU_AVX512 = 1 << 1 /* AVX-512 F, DQ, BW, VL; opmask and ZMM state */
};

/* Each level: its name, the flags its translation unit was built with, the
 * features it needs and its table (NULL when the build left it out). */
typedef struct {
    const char *name, *flags;
    unsigned features;
    const int8q_loops *(*table)(void);
} level_info;

#ifdef _MSC_VER
#define LEVEL_FLAGS(gnu_flags, msvc_flags) msvc_flags
#else
#define LEVEL_FLAGS(gnu_flags, msvc_flags) gnu_flags
#endif

static const level_info levels[INT8Q_ISA_COUNT] = {
    {"baseline", "", 0, int8q_level_baseline},
#define INT8Q_LEVEL(name, gnu_flags, msvc_flags, features)                                         \
    {#name, LEVEL_FLAGS(gnu_flags, msvc_flags), features, int8q_level_##name},
#include "levels/levels.def"
#undef INT8Q_LEVEL
};

static const int8q_loops *loops = NULL; /* the level in use; baseline until selected */
static int current_level = INT8Q_ISA_BASELINE;

const char *int8q_isa_name(int level)
{
    return level >= 0 && level < INT8Q_ISA_COUNT ? levels[level].name : "?";
}

const char *int8q_isa_flags(int level)
{
    return level >= 0 && level < INT8Q_ISA_COUNT ? levels[level].flags : "";
}

int int8q_isa_compiled(int level)
{
    return level >= 0 && level < INT8Q_ISA_COUNT && levels[level].table() != NULL;
}

#if INT8Q_X86
static void cpuid(unsigned leaf, unsigned sub, unsigned r[4])
{
#ifdef _MSC_VER
    int regs[4];
    __cpuidex(regs, (int)leaf, (int)sub);
    r[0] = (unsigned)regs[0], r[1] = (unsigned)regs[1];
    r[2] = (unsigned)regs[2], r[3] = (unsigned)regs[3];
#else
    r[0] = r[1] = r[2] = r[3] = 0;
    __get_cpuid_count(leaf, sub, &r[0], &r[1], &r[2], &r[3]);
#endif
}

/* The register state the OS saves on context switches (XCR0). */
static unsigned long long xcr0(void)
{
#ifdef _MSC_VER
    return _xgetbv(0);
#else
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    return ((unsigned long long)hi << 32) | lo;
#endif
}
#endif

/* The INT8Q_CPU_* features this CPU and OS have. */
static unsigned cpu_features(void)
{
    unsigned have = 0;
#if INT8Q_X86
    unsigned l1[4], l7[4];
    cpuid(0, 0, l1);
    if (l1[0] < 7)
        return 0;
    cpuid(1, 0, l1);
    cpuid(7, 0, l7);
    /* OSXSAVE, AVX, FMA, F16C, PCLMULQDQ; AVX2; XMM and YMM state */
    if ((l1[2] >> 27 & 1) && (l1[2] >> 28 & 1) && (l1[2] >> 12 & 1) && (l1[2] >> 29 & 1) &&
        (l1[2] >> 1 & 1) && (l7[1] >> 5 & 1) && (xcr0() & 0x6) == 0x6)
        have |= INT8Q_CPU_AVX2;
    /* AVX-512 F, DQ, BW, VL; opmask and ZMM state */
    if ((l7[1] >> 16 & 1) && (l7[1] >> 17 & 1) && (l7[1] >> 30 & 1) && (l7[1] >> 31 & 1) &&
        (xcr0() & 0xe6) == 0xe6)
        have |= INT8Q_CPU_AVX512;
#endif
    return have;
}

/* Whether this CPU and OS run `level`. */
static int cpu_supports(int level)
{
    unsigned need = levels[level].features;
    return (cpu_features() & need) == need;
}

int int8q_isa_detect(void)
{
    int level;
    for (level = INT8Q_ISA_COUNT - 1; level > INT8Q_ISA_BASELINE; level--)
        if (int8q_isa_compiled(level) && cpu_supports(level))
            return level;
    return INT8Q_ISA_BASELINE;
}

int int8q_isa_select(int level)
{
    if (!int8q_isa_compiled(level) || !cpu_supports(level))
        return -1;
    loops = levels[level].table();
    current_level = level;
    return 0;
}

int int8q_isa_current(void)
{
    return current_level;
}

const int8q_loops *int8q_current_loops(void)
{
    return loops ? loops : int8q_level_baseline();
}
