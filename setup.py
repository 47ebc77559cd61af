"""Build the compiled core, int8q._kernels.

Flags are chosen by compiler type, not by platform guess (after pykdtree's
setup.py).  No -march=native and no -ffast-math: wheels must run on any CPU of
their platform, and fast-math would break NaN detection and
round-half-to-even.  Each SIMD level of src/levels/levels.def is its own
translation unit (src/levels/level.c compiled with that level's flags and
hand loops), on GCC/Clang and MSVC alike, and picked at run time
(src/core/dispatch.c); a level of another architecture, or whose flags the
compiler refuses, is left out.

OpenMP is used where a compile-and-link probe succeeds; otherwise the same
code builds serial.  INT8Q_OPENMP=0 forces the serial build,
INT8Q_BOUNDSCHECK=1 turns Cython's bounds checks on for debugging.
"""

import os
import re
import shutil
import sys
import tempfile

import numpy
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


def _compiles(compiler, source, cflags, ldflags, link=True, include_dirs=None):
    tmp = tempfile.mkdtemp(prefix="int8q-probe-")
    try:
        path = os.path.join(tmp, "probe.c")
        with open(path, "w") as f:
            f.write(source)
        objects = compiler.compile(
            [path], output_dir=tmp, include_dirs=include_dirs, extra_postargs=cflags
        )
        if link:
            compiler.link_executable(objects, "probe", output_dir=tmp, extra_postargs=ldflags)
        return True
    except Exception:
        return False
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


LEVELS_DEF = "src/levels/levels.def"


def simd_levels(path=LEVELS_DEF):
    """The SIMD levels above the baseline, from their one list (read by the
    C dispatcher too): [(name, arch, GCC/Clang flags, MSVC flags, hand loops)]."""
    pattern = re.compile(
        r'^INT8Q_LEVEL\((\w+),\s*(\w+),\s*"([^"]*)",\s*"([^"]*)",\s*"[^"]*",\s*(\w+)\)'
    )
    with open(path) as f:
        lines = [line for line in f if line.startswith("INT8Q_LEVEL(")]
    matches = [pattern.match(line) for line in lines]
    for line, m in zip(lines, matches):
        if not m:
            raise SystemExit(f"{path}: not a level line: {line.strip()}")
    return [(m[1], m[2], m[3].split(), m[4].split(), m[5]) for m in matches if m]


def arch_baselines(path=LEVELS_DEF):
    """{architecture: the hand loops of its baseline}, from the same list."""
    pattern = re.compile(r"^INT8Q_ARCH\((\w+),\s*(\w+)\)")
    with open(path) as f:
        matches = [pattern.match(line) for line in f]
    return {m[1]: m[2] for m in matches if m}


# Compiles where the target is `arch` (src/levels/arch.h), with the flags
# given: whether a level of that architecture can be built here.
ARCH_PROBE = r"""
#include "levels/arch.h"
#if !INT8Q_ARCH_IS_%s
#error "another architecture"
#endif
int int8q_probe(void) { return 0; }
"""


class BuildExt(build_ext):
    def build_extensions(self):
        msvc = self.compiler.compiler_type == "msvc"
        if msvc:
            cflags, ldflags = ["/O2", "/fp:precise"], []
        else:
            # -ffp-contract=off: no fused multiply-add, so every operation is
            # rounded exactly as the contract's formula says.
            cflags = ["-O3", "-ffp-contract=off", "-fno-math-errno", "-std=c99"]
            ldflags = []
        level_objects = self.build_levels(cflags, msvc)
        omp = openmp_flags(self.compiler)
        if omp is None:
            print("int8q: OpenMP not available, building the serial kernels")
        else:
            cflags += omp[0]
            ldflags += omp[1]
        for ext in self.extensions:
            ext.extra_compile_args = cflags + ext.extra_compile_args
            ext.extra_link_args = ldflags + ext.extra_link_args
            ext.extra_objects = level_objects + ext.extra_objects
        super().build_extensions()

    def build_levels(self, cflags, msvc):
        """Compile src/levels/level.c once per SIMD level, each with its own
        flags and hand loops, into objects linked into the extension.  A level
        of another architecture than the target's, or whose flags the compiler
        refuses, is compiled without its flags as an empty table
        (INT8Q_LEVEL_ABSENT), so the dispatcher sees every level of the list."""
        src = os.path.abspath("src")

        def builds(arch, flags):
            probe = ARCH_PROBE % arch
            return _compiles(self.compiler, probe, cflags + flags, [], False, [src])

        baselines, above = arch_baselines(), simd_levels()
        arches = list(baselines) + [level[1] for level in above if level[1] not in baselines]
        target = next((arch for arch in arches if builds(arch, [])), None)
        objects = []
        levels = [("baseline", target, [], [], baselines.get(target, "plain"))] + above
        for name, arch, gnu_flags, msvc_flags, loops in levels:
            flags = msvc_flags if msvc else gnu_flags
            macros = [("INT8Q_LEVEL_NAME", name), ("INT8Q_LEVEL_LOOPS", loops)]
            if name != "baseline" and not (arch == target and builds(arch, flags)):
                print(
                    f"int8q: this compiler and target have no {name} ({' '.join(flags)}); left out"
                )
                flags, macros = [], macros + [("INT8Q_LEVEL_ABSENT", "1")]
            objects += self.compiler.compile(
                ["src/levels/level.c"],
                output_dir=os.path.join(self.build_temp, "levels", name),
                macros=macros,
                include_dirs=["src"],
                extra_postargs=cflags + flags,
                depends=C_HEADERS,
            )
        return objects


# Every header and template the C sources include (rebuild when one changes).
C_HEADERS = sorted(
    os.path.join(folder, name)
    for folder in ("src/core", "src/templates", "src/levels")
    for name in os.listdir(folder)
    if name.endswith((".h", ".def"))
)

extensions = [
    Extension(
        "int8q._kernels",
        sources=[
            "src/python/_kernels.pyx",
            "src/core/dispatch.c",
            "src/core/ranges.c",
            "src/core/absmax.c",
            "src/core/quantize.c",
            "src/core/dequantize.c",
            "src/core/q8_0.c",
            "src/core/affine.c",
            "src/core/gather.c",
            "src/core/threads.c",
        ],
        include_dirs=["src", numpy.get_include()],
        # NumPy's C API as of 1.23: the wheel runs on NumPy 1.23+ and 2.x
        define_macros=[
            ("NPY_NO_DEPRECATED_API", "NPY_1_23_API_VERSION"),
            ("NPY_TARGET_VERSION", "NPY_1_23_API_VERSION"),
        ],
        depends=C_HEADERS,
    )
]

setup(
    ext_modules=cythonize(extensions, compiler_directives=CYTHON_DIRECTIVES),
    cmdclass={"build_ext": BuildExt},
)
