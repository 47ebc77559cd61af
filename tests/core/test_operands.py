"""Operands that alias, and array subclasses: NumPy's rules, or a clear TypeError.

Overlapping input and output must give the reference result (as if the input
were copied first, as NumPy's ufuncs promise), whatever the thread count.
np.matrix as out= and masked arrays anywhere are refused (docs/safety.md).
"""

import inspect

import numpy as np
import pytest

import int8q
from int8q import ggml, reference

# Larger than one conversion chunk (int8q._chunks.CHUNK_ELEMENTS), so a
# chunked path would read input it had already overwritten.
N = 3 * (1 << 19) + 17
GRANULARITIES = [{}, {"axis": 0}, {"block_size": 32}]


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("kw", GRANULARITIES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_out_is_the_reversed_input(kw, nthreads, threads):
    threads(nthreads)
    b = np.random.default_rng(1).integers(-128, 128, N).astype(np.int8)
    want_q, want_scale = reference.quantize(b[::-1].copy(), **kw)
    qt = int8q.quantize(b[::-1], out=b, **kw)
    assert qt.q is b
    assert same_bits(b, want_q) and same_bits(qt.scale, want_scale)


@pytest.mark.parametrize("kw", GRANULARITIES)
@pytest.mark.parametrize("nthreads", [1, 2])
def test_out_is_a_view_of_the_input_bytes(kw, nthreads, threads):
    threads(nthreads)
    x = np.random.default_rng(2).standard_normal(N).astype(np.float32)
    want_q, want_scale = reference.quantize(x.copy(), **kw)
    qt = int8q.quantize(x, out=x.view(np.int8)[:N], **kw)
    assert same_bits(qt.q, want_q) and same_bits(qt.scale, want_scale)


@pytest.mark.parametrize("offset", [1, 5, 4 * N - N])
def test_out_overlaps_part_of_a_strided_input(offset):
    buf = np.random.default_rng(3).standard_normal(2 * N).astype(np.float64)
    x = buf[::2]  # strided, float64: chunked path
    out = buf.view(np.int8)[offset : offset + N]
    want_q, want_scale = reference.quantize(x.copy(), axis=0)
    qt = int8q.quantize(x, out=out, axis=0)
    assert same_bits(qt.q, want_q) and same_bits(qt.scale, want_scale)


def test_overlapping_out_is_untouched_on_error():
    x = np.random.default_rng(4).standard_normal(N).astype(np.float32)
    x[N - 3] = np.nan
    before = x.copy()
    with pytest.raises(ValueError, match="finite"):
        int8q.quantize(x, out=x.view(np.int8)[:N])
    assert same_bits(x, before)


def test_out_beside_the_input_in_one_buffer():
    # Neighbours in one buffer: may_share_memory says no, out= is written in place.
    buf = np.zeros(2 * 1000, np.int8)
    x, out = buf[:1000], buf[1000:]
    x[:] = np.arange(1000) % 200 - 100
    qt = int8q.quantize(x, out=out)
    assert qt.q is out and same_bits(out, reference.quantize(x)[0])


def _takes(func, name):
    return name in inspect.signature(func).parameters


def test_dequantize_out_overlapping_q():
    if not _takes(int8q.dequantize, "out"):
        pytest.skip("dequantize has no out= in this version")
    buf = np.empty(N, np.float32)
    q = buf.view(np.int8)[:N]
    q[:] = np.random.default_rng(5).integers(-127, 128, N)
    scale = np.float32(0.25)
    want = reference.dequantize(q.copy(), scale)
    got = int8q.dequantize(q, scale, out=buf)
    assert same_bits(got, want)


def test_quantize_dequantize_out_overlapping_x():
    if not _takes(int8q.quantize_dequantize, "out"):
        pytest.skip("quantize_dequantize has no out= in this version")
    x = np.random.default_rng(6).standard_normal(N).astype(np.float32)
    want_q, want_scale = reference.quantize(x.copy())
    want_d = reference.dequantize(want_q, want_scale)
    q = np.empty(N, np.int8)
    qt, xhat = int8q.quantize_dequantize(x, out=(q, x))
    assert same_bits(qt.q, want_q) and same_bits(xhat, want_d)


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_matrix_out_is_a_type_error():
    out = np.matrix(np.zeros((3, 4), np.int8))
    with pytest.raises(TypeError, match="matrix"):
        int8q.quantize(np.ones((3, 4)), out=out)
    assert not out.any()


@pytest.mark.filterwarnings("ignore:the matrix subclass:PendingDeprecationWarning")
def test_matrix_input_is_read_as_a_plain_array():
    m = np.matrix([[1.0, -2.0], [0.5, 4.0]])
    qt = int8q.quantize(m, axis=0)
    assert type(qt.q) is np.ndarray
    assert same_bits(qt.q, reference.quantize(np.asarray(m), axis=0)[0])


def test_memmap_out_is_written_through(tmp_path):
    x = np.linspace(-3, 5, 64, dtype=np.float32).reshape(8, 8)
    out = np.memmap(tmp_path / "q.bin", np.int8, "w+", shape=x.shape)
    qt = int8q.quantize(x, out=out, axis=0)
    out.flush()
    assert qt.q is out
    assert same_bits(
        np.fromfile(tmp_path / "q.bin", np.int8).reshape(8, 8), reference.quantize(x, axis=0)[0]
    )


MASKED = np.ma.array([1.0, -2.0, 1000.0], mask=[False, False, True])


@pytest.mark.parametrize(
    "call",
    [
        lambda: int8q.quantize(MASKED),
        lambda: int8q.quantize_dequantize(MASKED),
        lambda: int8q.absmax(MASKED),
        lambda: int8q.int8_quantize(MASKED),
        lambda: int8q.dequantize(np.ma.array(np.int8([1, 2]), mask=[0, 1]), np.float32(1)),
        lambda: int8q.dequantize(np.int8([1, 2]), np.ma.array(np.float32(1), mask=True)),
        lambda: ggml.quantize_q8_0(np.ma.array(np.ones(32, np.float32), mask=False)),
        lambda: ggml.dequantize_q8_0(np.ma.array(np.zeros(34, np.uint8), mask=False)),
    ],
    ids=[
        "quantize",
        "quantize_dequantize",
        "absmax",
        "int8_quantize",
        "dequantize-q",
        "dequantize-scale",
        "q8_0",
        "dequantize_q8_0",
    ],
)
def test_masked_input_is_a_type_error(call):
    with pytest.raises(TypeError, match="masked array"):
        call()


def test_masked_out_is_a_type_error():
    out = np.ma.array(np.zeros(3, np.int8), mask=[0, 1, 0])
    with pytest.raises(TypeError, match="masked array"):
        int8q.quantize(np.ones(3), out=out)
