"""Thread count and SIMD level: chosen once at import, changeable at run time.

Environment:
  INT8Q_NUM_THREADS / OMP_NUM_THREADS  threads for large arrays (default: the
                                       CPUs this process may run on)
  INT8Q_SIMD=baseline|avx2|avx512      force a SIMD level (tests, benchmarks)
"""

import os
from typing import TextIO

from . import _kernels

ISA_NAMES = _kernels.ISA_NAMES  # the C enum int8q_isa, by level
_num_threads: int | None = None


def _available_cpus() -> int:
    try:
        return len(os.sched_getaffinity(0))  # honours taskset and cgroup cpusets
    except AttributeError:
        return os.cpu_count() or 1


def _default_threads() -> int:
    for var in ("INT8Q_NUM_THREADS", "OMP_NUM_THREADS"):
        value = os.environ.get(var, "").split(",")[0].strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    return max(1, min(_available_cpus(), _kernels.max_threads()))


def get_num_threads() -> int:
    """Threads int8q uses for large arrays (1 when built without OpenMP)."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads() if _kernels.HAVE_OPENMP else 1
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use `n` threads for large arrays (results do not depend on it)."""
    global _num_threads
    n = int(n)
    if n < 1:
        raise ValueError(f"number of threads must be >= 1, got {n}")
    _num_threads = n if _kernels.HAVE_OPENMP else 1


def available_simd() -> list[str]:
    """SIMD levels this build has and this CPU runs."""
    best = _kernels.isa_detect()
    return [
        name
        for level, name in enumerate(ISA_NAMES)
        if level <= best and _kernels.isa_compiled(level)
    ]


def get_simd() -> str:
    return ISA_NAMES[_kernels.isa_current()]


def set_simd(name: str) -> None:
    """Force a SIMD level; every level gives bit-identical results."""
    if name not in ISA_NAMES:
        raise ValueError(f"SIMD level must be one of {ISA_NAMES}, got {name!r}")
    if not _kernels.isa_select(ISA_NAMES.index(name)):
        raise ValueError(
            f"SIMD level {name!r} is not available here (available: {available_simd()})"
        )


def _init_simd() -> None:
    forced = os.environ.get("INT8Q_SIMD")
    if forced:
        set_simd(forced)
    else:
        _kernels.isa_select(_kernels.isa_detect())


def show_config(file: TextIO | None = None) -> None:
    """Print the build and run-time configuration to `file` (default stdout).

    Returns None, as ``numpy.show_config()`` does, so that a REPL shows the
    text once; to keep it, pass a file (``io.StringIO()``) and read that.
    """
    import platform

    import numpy as np

    from ._version import __version__

    lines = [
        f"int8q {__version__}",
        f"python {platform.python_version()} on {platform.machine()}, numpy {np.__version__}",
        f"openmp: {'yes' if _kernels.HAVE_OPENMP else 'no (serial build)'}",
        f"threads: {get_num_threads()}",
        f"simd: {get_simd()} (available: {', '.join(available_simd())})",
        "dispatch table (level: compiled with flags / this CPU runs it):",
    ]
    usable = available_simd()
    for level, name in enumerate(ISA_NAMES):
        if _kernels.isa_compiled(level):
            built = f"built with '{_kernels.isa_flags(level) or 'default flags'}'"
        else:
            built = "not built"
        mark = "*" if name == get_simd() else " "
        lines.append(
            f"  {mark} {name:<9} {built}; {'runs here' if name in usable else 'not on this CPU'}"
        )
    lines.append(f"openmp wait policy: {os.environ.get('OMP_WAIT_POLICY', 'default')}")
    print("\n".join(lines), file=file)


_init_simd()
