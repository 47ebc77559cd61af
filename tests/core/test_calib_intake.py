"""The Calibrator takes its arguments as int8q.quantize takes them: the same
axis rules and errors, the same operand intake (masked arrays refused, torch
tensors read, bfloat16 and requires_grad included), the same errors for the
options they share; and from_dict refuses a state to_dict could not have
written."""

import json

import numpy as np
import pytest
from numpy.exceptions import AxisError

import int8q
from int8q import _calibrate


def same_error(call_quantize, call_calibrator, error):
    with pytest.raises(error) as expected:
        call_quantize()
    with pytest.raises(error) as got:
        call_calibrator()
    assert type(got.value) is type(expected.value)
    assert str(got.value) == str(expected.value)


X = np.arange(-6.0, 6.0, dtype=np.float32).reshape(3, 4)


@pytest.mark.parametrize("axis", [0, 1, -1, -2, np.int64(0), np.int32(-1), np.uint8(1)])
@pytest.mark.parametrize("method", _calibrate.METHODS)
def test_axes_quantize_takes_are_taken(axis, method):
    cal = int8q.Calibrator(method, axis=axis).update(X)
    assert type(cal.axis) is int
    if method == "minmax":
        assert cal.scale.tobytes() == int8q.quantize(X, axis=axis).scale.tobytes()
    assert cal.to_dict()["axis"] == int(axis)
    json.dumps(cal.to_dict())  # NumPy integers do not reach the dict


@pytest.mark.parametrize("axis", [2, -3, 63, -64, 2**70])
def test_axis_out_of_range_for_the_batch_is_quantizes_axis_error(axis):
    cal = int8q.Calibrator(axis=axis)
    same_error(lambda: int8q.quantize(X, axis=axis), lambda: cal.update(X), AxisError)
    assert cal.count == 0


@pytest.mark.parametrize("axis", [0, -1])
def test_zero_dimensional_batch_on_an_axis(axis):
    x = np.float32(3.0)
    same_error(
        lambda: int8q.quantize(x, axis=axis),
        lambda: int8q.Calibrator(axis=axis).update(x),
        AxisError,
    )


@pytest.mark.parametrize("axis", [1.0, "0", True, np.bool_(False), [0], 0.5])
def test_axis_of_another_type_is_quantizes_type_error(axis):
    same_error(lambda: int8q.quantize(X, axis=axis), lambda: int8q.Calibrator(axis=axis), TypeError)


@pytest.mark.parametrize(
    "quantize_kw, calibrator_kw, error",
    [
        ({"qdtype": "int16"}, {"qdtype": "int16"}, TypeError),
        ({"qdtype": np.float32}, {"qdtype": np.float32}, TypeError),
        ({"qdtype": "(,)"}, {"qdtype": "(,)"}, TypeError),
        ({"symmetric": "yes"}, {"symmetric": "yes"}, TypeError),
        ({"symmetric": None}, {"symmetric": None}, TypeError),
        ({"symmetric": 1}, {"symmetric": 1}, TypeError),
        ({"block_size": 0}, {"block_size": 0}, ValueError),
        ({"block_size": 2**63}, {"block_size": 2**63}, ValueError),
        ({"block_size": 2.0}, {"block_size": 2.0}, TypeError),
        ({"block_size": True}, {"block_size": True}, TypeError),
    ],
)
def test_shared_options_raise_quantizes_errors(quantize_kw, calibrator_kw, error):
    same_error(
        lambda: int8q.quantize(X, **quantize_kw),
        lambda: int8q.Calibrator(**calibrator_kw),
        error,
    )


@pytest.mark.parametrize(
    "kw, error, match",
    [
        ({"percentile": "99"}, TypeError, "percentile must be a number"),
        ({"percentile": True}, TypeError, "percentile must be a number"),
        ({"percentile": float("nan")}, ValueError, r"percentile must be a number in \(0, 100\]"),
        ({"percentile": 100.5}, ValueError, r"\(0, 100\]"),
        ({"bins": 64.0}, TypeError, "bins must be an integer, not float"),
        ({"bins": True}, TypeError, "bins must be an integer, not bool"),
        ({"bins": 48}, ValueError, "power of two"),
        ({"method": ["minmax"]}, ValueError, "method must be one of"),
    ],
)
def test_other_options(kw, error, match):
    with pytest.raises(error, match=match):
        int8q.Calibrator(**{"method": "percentile", **kw})


def test_numpy_scalars_for_options():
    cal = int8q.Calibrator(
        "percentile", percentile=np.float32(99.5), bins=np.int64(64), symmetric=np.True_
    )
    assert type(cal.bins) is int and cal.bins == 64 and cal.percentile == 99.5
    json.dumps(cal.update(X).to_dict())


def test_masked_batch_is_refused_like_quantizes():
    m = np.ma.masked_array(X, mask=X > 4)
    with pytest.raises(TypeError, match="masked array"):
        int8q.quantize(m)
    cal = int8q.Calibrator()
    with pytest.raises(TypeError, match="batch is a masked array"):
        cal.update(m)
    with pytest.raises(TypeError, match="batch is a masked array"):
        cal.update(iter([X, m]))
    assert cal.count == X.size  # the batch before the masked one is kept


@pytest.mark.parametrize("method", _calibrate.METHODS)
def test_torch_tensors_are_read_like_quantize_reads_them(method):
    torch = pytest.importorskip("torch")
    w = torch.linspace(-3, 5, 48).reshape(6, 8)
    for t in (w.to(torch.bfloat16), w.clone().requires_grad_(True), w.T):
        ref = int8q.Calibrator(method, axis=1).update(_np(t))
        got = int8q.Calibrator(method, axis=1).update(t)
        assert got.to_dict() == ref.to_dict()
        if method == "minmax":
            assert got.scale.tobytes() == int8q.quantize(t, axis=1).scale.tobytes()
    with pytest.raises(TypeError, match="meta"):
        int8q.Calibrator().update(torch.ones(3, device="meta"))


def _np(t):
    """The values of tensor t as NumPy reads them (bfloat16 widened exactly)."""
    import torch

    return (t.detach().float() if t.dtype == torch.bfloat16 else t.detach()).numpy()


# -- from_dict: the state must be one to_dict could write ------------------------


def saved(method="minmax", symmetric=True, axis=-1, dtype=np.float32, qdtype=np.int8):
    rng = np.random.default_rng(1)
    x = (rng.standard_normal((50, 3)) * [1, 10, 0.01]).astype(dtype)
    cal = int8q.Calibrator(method, axis=axis, symmetric=symmetric, qdtype=qdtype, bins=64)
    return cal.update(x).to_dict()


def refused(d, match):
    with pytest.raises(ValueError, match=match):
        int8q.Calibrator.from_dict(json.loads(json.dumps(d)))


@pytest.mark.parametrize("symmetric, qdtype", [(True, np.int8), (False, np.uint8)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_minmax_scale_and_zero_point_must_follow_from_the_range(symmetric, qdtype, dtype):
    d = saved(symmetric=symmetric, dtype=dtype, qdtype=qdtype)
    int8q.Calibrator.from_dict(d)
    up = np.nextafter(np.array(d["scale"], dtype), np.inf).astype(np.float64).tolist()
    refused({**d, "scale": up}, r"scale\[0\] is .*contradicts min and max")
    refused({**d, "max": [v * 2 for v in d["max"]]}, "scale.*contradicts min and max")
    if not symmetric:
        zp = list(d["zero_point"])
        zp[1] = zp[1] + 1 if zp[1] < 255 else zp[1] - 1
        refused({**d, "zero_point": zp}, r"zero_point\[1\] is .*contradicts min and max")


@pytest.mark.parametrize("method", ["percentile", "mse"])
@pytest.mark.parametrize("symmetric", [True, False])
def test_histogram_scale_cannot_exceed_the_range(method, symmetric):
    d = saved(method=method, symmetric=symmetric)
    int8q.Calibrator.from_dict(d)
    bigger = [2 * s for s in saved(symmetric=symmetric)["scale"]]
    refused({**d, "scale": bigger}, r"scale\[0\] is .*more than")


def test_float32_fields_must_be_float32_values():
    d = saved(dtype=np.float32)
    scale = list(d["scale"])
    scale[2] = scale[2] + scale[2] * 2**-40  # between two float32 values
    refused({**d, "scale": scale}, r"scale\[2\] = .* is not a float32 value")
    refused(
        {**d, "min": [d["min"][0] * (1 + 2**-40), *d["min"][1:]]}, r"min\[0\] = .* not a float32"
    )


def test_count_zero_has_an_empty_range():
    d = saved()
    refused({**d, "count": 0}, "min and max must be 0 when count is 0")
    empty = int8q.Calibrator(axis=-1).update(np.zeros((0, 3), np.float32)).to_dict()
    assert empty["count"] == 0
    int8q.Calibrator.from_dict(empty)


def test_overflowing_range_is_refused_for_minmax():
    d = saved(symmetric=False)
    big = float(np.finfo(np.float32).max)
    refused({**d, "min": [-big] * 3, "max": [big] * 3}, "overflows float32")
