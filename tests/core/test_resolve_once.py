"""Each public call resolves its geometry once (docs/design/architecture.md):
the façade (quantize through its plan, int8q/_plan.py) turns (shape, axis,
block_size) into a Granularity with one call of _granularity.resolve and
hands it to the engine, which never resolves,
whichever path (fast, declined, general, failing) the call takes."""

import numpy as np
import pytest

import int8q
from int8q import _affine, _api, _checks, _engine, _granularity, _plan, _qtensor


@pytest.fixture
def resolves(monkeypatch):
    calls = []

    def counting(shape, axis=None, block_size=None):
        calls.append((tuple(shape), axis, block_size))
        return _granularity.resolve(shape, axis, block_size)

    monkeypatch.setattr(_api, "resolve", counting)
    monkeypatch.setattr(_plan, "resolve", counting)
    monkeypatch.setattr(_qtensor, "resolve", counting)
    return calls


X = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6)
S4 = np.full(4, 0.05, np.float32)
QT = int8q.quantize(X, block_size=4)

CALLS = {
    "per block": lambda: int8q.quantize(X, block_size=4),
    "given, common": lambda: int8q.quantize(X, scale=S4, axis=0),
    "given, declined (strided)": lambda: int8q.quantize(X[:, ::2], scale=S4, axis=0),
    "given, declined (uint8 from int64)": lambda: int8q.quantize(
        X, scale=0.1, zero_point=np.int64(5), qdtype=np.uint8
    ),
    "asymmetric": lambda: int8q.quantize(X, symmetric=False, block_size=4),
    "int8 spelled": lambda: int8q.quantize(X, qdtype="int8", axis=1),
    "clip mse": lambda: int8q.quantize(X, clip="mse", axis=1),
    "quantize_dequantize": lambda: int8q.quantize_dequantize(X, axis=0),
    "absmax": lambda: int8q.absmax(X, block_size=5),
    "dequantize, fast": lambda: int8q.dequantize(QT.q, QT.scale, block_size=4),
    "dequantize, general": lambda: int8q.dequantize(
        QT.q, QT.scale.astype(np.float16), block_size=4
    ),
    "dequantize, zero points": lambda: int8q.dequantize(
        QT.q, QT.scale, block_size=4, zero_point=np.zeros(QT.scale.shape, np.int8)
    ),
    "qtensor.dequantize": lambda: QT.dequantize(),
}


@pytest.mark.parametrize("name", list(CALLS))
def test_one_resolve_per_call(resolves, name):
    CALLS[name]()
    assert len(resolves) == 1, resolves


def test_one_resolve_when_the_fast_path_falls_through_to_an_error(resolves):
    # The fast dequantize resolves, finds the scales' shape wrong and leaves
    # the error to the general path, which uses the same Granularity.
    with pytest.raises(ValueError, match="scale has shape"):
        int8q.dequantize(QT.q, QT.scale[:, :1].copy(), block_size=4)
    assert len(resolves) == 1, resolves


def test_the_engine_never_resolves():
    for module in (_affine, _engine):
        assert not hasattr(module, "resolve"), module.__name__


# --- one plan per call: the path is decided, and given scales checked, once --


@pytest.fixture
def scale_checks(monkeypatch):
    calls = []

    def counting(scale, shape, work):
        calls.append(shape)
        return _checks.given_scales(scale, shape, work)

    monkeypatch.setattr(_plan, "given_scales", counting)
    return calls


GIVEN_CALLS = {
    # (call, how many times _checks.given_scales sees the scales)
    "common, per tensor": (lambda: int8q.quantize(X, scale=0.05, zero_point=3), 0),
    "common, per channel": (lambda: int8q.quantize(X, scale=S4, axis=0), 0),
    "general, strided": (lambda: int8q.quantize(X[:, ::2], scale=S4, axis=0), 1),
    "general, a list": (lambda: int8q.quantize(X, scale=[0.05] * 4, axis=0), 1),
    "general, out=": (
        lambda: int8q.quantize(X, scale=S4, axis=0, out=np.empty((4, 6), np.int8)),
        1,
    ),
    "general, float16 x": (lambda: int8q.quantize(X.astype(np.float16), scale=S4, axis=0), 1),
    "asymmetric": (lambda: int8q.quantize(X, symmetric=False, axis=0), 0),
    "clip mse": (lambda: int8q.quantize(X, clip="mse", axis=0), 0),
}


@pytest.mark.parametrize("name", list(GIVEN_CALLS))
def test_given_scales_are_checked_at_most_once(scale_checks, name):
    call, times = GIVEN_CALLS[name]
    call()
    assert len(scale_checks) == times, scale_checks


@pytest.mark.parametrize("scale", [0.0, -1.0, np.nan, np.float32(np.inf), 1e-50, 1e39])
def test_a_bad_given_scale_is_refused_by_the_one_check(scale_checks, scale):
    for x in (X, X[:, ::2], X.astype(np.float16)):
        with pytest.raises(ValueError, match="scales must be finite and > 0"):
            int8q.quantize(x, scale=scale, zero_point=0)
    assert len(scale_checks) == 3


def test_the_executors_check_nothing():
    # the plan (int8q/_plan.py) holds the checks; the modules that execute it
    # take its fields as they are
    for module in (_affine, _engine):
        for name in ("given_scales", "given_zero_points", "quantize_options", "output_qdtype"):
            assert not hasattr(module, name), (module.__name__, name)


@pytest.mark.parametrize(
    "kw, path, qrange, zero_points",
    [
        ({}, _plan.SYMMETRIC, (-127, 127), False),
        ({"qdtype": "int8", "axis": 1}, _plan.SYMMETRIC, (-127, 127), False),
        ({"scale": S4, "axis": 0}, _plan.GIVEN, (-127, 127), False),
        ({"scale": 0.1, "zero_point": 7, "qdtype": "uint8"}, _plan.GIVEN, (0, 255), True),
        ({"scale": 0.1, "zero_point": np.int8(-3)}, _plan.GIVEN, (-128, 127), True),
        ({"symmetric": False, "block_size": 4}, _plan.ASYMMETRIC, (-128, 127), False),
        ({"clip": "mse", "axis": 1}, _plan.CLIP_MSE, (-127, 127), False),
    ],
)
def test_the_plan_names_the_path_geometry_and_range(kw, path, qrange, zero_points):
    args = {"axis": None, "block_size": None, "rounding": "half_away", "out": None}
    args |= {"scale": None, "zero_point": None, "symmetric": True, "qdtype": None, "clip": None}
    args |= kw
    plan = _plan.quantize_plan(X, **args)
    assert plan.path == path
    assert plan.gran == _granularity.resolve(X.shape, args["axis"], args["block_size"])
    assert (plan.qmin, plan.qmax) == qrange
    assert plan.qdtype == int8q.quantize(X, **kw).q.dtype
    assert (plan.zero_points is not None) == zero_points  # given ones, checked
    if path == _plan.GIVEN:
        want = np.broadcast_to(np.asarray(kw["scale"], np.float32), plan.gran.scale_shape)
        assert plan.scales.tobytes() == want.tobytes()
    else:
        assert plan.scales is None  # made when the plan runs
