/* The architectures levels/levels.def names: INT8Q_ARCH_IS_<arch> is 1 when
 * compiling for that architecture, else 0.  setup.py's probe tests these to
 * find the target's baseline and the levels it can build. */
#ifndef INT8Q_ARCH_H
#define INT8Q_ARCH_H

#if defined(__x86_64__) || defined(_M_X64)
#define INT8Q_ARCH_IS_x86_64 1
#else
#define INT8Q_ARCH_IS_x86_64 0
#endif

#if defined(__aarch64__) || defined(_M_ARM64)
#define INT8Q_ARCH_IS_arm64 1
#else
#define INT8Q_ARCH_IS_arm64 0
#endif

#endif
