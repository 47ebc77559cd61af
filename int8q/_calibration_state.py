"""A Calibrator's state: whether a batch fits it (`check_batch`), and the
dict `to_dict` writes (`as_dict`) and `from_dict` reads.

`options` and `values` refuse, with the field's name, anything `to_dict` could not have
written: a missing field, a wrong type, NaN or inf, a number that is not a
value of the working dtype, lengths that disagree, ``min > 0`` or
``max < 0``, and a scale (or zero point) that contradicts the stored range.
A "minmax" calibrator's scale and zero point are recomputed from its range
with the rule that made them and must match bit for bit; the other methods
choose a range inside it, so their scale can be no larger than the range's
(or 1, the rule's value for a range that rounds to an empty one).
"""

import math
from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

from . import _affine, _engine
from ._checks import MAX_DIMS
from ._granularity import resolve
from ._typing import FloatArray

FORMAT = "int8q.Calibrator"
# The most values a calibrator counts (int64, as the histogram's counts).
MAX_COUNT = (1 << 63) - 1
# The most bytes one calibrator's histogram (every channel) may take.
MAX_HISTOGRAM_BYTES = 1 << 30


class Saved(NamedTuple):
    """The values of a dict `values` accepted, as the Calibrator keeps them."""

    dtype: np.dtype[Any]
    seen: int  # the count field (NamedTuple has a count method)
    lo: FloatArray
    hi: FloatArray
    scale: FloatArray  # shaped () per tensor, (channels,) per axis, the scale shape per block
    zero_point: npt.NDArray[Any] | None
    shape: tuple[int, ...] | None  # the batches' shape, with block_size


def check_batch(
    cal: Any, work: np.dtype[Any], channels: int, shape: tuple[int, ...] | None = None
) -> None:
    """TypeError or ValueError unless a batch of `channels` channels (of
    `shape`, with block_size) in the working dtype `work` fits calibrator
    `cal`'s state, and a new histogram MAX_HISTOGRAM_BYTES (the caller
    holds its lock)."""
    if cal.dtype is not None and work != cal.dtype:
        raise TypeError(f"batches computed in {cal.dtype} so far; this one is in {work}")
    if cal._shape is not None and shape != cal._shape:
        raise ValueError(
            f"batch has shape {shape}, expected shape {cal._shape}: with "
            f"block_size={cal.block_size} every batch has the shape of the first"
        )
    if cal._lo is not None and channels != cal._lo.shape[0]:
        raise ValueError(
            f"batch has {channels} channels along axis {cal.axis}, "
            f"earlier batches had {cal._lo.shape[0]}"
        )
    if cal._lo is None and cal.method != "minmax":
        if channels * 16 * cal.bins > MAX_HISTOGRAM_BYTES:
            raise ValueError(
                f"bins={cal.bins} for {channels} channels needs a histogram of "
                f"{channels * 16 * cal.bins} bytes, more than {MAX_HISTOGRAM_BYTES}; "
                "use fewer bins"
            )


def as_dict(cal: Any, scale: FloatArray, zp: npt.NDArray[Any] | None) -> dict[str, Any]:
    """The dict `to_dict` writes for calibrator `cal` of parameters
    `scale`, `zp` (the caller holds its lock)."""
    return {
        "format": FORMAT,
        "version": 1,
        "method": cal.method,
        "axis": cal.axis,
        "block_size": cal.block_size,
        "shape": None if cal._shape is None else list(cal._shape),
        "symmetric": cal.symmetric,
        "qdtype": cal.qdtype.name,
        "percentile": cal.percentile,
        "bins": cal.bins,
        "dtype": cal.dtype.name,
        "count": cal.count,
        "scale": np.asarray(scale, np.float64).reshape(-1).tolist(),
        "zero_point": None if zp is None else np.asarray(zp).reshape(-1).tolist(),
        # + 0 turns -0.0 into 0.0, as the ranges do
        "min": (cal._lo + 0).astype(np.float64).tolist(),
        "max": (cal._hi + 0).astype(np.float64).tolist(),
    }


def field(d: dict[str, Any], key: str) -> Any:
    if key not in d:
        raise ValueError(f"{FORMAT} dict lacks the field {key!r}")
    return d[key]


def options(d: object) -> dict[str, Any]:
    """The constructor's arguments saved in a `to_dict` dict (the
    constructor checks them); ValueError or TypeError naming the first field
    that to_dict could not have written."""
    if not isinstance(d, dict):
        raise TypeError(f"from_dict takes a dict, got {type(d).__name__}")
    if field(d, "format") != FORMAT:
        raise ValueError(f"not a {FORMAT} dict (format is {d['format']!r})")
    version = field(d, "version")
    if type(version) is not int or version != 1:
        raise ValueError(f"unsupported {FORMAT} version {version!r}")
    qdtype = field(d, "qdtype")
    if qdtype not in ("int8", "uint8"):  # (before np.dtype, which raises anything)
        raise ValueError(f"qdtype must be 'int8' or 'uint8', got {qdtype!r}")
    axis = field(d, "axis")
    # A calibrator on an axis beyond NumPy's dimensions never saw a batch,
    # so it could not have been saved.
    if type(axis) is int and not -MAX_DIMS <= axis < MAX_DIMS:
        raise ValueError(f"axis must lie in [-{MAX_DIMS}, {MAX_DIMS}), got {axis}")
    return {
        "method": field(d, "method"),
        "axis": axis,
        # (dicts written before blocks have no block_size: None)
        "block_size": d.get("block_size"),
        "symmetric": field(d, "symmetric"),
        "qdtype": np.dtype(qdtype),
        "percentile": field(d, "percentile"),
        "bins": field(d, "bins"),
    }


def values(
    d: dict[str, Any],
    axis: int | None,
    symmetric: bool,
    qdtype: np.dtype[Any],
    block_size: int | None = None,
) -> Saved:
    """The saved state of a `to_dict` dict whose options are valid: the
    working dtype, count, range, scale and zero point (and the batches'
    shape, with block_size), checked alone and against each other."""
    dtype = field(d, "dtype")
    if dtype not in ("float32", "float64"):
        raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    work = np.dtype(dtype)
    count = field(d, "count")
    if type(count) is not int:
        raise TypeError(f"count must be an integer, got {count!r}")
    if not 0 <= count <= MAX_COUNT:
        raise ValueError(f"count must lie in [0, {MAX_COUNT}], got {count}")
    batches = None if block_size is None else _shape(d)
    if block_size is None and d.get("shape") is not None:
        raise ValueError("shape must be null when block_size is null")
    if batches is not None:
        shape = resolve(batches, axis, block_size).scale_shape
        n: int | None = math.prod(shape)
    elif axis is None:
        if isinstance(d.get("scale"), list) and len(d["scale"]) != 1:
            raise ValueError(f"scale has {len(d['scale'])} values; with axis None it has one")
        n = 1
    else:
        n = None
    scale = _numbers(d, "scale", work, n)
    if not (scale > 0).all():
        i = int(np.flatnonzero(scale <= 0)[0])
        raise ValueError(f"scale[{i}] must be > 0, got {d['scale'][i]!r}")
    channels = scale.size
    lo, hi = _numbers(d, "min", work, channels), _numbers(d, "max", work, channels)
    if not ((lo <= 0) & (hi >= 0)).all():
        i = int(np.flatnonzero((lo > 0) | (hi < 0))[0])
        raise ValueError(
            f"min[{i}] = {d['min'][i]!r} and max[{i}] = {d['max'][i]!r}: a running "
            "range has min <= 0 <= max"
        )
    if count == 0 and (lo.any() or hi.any()):
        raise ValueError("min and max must be 0 when count is 0 (no values seen)")
    zp = None
    if symmetric:
        if field(d, "zero_point") is not None:
            raise ValueError("zero_point must be null when symmetric is true")
    else:
        zp = _integers(d, "zero_point", qdtype, channels)
    if batches is None:
        shape = () if axis is None else (channels,)
    saved = Saved(
        work,
        count,
        lo,
        hi,
        scale.reshape(shape),
        None if zp is None else zp.reshape(shape),
        batches,
    )
    _consistent(saved, str(field(d, "method")), symmetric, qdtype)
    return saved


def _consistent(saved: Saved, method: str, symmetric: bool, qdtype: np.dtype[Any]) -> None:
    """ValueError when the scale or zero point contradicts the range [min, max]."""
    lo, hi, scale = saved.lo, saved.hi, saved.scale.reshape(-1)
    if symmetric:
        bound, zp = _engine.scales_from_absmax(np.maximum(-lo, hi)), None
    else:
        with np.errstate(over="ignore"):  # an overflowing span bounds nothing
            span = (hi - lo) / np.asarray(255, saved.dtype)
        try:
            bound, zp = _affine.range_params(lo, hi, qdtype, saved.dtype)
        except ValueError:  # the span overflows: minmax could not have saved it
            if method == "minmax":
                raise ValueError(
                    f"min and max: the range max - min overflows {saved.dtype}; "
                    "to_dict could not have written it"
                ) from None
            bound = span
    if method == "minmax":
        bad = np.flatnonzero(bound.view(f"u{bound.itemsize}") != scale.view(f"u{scale.itemsize}"))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"scale[{i}] is {scale[i]!r}; the range [{lo[i]!r}, {hi[i]!r}] gives "
                f"{bound[i]!r}: the scale contradicts min and max"
            )
        if zp is not None and saved.zero_point is not None:
            got = saved.zero_point.reshape(-1)
            bad = np.flatnonzero(zp != got)
            if bad.size:
                i = int(bad[0])
                raise ValueError(
                    f"zero_point[{i}] is {got[i]}; the range [{lo[i]!r}, {hi[i]!r}] "
                    f"gives {zp[i]}: the zero point contradicts min and max"
                )
        return
    if not symmetric:
        bound = np.maximum(bound, span)
    bad = np.flatnonzero(~((scale <= bound) | (scale == 1)))
    if bad.size:
        i = int(bad[0])
        raise ValueError(
            f"scale[{i}] is {scale[i]!r}, more than {bound[i]!r}, the scale of the whole "
            f"range [{lo[i]!r}, {hi[i]!r}]: the scale contradicts min and max"
        )


def _shape(d: dict[str, Any]) -> tuple[int, ...]:
    """d["shape"], the batches' shape of a calibrator with block_size."""
    shape = field(d, "shape")
    if not isinstance(shape, list) or not all(type(n) is int for n in shape):
        raise TypeError(f"shape must be a list of integers, got {shape!r}")
    if not 1 <= len(shape) <= MAX_DIMS or min(shape) < 0:
        raise ValueError(f"shape must have 1 to {MAX_DIMS} non-negative lengths, got {shape!r}")
    return tuple(shape)


def _list(d: dict[str, Any], key: str, n: int | None) -> list[Any]:
    """The list d[key], of length n (None: any length but 0)."""
    values = field(d, key)
    if not isinstance(values, list):
        raise TypeError(f"{key} must be a list, got {type(values).__name__}")
    if len(values) != n if n is not None else not values:
        raise ValueError(f"{key} has {len(values)} values, expected {n or 'at least 1'}")
    return values


def _numbers(d: dict[str, Any], key: str, work: np.dtype[Any], n: int | None) -> FloatArray:
    """d[key] as a flat array of finite values of the working dtype (to_dict
    writes them in float64, exactly)."""
    values = _list(d, key, n)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{key}[{i}] must be a number, got {v!r}")
        try:
            float(v)
        except OverflowError:  # an integer beyond float64
            raise ValueError(f"{key}[{i}] is not finite in {work}: {v}") from None
    wide = np.array(values, dtype=np.float64)
    with np.errstate(over="ignore"):
        a: FloatArray = wide.astype(work)
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{key}[{bad[0]}] is not finite in {work}: {values[bad[0]]}")
    bad = np.flatnonzero(a.astype(np.float64) != wide)
    if bad.size:
        raise ValueError(f"{key}[{bad[0]}] = {values[bad[0]]!r} is not a {work} value")
    return a


def _integers(
    d: dict[str, Any], key: str, qdtype: np.dtype[Any], n: int
) -> npt.NDArray[np.integer[Any]]:
    """d[key] as a flat array of qdtype (integers in its range only)."""
    values = _list(d, key, n)
    info = np.iinfo(qdtype)
    for i, v in enumerate(values):
        if type(v) is not int:
            raise TypeError(f"{key}[{i}] must be an integer, got {v!r}")
        if not info.min <= v <= info.max:
            raise ValueError(
                f"{key}[{i}] must lie in [{info.min}, {info.max}] for {qdtype}, got {v}"
            )
    return np.array(values, dtype=qdtype)
