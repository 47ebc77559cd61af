"""The per-tensor fast paths (_kernels.quantize_tensor and dequantize_tensor,
which read operands from their buffers) give the reference's results, and
hand every operand they do not take to the general path, whose checks and
errors then apply."""

import numpy as np
import pytest

import int8q
from int8q import _kernels, reference

DTYPES = [np.float32, np.float64, np.float16]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape", [(), (1,), (7,), (3, 5), (2, 0)])
def test_quantize_matches_reference(dtype, shape):
    x = np.random.default_rng(3).standard_normal(shape).astype(dtype)
    for rounding in ["half_even", "half_away"]:
        want_q, want_s = reference.quantize(x, rounding=rounding)
        qt = int8q.quantize(x, rounding=rounding)
        np.testing.assert_array_equal(qt.q, want_q)
        assert qt.scale.shape == () and qt.scale.dtype == want_s.dtype
        assert qt.scale == want_s
        out = np.full(shape, 99, np.int8)
        assert int8q.quantize(x, rounding=rounding, out=out).q is out
        np.testing.assert_array_equal(out, want_q)
        back = int8q.dequantize(want_q, want_s)
        assert back.tobytes() == reference.dequantize(want_q, want_s).tobytes()


def test_what_the_fast_path_declines():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)
    q = np.empty((3, 4), np.int8)
    for args in [
        (x[:, ::2], None),  # strided
        (x.astype(">f4"), None),  # byte-swapped
        (x.astype(np.int32), None),  # converted first
        (np.empty(0, np.float32), None),  # empty
        (x, q[:, :2].copy()),  # out of another shape
        (x, np.empty((3, 4), np.uint8)),  # out of another dtype
        (x, x.view(np.int8)[:, :4]),  # out inside x
    ]:
        x_, out_ = args
        assert _kernels.quantize_tensor(x_, 0, out_, 1) is None
    s = np.asarray(np.float32(0.5))
    for args in [
        (q[:, ::2], s, None),
        (q, np.float32([0.5]), None),  # not 0-d
        (q, np.asarray(np.float16(0.5)), None),  # computes in float32 first
        (q.astype(np.int16), s, None),
        (q, s, np.empty((3, 4), np.float64)),  # out dtype differs from the scale's
    ]:
        assert _kernels.dequantize_tensor(*args, 1) is None


def test_declined_operands_still_work_or_raise():
    x = np.linspace(-3, 3, 12, dtype=np.float32).reshape(3, 4)
    want_q, want_s = reference.quantize(x)
    np.testing.assert_array_equal(int8q.quantize(x.astype(">f4")).q, want_q)
    with pytest.raises(ValueError, match="shape"):
        int8q.quantize(x, out=np.empty((4, 3), np.int8))
    ro = np.zeros((3, 4), np.int8)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        int8q.quantize(x, out=ro)
    # a dequantize output that holds the scale: the scale is read first
    buf = np.zeros(13, np.float32)
    buf[12] = want_s
    out, scale = buf[:12].reshape(3, 4), buf[12:].reshape(())
    int8q.dequantize(want_q, scale, out=out)
    assert out.tobytes() == reference.dequantize(want_q, want_s).tobytes()


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_nonfinite_leaves_out_untouched(bad):
    x = np.ones(10, np.float32)
    x[6] = bad
    out = np.full(10, 7, np.int8)
    with pytest.raises(ValueError, match=r"x\[6\]"):
        int8q.quantize(x, out=out)
    assert (out == 7).all()
    d = np.full(10, 7, np.float32)
    with pytest.raises(ValueError, match="NaN or inf"):
        int8q.dequantize(np.ones(10, np.int8), np.asarray(np.float32(bad)), out=d)
    assert (d == 7).all()


@pytest.mark.parametrize(
    "scale, work",
    [
        (0.1, np.float64),  # a Python float computes in float64, as np.asarray makes it
        (np.float32(0.1), np.float32),
        (np.float64(0.1), np.float64),
    ],
)
def test_dequantize_scalar_scales(scale, work):
    q = np.arange(-127, 128, dtype=np.int8).reshape(5, 51)
    want = reference.dequantize(q, np.asarray(scale, dtype=work))
    assert _kernels.dequantize_tensor(q, scale, None, 2) is not None  # the compiled step
    got = int8q.dequantize(q, scale)
    assert got.dtype == work and got.tobytes() == want.tobytes()
    out = np.full(q.shape, 7, work)
    assert int8q.dequantize(q, scale, out=out) is out
    assert out.tobytes() == want.tobytes()


@pytest.mark.parametrize("bad", [float("nan"), float("-inf"), np.float32(np.inf)])
def test_dequantize_nonfinite_scalar_scale(bad):
    q = np.ones(10, np.int8)
    out = np.full(10, 7, np.asarray(bad).dtype)
    with pytest.raises(ValueError, match="NaN or inf"):
        int8q.dequantize(q, bad, out=out)
    assert (out == 7).all()
    # the general path's checks of q and out come first, as they do there
    with pytest.raises(TypeError, match="int8"):
        int8q.dequantize(q.astype(np.int16), bad)
    with pytest.raises(ValueError, match="shape"):
        int8q.dequantize(q, bad, out=np.empty(9, out.dtype))
    with pytest.raises(TypeError):
        int8q.dequantize(q, bad, out=np.empty(10, np.int32))


# --- one given per-tensor scale (int8q_quantize_given) ----------------------
# Tiles of 4096 elements are checked and quantized one at a time: the
# reciprocal where the tile's abs-max over the scale is at most 127, the true
# division where the scale is smaller (elements saturate).


def given_input(dtype, n, seed):
    """Normal data with exact ties (k + 1/2 multiples of the scale 0.25) and,
    from element 5000 on, a stretch 1000 times larger, so that tiles on both
    sides of the reciprocal's bound meet in one call."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n) * 8
    x[::3] = np.round(x[::3] * 2) / 2 * 0.25 + 0.125  # x / 0.25 = k + 1/2
    x[5000:6000] *= 1000
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [1, 31, 4096, 4097, 12289, 300_001])
def test_given_scale_matches_reference(simd, threads, dtype, n):
    x = given_input(dtype, n, n)
    work = np.float64 if dtype == np.float64 else np.float32
    for t in [1, 2, 3]:
        threads(t)
        for scale in [0.25, np.float32(0.1), np.float64(7.5), 1e-30]:
            want_s = np.asarray(scale, dtype=work)
            for rounding in ["half_even", "half_away"]:
                want = reference.quantize_given(x, want_s, rounding=rounding)
                qt = int8q.quantize(x, scale=scale, rounding=rounding)
                np.testing.assert_array_equal(qt.q, want)
                assert qt.scale.dtype == work and qt.scale.shape == () and qt.scale == want_s
                out = np.full(n, 99, np.int8)
                assert int8q.quantize(x, scale=scale, rounding=rounding, out=out).q is out
                np.testing.assert_array_equal(out, want)


def test_given_scale_takes_the_compiled_path():
    x = np.linspace(-2, 2, 9, dtype=np.float32)
    made = _kernels.quantize_tensor(x, 0, None, 1, 0.5)
    np.testing.assert_array_equal(made[0], reference.quantize_given(x, np.float32(0.5)))
    # not a float, or not valid in the working dtype: the general path
    for given in [1, np.float16(0.5), np.asarray(0.5), [0.5], 0.0, -1.0, np.nan, 1e39, 1e-50]:
        assert _kernels.quantize_tensor(x, 0, None, 1, given) is None
    for given, match in [(0.0, "scale"), (1e39, "scale"), (1e-50, "scale")]:
        with pytest.raises(ValueError, match=match):
            int8q.quantize(x, scale=given)


@pytest.mark.parametrize("n", [10, 9000, 300_001])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_given_scale_nonfinite(threads, n, bad):
    x = np.ones(n, np.float32)
    x[n - 4] = bad
    for t in [1, 2]:
        threads(t)
        out = np.full(n, 7, np.int8)
        with pytest.raises(ValueError, match=rf"x\[{n - 4}\]"):
            int8q.quantize(x, scale=0.5, out=out)
        assert (out == 7).all()
        with pytest.raises(ValueError, match=rf"x\[{n - 4}\]"):
            int8q.quantize(x, scale=0.5)


# --- the compiled per-tensor step sees only the keywords it executes ---------
# quantize()'s one keyword test outside int8q/_plan.py is the guard of the
# compiled step.  A keyword it does not pass on must send the call to the
# plan: a new keyword fails here until it has a sample below and the guard
# (or the compiled step) knows it.

PASSED_ON = {"rounding", "out", "scale"}  # the compiled step's own operands
NON_DEFAULT = {
    "axis": 0,
    "block_size": 4,
    "rounding": "half_away",
    "out": None,  # (a given out is passed on; its sample is made in the test)
    "scale": 0.5,
    "zero_point": 0,
    "symmetric": False,
    "qdtype": np.uint8,
    "clip": "mse",
}


def test_every_keyword_has_a_sample():
    import inspect

    keywords = [
        name
        for name, p in inspect.signature(int8q.quantize).parameters.items()
        if p.kind is p.KEYWORD_ONLY
    ]
    assert sorted(keywords) == sorted(NON_DEFAULT), "a new keyword: give it a sample here"


@pytest.mark.parametrize("name", list(NON_DEFAULT))
def test_every_keyword_reaches_the_plan_unless_the_compiled_step_takes_it(monkeypatch, name):
    from int8q import _api, _engine, _plan

    x = np.linspace(-2, 2, 8, dtype=np.float32)
    value = np.empty(8, np.int8) if name == "out" else NON_DEFAULT[name]
    if name == "qdtype":  # uint8 needs a zero point: the scheme's own
        kw = {"qdtype": value, "symmetric": False}
    elif name == "zero_point":  # it needs a scale
        kw = {"zero_point": value, "scale": 0.5}
    else:
        kw = {name: value}
    steps, plans = [], []
    real_step, real_plan = _engine.quantize_tensor, _plan.quantize_plan
    monkeypatch.setattr(_engine, "quantize_tensor", lambda *a: steps.append(a) or real_step(*a))
    monkeypatch.setattr(_api, "quantize_plan", lambda *a: plans.append(a) or real_plan(*a))
    qt = int8q.quantize(x, **kw)
    monkeypatch.undo()
    if name in PASSED_ON:
        assert steps and not plans
    else:
        assert plans and not steps
    assert qt.q.tobytes() == _api_free_reference(x, kw).tobytes()


def _api_free_reference(x, kw):
    if "scale" in kw:
        return reference.quantize_given(x, np.float32(kw["scale"]), kw.get("zero_point"))
    if kw.get("symmetric") is False:
        return reference.quantize_asymmetric(x, qdtype=kw.get("qdtype", np.int8))[0]
    if "clip" in kw:
        return reference.quantize_given(x, reference.mse_scales(x))
    kw = {k: v for k, v in kw.items() if k in ("axis", "block_size", "rounding")}
    return reference.quantize(x, **kw)[0]
