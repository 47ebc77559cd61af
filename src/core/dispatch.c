/* Run-time instruction-set dispatch: the levels of levels/levels.def, which
 * of them this build has and this CPU runs, and the table of loops in use.
 * Compiled with the baseline flags. */
#include "core/kernels.h"
#include "core/threads.h"
#include "levels/table.h"

#include <string.h>

#if defined(_MSC_VER) && (defined(_M_X64) || defined(_M_IX86))
#include <intrin.h>
#define INT8Q_X86 1
#elif (defined(__GNUC__) || defined(__clang__)) && (defined(__x86_64__) || defined(__i386__))
#include <cpuid.h>
#define INT8Q_X86 1
#else
#define INT8Q_X86 0
#endif

#if (defined(__aarch64__) || defined(_M_ARM64)) && defined(__linux__)
#include <sys/auxv.h>
#ifndef AT_HWCAP2
#define AT_HWCAP2 26
#endif
#define INT8Q_ARM64_LINUX 1
#else
#define INT8Q_ARM64_LINUX 0
#endif
#if (defined(__aarch64__) || defined(_M_ARM64)) && defined(__APPLE__)
#include <sys/sysctl.h>
#define INT8Q_ARM64_APPLE 1
#else
#define INT8Q_ARM64_APPLE 0
#endif

/* Each level: its name, the flags its translation unit was built with, the
 * CPU features it needs (names of the table below) and its table (NULL when
 * the build left it out). */
typedef struct {
    const char *name, *flags, *features;
    const int8q_loops *(*table)(void);
} level_info;

#ifdef _MSC_VER
#define LEVEL_FLAGS(gnu_flags, msvc_flags) msvc_flags
#else
#define LEVEL_FLAGS(gnu_flags, msvc_flags) gnu_flags
#endif

static const level_info levels[INT8Q_ISA_COUNT] = {
    {"baseline", "", "", int8q_level_baseline},
#define INT8Q_LEVEL(name, arch, gnu_flags, msvc_flags, features, loops)                            \
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

/* ------------------------------------------------------------------------ */
/* The CPU features a level of levels/levels.def may name, for the
 * architecture this file is compiled for, and how each is tested.  A name
 * not in the table (another architecture's, or one not added here yet) is a
 * feature this CPU lacks. */

#if INT8Q_X86
enum { EAX, EBX, ECX, EDX };

/* A CPUID bit (leaf, subleaf, register, bit), or, when xcr0 is not 0, the
 * register state the OS saves on context switches (XCR0, read only where
 * CPUID says OSXSAVE) that the feature's registers need. */
static const struct {
    const char *name;
    unsigned leaf, sub, reg, bit;
    unsigned long long xcr0;
} features[] = {
    {"sse3", 1, 0, ECX, 0, 0},
    {"pclmulqdq", 1, 0, ECX, 1, 0},
    {"ssse3", 1, 0, ECX, 9, 0},
    {"fma", 1, 0, ECX, 12, 0},
    {"sse4_1", 1, 0, ECX, 19, 0},
    {"sse4_2", 1, 0, ECX, 20, 0},
    {"popcnt", 1, 0, ECX, 23, 0},
    {"avx", 1, 0, ECX, 28, 0},
    {"f16c", 1, 0, ECX, 29, 0},
    {"bmi1", 7, 0, EBX, 3, 0},
    {"avx2", 7, 0, EBX, 5, 0},
    {"bmi2", 7, 0, EBX, 8, 0},
    {"avx512f", 7, 0, EBX, 16, 0},
    {"avx512dq", 7, 0, EBX, 17, 0},
    {"avx512ifma", 7, 0, EBX, 21, 0},
    {"avx512cd", 7, 0, EBX, 28, 0},
    {"avx512bw", 7, 0, EBX, 30, 0},
    {"avx512vl", 7, 0, EBX, 31, 0},
    {"avx512vbmi", 7, 0, ECX, 1, 0},
    {"avx512vbmi2", 7, 0, ECX, 6, 0},
    {"gfni", 7, 0, ECX, 8, 0},
    {"vpclmulqdq", 7, 0, ECX, 10, 0},
    {"avx512vnni", 7, 0, ECX, 11, 0},
    {"avx512bitalg", 7, 0, ECX, 12, 0},
    {"avx512vpopcntdq", 7, 0, ECX, 14, 0},
    {"avx512fp16", 7, 0, EDX, 23, 0},
    {"avxvnni", 7, 1, EAX, 4, 0},
    {"avx512bf16", 7, 1, EAX, 5, 0},
    {"ymm", 0, 0, 0, 0, 0x6},  /* XMM and YMM state */
    {"zmm", 0, 0, 0, 0, 0xe6}, /* and opmask, ZMM_Hi256, Hi16_ZMM */
};

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

/* The bits (by index in features[]) of the features this CPU and OS have:
 * the CPUID leaves the table reads (1, and 7 with subleaves 0 and 1), each
 * only where the CPU has it. */
static unsigned long long cpu_have(void)
{
    unsigned l1[4] = {0}, l7[2][4] = {{0}}, top[4];
    unsigned long long state = 0, have = 0;
    cpuid(0, 0, top);
    if (top[0] >= 1)
        cpuid(1, 0, l1);
    if (top[0] >= 7) {
        cpuid(7, 0, l7[0]);
        if (l7[0][0] >= 1) /* EAX: the last subleaf of leaf 7 */
            cpuid(7, 1, l7[1]);
    }
    if (l1[ECX] >> 27 & 1) /* OSXSAVE: XGETBV is there */
        state = xcr0();
    for (size_t k = 0; k < sizeof features / sizeof features[0]; k++) {
        int on;
        if (features[k].xcr0)
            on = (state & features[k].xcr0) == features[k].xcr0;
        else
            on = ((features[k].leaf == 1 ? l1 : l7[features[k].sub])[features[k].reg] >>
                      features[k].bit &
                  1) != 0;
        have |= (unsigned long long)on << k;
    }
    return have;
}

/* The largest data or unified cache one core sees, from CPUID's
 * deterministic cache parameters (leaf 4 on Intel, 0x8000001D on AMD and
 * Hygon, one subleaf per cache): the size of one instance (an AMD CCX's L3,
 * not the socket's), which is the one the core's outputs compete for.  The
 * C libraries' answers differ (glibc 2.36 reports 320 MiB on a 32 MiB AMD
 * EPYC guest).  0 where the CPU does not say. */
/* Whether the CPU is AMD's (or Hygon's, the same cores): "Auth"enticAMD,
 * "Hygo"nGenuine in CPUID leaf 0. */
static int amd_cores(void)
{
    unsigned r[4];
    cpuid(0, 0, r);
    return r[EBX] == 0x68747541u || r[EBX] == 0x6f677948u;
}

int int8q_cpu_is_amd(void)
{
    return amd_cores();
}

ptrdiff_t int8q_cpu_cache_bytes(void)
{
    unsigned r[4], leaf = 4, best = 0;
    unsigned long long size = 0;
    cpuid(0, 0, r);
    if (amd_cores()) {
        cpuid(0x80000000u, 0, r);
        if (r[EAX] < 0x8000001Du)
            return 0;
        leaf = 0x8000001Du;
    } else if (r[EAX] < 4) {
        return 0;
    }
    for (unsigned sub = 0; sub < 16; sub++) {
        unsigned type, level;
        cpuid(leaf, sub, r);
        type = r[EAX] & 31, level = r[EAX] >> 5 & 7;
        if (type == 0)
            break;
        if (type != 2 && level >= best) { /* data (1) or unified (3) */
            best = level;
            size = (unsigned long long)((r[EBX] >> 22) + 1) * ((r[EBX] >> 12 & 1023) + 1) *
                   ((r[EBX] & 4095) + 1) * ((unsigned long long)r[ECX] + 1);
        }
    }
    return (ptrdiff_t)size;
}
#elif INT8Q_ARM64_LINUX || INT8Q_ARM64_APPLE
/* A bit of Linux's AT_HWCAP (word 1) or AT_HWCAP2 (word 2), and the sysctl
 * that macOS answers 1 to ("" where it has none). */
static const struct {
    const char *name;
    int word, bit;
    const char *apple;
} features[] = {
    {"asimd", 1, 1, "hw.optional.AdvSIMD"},
    {"asimdhp", 1, 10, "hw.optional.arm.FEAT_FP16"},
    {"dotprod", 1, 20, "hw.optional.arm.FEAT_DotProd"},
    {"sve", 1, 22, ""},
    {"asimdfhm", 1, 23, "hw.optional.arm.FEAT_FHM"},
    {"sve2", 2, 1, ""},
    {"i8mm", 2, 13, "hw.optional.arm.FEAT_I8MM"},
    {"bf16", 2, 14, "hw.optional.arm.FEAT_BF16"},
};

static unsigned long long cpu_have(void)
{
    unsigned long long have = 0;
#if INT8Q_ARM64_LINUX
    unsigned long words[3] = {0, getauxval(AT_HWCAP), getauxval(AT_HWCAP2)};
#endif
    for (size_t k = 0; k < sizeof features / sizeof features[0]; k++) {
        int on;
#if INT8Q_ARM64_LINUX
        on = (words[features[k].word] >> features[k].bit & 1) != 0;
#else
        int value = 0;
        size_t size = sizeof value;
        on = features[k].apple[0] && sysctlbyname(features[k].apple, &value, &size, NULL, 0) == 0 &&
             value == 1;
#endif
        have |= (unsigned long long)on << k;
    }
    return have;
}
#else
/* No run-time check here: only the baseline runs. */
static const struct {
    const char *name;
} features[] = {{""}};

static unsigned long long cpu_have(void)
{
    return 0;
}
#endif

#if !INT8Q_X86
/* only x86 levels stream (core/threads.h) */
int int8q_cpu_is_amd(void)
{
    return 0;
}

ptrdiff_t int8q_cpu_cache_bytes(void)
{
    return 0;
}
#endif

/* The bits (by index in features[]) of a space-separated list of feature
 * names into *need; 0 when a name is not in the table. */
static int feature_bits(const char *names, unsigned long long *need)
{
    *need = 0;
    while (*names) {
        size_t len = strcspn(names, " "), k;
        for (k = 0; k < sizeof features / sizeof features[0]; k++)
            if (len && strlen(features[k].name) == len && !strncmp(features[k].name, names, len))
                break;
        if (len && k == sizeof features / sizeof features[0])
            return 0;
        if (len)
            *need |= 1ull << k;
        names += len + (names[len] == ' ');
    }
    return 1;
}

/* Whether this CPU and OS run `level`. */
static int cpu_supports(int level)
{
    unsigned long long need;
    if (!feature_bits(levels[level].features, &need))
        return 0;
    return (cpu_have() & need) == need;
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

int int8q_crc32(const void *p, size_t n, uint32_t *crc)
{
    const int8q_loops *in_use = int8q_current_loops();
    if (!in_use->crc32)
        return 0;
    *crc = in_use->crc32(*crc, p, n);
    return 1;
}
