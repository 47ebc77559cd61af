/* The avx512 instruction-set level (see int8q_level_body.h); setup.py compiles
 * this file with the level's own flags. */
#if defined(__x86_64__) || defined(_M_X64)
#define LEVEL avx512
#include "int8q_level_body.h"
#endif
