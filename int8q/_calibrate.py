"""int8q.Calibrator: ranges found once over a stream of batches, saved, reused.

State per channel (one channel per tensor when axis is None), or per block
with block_size ("minmax" only; every batch then has the same shape, which
fixes the scale shape):

- the exact running range ``[min(0, min x), max(0, max x)]`` in the working
  dtype ("minmax" uses nothing else, so its scales equal int8q.quantize's on
  the concatenated batches, bit for bit);
- for "percentile" and "mse", a histogram of x with 2 * bins equal bins over
  ``[-R, R)``, R a power of two above the channel's abs-max.  When a batch
  exceeds R, R doubles (as often as needed) and neighbouring bins merge:
  the merge is exact, so the histogram does not depend on the order or the
  size of the batches.  Memory: 16 * bins bytes per channel, whatever the
  number of samples; a batch is read in slices of _calibration_stream.SLICE elements.

This module is the collector; the methods that turn its state into ranges
are int8q/_calibration_methods.py, one function each; the reading of
batches (reductions, Dask blocks, the histogram's bins) is
int8q/_calibration_stream.py, and the checks of a batch against the state
and of the saved dict int8q/_calibration_state.py.

Threads may share a calibrator: a lock guards the state.  A batch's range
(the reduction, one pass over the data) is found outside the lock, so
threads reduce in parallel; its merge into the state (the range, and the
histogram pass for "percentile" and "mse") runs under it, so the state is
the one the updates give one after another.  The lock costs one acquire
and release per update(), about 0.4 us: measured against a no-op context
manager in its place, a 1-element update() took 22 us (minmax) and 37 us
(percentile) either way, a 2^20-element minmax one 118 us, within noise.
"""

from __future__ import annotations

import threading
import types
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from . import _affine, _engine
from . import _calibration_methods as methods
from . import _calibration_state as _state
from . import _calibration_stream as _stream
from ._checks import calibrator_options
from ._granularity import Granularity, resolve
from ._operands import as_input
from ._typing import ArrayLike, CalibrationMethod, FloatArray, QDtype, Rounding

if TYPE_CHECKING:  # (imported when used: _api imports this module)
    from ._api import QTensor

METHODS = ("minmax", "percentile", "mse")
E_EMPTY = _stream.E_EMPTY  # exponent of a channel that has seen only zeros
# Histogram bounds: bins per sign and channel (16 * MAX_BINS bytes, 1 MiB,
# per channel), and the whole histogram (every channel) of one calibrator.
MAX_BINS = 1 << 16
MAX_HISTOGRAM_BYTES = _state.MAX_HISTOGRAM_BYTES


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
    block_size : int or None
        One range per block of `block_size` values, as in `int8q.quantize`:
        along the last axis, or along `axis` when both are given (the scale
        has the batch's shape with that axis ceil-divided).  Every batch
        must then have the same shape.  For "minmax" only (a histogram per
        block would take ``16 * bins`` bytes for each block).
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

    Blocks of 2 along axis 0, as ``int8q.quantize(x, axis=0, block_size=2)``:

    >>> x = np.array([[1.0, -8.0], [2.0, 4.0], [-4.0, 1.0]])
    >>> cal = int8q.Calibrator(axis=0, block_size=2).update(x)
    >>> cal.scale.shape
    (2, 2)
    >>> bool((cal.quantize(x).q == int8q.quantize(x, axis=0, block_size=2).q).all())
    True
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
    # With block_size: the shape every batch has, and the scale shape.
    _shape: tuple[int, ...] | None
    _scale_shape: tuple[int, ...] | None

    def __init__(
        self,
        method: CalibrationMethod = "minmax",
        *,
        axis: int | None = None,
        block_size: int | None = None,
        symmetric: bool = True,
        qdtype: QDtype = "int8",
        percentile: float = 99.99,
        bins: int = 2048,
    ) -> None:
        axis, block_size, qdtype, bins = calibrator_options(
            method, axis, symmetric, qdtype, percentile, bins, METHODS, MAX_BINS, block_size
        )
        self.method, self.axis, self.symmetric = method, axis, bool(symmetric)
        self.block_size = block_size
        self.qdtype, self.percentile, self.bins = qdtype, float(percentile), bins
        self._lock = threading.Lock()  # guards everything below
        self.dtype = None  # working dtype, from the first batch
        self.count = 0  # values seen
        self._lo = self._hi = None
        self._hist = self._exp = None
        self._shape = self._scale_shape = None
        self._frozen = None  # (scale, zero_point) of a calibrator loaded by from_dict

    # -- feeding -------------------------------------------------------------
    def update(self, batch: Any) -> Calibrator:  # array_like, Dask array or iterator
        """Add a batch of samples to the ranges.

        The result does not depend on how the data is cut into batches, nor
        on their order.  Threads may share a calibrator: each batch is
        merged whole, as if the updates ran one after another.

        Parameters
        ----------
        batch : array_like, Dask array, or iterable of them
            An array of any shape that has the channel axis (of the same
            length in every batch; with block_size, of the same shape as
            every other batch), a CPU torch tensor, a Dask array (any
            chunking; read one block at a time) or an iterator or generator
            of such batches.

        Returns
        -------
        Calibrator
            self.

        Raises
        ------
        ValueError
            NaN or inf in the batch; a channel axis of another length; with
            block_size, a batch of another shape.
        numpy.exceptions.AxisError
            An axis the batch does not have, as from `int8q.quantize`.
        TypeError
            A masked array, a batch of another working dtype.

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
        if _stream.is_dask(batch):
            part = _stream.dask_part(self, batch)
            with self._lock:
                self._absorb(part)
            return self
        if isinstance(batch, (types.GeneratorType, map, filter, zip)) or (
            hasattr(batch, "__next__") and not isinstance(batch, np.ndarray)
        ):
            for part in batch:
                self.update(part)
            return self
        x = as_input(batch, "batch")
        work, gran, lo, hi = _stream.reduce(x, self.axis, None, self.block_size)
        with self._lock:
            if self.block_size is None:
                self._merge(x, work, gran, lo, hi)
            else:
                self._start(work, gran.nscales, x.shape)
                self._merge_blocks(x, work, lo, hi, slice(None))
        return self

    def _start(
        self, work: np.dtype[Any], channels: int, shape: tuple[int, ...] | None = None
    ) -> None:
        """Empty state for `channels` channels, for batches of `shape` with
        block_size (the caller holds the lock)."""
        shape = None if shape is None else tuple(shape)
        _state.check_batch(self, work, channels, shape)
        if self._lo is None:
            self.dtype = work
            if shape is not None:
                self._shape = shape
                self._scale_shape = resolve(shape, self.axis, self.block_size).scale_shape
            self._lo, self._hi = np.zeros(channels, work), np.zeros(channels, work)
            if self.method != "minmax":
                self._hist = np.zeros((channels, 2 * self.bins), dtype=np.int64)
                self._exp = np.full(channels, E_EMPTY, dtype=np.int64)

    def _merge(
        self,
        x: npt.NDArray[Any],
        work: np.dtype[Any],
        gran: Granularity,
        lo: FloatArray,
        hi: FloatArray,
        first: int = 0,
        channels: int | None = None,
    ) -> None:
        """Merge batch x (its ranges lo, hi found) into channels `first`,
        first + 1, ... of the state, of `channels` in all (the batch's own
        count when None); the caller holds the lock."""
        self._start(work, gran.nscales if channels is None else channels)
        rows = slice(first, first + lo.shape[0])
        if channels is None:  # the whole state (no views: small calls feel them)
            np.minimum(self._lo, lo, out=self._lo)
            np.maximum(self._hi, hi, out=self._hi)
        else:
            np.minimum(self._lo[rows], lo, out=self._lo[rows])
            np.maximum(self._hi[rows], hi, out=self._hi[rows])
        if self._hist is not None and x.size:
            e = _stream.exponents(np.maximum(-lo, hi), self.bins)
            _stream.grow(self._hist, self._exp, e, rows)
            _stream.add(self._hist, self._exp, x, gran, first, self.dtype)
        self.count += int(x.size)
        self._frozen = None if self.method == "minmax" else self._frozen

    def _merge_blocks(
        self,
        x: npt.NDArray[Any],
        work: np.dtype[Any],
        lo: FloatArray,
        hi: FloatArray,
        where: slice,
    ) -> None:
        """Merge the ranges lo, hi (flat) of batch x's blocks into the
        blocks `where` (a slice along axis 0 of the scale shape) of a
        started block state; the caller holds the lock."""
        assert self._scale_shape is not None  # for mypy: _start set it
        los = self._lo.reshape(self._scale_shape)[where]  # views of the state
        his = self._hi.reshape(self._scale_shape)[where]
        np.minimum(los, lo.reshape(los.shape), out=los)
        np.maximum(his, hi.reshape(his.shape), out=his)
        self.count += int(x.size)
        self._frozen = None

    def _absorb(self, part: Calibrator) -> None:
        """Merge another calibrator's state (same options) into this one;
        the caller holds the lock.  Exact: histograms meet at the larger
        range of each channel, where bins merge exactly."""
        if part._lo is None:
            return
        self._start(part.dtype, part._lo.shape[0], part._shape)
        np.minimum(self._lo, part._lo, out=self._lo)
        np.maximum(self._hi, part._hi, out=self._hi)
        if self._hist is not None:
            e = np.maximum(self._exp, part._exp)
            everything = slice(None)
            _stream.grow(self._hist, self._exp, e, everything)
            _stream.grow(part._hist, part._exp, e, everything)
            self._hist += part._hist
        self.count += part.count
        self._frozen = None if self.method == "minmax" else self._frozen

    def _fresh(self) -> Calibrator:
        """An empty calibrator with the same options."""
        return type(self)(
            self.method,
            axis=self.axis,
            block_size=self.block_size,
            symmetric=self.symmetric,
            qdtype=self.qdtype,
            percentile=self.percentile,
            bins=self.bins,
        )

    # -- results -------------------------------------------------------------
    def _ranges(self) -> tuple[npt.NDArray[Any], npt.NDArray[Any]]:
        """(rmin, rmax) per channel for the method (rmin <= 0 <= rmax): in
        the working dtype for "minmax" (exact), in float64 for the others."""
        # + 0 turns -0.0 into 0.0: which zero a running min or max keeps
        # depends on the order it meets them, and results must not.
        lo, hi = self._lo + 0, self._hi + 0
        if self.method == "minmax":
            return methods.minmax_ranges(lo, hi)
        hist = _stream.histogram(self._hist, self._exp, lo, hi, self.bins)
        if self.method == "percentile":
            return methods.percentile_ranges(hist, self.percentile / 100, self.symmetric)
        return methods.histogram_mse_ranges(hist, self.symmetric)

    def _params(self) -> tuple[FloatArray, npt.NDArray[Any] | None]:
        with self._lock:
            return self._params_of_state()

    def _params_of_state(self) -> tuple[FloatArray, npt.NDArray[Any] | None]:
        """(scale, zero_point) of the state; the caller holds the lock."""
        if self._frozen is not None:
            return self._frozen
        if self._lo is None:
            raise ValueError("the calibrator has seen no data yet; call update(batch)")
        work = self.dtype
        rmin, rmax = (np.asarray(r, work) for r in self._ranges())
        if self._scale_shape is not None:
            shape = self._scale_shape
        else:
            shape = () if self.axis is None else (self._lo.shape[0],)
        if self.symmetric:  # (the ranges of the symmetric methods are [-t, t])
            amax = np.maximum(-rmin, rmax)
            return _engine.scales_from_absmax(amax).reshape(shape), None
        scale, zp = _affine.range_params(rmin, rmax, self.qdtype, work)
        return scale.reshape(shape), zp.reshape(shape)

    @property
    def scale(self) -> FloatArray:
        """Scales in the working dtype: shape () per tensor, (channels,) per
        axis, quantize's scale shape for the batches' shape with block_size."""
        return self._params()[0]

    @property
    def zero_point(self) -> npt.NDArray[Any] | None:
        """Zero points (of qdtype) when symmetric is False, else None."""
        return self._params()[1]

    def quantize(
        self, x: ArrayLike, *, out: npt.NDArray[Any] | None = None, rounding: Rounding = "half_even"
    ) -> QTensor:
        """Quantize `x` with the calibrated scales (and zero points).

        ``int8q.quantize(x, scale=..., zero_point=..., axis=...,
        block_size=...)`` with this calibrator's parameters: values beyond
        the calibrated range saturate.

        Parameters
        ----------
        x : array_like
            With the channel axis of the calibration data (with block_size,
            its shape).
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
            block_size=self.block_size,
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
        with self._lock:
            return _state.as_dict(self, *self._params_of_state())

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
        cal = cls(**_state.options(d))
        saved = _state.values(d, cal.axis, cal.symmetric, cal.qdtype, cal.block_size)
        cal.dtype, cal.count = saved.dtype, saved.seen
        if saved.shape is not None:
            cal._shape, cal._scale_shape = saved.shape, saved.scale.shape
        cal._lo, cal._hi = saved.lo, saved.hi
        cal._frozen = (saved.scale, saved.zero_point)
        return cal

    # A lock cannot be pickled or copied: a copy gets its own.
    def __getstate__(self) -> dict[str, Any]:
        with self._lock:
            state = self.__dict__.copy()
        del state["_lock"]
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return (
            f"Calibrator(method={self.method!r}, axis={self.axis}, "
            + ("" if self.block_size is None else f"block_size={self.block_size}, ")
            + f"symmetric={self.symmetric}, qdtype={self.qdtype}, count={self.count})"
        )
