"""The bulk API against the NumPy reference on adversarial arrays, bit for bit."""

import numpy as np
import pytest
from arrays import FLOAT_DTYPES, adversarial, integer_arrays

import int8q
from int8q import _chunks, _granularity, reference

ROUNDINGS = ["half_even", "half_away"]


def granularities(shape):
    """Every granularity that makes sense for `shape`."""
    yield {}
    for axis in range(-len(shape), len(shape)):
        yield {"axis": axis}
    if shape:
        n = shape[-1]
        for b in sorted({1, 3, 32, max(n, 1), n + 5}):
            yield {"block_size": b}


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def check_against_reference(desc, x, kw, rounding):
    original = x.copy()
    want_q, want_scale = reference.quantize(x, rounding=rounding, **kw)
    want_d = reference.dequantize(want_q, want_scale, **kw)
    msg = f"{desc} {kw} {rounding} simd={int8q.get_simd()} threads={int8q.get_num_threads()}"

    qt = int8q.quantize(x, rounding=rounding, **kw)
    assert same_bits(qt.q, want_q), msg
    assert same_bits(qt.scale, want_scale), msg
    assert same_bits(qt.dequantize(), want_d), msg
    assert same_bits(int8q.dequantize(qt.q, qt.scale, **kw), want_d), msg

    qt2, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
    assert same_bits(qt2.q, want_q), msg
    assert same_bits(qt2.scale, want_scale), msg
    assert same_bits(xhat, want_d), msg

    out = np.full(x.shape, 99, dtype=np.int8)
    qt3 = int8q.quantize(x, rounding=rounding, out=out, **kw)
    assert qt3.q is out and same_bits(out, want_q), msg

    assert same_bits(int8q.absmax(x, **kw), reference.absmax(x, **kw)), msg
    assert same_bits(x, original), f"input modified: {msg}"


@pytest.mark.parametrize("dtype", FLOAT_DTYPES, ids=lambda d: np.dtype(d).name)
def test_float_arrays_match_reference(dtype, simd):
    for desc, x in adversarial(dtypes=[dtype]):
        for kw in granularities(x.shape):
            for rounding in ROUNDINGS:
                check_against_reference(desc, x, kw, rounding)


def test_integer_arrays_match_reference(simd):
    for desc, x in integer_arrays():
        for kw in granularities(x.shape):
            check_against_reference(desc, x, kw, "half_even")


@pytest.mark.parametrize("nthreads", [1, 2, 3, 8])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_large_arrays_threads_and_chunks(dtype, nthreads, simd, threads, monkeypatch):
    """Arrays big enough for several threads, and (with small chunks) for the
    chunked conversion path, including cuts inside the last axis."""
    threads(nthreads)
    monkeypatch.setattr(_chunks, "CHUNK_ELEMENTS", 50_000)
    monkeypatch.setattr(_granularity, "MAX_FUSED_BLOCK", 30_000)
    rng = np.random.default_rng(nthreads)
    base = (rng.standard_normal((3, 70_001)) * 3).astype(dtype)
    base[1, 12_345] = 0.5 * np.abs(base).max()  # something near a tie
    for desc, x in [
        ("C", base),
        ("F", np.asfortranarray(base)),
        ("[:, ::2]", base[:, ::2]),
        ("T", base.T),
    ]:
        for kw in [
            {},
            {"axis": 0},
            {"axis": 1},
            {"axis": -1},
            {"block_size": 32},
            {"block_size": 1000},
            {"block_size": 40_000},
            {"block_size": 1},
        ]:
            for rounding in ROUNDINGS:
                check_against_reference(f"{np.dtype(dtype).name} {desc}", x, kw, rounding)


def test_results_do_not_depend_on_threads_or_simd(threads):
    rng = np.random.default_rng(5)
    x = (rng.standard_normal(1 << 20) * 7).astype(np.float32)
    results = set()
    before = int8q.get_simd()
    try:
        for level in int8q.available_simd():
            int8q.set_simd(level)
            for n in (1, 2, 4, 7):
                threads(n)
                qt, xhat = int8q.quantize_dequantize(x)
                results.add(qt.q.tobytes() + qt.scale.tobytes() + xhat.tobytes())
    finally:
        int8q.set_simd(before)
    assert len(results) == 1


def test_seed_api_agrees_with_bulk_api():
    x = [0.3, -7.25, 1e-3, 4.0]
    d = int8q.int8_quantize(x)
    qt = int8q.quantize(np.array(x))
    assert d["quantized"] == qt.q.tolist()
    assert d["scale"] == round(float(qt.scale), 6)


def test_working_dtypes():
    assert int8q.quantize(np.ones(3, np.float16)).scale.dtype == np.float32
    assert int8q.quantize(np.ones(3, np.float32)).scale.dtype == np.float32
    assert int8q.quantize(np.ones(3, np.float64)).scale.dtype == np.float64
    assert int8q.quantize(np.ones(3, np.int16)).scale.dtype == np.float64
    assert int8q.quantize([1, 2, 3]).scale.dtype == np.float64
    assert int8q.quantize_dequantize(np.ones(3, np.float16))[1].dtype == np.float32


def test_scale_shapes():
    x = np.ones((4, 5, 70), np.float32)
    assert int8q.quantize(x).scale.shape == ()
    assert int8q.quantize(x, axis=0).scale.shape == (4,)
    assert int8q.quantize(x, axis=-2).scale.shape == (5,)
    assert int8q.quantize(x, block_size=32).scale.shape == (4, 5, 3)
    assert int8q.quantize(x, block_size=70).scale.shape == (4, 5, 1)
    assert int8q.quantize(x, block_size=100).scale.shape == (4, 5, 1)
    assert int8q.quantize(np.float32(3.0)).q.shape == ()


def test_zero_channels_and_blocks_get_scale_one():
    x = np.zeros((3, 64), np.float32)
    x[1, 40] = 2.0
    np.testing.assert_array_equal(
        int8q.quantize(x, axis=0).scale, [1, np.float32(2) / np.float32(127), 1]
    )
    np.testing.assert_array_equal(
        int8q.quantize(x, block_size=32).scale,
        [[1, 1], [1, np.float32(2) / np.float32(127)], [1, 1]],
    )


def test_dequantize_dtype_argument():
    x = np.linspace(-3, 3, 101, dtype=np.float32)
    qt = int8q.quantize(x, block_size=16)
    full = qt.dequantize()
    assert same_bits(qt.dequantize(np.float16), full.astype(np.float16))
    assert same_bits(int8q.dequantize(qt, dtype=np.float64), full.astype(np.float64))


def test_dequantize_float16_scale_computes_in_float32():
    q = np.array([127, -3, 0], np.int8)
    out = int8q.dequantize(q, np.float16(0.1))
    assert out.dtype == np.float32
    assert same_bits(out, q.astype(np.float32) * np.float32(np.float16(0.1)))


def test_qtensor_attributes():
    qt = int8q.quantize(np.ones((2, 3)), axis=1, rounding="half_away")
    assert (qt.axis, qt.block_size, qt.rounding, qt.shape) == (1, None, "half_away", (2, 3))
    qt = int8q.quantize(np.ones((2, 3)), axis=-1)
    assert qt.axis == 1
    assert "axis=1" in repr(qt)


@pytest.mark.parametrize("kw", [{}, {"axis": 0}, {"axis": -1}, {"block_size": 5}])
def test_quantize_with_given_scale_matches_quantize(kw):
    """The engine hook int8q.dask uses: scales found elsewhere, same q."""
    from int8q._api import quantize_with_scale

    rng = np.random.default_rng(9)
    x = (rng.standard_normal((6, 23)) * 4).astype(np.float32)
    qt = int8q.quantize(x, **kw)
    assert same_bits(quantize_with_scale(x, qt.scale, **kw), qt.q)
    # A slab of x with the whole array's scale: what a chunk of a larger array gets.
    if not kw:
        np.testing.assert_array_equal(quantize_with_scale(x[2:4], qt.scale), qt.q[2:4])
    # A scale too small for x saturates (the given-scale kernel clamps before
    # rounding), as ONNX QuantizeLinear does.
    tiny = quantize_with_scale(x, np.full(qt.scale.shape, 1e-12, np.float32), **kw)
    assert same_bits(tiny, np.sign(x).astype(np.int8) * np.int8(127))
    bad = x.copy()
    bad[3, 4] = np.nan
    with pytest.raises(ValueError, match=r"x\[3, 4\]"):
        quantize_with_scale(bad, qt.scale, **kw)
