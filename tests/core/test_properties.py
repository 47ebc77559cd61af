"""Property tests: invariants of the contract on arbitrary arrays."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import int8q
from int8q import reference

float_arrays = st.one_of(
    hnp.arrays(
        st.sampled_from([np.float16, np.float32, np.float64]),
        hnp.array_shapes(min_dims=1, max_dims=3, max_side=40),
        elements={"allow_nan": False, "allow_infinity": False},
    ),
)


def granularity(shape):
    return st.one_of(
        st.just({}),
        st.integers(-len(shape), len(shape) - 1).map(lambda a: {"axis": a}),
        st.integers(1, 80).map(lambda b: {"block_size": b}),
    )


@settings(max_examples=300, deadline=None)
@given(data=st.data(), x=float_arrays, rounding=st.sampled_from(["half_even", "half_away"]))
def test_invariants(data, x, rounding):
    kw = data.draw(granularity(x.shape))
    qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
    assert np.abs(qt.q.astype(int)).max(initial=0) <= 127
    # |x - q * scale| <= scale / 2, up to the rounding of x / scale and of q * scale.
    s = reference.expand_scale(qt.scale, x.shape, **kw).astype(np.float64)
    eps = np.finfo(qt.scale.dtype).eps
    # q * scale overflows to inf only at the very top of the dtype's range
    # (127 * RN(absmax / 127) may round past the largest float).
    finite = np.isfinite(xhat)
    big = np.abs(x.astype(np.float64)) > 0.99 * float(np.finfo(xhat.dtype).max)
    assert (finite | big).all()
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(x.astype(np.float64) - xhat.astype(np.float64))
    tiny = np.finfo(qt.scale.dtype).smallest_subnormal
    # A subnormal scale carries few significant bits, so absmax / scale can
    # exceed 127 and the clip costs more than scale / 2: the bound is for
    # normal scales.
    normal = s >= float(np.finfo(qt.scale.dtype).tiny)
    assert (err <= s * (0.5 + 128 * eps) + tiny)[finite & normal].all()
    want_q, want_scale = reference.quantize(x, rounding=rounding, **kw)
    np.testing.assert_array_equal(qt.q, want_q)
    np.testing.assert_array_equal(qt.scale, want_scale)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.floats(allow_nan=False, allow_infinity=False), max_size=50))
def test_seed_matches_reference(values):
    assert int8q.int8_quantize(values) == reference.int8_quantize(values)
