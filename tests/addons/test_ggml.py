"""GGML Q8_0: byte-identical to gguf-py, the reference the format is defined by."""

import warnings

import numpy as np
import pytest

from int8q import ggml

gguf_quants = pytest.importorskip("gguf.quants")
from gguf import GGMLQuantizationType  # noqa: E402

Q8_0 = GGMLQuantizationType.Q8_0


def gguf_quantize(x):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # gguf warns on its own edge cases
        return gguf_quants.quantize(np.asarray(x), Q8_0)


def gguf_dequantize(raw):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return gguf_quants.dequantize(raw, Q8_0)


def check(x):
    before = np.array(x, copy=True)
    raw = ggml.quantize_q8_0(x)
    want = gguf_quantize(x)
    assert raw.dtype == np.uint8 and raw.shape == want.shape
    assert raw.tobytes() == want.tobytes()
    back = ggml.dequantize_q8_0(raw)
    want_back = gguf_dequantize(want)
    assert back.dtype == np.float32 and back.shape == want_back.shape
    assert back.tobytes() == want_back.tobytes()
    np.testing.assert_array_equal(np.asarray(x), before)
    return raw


def test_random_rows(simd):
    rng = np.random.default_rng(0)
    check(rng.standard_normal((64, 4096)).astype(np.float32))
    check((rng.standard_normal(32 * 1000) * 1e-3).astype(np.float32))


def test_multi_dimensional_and_non_contiguous(simd):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 5, 128)).astype(np.float32)
    check(x)
    check(np.asfortranarray(x))
    check(rng.standard_normal((8, 256)).astype(np.float32)[:, ::2])
    check(rng.standard_normal((64, 6)).astype(np.float32).T[:, :32])
    check(x[::-1])


def test_ties_and_zero_blocks(simd):
    # absmax 127 gives d = 1 and id = 1: x * id lands exactly on .5 ties.
    x = np.zeros((4, 64), np.float32)
    x[0, :32] = np.arange(-15.5, 16.5, 1.0)
    x[0, 0] = 127
    x[1, 32:] = 0.0  # an all-zero block: d = 0, id = 0
    x[2, :32] = -2.5
    x[2, 5] = 127
    check(x)


def test_other_dtypes_convert_through_float32(simd):
    rng = np.random.default_rng(2)
    base = rng.standard_normal((4, 64)) * 100
    for dtype in (np.float16, np.float64, np.int32, np.int8):
        check(base.astype(dtype))
    check(base.astype(">f4"))


def test_scales_across_the_float16_range(simd):
    """Block scales from float16 subnormals to its largest value, and the
    values around float16 rounding midpoints, convert exactly as NumPy does."""
    rng = np.random.default_rng(3)
    amax = np.concatenate(
        [
            2.0 ** rng.uniform(-40, 23, 2000) * 127,  # d from tiny to ~8e6/127
            np.float32(np.float16(np.float16(6e-8) * 1.5)) * 127 * np.ones(3),
            [65504.0 * 127, 1e-30, 3e-36, 5e-38],
        ]
    ).astype(np.float32)
    x = rng.uniform(-1, 1, (amax.size, 32)).astype(np.float32) * amax[:, None]
    x[:, 0] = amax
    x = x[np.abs(x).max(axis=1) / np.float32(127) < 65504]  # finite float16 scales only
    check(x)


def test_tiny_blocks_whose_reciprocal_overflows_are_zero():
    x = np.zeros(32, np.float32)
    x[:3] = [1e-37, -3e-38, 2e-40]
    raw = check(x)
    assert not raw[2:].any()


def test_empty_rows():
    check(np.zeros((0, 64), np.float32))
    assert ggml.quantize_q8_0(np.zeros((3, 0), np.float32)).shape == (3, 0)


@pytest.mark.parametrize("shape", [(31,), (3, 33), (64, 10), ()])
def test_bad_shapes(shape):
    with pytest.raises(ValueError, match="multiple of 32"):
        ggml.quantize_q8_0(np.zeros(shape, np.float32))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf, 1e300])
def test_nonfinite_is_value_error(bad):
    x = np.ones((2, 64))
    x[1, 40] = bad
    with pytest.raises(ValueError, match=r"x\[1, 40\]"):
        ggml.quantize_q8_0(x)


def test_float16_scale_overflow_is_value_error():
    x = np.ones(64, np.float32)
    x[40] = 65520 * 127  # d rounds to float16 inf
    with pytest.raises(ValueError, match="float16"):
        ggml.quantize_q8_0(x)
    x[40] = 65504 * 127  # the largest finite float16 scale is fine
    check(x)


def test_dequantize_errors():
    with pytest.raises(ValueError, match="multiple of 34"):
        ggml.dequantize_q8_0(np.zeros(33, np.uint8))
    with pytest.raises(TypeError, match="uint8"):
        ggml.dequantize_q8_0(np.zeros(34, np.int8))
    with pytest.raises(TypeError):
        ggml.quantize_q8_0(np.zeros(32, np.complex64))


def test_dequantize_arbitrary_bytes_matches_gguf():
    rng = np.random.default_rng(4)
    raw = rng.integers(0, 256, (7, 34 * 5), dtype=np.uint8)
    with np.errstate(all="ignore"):
        got = ggml.dequantize_q8_0(raw)
    assert got.tobytes() == gguf_dequantize(raw).tobytes()
    assert ggml.dequantize_q8_0(raw[:, ::-1][:, ::-1]).tobytes() == got.tobytes()


def test_large_input_chunks_and_threads(threads):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((9, 200_000 - 200_000 % 32)).astype(np.float16)
    for n in (1, 2, 3):
        threads(n)
        check(x)
