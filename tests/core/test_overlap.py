"""quantize_dequantize with outputs that overlap x only in part, or that x
reads backwards: bit for bit the reference result (as if x were copied
first) on every granularity and on 1 and 2 threads.  Exact aliasing
(``out=(q, x)``) is right even without the protective copy; these cases are
not."""

import numpy as np
import pytest

import int8q
from int8q import reference

# More elements than one conversion chunk (int8q._chunks.CHUNK_ELEMENTS),
# rows and columns of odd lengths.
SHAPE = (1031, 1531)
N = SHAPE[0] * SHAPE[1]
GRANULARITIES = [{}, {"axis": 0}, {"axis": 1}, {"block_size": 32}]


def _want(x, kw):
    q, scale = reference.quantize(x.copy(), **kw)
    return q, scale, reference.dequantize(q, scale, **kw)


def _same(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def _buffer(seed, extra, dtype=np.float32):
    rng = np.random.default_rng(seed)
    buf = (rng.standard_normal(N + extra) * rng.uniform(0.1, 10, N + extra)).astype(dtype)
    buf[::97] = 0.0
    return buf


# (how x and x̂ sit in one buffer of N + extra elements)
LAYOUTS = {
    "xhat one element after x": lambda b: (b[:N], b[1 : N + 1]),
    "xhat one element before x": lambda b: (b[1 : N + 1], b[:N]),
    "xhat one row after x": lambda b: (b[:N], b[SHAPE[1] : SHAPE[1] + N]),
    "xhat half way into x": lambda b: (b[N // 2 : N // 2 + N], b[:N]),
    "x reversed over xhat": lambda b: (b[::-1][:N], b[1 : N + 1]),
    "x reversed, xhat shifted": lambda b: (b[N:0:-1], b[:N]),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
@pytest.mark.parametrize("kw", GRANULARITIES, ids=str)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_xhat_partly_overlapping_x(layout, kw, nthreads, threads):
    threads(nthreads)
    buf = _buffer(sorted(LAYOUTS).index(layout), N)  # room for every layout
    x, xhat = LAYOUTS[layout](buf)
    x, xhat = x.reshape(SHAPE), xhat.reshape(SHAPE)
    assert np.shares_memory(x, xhat) and not (x.__array_interface__ == xhat.__array_interface__)
    want_q, want_scale, want_d = _want(x, kw)
    qt, d = int8q.quantize_dequantize(x, out=(None, xhat), **kw)
    assert d is xhat
    assert _same(qt.q, want_q) and _same(qt.scale, want_scale)
    assert _same(d, want_d), layout


@pytest.mark.parametrize("kw", GRANULARITIES, ids=str)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_q_partly_overlapping_x_xhat_apart(kw, nthreads, threads):
    threads(nthreads)
    buf = _buffer(8, 0)
    x = buf.reshape(SHAPE)
    q = buf.view(np.int8)[5 : 5 + N].reshape(SHAPE)
    xhat = np.empty(SHAPE, np.float32)
    want_q, want_scale, want_d = _want(x, kw)
    qt, d = int8q.quantize_dequantize(x, out=(q, xhat), **kw)
    assert qt.q is q and _same(q, want_q) and _same(d, want_d) and _same(qt.scale, want_scale)


@pytest.mark.parametrize("kw", GRANULARITIES, ids=str)
def test_float64_xhat_partly_overlapping(kw, threads):
    threads(2)
    buf = _buffer(9, 1, np.float64)
    x, xhat = buf[1:].reshape(SHAPE), buf[:N].reshape(SHAPE)
    want_q, want_scale, want_d = _want(x, kw)
    qt, d = int8q.quantize_dequantize(x, out=(None, xhat), **kw)
    assert _same(qt.q, want_q) and _same(d, want_d) and _same(qt.scale, want_scale)
