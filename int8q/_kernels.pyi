"""Types of the compiled module int8q._kernels (src/python/_kernels.pyx).

Array arguments are read through the buffer protocol: C-contiguous arrays
whose byte size the call checks, except the `x` of absmax_into, quantize_all
and q8_0_quantize_into, which may have any layout (the kernels gather it).
`kind` (INPUT_F32, INPUT_F64, INPUT_F16, INPUT_BF16, with INPUT_SWAPPED
OR'ed in for reversed bytes) says what `x` holds; scales, abs-maxima and dequantized values
are in the working dtype, float64 for INPUT_F64 (or `f64`) and float32
otherwise.  `layout` is _granularity's (n_row, block, cmod, nb).
"""

from collections.abc import Iterable
from typing import Any, SupportsFloat

import numpy as np
import numpy.typing as npt

from ._typing import DictForm, FloatArray, Int8Array, Layout

# The C enums (src/core/kernels.h).
HALF_EVEN: int
HALF_AWAY: int
INPUT_F32: int
INPUT_F64: int
INPUT_F16: int
INPUT_BF16: int
INPUT_SWAPPED: int
OK: int
NONFINITE: int
F16_OVERFLOW: int
ISA_NAMES: tuple[str, ...]
MIN_PER_THREAD: int
HAVE_OPENMP: bool
# Cython adds it to every module (doctests of cdef functions); always empty here.
__test__: dict[str, str]

def max_threads() -> int: ...
def stream_threshold() -> int: ...
def set_stream_threshold(nbytes: int) -> None: ...
def isa_detect() -> int: ...
def isa_compiled(level: int) -> bool: ...
def isa_select(level: int) -> bool: ...
def isa_current() -> int: ...
def isa_flags(level: int) -> str: ...
def scale_from_absmax(amax: float, f64: bool) -> float: ...
def scales_from_absmax_into(m: FloatArray, scales: FloatArray, f64: bool) -> None: ...
def asymmetric_params_into(
    rmin: FloatArray,
    rmax: FloatArray,
    qmin: int,
    qmax: int,
    scales: FloatArray,
    zero_points: npt.NDArray[np.int32],
    f64: bool,
) -> bool: ...
def absmax_into(
    x: npt.NDArray[Any], kind: int, n: int, start: int, layout: Layout, m: FloatArray, threads: int
) -> None: ...
def quantize_into(
    x: npt.NDArray[Any],
    kind: int,
    n: int,
    start: int,
    layout: Layout,
    scales: FloatArray,
    bounded: bool,
    mode: int,
    q: Int8Array,
    d: FloatArray | None,
    threads: int,
) -> None: ...
def quantize_all(
    x: npt.NDArray[Any],
    kind: int,
    n: int,
    start: int,
    layout: Layout,
    scales: FloatArray,
    fused: bool,
    mode: int,
    q: Int8Array,
    d: FloatArray | None,
    threads: int,
) -> int: ...
def dequantize_into(
    q: Int8Array,
    n: int,
    start: int,
    layout: Layout,
    scales: FloatArray,
    nscales: int,
    f64: bool,
    out: FloatArray,
    threads: int,
) -> int: ...
def quantize_tensor(
    x: npt.NDArray[Any],
    mode: int,
    out: npt.NDArray[Any] | None,
    threads: int,
    given: object = None,
) -> tuple[Int8Array, FloatArray] | int | None: ...
def all_finite(a: npt.NDArray[Any], positive: bool = False) -> bool: ...
def dequantize_tensor(
    q: npt.NDArray[Any],
    scale: object,
    out: npt.NDArray[Any] | None,
    threads: int,
) -> FloatArray | int | None: ...
def q8_0_quantize_into(
    x: npt.NDArray[Any], kind: int, n: int, out: npt.NDArray[np.uint8], threads: int
) -> int: ...
def q8_0_dequantize_into(
    raw: npt.NDArray[np.uint8], out: npt.NDArray[np.float32], threads: int
) -> None: ...
def crc32(data: npt.NDArray[np.uint8] | bytes, value: int) -> int | None: ...
def round_decimal_for_tests(v: float, ndigits: int) -> float: ...
def seed_quantize(values: Iterable[SupportsFloat]) -> DictForm: ...
def _array_as_float64(a: npt.NDArray[Any]) -> npt.NDArray[np.float64]: ...

# The affine section (typed memoryviews of the fused type `real`: x, scales
# and cand all float32 or all float64, which the stubs cannot tie together).
def affine_into(
    x: FloatArray,
    start: int,
    layout: Layout,
    scales: FloatArray,
    zps: npt.NDArray[np.int32],
    qmin: int,
    qmax: int,
    mode: int,
    out_unsigned: bool,
    q: npt.NDArray[np.uint8],
    threads: int,
) -> bool: ...
def affine_dequantize_into(
    q: npt.NDArray[np.uint8],
    q_unsigned: bool,
    start: int,
    layout: Layout,
    scales: FloatArray,
    zps: npt.NDArray[np.int32],
    out: FloatArray,
    threads: int,
) -> None: ...
def mse_errors_into(
    x: FloatArray,
    start: int,
    layout: Layout,
    cand: FloatArray,
    ncand: int,
    mode: int,
    err: npt.NDArray[np.float64],
    by_blocks: bool,
    threads: int,
) -> None: ...
def minmax_into(
    x: FloatArray,
    start: int,
    layout: Layout,
    lo: npt.NDArray[np.signedinteger[Any]],
    hi: npt.NDArray[np.signedinteger[Any]],
    threads: int,
) -> None: ...
