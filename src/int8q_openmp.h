/* OpenMP where the compiler has it, a single thread where it does not: the
 * same Cython prange code builds either way (after scikit-learn's
 * _openmp_helpers.pxd). */
#ifndef INT8Q_OPENMP_H
#define INT8Q_OPENMP_H
#ifdef _OPENMP
#include <omp.h>
#define INT8Q_HAVE_OPENMP 1
#else
static int omp_get_max_threads(void)
{
    return 1;
}
#define INT8Q_HAVE_OPENMP 0
#endif
#endif
