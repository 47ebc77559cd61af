"""out= everywhere: results land in the caller's buffers, bit-identical to
the allocating calls, and errors leave the buffers untouched."""

import numpy as np
import pytest

import int8q
from int8q import ggml, reference


@pytest.mark.parametrize("kw", [{}, {"axis": 1}, {"block_size": 32}])
def test_quantize_dequantize_out(kw):
    x = np.random.default_rng(1).standard_normal((40, 96)).astype(np.float32)
    want_qt, want_d = int8q.quantize_dequantize(x, **kw)
    q, d = np.empty(x.shape, np.int8), np.empty(x.shape, np.float32)
    qt, xhat = int8q.quantize_dequantize(x, out=(q, d), **kw)
    assert qt.q is q and xhat is d
    np.testing.assert_array_equal(q, want_qt.q)
    np.testing.assert_array_equal(d, want_d)
    np.testing.assert_array_equal(qt.scale, want_qt.scale)
    d2 = np.empty(x.shape, np.float32)
    qt2, xhat2 = int8q.quantize_dequantize(x, out=(None, d2), **kw)
    assert xhat2 is d2
    np.testing.assert_array_equal(d2, want_d)


def test_quantize_dequantize_out_errors_leave_buffers():
    x = np.ones((4, 8), np.float32)
    x[2, 3] = np.nan
    q, d = np.full(x.shape, 7, np.int8), np.full(x.shape, 7, np.float32)
    with pytest.raises(ValueError, match=r"x\[2, 3\] is nan"):
        int8q.quantize_dequantize(x, out=(q, d), block_size=4)
    assert (q == 7).all() and (d == 7).all()
    with pytest.raises(TypeError):
        int8q.quantize_dequantize(x, out=(q, np.empty(x.shape, np.float64)))
    with pytest.raises(ValueError):
        int8q.quantize_dequantize(x, out=(q, np.empty((4, 9), np.float32)))
    with pytest.raises(TypeError):
        int8q.quantize_dequantize(x, out=q)


@pytest.mark.parametrize(
    "kw",
    [
        {"scale": np.float32(0.1)},
        {"scale": np.full((4, 2), 0.1, np.float32), "block_size": 4},
        {"symmetric": False, "block_size": 4},
        {"symmetric": False, "qdtype": np.uint8, "axis": 0},
        {"clip": "mse", "axis": 1},
    ],
)
@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_quantize_out_errors_leave_buffer(kw, bad):
    # Given scales, asymmetric ranges and clip="mse" find NaN/inf before
    # they write into out= (given scales by a reading pass of their own).
    x = np.ones((4, 8), np.float32)
    x[2, 5] = bad
    qdtype = kw.get("qdtype", np.int8)
    q = np.full(x.shape, 7, qdtype)
    with pytest.raises(ValueError, match=r"x\[2, 5\] is"):
        int8q.quantize(x, out=q, **kw)
    assert (q == 7).all()


@pytest.mark.parametrize("dtype", [None, np.float64, np.float16])
def test_dequantize_out(dtype):
    x = np.random.default_rng(2).standard_normal((33, 70))
    qt = int8q.quantize(x, block_size=8)
    want = int8q.dequantize(qt, dtype=dtype)
    out = np.empty(x.shape, want.dtype)
    assert int8q.dequantize(qt, dtype=dtype, out=out) is out
    np.testing.assert_array_equal(out, want)
    np.testing.assert_array_equal(
        want, reference.dequantize(qt.q, qt.scale, block_size=8).astype(want.dtype)
    )


def test_dequantize_out_errors_leave_buffer():
    q = np.ones((3, 4), np.int8)
    out = np.full(q.shape, 5, np.float32)
    with pytest.raises(ValueError, match="NaN or inf"):
        int8q.dequantize(q, np.array([1, np.inf, 1], np.float32), axis=0, out=out)
    assert (out == 5).all()
    with pytest.raises(TypeError):
        int8q.dequantize(q, np.float32(1), out=np.empty(q.shape, np.int32))
    with pytest.raises(ValueError):
        int8q.dequantize(q, np.float32(1), out=np.empty((4, 3), np.float32))
    with pytest.raises(TypeError):
        int8q.dequantize(q, np.float32(1), dtype=np.float64, out=np.empty(q.shape, np.float32))


def test_q8_0_out():
    x = np.random.default_rng(3).standard_normal((5, 64)).astype(np.float32)
    want = ggml.quantize_q8_0(x)
    out = np.empty_like(want)
    assert ggml.quantize_q8_0(x, out=out) is out
    np.testing.assert_array_equal(out, want)
    back = np.empty(x.shape, np.float32)
    assert ggml.dequantize_q8_0(out, out=back) is back
    np.testing.assert_array_equal(back, ggml.dequantize_q8_0(want))
    with pytest.raises(TypeError):
        ggml.quantize_q8_0(x, out=np.empty(want.shape, np.int8))
    with pytest.raises(ValueError):
        ggml.dequantize_q8_0(want, out=np.empty((5, 65), np.float32))
