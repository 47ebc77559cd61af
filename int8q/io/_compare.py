"""How much each quantized tensor lost: the rows of ``int8q compare``.

For every quantized tensor of QUANTIZED, with ``x`` its values in ORIGINAL
and ``x̂ = q * scale`` (float32, as `dequantize` computes it), all sums in
float64:

- ``sqnr_db``: ``10 log10(Σx² / Σ(x - x̂)²)``, +inf when x̂ equals x;
- ``cosine``: ``Σx·x̂ / sqrt(Σx² Σx̂²)`` (1 when both are all zeros, 0
  when only one is);
- ``max_abs_error``: ``max |x - x̂|``;
- ``saturated``: the share of codes at the ends of the int8 range (-128,
  -127 or 127; abs-max scaling puts at least the largest value of each row
  or block there);
- ``zero``: the share of codes equal to 0.

The summary gives the mean and the minimum SQNR over tensors, the overall
SQNR of all of them together (``Σx² / Σ(x - x̂)²`` over every element), the
worst tensors, and those below a threshold (`MIN_SQNR_DB` by default): the
candidates to leave in float with ``quantize --skip``.  30 dB is an error
power of 0.1% of the signal (a cosine of about 0.9995); per-row INT8 of
normally distributed weights gives about 40 dB, and a few outliers in a row
or tensor bring it down.

Memory: the two tensors in hand, their codes, and float64 pieces of
`CHUNK` elements.
"""

import math
import os
import re
from typing import Any, TypedDict

import numpy as np
import numpy.typing as npt

from .._shared import is_real
from ._support._errors import FormatError
from ._tensors import originals, quantized

MIN_SQNR_DB = 30.0
WORST = 5  # tensors named in the summary
CHUNK = 1 << 20  # elements per float64 piece


class CompareRow(TypedDict):
    name: str
    shape: tuple[int, ...]
    dtype: str  # the original's
    sqnr_db: float
    cosine: float
    max_abs_error: float
    saturated: float
    zero: float
    signal: float  # Σx²  (for the overall SQNR)
    noise: float  # Σ(x - x̂)²


class Summary(TypedDict):
    tensors: int
    mean_sqnr_db: float
    min_sqnr_db: float
    overall_sqnr_db: float
    worst: list[str]
    min_sqnr_threshold_db: float
    below_threshold: list[str]


def sqnr_db(signal: float, noise: float) -> float:
    if noise == 0:
        return math.inf
    if signal == 0:
        return -math.inf
    return 10 * math.log10(signal / noise)


def measure(
    name: str, x: npt.NDArray[Any], q: npt.NDArray[np.integer[Any]], values: npt.NDArray[Any]
) -> CompareRow:
    """The row of one tensor: `x` the original, `q` the codes, `values` q * scale."""
    if x.shape != values.shape:
        raise FormatError(
            f"tensor {name!r} has shape {x.shape} in the original but {values.shape} quantized"
        )
    if not is_real(x.dtype):
        raise FormatError(f"tensor {name!r} is {x.dtype} in the original, not real numbers")
    flat_x, flat_v, flat_q = x.reshape(-1), values.reshape(-1), q.reshape(-1)
    signal = noise = dot = power = peak = 0.0
    saturated = zero = 0
    # einsum, not np.dot: the same float64 sums without BLAS, whose threads
    # start for every 1M-element piece (seven times slower on a busy machine).
    for start in range(0, flat_x.size, CHUNK):
        a = flat_x[start : start + CHUNK].astype(np.float64)
        b = flat_v[start : start + CHUNK].astype(np.float64)
        codes = flat_q[start : start + CHUNK]
        signal += float(np.einsum("i,i", a, a))
        dot += float(np.einsum("i,i", a, b))
        power += float(np.einsum("i,i", b, b))
        a -= b
        noise += float(np.einsum("i,i", a, a))
        peak = max(peak, float(np.abs(a).max()))
        saturated += int(np.count_nonzero((codes >= 127) | (codes <= -127)))
        zero += int(np.count_nonzero(codes == 0))
    if signal == 0 or power == 0:
        cosine = 1.0 if signal == power else 0.0
    else:
        cosine = dot / math.sqrt(signal * power)
    n = max(flat_x.size, 1)
    return {
        "name": name,
        "shape": tuple(x.shape),
        "dtype": str(x.dtype),
        "sqnr_db": sqnr_db(signal, noise),
        "cosine": cosine,
        "max_abs_error": peak,
        "saturated": saturated / n,
        "zero": zero / n,
        "signal": signal,
        "noise": noise,
    }


def layer_order(name: str) -> list[tuple[int, int | str]]:
    """A sort key: names with their numbers compared as numbers (layers.2 before layers.10)."""
    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p]


def compare_files(
    original: str | os.PathLike[str], quantized_path: str | os.PathLike[str]
) -> list[CompareRow]:
    """One row per quantized tensor of `quantized_path`, in layer order."""
    original, quantized_path = os.fspath(original), os.fspath(quantized_path)
    rows = []
    with originals(original) as read:
        for tensor in quantized(quantized_path):
            x = read(tensor.name)
            if x is None:
                raise FormatError(f"{original}: has no tensor {tensor.name!r} to compare with")
            rows.append(measure(tensor.name, x, tensor.q, tensor.values))
            del x, tensor  # one tensor pair in memory at a time
    return sorted(rows, key=lambda r: layer_order(r["name"]))


def summarize(rows: list[CompareRow], min_sqnr_db: float = MIN_SQNR_DB) -> Summary:
    """The summary of `rows` (see the module docstring)."""
    sqnrs = [r["sqnr_db"] for r in rows]
    finite = [s for s in sqnrs if math.isfinite(s)]
    ranked = sorted(rows, key=lambda r: r["sqnr_db"])
    return {
        "tensors": len(rows),
        "mean_sqnr_db": sum(finite) / len(finite) if finite else min(sqnrs, default=math.nan),
        "min_sqnr_db": min(sqnrs, default=math.nan),
        "overall_sqnr_db": sqnr_db(sum(r["signal"] for r in rows), sum(r["noise"] for r in rows)),
        "worst": [r["name"] for r in ranked[:WORST]],
        "min_sqnr_threshold_db": min_sqnr_db,
        "below_threshold": [r["name"] for r in rows if r["sqnr_db"] < min_sqnr_db],
    }
