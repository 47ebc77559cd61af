"""Thread count and SIMD level: chosen once at import, changeable at run time.

Environment:
  INT8Q_NUM_THREADS / OMP_NUM_THREADS  threads for large arrays (default: the
                                       CPUs this process may run on)
  INT8Q_SIMD=baseline|avx2|avx512      force a SIMD level (tests, benchmarks)
"""

import os
from typing import TextIO

from . import _kernels
from ._checks import one_of
from ._checks_options import MAX_THREADS, simd_unavailable_error, thread_count

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
        # A value set_num_threads would refuse is ignored, as a non-number is.
        if value.isdigit() and 0 < int(value) <= MAX_THREADS:
            return int(value)
    return max(1, min(_available_cpus(), _kernels.max_threads(), MAX_THREADS))


def get_num_threads() -> int:
    """The number of threads int8q uses for large arrays.

    Set by the environment variable ``INT8Q_NUM_THREADS`` (or
    ``OMP_NUM_THREADS``) at import, by `set_num_threads` afterwards; by
    default the number of CPUs this process may run on.  Always 1 in a build
    without OpenMP.

    Returns
    -------
    int

    Examples
    --------
    >>> import int8q
    >>> int8q.get_num_threads() >= 1
    True
    """
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_threads() if _kernels.HAVE_OPENMP else 1
    return _num_threads


def set_num_threads(n: int) -> None:
    """Use `n` threads for large arrays.

    Results never depend on the thread count.  Small arrays always run on
    the calling thread.

    Parameters
    ----------
    n : int
        From 1 to 4096 (a Python or NumPy integer).

    Raises
    ------
    TypeError
        `n` is not an integer (a float, a string, a bool).
    ValueError
        `n` is smaller than 1 or larger than 4096.

    Examples
    --------
    >>> import int8q
    >>> before = int8q.get_num_threads()
    >>> int8q.set_num_threads(1)
    >>> int8q.get_num_threads()
    1
    >>> int8q.set_num_threads(before)
    """
    global _num_threads
    n = thread_count(n)
    _num_threads = n if _kernels.HAVE_OPENMP else 1


def available_simd() -> list[str]:
    """The SIMD levels this build has and this CPU runs.

    Returns
    -------
    list of str
        From ``"baseline"`` (always there) to the fastest, among
        ``"baseline"``, ``"avx2"`` and ``"avx512"``.

    Examples
    --------
    >>> import int8q
    >>> int8q.available_simd()[0]
    'baseline'
    """
    best = _kernels.isa_detect()
    return [
        name
        for level, name in enumerate(ISA_NAMES)
        if level <= best and _kernels.isa_compiled(level)
    ]


def get_simd() -> str:
    """The SIMD level in use.

    The fastest of `available_simd` at import, unless the environment
    variable ``INT8Q_SIMD`` or `set_simd` chose another.

    Returns
    -------
    str

    Examples
    --------
    >>> import int8q
    >>> int8q.get_simd() in int8q.available_simd()
    True
    """
    return ISA_NAMES[_kernels.isa_current()]


def set_simd(name: str) -> None:
    """Use the SIMD level `name`.

    Every level gives bit-identical results; this is for testing and
    measuring.

    Parameters
    ----------
    name : str
        One of `available_simd`.

    Raises
    ------
    ValueError
        An unknown level, or one this build or CPU does not have.

    Examples
    --------
    >>> import int8q
    >>> before = int8q.get_simd()
    >>> int8q.set_simd("baseline")
    >>> int8q.get_simd()
    'baseline'
    >>> int8q.set_simd(before)
    """
    one_of(name, ISA_NAMES, "SIMD level")
    # Known, but not built or not run by this CPU: only the kernels can say.
    if not _kernels.isa_select(ISA_NAMES.index(name)):
        raise simd_unavailable_error(name, available_simd())


def _init_simd() -> None:
    forced = os.environ.get("INT8Q_SIMD")
    if forced:
        set_simd(forced)
    else:
        _kernels.isa_select(_kernels.isa_detect())


def show_config(file: TextIO | None = None) -> None:
    """Print the build and run-time configuration.

    The version, NumPy's version, whether OpenMP is built in, the thread
    count, the SIMD level in use and the ones available, with the compiler
    flags of each level.  Returns None, as ``numpy.show_config()`` does, so
    that a REPL shows the text once; to keep it, pass a file
    (``io.StringIO()``) and read that.

    Parameters
    ----------
    file : text file, optional
        Where to print (default: standard output).

    Examples
    --------
    >>> import io, int8q
    >>> buf = io.StringIO()
    >>> int8q.show_config(file=buf)
    >>> buf.getvalue().startswith("int8q ")
    True
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
            f"  {mark} {name:<9} {built}; {'runs on this CPU' if name in usable else 'not on this CPU'}"
        )
    lines.append(f"openmp wait policy: {os.environ.get('OMP_WAIT_POLICY', 'default')}")
    print("\n".join(lines), file=file)


_init_simd()
