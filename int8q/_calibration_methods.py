"""The calibration methods: each turns a Calibrator's histogram into ranges.

A histogram (int8q/_calibrate.py, the collector) holds, per channel, 2 * n
equal bins of width w over ``[-n w, n w)``, and the channel's exact observed
range ``[lo, hi]`` (lo <= 0 <= hi).

- `minmax_ranges`: the observed range itself (it needs no histogram), in the
  working dtype, so that its scales are int8q.quantize's bit for bit.
- `percentile_ranges`: the p-th percentile of |x| (symmetric) or of each
  tail (asymmetric), to within one bin width, never beyond the observed
  range.
- `histogram_mse_ranges`: a vectorized search over the histogram.
  Candidate ranges are the observed range shrunk by fractions 1, 0.995, ...,
  0.005; each is scored, with every value at its bin centre v, as v^2 for
  the values that round to zero (|v| < scale / 2), the uniform rounding noise
  scale^2 / 12 for the other values inside the range, and the squared
  distance to the range for the values beyond it; the cheapest one wins.
  (Not to be confused with quantize's clip="mse", which scores candidate
  scales exactly on the data: int8q/_affine.py clip_mse_scales.)
"""

from typing import Any, NamedTuple

import numpy as np
import numpy.typing as npt

HISTOGRAM_MSE_FRACTIONS = 200  # candidate ranges histogram_mse_ranges scores

Ranges = tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]


class Histogram(NamedTuple):
    counts: npt.NDArray[np.int64]  # (channels, 2 n)
    w: npt.NDArray[Any]  # (channels, 1) bin widths
    lo: npt.NDArray[np.float64]  # (channels,) observed minimum, <= 0
    hi: npt.NDArray[np.float64]  # (channels,) observed maximum, >= 0
    n: int  # bins per sign

    @property
    def edges(self) -> npt.NDArray[Any]:
        """(channels, 2 n + 1) bin edges."""
        edges: npt.NDArray[Any] = -self.n * self.w + np.arange(2 * self.n + 1)[None, :] * self.w
        return edges


def minmax_ranges(lo: npt.NDArray[Any], hi: npt.NDArray[Any]) -> tuple[Any, Any]:
    """(rmin, rmax): the exact running range [min(0, min x), max(0, max x)]."""
    return lo, hi


def percentile_ranges(h: Histogram, p: float, symmetric: bool) -> Ranges:
    """(rmin, rmax) at the fraction p (0.5 < p <= 1) of the values."""
    n, w, lo, hi = h.n, h.w, h.lo, h.hi
    cum = np.cumsum(h.counts, axis=1)
    total = cum[:, -1:]
    if symmetric:
        folded = h.counts[:, n:] + h.counts[:, n - 1 :: -1]
        cumf = np.cumsum(folded, axis=1)
        k = np.argmax(cumf >= p * total, axis=1)
        t = np.minimum((k + 1) * w[:, 0], np.maximum(-lo, hi))
        return -t, t
    j_hi = np.argmax(cum >= p * total, axis=1)
    j_lo = np.argmax(cum > (1 - p) * total, axis=1)
    edges = h.edges
    rows = np.arange(edges.shape[0])
    rmax = np.minimum(np.maximum(edges[rows, j_hi + 1], 0), hi)
    rmin = np.maximum(np.minimum(edges[rows, j_lo], 0), lo)
    return rmin, rmax


def histogram_mse_ranges(h: Histogram, symmetric: bool) -> Ranges:
    """(rmin, rmax) whose quantization error over the histogram is least."""
    n, w, lo, hi, edges = h.n, h.w, h.lo, h.hi, h.edges
    if symmetric:
        amax = np.maximum(-lo, hi)
        lo, hi = -amax, amax
    fractions = (
        HISTOGRAM_MSE_FRACTIONS - np.arange(HISTOGRAM_MSE_FRACTIONS)
    ) / HISTOGRAM_MSE_FRACTIONS
    a = lo[:, None] * fractions[None, :]  # (C, K), <= 0
    b = hi[:, None] * fractions[None, :]  # (C, K), >= 0
    levels = 254 if symmetric else 255
    s = (b - a) / levels
    c = h.counts.astype(np.float64)
    centre = (edges[:, :-1] + edges[:, 1:]) / 2
    # Prefix sums of counts, counts*v, counts*v^2 (a leading 0 column).
    pre = [
        np.concatenate([np.zeros((c.shape[0], 1)), np.cumsum(c * centre**k, axis=1)], axis=1)
        for k in range(3)
    ]
    # Bins whose centre is below a: the first na; above b: from nb on.
    origin = -n * w  # (C, 1)
    na = np.clip(np.ceil((a - origin) / w - 0.5), 0, 2 * n).astype(np.int64)
    nb = np.clip(np.floor((b - origin) / w - 0.5) + 1, 0, 2 * n).astype(np.int64)
    rows = np.arange(c.shape[0])[:, None]
    below = [p[rows, na] for p in pre]
    above = [p[:, -1:] - p[rows, nb] for p in pre]
    inside = pre[0][:, -1:] - below[0] - above[0]
    # Values within half a step of 0 round to 0 (exactly representable):
    # their error is v^2, far below s^2 / 12 when most values are small.
    z0 = np.clip(np.floor((-s / 2 - origin) / w - 0.5) + 1, 0, 2 * n).astype(np.int64)
    z1 = np.clip(np.ceil((s / 2 - origin) / w - 0.5), 0, 2 * n).astype(np.int64)
    z0, z1 = np.maximum(z0, na), np.maximum(np.minimum(z1, nb), np.maximum(z0, na))
    zero_count = pre[0][rows, z1] - pre[0][rows, z0]
    zero_sq = pre[2][rows, z1] - pre[2][rows, z0]
    cost = (
        (inside - zero_count) * s**2 / 12
        + zero_sq
        + below[2]
        - 2 * a * below[1]
        + a**2 * below[0]
        + above[2]
        - 2 * b * above[1]
        + b**2 * above[0]
    )
    best = np.argmin(cost, axis=1)
    pick = np.arange(c.shape[0])
    return a[pick, best], b[pick, best]
