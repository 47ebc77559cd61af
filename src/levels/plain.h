/* The hand-loop family of levels without hand-written loops
 * (levels/levels.def): the level's table takes the plain loops of
 * templates/loops.h. */
#define BY_HAND(name) name
