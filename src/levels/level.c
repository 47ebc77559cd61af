/* One instruction-set level's translation unit.  setup.py compiles this file
 * once for the baseline and once per level of levels/levels.def, each time
 * with that level's flags, INT8Q_LEVEL_NAME defined to its name and
 * INT8Q_LEVEL_LOOPS to its hand-loop family; it defines
 * int8q_level_<name>(), the level's table of loops (templates/level_body.h),
 * or NULL where the build leaves the level out (INT8Q_LEVEL_ABSENT: another
 * architecture's level, or flags the compiler refuses). */
#ifndef INT8Q_LEVEL_NAME
#error "compile with INT8Q_LEVEL_NAME defined to a level name (setup.py does)"
#endif

#include "levels/table.h"

#define LEVEL_TABLE_(level) int8q_level_##level
#define LEVEL_TABLE(level) LEVEL_TABLE_(level)

#if defined(INT8Q_LEVEL_ABSENT) && INT8Q_LEVEL_ABSENT
const int8q_loops *LEVEL_TABLE(INT8Q_LEVEL_NAME)(void)
{
    return NULL;
}
#else
#include "templates/level_body.h"

const int8q_loops *LEVEL_TABLE(INT8Q_LEVEL_NAME)(void)
{
    return &level_loops;
}
#endif
