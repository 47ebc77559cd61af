"""Calibrator state: the to_dict -> JSON -> from_dict round trip, property
tested, and hostile dicts refused with a ValueError or TypeError that names
the field; the cap on bins and on the histogram's memory."""

import json
import math
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import int8q
from int8q import _calibrate

SETTINGS = settings(
    max_examples=int(os.environ.get("INT8Q_CALIB_EXAMPLES", 60)),
    deadline=None,
    suppress_health_check=list(HealthCheck),
)

FIELDS = [
    "format",
    "version",
    "method",
    "axis",
    "symmetric",
    "qdtype",
    "percentile",
    "bins",
    "dtype",
    "count",
    "scale",
    "zero_point",
    "min",
    "max",
]


@st.composite
def calibrated(draw):
    """A calibrator fed one or two random batches, and the batches."""
    method = draw(st.sampled_from(_calibrate.METHODS))
    symmetric = draw(st.booleans())
    qdtype = np.int8 if symmetric else draw(st.sampled_from([np.int8, np.uint8]))
    axis = draw(st.sampled_from([None, 0, -1]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    channels = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([0.0, 1e-30, 1.0, 1e3]))
    shift = draw(st.sampled_from([0.0, 2.0, -2.0]))
    rng = np.random.default_rng(seed)
    cal = int8q.Calibrator(
        method,
        axis=axis,
        symmetric=symmetric,
        qdtype=qdtype,
        percentile=draw(st.sampled_from([90.0, 99.9, 100])),
        bins=draw(st.sampled_from([2, 64, 2048])),
    )
    batches = [
        (rng.standard_normal((draw(st.integers(1, 9)), channels)) * scale + shift).astype(dtype)
        for _ in range(draw(st.integers(1, 2)))
    ]
    for b in batches:
        cal.update(b if axis != 0 else b.T)
    return cal, batches


def _same(a, b):
    return (a is None and b is None) or (
        np.asarray(a).dtype == np.asarray(b).dtype
        and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    )


@SETTINGS
@given(calibrated())
def test_round_trip_through_json(made):
    cal, batches = made
    d = cal.to_dict()
    loaded = int8q.Calibrator.from_dict(json.loads(json.dumps(d, allow_nan=False)))
    assert loaded.to_dict() == d
    assert _same(loaded.scale, cal.scale) and _same(loaded.zero_point, cal.zero_point)
    x = batches[0] if cal.axis != 0 else batches[0].T
    assert loaded.quantize(x).q.tobytes() == cal.quantize(x).q.tobytes()


# Values of the wrong type for any field, and values of the right type that
# are out of range or inconsistent, per field.
WRONG_TYPES = st.sampled_from(
    [None, "x", "(,)", [], {}, [[1]], True, 1.5, float("nan"), float("inf"), 2**70, -(2**70)]
)
BAD_VALUES = {
    "format": ["int8q.Other", "", 1],
    "version": [0, 2, 1.0, True, 2**70],
    "method": ["kl", "", "MINMAX"],
    "axis": [1.0, "0", True, 2**70, -(2**70), 64, -65],
    "symmetric": [0, 1, "yes", None],
    "qdtype": ["int16", "(,)", "i1", "float32", 8, "<i8"],
    "percentile": [0, -1, 100.5, float("nan"), float("inf"), 2**70, "99"],
    "bins": [0, 1, 3, 1000, 2**17, 2**26, 2**40, 2**70, 64.0],
    "dtype": ["float16", "(,)", "int8", "<f4x", 32],
    "count": [-1, float("inf"), float("nan"), 2**63, 2**70, 1.5, "3", None],
    "scale": [[0.0], [-1.0], [float("nan")], [float("inf")], ["1"], [True], [2**2000], []],
    "zero_point": [[1.7], [300], [-300], [2**70], ["0"], [True], 0],
    "min": [[float("nan")], [float("inf")], [1.0], ["0"], [2**2000], []],
    "max": [[float("nan")], [-float("inf")], [-1.0], [None], [2**2000], []],
}


def _check_refused(d, field):
    with pytest.raises((ValueError, TypeError)) as info:
        int8q.Calibrator.from_dict(json.loads(json.dumps(d)))
    assert type(info.value) in (ValueError, TypeError), repr(info.value)
    assert field in str(info.value), (field, str(info.value))


@SETTINGS
@given(calibrated(), st.sampled_from(FIELDS), st.data())
def test_hostile_field_is_refused_naming_it(made, field, data):
    cal, _ = made
    d = cal.to_dict()
    value = data.draw(st.sampled_from(BAD_VALUES[field]) | WRONG_TYPES)
    if field in ("zero_point", "min", "max", "scale") and isinstance(value, list):
        n = len(d["scale"])
        value = value * n if value else value  # one bad value per channel
    if field == "zero_point" and cal.symmetric:
        value = [0] * len(d["scale"])  # a symmetric calibrator takes no zero point
    mutated = {**d, field: value}
    if _still_valid(d, field, value):
        int8q.Calibrator.from_dict(json.loads(json.dumps(mutated)))
        return
    _check_refused(mutated, field)


def _still_valid(d, field, value):
    """The few hostile draws that happen to be valid for this dict."""
    if field == "axis":  # None: one scale only
        return (value is None and len(d["scale"]) == 1) or (
            type(value) is int and not isinstance(value, bool) and -64 <= value < 64
        )
    if field == "percentile":
        return type(value) in (int, float) and 0 < value <= 100
    if field == "symmetric":
        return value is d["symmetric"]
    if field == "bins":
        return type(value) is int and 2 <= value <= 2**16 and value & (value - 1) == 0
    return False


@SETTINGS
@given(calibrated(), st.sampled_from(FIELDS))
def test_missing_field_is_refused_naming_it(made, field):
    d = made[0].to_dict()
    del d[field]
    _check_refused(d, field)


@SETTINGS
@given(calibrated(), st.data())
def test_min_above_max_and_mismatched_lengths(made, data):
    cal, _ = made
    d = cal.to_dict()
    n = len(d["scale"])
    i = data.draw(st.integers(0, n - 1))
    lo, hi = list(d["min"]), list(d["max"])
    lo[i], hi[i] = 1.0, 0.5  # min > max
    _check_refused({**d, "min": lo, "max": hi}, "min")
    _check_refused({**d, "min": d["min"] + [0.0]}, "min")
    _check_refused({**d, "max": d["max"][:-1]}, "max")
    if not cal.symmetric:
        _check_refused({**d, "zero_point": d["zero_point"] + [0]}, "zero_point")
        zp = list(d["zero_point"])
        zp[i] = zp[i] + 0.7  # fractional: once read as int() of it
        _check_refused({**d, "zero_point": zp}, "zero_point")
    else:
        _check_refused({**d, "zero_point": [0] * n}, "zero_point")


def test_the_issue_cases_by_name():
    cal = int8q.Calibrator("minmax", symmetric=False, axis=-1).update(np.ones((3, 2)))
    d = cal.to_dict()
    for field, value, error in (
        ("count", float("inf"), TypeError),
        ("dtype", "(,)", ValueError),
        ("zero_point", [300, 0], ValueError),
        ("zero_point", [1.7, 0], TypeError),
        ("min", [float("nan"), 0.0], ValueError),
        ("qdtype", "(,)", ValueError),
    ):
        with pytest.raises(error, match=field):
            int8q.Calibrator.from_dict({**d, field: value})
    missing = dict(d)
    del missing["scale"]
    with pytest.raises(ValueError, match="scale"):
        int8q.Calibrator.from_dict(missing)
    with pytest.raises(TypeError, match="dict"):
        int8q.Calibrator.from_dict([d])


@pytest.mark.parametrize("bins", [2**17, 2**26, 2**40, 2**70])
def test_bins_cap(bins):
    with pytest.raises(ValueError, match=r"bins must be a power of two in \[2, 65536\]"):
        int8q.Calibrator("percentile", bins=bins)


def test_largest_bins_work():
    cal = int8q.Calibrator("mse", bins=_calibrate.MAX_BINS).update(np.linspace(-1, 1, 1000))
    assert 0 < float(cal.scale) <= 1 / 127


def test_histogram_memory_cap_at_first_update():
    channels = _calibrate.MAX_HISTOGRAM_BYTES // (16 * _calibrate.MAX_BINS) + 1
    cal = int8q.Calibrator("percentile", axis=0, bins=_calibrate.MAX_BINS)
    with pytest.raises(ValueError, match="bins=65536 for 1025 channels"):
        cal.update(np.zeros((channels, 1), np.float32))
    assert cal.count == 0 and cal._hist is None  # nothing kept from the refused batch
    # minmax keeps no histogram: no cap on the channels.
    int8q.Calibrator("minmax", axis=0, bins=_calibrate.MAX_BINS).update(
        np.zeros((channels, 1), np.float32)
    )
    assert math.log2(_calibrate.MAX_BINS).is_integer()


@pytest.mark.parametrize("method", ["percentile", "mse"])
def test_channels_of_zeros_only(method):
    """A first batch whose channel is all zeros: its histogram factor once
    overflowed (2^(log2(bins) + 1100)) and indexed the histogram with garbage."""
    x = np.zeros((4, 3), np.float32)
    x[:, 1] = [1.0, -2.0, 0.5, 0.25]
    for axis in (None, -1):
        cal = int8q.Calibrator(method, axis=axis).update(np.zeros((4, 3), np.float32))
        assert cal._hist.sum() == 12
        cal.update(x)  # the zeros' bin merges into the grown range exactly
        assert cal._hist.sum() == 24
    cal = int8q.Calibrator(method, axis=-1, symmetric=False).update(x)
    assert cal.scale[0] == 1 and cal.scale[2] == 1 and cal.scale[1] > 0


def test_the_channel_named_is_the_one_out_of_range():
    """Channel 0's range [-1, 0] is valid (max may be 0); channel 1's is not."""
    x = np.array([[-1.0, 1.5], [0.0, 2.0]], np.float32)
    d = int8q.Calibrator("minmax", axis=-1).update(x).to_dict()
    d["min"], d["max"] = [-1.0, 1.0], [0.0, 2.0]
    with pytest.raises(ValueError, match=r"min\[1\] = 1\.0 and max\[1\] = 2\.0"):
        int8q.Calibrator.from_dict(json.loads(json.dumps(d)))
