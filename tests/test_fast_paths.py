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
