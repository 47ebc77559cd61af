/* The baseline instruction-set level (see int8q_level_body.h); setup.py compiles
 * this file with the level's own flags. */
#define LEVEL baseline
#include "int8q_level_body.h"
