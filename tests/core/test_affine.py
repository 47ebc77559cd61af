"""Given scales and zero points, asymmetric ranges and clip="mse" against the
plain NumPy reference (int8q.reference) on adversarial arrays, and the error
contract.  tests/peers/test_affine_onnx.py holds the same results against
onnxruntime."""

import numpy as np
import pytest
from arrays import adversarial, integer_arrays

import int8q
from int8q import reference

GRANULARITIES = [{}, {"axis": 0}, {"axis": -1}, {"block_size": 5}]
SHAPES = [(), (0,), (7,), (33, 65), (3, 4, 37)]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def applicable(x, kw):
    return not (x.ndim == 0 and kw) and not (x.ndim == 0 and "block_size" in kw)


def cases(
    kinds=("normal", "ties", "scaled_ties", "tiny", "subnormal", "zeros", "mixed", "huge"),
    shapes=SHAPES,
    integers=True,
):
    yield from adversarial(shapes=shapes, kinds=kinds)
    if integers:
        yield from integer_arrays()


def given_parameters(x, kw, qdtype, rng):
    """Scales from a fraction of the abs-max (so some values saturate) and
    random zero points, shaped like quantize's scale."""
    work = reference.working_dtype(x.dtype)
    m = reference.absmax(x, **kw)
    with np.errstate(under="ignore"):
        s = (m / work.type(rng.choice([60.0, 127.0, 300.0]))).astype(work)
    s = np.where(s > 0, s, work.type(0.25)).astype(work)
    info = np.iinfo(qdtype)
    z = rng.integers(info.min, info.max, s.shape, endpoint=True).astype(qdtype)
    return s, z


@pytest.mark.parametrize("kw", GRANULARITIES)
@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
def test_given_scale_matches_reference(kw, qdtype):
    rng = np.random.default_rng(5)
    for desc, x in cases():
        if not applicable(x, kw):
            continue
        s, z = given_parameters(x, kw, qdtype, rng)
        for rounding in ("half_even", "half_away"):
            qt = int8q.quantize(x, scale=s, zero_point=z, qdtype=qdtype, rounding=rounding, **kw)
            want = reference.quantize_given(x, s, z, qdtype=qdtype, rounding=rounding, **kw)
            msg = f"{desc} {kw} {qdtype.__name__} {rounding}"
            assert same_bits(qt.q, want), msg
            assert same_bits(qt.scale, s), msg
            assert same_bits(qt.zero_point, z), msg
            want_d = reference.dequantize_affine(want, s, z, **kw)
            assert same_bits(qt.dequantize(), want_d), msg
            assert same_bits(int8q.dequantize(qt.q, s, zero_point=z, **kw), want_d), msg


@pytest.mark.parametrize("kw", GRANULARITIES)
def test_given_scale_without_zero_point_is_symmetric(kw):
    """No zero point: int8 in [-127, 127], the same q as quantize() when the
    scale is quantize's own."""
    for desc, x in cases(kinds=("normal", "ties", "huge", "mixed")):
        if not applicable(x, kw):
            continue
        qt = int8q.quantize(x, **kw)
        given = int8q.quantize(x, scale=qt.scale, **kw)
        assert same_bits(given.q, qt.q), desc
        assert given.zero_point is None
        half = int8q.quantize(x, scale=qt.scale / 4, **kw)  # saturates, never wraps
        assert same_bits(half.q, reference.quantize_given(x, qt.scale / 4, **kw)), desc
        assert half.q.min(initial=0) >= -127, desc


def test_saturates_never_wraps():
    x = np.array([-1e30, -300.0, -128.6, -128.4, 127.4, 127.6, 300.0, 1e30, 0.0], np.float32)
    assert int8q.quantize(x, scale=1.0, zero_point=0).q.tolist() == [
        -128,
        -128,
        -128,
        -128,
        127,
        127,
        127,
        127,
        0,
    ]
    assert int8q.quantize(x, scale=1.0).q.tolist() == [
        -127,
        -127,
        -127,
        -127,
        127,
        127,
        127,
        127,
        0,
    ]
    assert int8q.quantize(x, scale=1.0, zero_point=100, qdtype=np.uint8).q.tolist() == [
        0,
        0,
        0,
        0,
        227,
        228,
        255,
        255,
        100,
    ]
    # A scale so small that x / scale overflows to inf still saturates.
    tiny = np.float32(1e-45)
    assert int8q.quantize(x, scale=tiny, zero_point=-3).q.tolist() == [
        -128,
        -128,
        -128,
        -128,
        127,
        127,
        127,
        127,
        -3,
    ]


@pytest.mark.parametrize("kw", GRANULARITIES)
@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
def test_asymmetric_matches_reference(kw, qdtype):
    for desc, x in cases(
        kinds=("normal", "ties", "tiny", "subnormal", "zeros", "mixed"),
        shapes=[(), (0,), (7,), (3, 4, 37)],
    ):
        if not applicable(x, kw):
            continue
        for shift in (0.0, 3.0):  # an offset: the case asymmetric ranges are for
            xs = x if shift == 0 or x.dtype.kind != "f" else (x + x.dtype.type(shift))
            qt = int8q.quantize(xs, symmetric=False, qdtype=qdtype, **kw)
            q, s, z = reference.quantize_asymmetric(xs, qdtype, **kw)
            msg = f"{desc} +{shift} {kw} {qdtype.__name__}"
            assert same_bits(qt.q, q), msg
            assert same_bits(qt.scale, s), msg
            assert same_bits(qt.zero_point, z), msg
            assert same_bits(qt.dequantize(), reference.dequantize_affine(q, s, z, **kw)), msg


def test_asymmetric_uses_all_codes_and_keeps_zero_exact():
    x = np.linspace(0, 6, 1000, dtype=np.float32)  # post-ReLU: all >= 0
    qt = int8q.quantize(x, symmetric=False, qdtype=np.uint8)
    assert (qt.q.min(), qt.q.max(), int(qt.zero_point)) == (0, 255, 0)
    qt8 = int8q.quantize(x, symmetric=False, qdtype=np.int8)
    assert (qt8.q.min(), qt8.q.max(), int(qt8.zero_point)) == (-128, 127, -128)
    assert qt8.dequantize()[0] == 0.0
    sym = int8q.quantize(x)
    err_sym = np.abs(sym.dequantize() - x).max()
    err_asym = np.abs(qt8.dequantize() - x).max()
    assert err_asym < 0.6 * err_sym


def test_asymmetric_range_overflow_is_an_error():
    x = np.array([-3e38, 3e38], np.float32)
    with pytest.raises(ValueError, match="overflows"):
        int8q.quantize(x, symmetric=False)
    # float64 has room.
    qt = int8q.quantize(x.astype(np.float64), symmetric=False)
    assert qt.q.tolist() == [-128, 127]


@pytest.mark.parametrize("kw", GRANULARITIES)
def test_clip_mse_matches_reference(kw):
    rng = np.random.default_rng(3)
    for desc, x in cases(
        kinds=("normal", "ties", "tiny", "zeros", "mixed"),
        shapes=[(), (0,), (7,), (3, 4, 37)],
        integers=False,
    ):
        if not applicable(x, kw):
            continue
        qt = int8q.quantize(x, clip="mse", **kw)
        s = reference.mse_scales(x, **kw)
        msg = f"{desc} {kw}"
        assert same_bits(qt.scale, s), msg
        assert same_bits(qt.q, reference.quantize_given(x, s, **kw)), msg
    # Heavy tails: clipping wins, and never loses to abs-max.
    x = rng.standard_t(2, (64, 300)).astype(np.float32)
    for kw2 in ({}, {"axis": 0}, {"block_size": 64}):
        e_mse = np.sum((int8q.quantize(x, clip="mse", **kw2).dequantize() - x) ** 2)
        e_abs = np.sum((int8q.quantize(x, **kw2).dequantize() - x) ** 2)
        assert e_mse < e_abs, kw2


def test_large_arrays_match_reference_whatever_threads_and_simd(simd, threads):
    """Large enough to run on several threads and through chunked conversion."""
    rng = np.random.default_rng(11)
    x = (rng.standard_normal((1200, 700)) * 5).astype(np.float32)
    for kw in ({}, {"axis": 0}, {"axis": 1}, {"block_size": 32}):
        s, z = given_parameters(x, kw, np.uint8, rng)
        want = reference.quantize_given(x, s, z, qdtype=np.uint8, **kw)
        for n in (1, 2):
            threads(n)
            for arr in (x, np.asfortranarray(x), x.astype(np.float64)[:, :]):
                if arr.dtype == np.float64:
                    want64 = reference.quantize_given(arr, s, z, qdtype=np.uint8, **kw)
                    got = int8q.quantize(arr, scale=s, zero_point=z, qdtype=np.uint8, **kw)
                    assert same_bits(got.q, want64), (kw, n)
                    continue
                got = int8q.quantize(arr, scale=s, zero_point=z, qdtype=np.uint8, **kw)
                assert same_bits(got.q, want), (kw, n)
        q = int8q.quantize(x, symmetric=False, **kw)
        assert same_bits(q.q, reference.quantize_asymmetric(x, np.int8, **kw)[0]), kw


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": 1}, {"block_size": 64}])
def test_clip_mse_is_the_same_whatever_threads_and_simd(kw, threads):
    """Too large for the reference: every SIMD level and thread count must
    agree with the serial baseline (each error sum keeps its C order)."""
    rng = np.random.default_rng(12)
    x = rng.standard_t(3, (600, 500)).astype(np.float32)
    before = int8q.get_simd()
    try:
        int8q.set_simd("baseline")
        threads(1)
        want = int8q.quantize(x, clip="mse", **kw)
        for level in int8q.available_simd():
            int8q.set_simd(level)
            for n in (1, 2):
                threads(n)
                for arr in (x, np.asfortranarray(x)):
                    got = int8q.quantize(arr, clip="mse", **kw)
                    assert same_bits(got.scale, want.scale), (level, n)
                    assert same_bits(got.q, want.q), (level, n)
    finally:
        int8q.set_simd(before)


def test_out_receives_q():
    x = np.linspace(-2, 5, 50, dtype=np.float32).reshape(5, 10)
    out = np.empty((5, 10), np.uint8)
    qt = int8q.quantize(x, symmetric=False, qdtype=np.uint8, axis=0, out=out)
    assert qt.q is out
    assert same_bits(out, reference.quantize_asymmetric(x, np.uint8, axis=0)[0])


def test_qdtype_spelled_as_string_or_dtype():
    x = np.arange(-3.0, 4.0)
    for spelling in ("int8", np.dtype(np.int8)):
        assert same_bits(int8q.quantize(x, qdtype=spelling).q, int8q.quantize(x).q)
    assert int8q.quantize(x, qdtype="uint8", symmetric=False).q.dtype == np.uint8


BAD_PARAMETERS = [
    ({"scale": 0.0}, ValueError, "finite and > 0"),
    ({"scale": -1.0}, ValueError, "finite and > 0"),
    ({"scale": np.nan}, ValueError, "finite and > 0"),
    ({"scale": np.inf}, ValueError, "finite and > 0"),
    ({"scale": 1e-60}, ValueError, "finite and > 0"),  # 0 in float32
    ({"scale": [1.0, 2.0, 0.0], "axis": 1}, ValueError, r"scale\[2\]"),
    ({"scale": [1.0, 2.0]}, ValueError, "does not broadcast"),
    ({"scale": [1.0, 2.0], "axis": 1}, ValueError, "does not broadcast"),
    ({"scale": "1.0"}, TypeError, "real numbers"),
    ({"scale": 1j}, TypeError, "real numbers"),
    ({"scale": 1.0, "zero_point": 128}, ValueError, r"\[-128, 127\]"),
    ({"scale": 1.0, "zero_point": -1, "qdtype": np.uint8}, ValueError, r"\[0, 255\]"),
    ({"scale": 1.0, "zero_point": [0, 1]}, ValueError, "does not broadcast"),
    ({"scale": 1.0, "zero_point": 1.5}, TypeError, "integers"),
    ({"zero_point": 3}, ValueError, "needs scale"),
    ({"qdtype": np.int16}, TypeError, "qdtype"),
    ({"qdtype": np.uint8}, ValueError, "zero point"),
    ({"clip": "max"}, ValueError, "clip"),
    ({"clip": "mse", "symmetric": False}, ValueError, "clip"),
    ({"clip": "mse", "scale": 1.0}, ValueError, "clip"),
    ({"symmetric": "no"}, TypeError, "symmetric"),
]


@pytest.mark.parametrize("kw, exc, match", BAD_PARAMETERS)
def test_bad_parameters_raise_and_leave_out_untouched(kw, exc, match):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    qdtype = kw.get("qdtype", np.int8)
    try:
        out = np.full((4, 3), 7, dtype=qdtype)
    except TypeError:
        out = np.full((4, 3), 7, dtype=np.int8)
    before = x.copy()
    with pytest.raises(exc, match=match):
        int8q.quantize(x, out=out, **kw)
    assert (out == 7).all()
    assert same_bits(x, before)


@pytest.mark.parametrize(
    "kw", [{"scale": 0.5, "zero_point": 3}, {"symmetric": False}, {"clip": "mse"}, {"scale": 0.5}]
)
def test_nonfinite_input_raises_and_leaves_out_untouched(kw):
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    x[2, 1] = np.nan
    out = np.full((4, 3), 7, dtype=np.int8)
    with pytest.raises(ValueError, match=r"x\[2, 1\]"):
        int8q.quantize(x, out=out, **kw)
    assert (out == 7).all()
    x[2, 1] = -np.inf
    with pytest.raises(ValueError, match=r"x\[2, 1\]"):
        int8q.quantize(x, **kw)


def test_out_of_the_wrong_dtype():
    x = np.ones(3, np.float32)
    with pytest.raises(TypeError, match="uint8"):
        int8q.quantize(x, symmetric=False, qdtype=np.uint8, out=np.empty(3, np.int8))


def test_dequantize_checks_zero_points():
    q = np.array([0, 255], np.uint8)
    with pytest.raises(TypeError, match="uint8 with a zero_point"):
        int8q.dequantize(q, np.float32(1))
    with pytest.raises(ValueError, match=r"\[0, 255\]"):
        int8q.dequantize(q, np.float32(1), zero_point=300)
    assert int8q.dequantize(q, np.float32(0.5), zero_point=128).tolist() == [-64.0, 63.5]


def test_out_may_share_memory_with_x():
    x = np.arange(-60, 60, dtype=np.int8)
    want = reference.quantize_given(x.copy(), np.float64(0.5), np.int8(3))
    qt = int8q.quantize(x, scale=0.5, zero_point=3, out=x)
    assert qt.q is x
    assert same_bits(x, want)


def test_given_parameters_are_copied_not_kept():
    # scales of the scale shape and working dtype take the no-conversion branch
    x = np.linspace(-1, 1, 24, dtype=np.float32).reshape(4, 6)
    scale = np.full(4, 0.01, np.float32)
    zero_point = np.zeros(4, np.int8)
    qt = int8q.quantize(x, scale=scale, zero_point=zero_point, axis=0)
    scale[:] = 7
    zero_point[:] = 5
    np.testing.assert_array_equal(qt.scale, np.full(4, 0.01, np.float32))
    np.testing.assert_array_equal(qt.zero_point, np.zeros(4, np.int8))
    assert not np.shares_memory(qt.scale, scale)


@pytest.mark.parametrize("kw, exc, match", BAD_PARAMETERS)
def test_bad_parameters_raise_without_out(kw, exc, match):
    # without out= the plan's common given-parameter test (_plan._common_given)
    # sees them first: it leaves them to the general checks, whose errors apply
    x = np.arange(12, dtype=np.float32).reshape(4, 3)
    with pytest.raises(exc, match=match):
        int8q.quantize(x, **kw)


# --- the common given-parameter call (_plan._common_given) -----------------
# A float32/float64 C-contiguous x with scales of its dtype and the scale
# shape (or a float per tensor) and zero points of qdtype (or an int per
# tensor) take a short path to the same kernel; everything else declines.

COMMON_SCALES = [
    ({}, lambda s: s),  # a 0-d array
    ({}, lambda s: float(s)),
    ({}, lambda s: np.float64(s)),
    ({}, lambda s: np.float32(s)),
    ({"axis": 0}, lambda s: s),
    ({"axis": 1}, lambda s: s),
    ({"block_size": 4}, lambda s: s),  # rows of 2 blocks of 4 and one of 3
]


@pytest.mark.parametrize("kw, spell", COMMON_SCALES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("qdtype", [None, np.int8, np.uint8])
def test_common_given_call_matches_reference(kw, spell, dtype, qdtype):
    from int8q import _plan

    rng = np.random.default_rng(11)
    x = (rng.standard_normal((6, 11)) * 40).astype(dtype)
    x[0, :4] = [0.5, 1.5, -2.5, 127.5]  # ties at the scale 1 below
    s, z = given_parameters(x, kw, qdtype or np.int8, rng)
    if not kw:
        s = np.asarray(1.0, s.dtype)
    scale = spell(s)
    zero_point = None if qdtype is None else (z if kw else int(z))
    q_type = np.int8 if qdtype is None else qdtype
    for rounding in ("half_even", "half_away"):
        mode = 0 if rounding == "half_even" else 1
        plan = _plan.quantize_plan(
            x, kw.get("axis"), kw.get("block_size"), rounding, None, scale, zero_point, True,
            q_type, None,
        )  # fmt: skip
        assert plan.mode == mode
        if qdtype is np.uint8 and zero_point is None:
            assert not plan.direct
            continue
        assert plan.direct
        qt = int8q.quantize(
            x, scale=scale, zero_point=zero_point, qdtype=q_type, rounding=rounding, **kw
        )
        s_work = np.asarray(scale, dtype)
        want = reference.quantize_given(
            x, s_work, zero_point, qdtype=q_type, rounding=rounding, **kw
        )
        assert same_bits(qt.q, want), rounding
        assert same_bits(qt.scale, s_work)
        if zero_point is None:
            assert qt.zero_point is None
        else:
            assert same_bits(qt.zero_point, np.asarray(zero_point, q_type))


def test_common_given_call_declines_what_it_does_not_take():
    from int8q import _plan
    from int8q._granularity import resolve

    x = np.linspace(-3, 3, 24, dtype=np.float32).reshape(4, 6)
    s4 = np.full(4, 0.1, np.float32)
    for args in [
        (x[:, ::2], 0, None, s4, None, np.int8),  # strided
        (x.astype(">f4"), 0, None, s4, None, np.int8),  # byte-swapped
        (x.astype(np.float16), 0, None, s4, None, np.int8),  # converted first
        (x, 0, None, s4.astype(np.float64), None, np.int8),  # scales of another dtype
        (x, 0, None, s4[:2], None, np.int8),  # to be broadcast
        (x, 0, None, [0.1] * 4, None, np.int8),  # a list
        (x, 0, None, np.array([0.1, 0.0, 0.1, 0.1], np.float32), None, np.int8),
        (x, 0, None, np.array([0.1, np.nan, 0.1, 0.1], np.float32), None, np.int8),
        (x, 0, None, np.array([0.1, -np.inf, 0.1, 0.1], np.float32), None, np.int8),
        (x, 0, None, s4, np.zeros(4, np.int32), np.int8),  # zero points of another dtype
        (x, None, None, 1e-50, None, np.int8),  # 0 in float32
        (x, None, None, 1e39, None, np.int8),  # inf in float32
        (x, None, None, 0.1, 128, np.int8),  # zero point out of range
        (x, None, None, 0.1, np.int64(-1), np.uint8),
        (x, None, None, 0.1, None, np.uint8),  # uint8 without a zero point
        (x, None, None, 0.1, True, np.int8),  # a bool is no zero point
    ]:
        x_, axis, block_size, *rest = args
        gran = resolve(x_.shape, axis, block_size)
        assert _plan._common_given(x_, gran, 0, *rest) is None, args[1:]
    # and the same calls through quantize() give the general path's answer
    assert same_bits(
        int8q.quantize(x, scale=0.1, zero_point=np.int64(5), qdtype=np.uint8).q,
        reference.quantize_given(x, np.float32(0.1), 5, qdtype=np.uint8),
    )


def test_common_given_call_nonfinite_names_the_element():
    x = np.linspace(-3, 3, 24).reshape(4, 6)  # float64
    x[3, 2] = np.inf
    with pytest.raises(ValueError, match=r"x\[3, 2\]"):
        int8q.quantize(x, scale=np.full(6, 0.1), axis=1)
    with pytest.raises(ValueError, match=r"x\[3, 2\]"):
        int8q.quantize(x, scale=0.1, zero_point=3)
