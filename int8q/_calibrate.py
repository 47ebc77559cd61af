"""int8q.Calibrator: ranges found once over a stream of batches, saved, reused.

State per channel (one channel per tensor when axis is None):

- the exact running range ``[min(0, min x), max(0, max x)]`` in the working
  dtype ("minmax" uses nothing else, so its scales equal int8q.quantize's on
  the concatenated batches, bit for bit);
- for "percentile" and "mse", a histogram of x with 2 * bins equal bins over
  ``[-R, R)``, R a power of two above the channel's abs-max.  When a batch
  exceeds R, R doubles (as often as needed) and neighbouring bins merge:
  the merge is exact, so the histogram does not depend on the order or the
  size of the batches.  Memory: 16 * bins bytes per channel, whatever the
  number of samples; a batch is read in slices of SLICE elements.

This module is the collector; the methods that turn its state into ranges
are int8q/_calibration_methods.py, one function each.
"""

from __future__ import annotations

import math
import types
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _affine, _engine
from . import _calibration_methods as methods
from ._checks import calibrator_options, nonfinite_error, working_dtype
from ._chunks import chunks
from ._granularity import Granularity, resolve
from ._typing import ArrayLike, CalibrationMethod, FloatArray, QDtype, Rounding

if TYPE_CHECKING:  # (imported when used: _api imports this module)
    from ._api import QTensor

METHODS = ("minmax", "percentile", "mse")
SLICE = 1 << 16  # elements of a batch histogrammed at a time
FORMAT = "int8q.Calibrator"
E_EMPTY = -1100  # exponent of a channel that has seen only zeros
# Histogram bounds: bins per sign and channel (16 * MAX_BINS bytes, 1 MiB,
# per channel), and the whole histogram (every channel) of one calibrator.
MAX_BINS = 1 << 16
MAX_HISTOGRAM_BYTES = 1 << 30
# The most values a calibrator counts (int64, as the histogram's counts).
MAX_COUNT = (1 << 63) - 1


class Calibrator:
    """Streaming calibration of INT8 scales (and zero points).

    Parameters
    ----------
    method : {"minmax", "percentile", "mse"}
        "minmax": the exact range, as `int8q.quantize` finds it on all the
        batches at once.  "percentile": the `percentile` point of abs(x)
        (or of each tail when not symmetric), to one histogram bin.  "mse":
        the range with the smallest squared error, estimated on the
        histogram.
    axis : int or None
        None: one range for the whole tensor; k: one per index along axis k
        (the other axes may change size from batch to batch).
    symmetric : bool
        True: int8 scales ``absmax / 127`` (zero point None); False: ranges
        with a zero point, as ``int8q.quantize(x, symmetric=False)``.
    qdtype : "int8" or "uint8" (or numpy.int8, numpy.uint8)
        The type of the quantized values; uint8 needs ``symmetric=False``.
    percentile : float in (0, 100]
        For ``method="percentile"``.
    bins : int
        Histogram bins per sign and channel ("percentile" and "mse"), a power
        of two.  Memory is ``16 * bins`` bytes per channel, whatever the
        number of samples.

    See Also
    --------
    int8q.quantize : the same parameters, computed from one array.

    Examples
    --------
    >>> import numpy as np, int8q
    >>> cal = int8q.Calibrator("minmax", axis=-1)
    >>> for batch in (np.array([[1.0, -2.0]]), np.array([[0.5, 4.0]])):
    ...     _ = cal.update(batch)
    >>> cal.scale
    array([0.00787402, 0.03149606])
    >>> cal.quantize(np.array([2.0, 2.0])).q
    array([127,  64], dtype=int8)
    """

    # State, None until the first batch (or from_dict): the working dtype,
    # per-channel min and max (FloatArray), histograms and their exponents
    # (int64 arrays; percentile and mse only); typed Any: the methods that
    # use them run only once they are set.  And the parameters from_dict loads.
    dtype: Any
    _lo: Any
    _hi: Any
    _hist: Any
    _exp: Any
    _frozen: tuple[FloatArray, npt.NDArray[Any] | None] | None

    def __init__(
        self,
        method: CalibrationMethod = "minmax",
        *,
        axis: int | None = None,
        symmetric: bool = True,
        qdtype: QDtype = "int8",
        percentile: float = 99.99,
        bins: int = 2048,
    ) -> None:
        qdtype = calibrator_options(
            method, axis, symmetric, qdtype, percentile, bins, METHODS, MAX_BINS
        )
        self.method, self.axis, self.symmetric = method, axis, bool(symmetric)
        self.qdtype, self.percentile, self.bins = qdtype, float(percentile), bins
        self.dtype = None  # working dtype, from the first batch
        self.count = 0  # values seen
        self._lo = self._hi = None
        self._hist = self._exp = None
        self._frozen = None  # (scale, zero_point) of a calibrator loaded by from_dict

    # -- feeding -------------------------------------------------------------
    def update(self, batch: Any) -> Calibrator:  # array_like, Dask array or iterator
        """Add a batch of samples to the ranges.

        The result does not depend on how the data is cut into batches, nor
        on their order.

        Parameters
        ----------
        batch : array_like, Dask array, or iterable of them
            An array of any shape that has the channel axis (of the same
            length in every batch), a Dask array (read one row of blocks at a
            time) or an iterator or generator of such batches.

        Returns
        -------
        Calibrator
            self.

        Raises
        ------
        ValueError
            NaN or inf in the batch; a channel axis of another length.

        Examples
        --------
        >>> import numpy as np, int8q
        >>> x = np.random.default_rng(0).standard_normal((1000, 8))
        >>> cal = int8q.Calibrator("minmax").update(x[i : i + 100] for i in range(0, 1000, 100))
        >>> bool(cal.scale == int8q.quantize(x).scale)
        True
        """
        if self._frozen is not None and self.method != "minmax":
            raise ValueError(
                "this calibrator was loaded with from_dict and keeps no "
                "histogram; only a minmax calibrator can take more batches"
            )
        if _is_dask(batch):
            for i in range(batch.numblocks[0] if batch.ndim else 1):
                self.update(
                    np.asarray(batch.blocks[i].compute() if batch.ndim else batch.compute())
                )
            return self
        if isinstance(batch, (types.GeneratorType, map, filter, zip)) or (
            hasattr(batch, "__next__") and not isinstance(batch, np.ndarray)
        ):
            for part in batch:
                self.update(part)
            return self
        x = np.asarray(batch)
        work = working_dtype(x.dtype)
        if self.dtype is not None and work != self.dtype:
            raise TypeError(f"batches computed in {self.dtype} so far; this one is {x.dtype}")
        if self.axis is not None and x.ndim == 0:
            raise ValueError("a 0-d batch has no channel axis")
        gran = resolve(x.shape, self.axis, None)
        channels = gran.nscales
        if self._lo is not None and channels != self._lo.shape[0]:
            raise ValueError(
                f"batch has {channels} channels along axis {self.axis}, "
                f"earlier batches had {self._lo.shape[0]}"
            )
        with np.errstate(invalid="ignore"):
            lo = np.asarray(_affine._reduce(x, gran, np.min)).astype(work).reshape(-1)
            hi = np.asarray(_affine._reduce(x, gran, np.max)).astype(work).reshape(-1)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all()):
            found = _engine.find_nonfinite(x, work)
            assert found is not None  # for mypy: lo or hi is not finite
            raise nonfinite_error(*found, what="batch")
        if self._lo is None:
            if self.method != "minmax" and channels * 16 * self.bins > MAX_HISTOGRAM_BYTES:
                raise ValueError(
                    f"bins={self.bins} for {channels} channels needs a histogram of "
                    f"{channels * 16 * self.bins} bytes, more than {MAX_HISTOGRAM_BYTES}; "
                    "use fewer bins"
                )
            self.dtype, self._lo, self._hi = work, lo, hi
            if self.method != "minmax":
                self._hist = np.zeros((channels, 2 * self.bins), dtype=np.int64)
                self._exp = np.full(channels, E_EMPTY, dtype=np.int64)
        else:
            np.minimum(self._lo, lo, out=self._lo)
            np.maximum(self._hi, hi, out=self._hi)
        if self._hist is not None and x.size:
            self._grow(np.maximum(-lo, hi))
            self._add(x, gran)
        self.count += int(x.size)
        self._frozen = None if self.method == "minmax" else self._frozen
        return self

    def _grow(self, amax: FloatArray) -> None:
        """Raise each channel's range 2^e above amax, merging bins exactly."""
        _, e = np.frexp(amax.astype(np.float64))  # amax < 2^e
        e = np.where(amax > 0, e, E_EMPTY).astype(np.int64)
        grow = e > self._exp
        if not grow.any():
            return
        n = self.bins
        rows = np.flatnonzero(grow)
        # A jump of more than log2(2 * bins) doublings sends every old bin
        # to one of the two central ones: cap it (the merge is the same).
        d = np.minimum(e[rows] - self._exp[rows], int(math.log2(n)) + 1)
        f = (np.int64(1) << d)[:, None]
        new_index = (n * (f - 1) + np.arange(2 * n)[None, :]) // f
        merged = np.zeros((rows.size, 2 * n), dtype=np.int64)
        np.add.at(merged, (np.arange(rows.size)[:, None], new_index), self._hist[rows])
        self._hist[rows] = merged
        self._exp[rows] = e[rows]

    def _add(self, x: npt.NDArray[Any], gran: Granularity) -> None:
        """Histogram x into the channels' bins, SLICE elements at a time."""
        n, channels = self.bins, self._hist.shape[0]
        # bins / R as a power of two: the multiplication below is exact.  A
        # channel of zeros only (E_EMPTY) takes 1: its values all fall in the
        # bin of 0 whatever the factor, and 2^(log2(bins) + 1100) overflows.
        factor = np.ldexp(1.0, np.where(self._exp == E_EMPTY, 0, int(math.log2(n)) - self._exp))
        n_row, block, cmod, nb = gran.layout
        flat_hist = self._hist.reshape(-1)
        for start, chunk in chunks(x, self.dtype):
            for s in range(0, chunk.shape[0], SLICE):
                v = chunk[s : s + SLICE].astype(np.float64)
                if channels == 1:
                    ch = 0
                    idx = np.floor(v * factor[0])
                else:
                    i = np.arange(start + s, start + s + v.shape[0], dtype=np.int64)
                    row, col = np.divmod(i, n_row)
                    ch = (row % cmod) * nb + col // block
                    idx = np.floor(v * factor[ch])
                idx = np.clip(idx + n, 0, 2 * n - 1).astype(np.int64) + ch * (2 * n)
                if flat_hist.size <= 4 * idx.size:
                    flat_hist += np.bincount(idx, minlength=flat_hist.size)
                else:  # no histogram-sized temporary per slice
                    np.add.at(flat_hist, idx, 1)

    # -- results -------------------------------------------------------------
    def _ranges(self) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """(rmin, rmax) per channel in float64 for the method (rmin <= 0 <= rmax)."""
        lo, hi = self._lo.astype(np.float64), self._hi.astype(np.float64)
        if self.method == "minmax":
            return lo, hi
        n = self.bins
        # Bin widths; a channel of zeros only gets width 1 (its counts are all
        # in the bin of 0, whatever the width).
        w = np.where(self._exp == E_EMPTY, 1.0, np.ldexp(1.0, self._exp - int(math.log2(n))))[
            :, None
        ]
        hist = methods.Histogram(self._hist, w, lo, hi, n)
        if self.method == "percentile":
            return methods.percentile_ranges(hist, self.percentile / 100, self.symmetric)
        return methods.histogram_mse_ranges(hist, self.symmetric)

    def _params(self) -> tuple[FloatArray, npt.NDArray[Any] | None]:
        if self._frozen is not None:
            return self._frozen
        if self._lo is None:
            raise ValueError("the calibrator has seen no data yet; call update(batch)")
        rmin, rmax = self._ranges()
        work = self.dtype
        shape = () if self.axis is None else (self._lo.shape[0],)
        if self.symmetric:
            if self.method == "minmax":  # exact: the same rule as int8q.quantize
                amax = np.maximum(-self._lo, self._hi)
            else:
                amax = np.asarray(rmax, dtype=work)
            return _engine.scales_from_absmax(amax).reshape(shape), None
        if self.method == "minmax":
            rmin, rmax = self._lo, self._hi
        scale, zp = _affine.range_params(
            np.asarray(rmin, work), np.asarray(rmax, work), self.qdtype, work
        )
        return scale.reshape(shape), zp.reshape(shape)

    @property
    def scale(self) -> FloatArray:
        """Scales in the working dtype: shape () per tensor, (channels,) per axis."""
        return self._params()[0]

    @property
    def zero_point(self) -> npt.NDArray[Any] | None:
        """Zero points (of qdtype) when symmetric is False, else None."""
        return self._params()[1]

    def quantize(
        self, x: ArrayLike, *, out: npt.NDArray[Any] | None = None, rounding: Rounding = "half_even"
    ) -> QTensor:
        """Quantize `x` with the calibrated scales (and zero points).

        ``int8q.quantize(x, scale=..., zero_point=..., axis=...)`` with this
        calibrator's parameters: values beyond the calibrated range saturate.

        Parameters
        ----------
        x : array_like
            With the channel axis of the calibration data.
        out : ndarray, optional
            As in `int8q.quantize`.
        rounding : {"half_even", "half_away"}
            How ties round.

        Returns
        -------
        QTensor

        Examples
        --------
        >>> import numpy as np, int8q
        >>> cal = int8q.Calibrator().update(np.array([-2.0, 1.0]))
        >>> cal.quantize(np.array([1.0, 3.0])).q   # 3.0 is beyond the range
        array([ 64, 127], dtype=int8)
        """
        scale, zp = self._params()
        from ._api import quantize

        return quantize(
            x,
            scale=scale,
            zero_point=zp,
            axis=self.axis,
            qdtype=self.qdtype,
            symmetric=self.symmetric,
            out=out,
            rounding=rounding,
        )

    # -- saving --------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """The calibrated parameters as plain JSON types, for `from_dict`.

        Floats are exact: a float32 or float64 value round-trips through JSON
        unchanged.

        Returns
        -------
        dict

        Examples
        --------
        >>> import json, numpy as np, int8q
        >>> cal = int8q.Calibrator().update(np.array([-2.0, 1.0]))
        >>> text = json.dumps(cal.to_dict())
        >>> again = int8q.Calibrator.from_dict(json.loads(text))
        >>> bool(again.scale == cal.scale)
        True
        """
        scale, zp = self._params()
        return {
            "format": FORMAT,
            "version": 1,
            "method": self.method,
            "axis": self.axis,
            "symmetric": self.symmetric,
            "qdtype": self.qdtype.name,
            "percentile": self.percentile,
            "bins": self.bins,
            "dtype": self.dtype.name,
            "count": self.count,
            "scale": np.asarray(scale, np.float64).reshape(-1).tolist(),
            "zero_point": None if zp is None else np.asarray(zp).reshape(-1).tolist(),
            "min": self._lo.astype(np.float64).tolist() if self._lo is not None else None,
            "max": self._hi.astype(np.float64).tolist() if self._hi is not None else None,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Calibrator:
        """A calibrator that quantizes with saved parameters.

        A "minmax" one can also take more batches; the others keep no
        histogram, so they can only quantize.

        Parameters
        ----------
        d : dict
            The output of `to_dict`, or ``json.loads`` of it.

        Returns
        -------
        Calibrator

        Raises
        ------
        ValueError, TypeError
            Naming the field, for anything `to_dict` could not have written:
            a missing field, a wrong type, NaN/inf, ``min > max``, a zero
            point that is not an integer in qdtype's range.

        Examples
        --------
        >>> import numpy as np, int8q
        >>> saved = int8q.Calibrator(axis=-1).update(np.array([[1.0, -4.0]])).to_dict()
        >>> int8q.Calibrator.from_dict(saved).quantize(np.array([0.5, 2.0])).q
        array([64, 64], dtype=int8)
        """
        if not isinstance(d, dict):
            raise TypeError(f"from_dict takes a dict, got {type(d).__name__}")
        if _field(d, "format") != FORMAT:
            raise ValueError(f"not a {FORMAT} dict (format is {d['format']!r})")
        version = _field(d, "version")
        if type(version) is not int or version != 1:
            raise ValueError(f"unsupported {FORMAT} version {version!r}")
        qdtype = _field(d, "qdtype")
        if qdtype not in ("int8", "uint8"):  # (before np.dtype, which raises anything)
            raise ValueError(f"qdtype must be 'int8' or 'uint8', got {qdtype!r}")
        cal = cls(
            _field(d, "method"),
            axis=_field(d, "axis"),
            symmetric=_field(d, "symmetric"),
            qdtype=np.dtype(qdtype),
            percentile=_field(d, "percentile"),
            bins=_field(d, "bins"),
        )
        dtype = _field(d, "dtype")
        if dtype not in ("float32", "float64"):
            raise ValueError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
        work = np.dtype(dtype)
        count = _field(d, "count")
        if type(count) is not int:
            raise TypeError(f"count must be an integer, got {count!r}")
        if not 0 <= count <= MAX_COUNT:
            raise ValueError(f"count must lie in [0, {MAX_COUNT}], got {count}")
        if cal.axis is None and isinstance(d.get("scale"), list) and len(d["scale"]) != 1:
            raise ValueError(f"scale has {len(d['scale'])} values; with axis None it has one")
        scale = _numbers(d, "scale", work, 1 if cal.axis is None else None)
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
        zp = None
        if cal.symmetric:
            if _field(d, "zero_point") is not None:
                raise ValueError("zero_point must be null when symmetric is true")
        else:
            zp = _integers(d, "zero_point", cal.qdtype, channels)
        shape = () if cal.axis is None else (channels,)
        cal.dtype, cal.count = work, count
        cal._lo, cal._hi = lo, hi
        cal._frozen = (scale.reshape(shape), None if zp is None else zp.reshape(shape))
        return cal

    def __repr__(self) -> str:
        return (
            f"Calibrator(method={self.method!r}, axis={self.axis}, "
            f"symmetric={self.symmetric}, qdtype={self.qdtype}, count={self.count})"
        )


def _is_dask(batch: object) -> bool:
    return type(batch).__module__.split(".")[0] == "dask" and hasattr(batch, "blocks")


def _field(d: dict[str, Any], key: str) -> Any:
    if key not in d:
        raise ValueError(f"{FORMAT} dict lacks the field {key!r}")
    return d[key]


def _list(d: dict[str, Any], key: str, n: int | None) -> list[Any]:
    """The list d[key], of length n (None: any length but 0)."""
    values = _field(d, key)
    if not isinstance(values, list):
        raise TypeError(f"{key} must be a list, got {type(values).__name__}")
    if len(values) != n if n is not None else not values:
        raise ValueError(f"{key} has {len(values)} values, expected {n or 'at least 1'}")
    return values


def _numbers(d: dict[str, Any], key: str, work: np.dtype[Any], n: int | None) -> FloatArray:
    """d[key] as a flat array of finite numbers in the working dtype."""
    values = _list(d, key, n)
    for i, v in enumerate(values):
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise TypeError(f"{key}[{i}] must be a number, got {v!r}")
        try:
            float(v)
        except OverflowError:  # an integer beyond float64
            raise ValueError(f"{key}[{i}] is not finite in {work}: {v}") from None
    with np.errstate(over="ignore"):
        a: FloatArray = np.array(values, dtype=np.float64).astype(work)
    bad = np.flatnonzero(~np.isfinite(a))
    if bad.size:
        raise ValueError(f"{key}[{bad[0]}] is not finite in {work}: {values[bad[0]]}")
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
