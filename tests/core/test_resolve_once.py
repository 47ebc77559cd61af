"""Each public call resolves its geometry once (docs/design/architecture.md):
the façade turns (shape, axis, block_size) into a Granularity with one call
of _granularity.resolve and hands it to the engine, which never resolves,
whichever path (fast, declined, general, failing) the call takes."""

import numpy as np
import pytest

import int8q
from int8q import _affine, _api, _engine, _granularity


@pytest.fixture
def resolves(monkeypatch):
    calls = []

    def counting(shape, axis=None, block_size=None):
        calls.append((tuple(shape), axis, block_size))
        return _granularity.resolve(shape, axis, block_size)

    monkeypatch.setattr(_api, "resolve", counting)
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
