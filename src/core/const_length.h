/* FOR_BLOCK_LENGTH: a loop body written once and compiled for the common
 * short lengths as constants (1, 2, 4, 8, 16), which the compiler unrolls
 * and vectorizes; a run-time length of 2 or 4 kept a loop per block.  The
 * body sees the length as Bc.  Used by the short-block loops
 * (templates/loops.h) and the narrow-row drivers (templates/ranges.h). */
#ifndef INT8Q_CONST_LENGTH_H
#define INT8Q_CONST_LENGTH_H

#define BLOCK_LENGTH_CASE(n, body)                                                                 \
    case n: {                                                                                      \
        const ptrdiff_t Bc = n;                                                                    \
        body;                                                                                      \
    } break;
#define FOR_BLOCK_LENGTH(B, body)                                                                  \
    switch (B) {                                                                                   \
        BLOCK_LENGTH_CASE(1, body)                                                                 \
        BLOCK_LENGTH_CASE(2, body)                                                                 \
        BLOCK_LENGTH_CASE(4, body)                                                                 \
        BLOCK_LENGTH_CASE(8, body)                                                                 \
        BLOCK_LENGTH_CASE(16, body)                                                                \
    default: {                                                                                     \
        const ptrdiff_t Bc = B;                                                                    \
        body;                                                                                      \
    }                                                                                              \
    }

#endif
