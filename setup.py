"""Build the compiled core, int8q._kernels.

Flags are chosen by compiler type, not by platform guess (after pykdtree's
setup.py).  No -march=native and no -ffast-math: wheels must run on any CPU of
their platform, and fast-math would break NaN detection and
round-half-to-even.  Wider SIMD levels are compiled per function and picked
at run time (src/int8q_kernels.c).

OpenMP is used where a compile-and-link probe succeeds; otherwise the same
code builds serial.  INT8Q_OPENMP=0 forces the serial build,
INT8Q_BOUNDSCHECK=1 turns Cython's bounds checks on for debugging.
"""
import os
import shutil
import sys
import tempfile

from Cython.Build import cythonize
from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

CYTHON_DIRECTIVES = {
    "language_level": 3,
    "boundscheck": os.environ.get("INT8Q_BOUNDSCHECK") == "1",
    "wraparound": False,
    "initializedcheck": False,
    "cdivision": True,
    "freethreading_compatible": True,
}

OPENMP_PROBE = r"""
#include <omp.h>
int main(void) {
    int n = 0;
    #pragma omp parallel reduction(+:n)
    n += 1;
    return n > 0 ? 0 : 1;
}
"""


def openmp_flags(compiler):
    """(compile, link) flags for OpenMP, or None when the compiler lacks it."""
    if os.environ.get("INT8Q_OPENMP", "1") == "0":
        return None
    if compiler.compiler_type == "msvc":
        return ["/openmp"], []
    if sys.platform == "darwin":
        # Apple clang has no -fopenmp; Homebrew's libomp can be named through
        # CPPFLAGS/LDFLAGS, otherwise the build is serial.
        candidates = [(["-Xpreprocessor", "-fopenmp"], ["-lomp"])]
    else:
        candidates = [(["-fopenmp"], ["-fopenmp"])]
    for cflags, ldflags in candidates:
        if _compiles(compiler, OPENMP_PROBE, cflags, ldflags):
            return cflags, ldflags
    return None


def _compiles(compiler, source, cflags, ldflags):
    tmp = tempfile.mkdtemp(prefix="int8q-probe-")
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(source)
        objects = compiler.compile([path], output_dir=tmp, extra_postargs=cflags)
        compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=ldflags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class BuildExt(build_ext):
    def build_extensions(self):
        if self.compiler.compiler_type == "msvc":
            cflags, ldflags = ["/O2", "/fp:precise"], []
        else:
            # -ffp-contract=off: no fused multiply-add, so every operation is
            # rounded exactly as the contract's formula says.
            cflags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-std=c99"]
            ldflags = []
        omp = openmp_flags(self.compiler)
        if omp is None:
            print("int8q: OpenMP not available, building the serial kernels")
        else:
            cflags += omp[0]
            ldflags += omp[1]
        for ext in self.extensions:
            ext.extra_compile_args = cflags + ext.extra_compile_args
            ext.extra_link_args = ldflags + ext.extra_link_args
        super().build_extensions()


extensions = [
    Extension(
        "int8q._kernels",
        sources=["src/_kernels.pyx", "src/int8q_kernels.c", "src/int8q_affine.c"],
        include_dirs=["src"],
        depends=["src/int8q_kernels.h", "src/int8q_isa.h", "src/int8q_openmp.h",
                 "src/int8q_affine.h"],
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)
