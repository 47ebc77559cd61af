"""GGML Q8_0 against its plain-NumPy oracle, int8q.reference, bit for bit.

The inputs are the ones where a spelling of the rule could go wrong: values
exactly on a rounding tie of x * id and just below one, subnormal values and
blocks so small that 1 / d overflows, scales at the top of float16 and on
its subnormal steps, zeros (signed), every dtype that converts to float32,
on every SIMD level and thread count.
"""

import numpy as np
import pytest

from int8q import ggml, reference

F32 = np.float32


def block(values, amax=127.0):
    """A 32-value float32 block holding `values`, its abs-max `amax` last."""
    b = np.zeros(32, F32)
    values = np.asarray(values, F32)[:31]
    b[: values.size] = values
    b[31] = amax
    return b


def ties():
    """amax 127 makes d = 1 and id = 1: x * id = x, so k + 0.5 is a tie,
    and the float32 just below 0.5 (which x + 0.5 then floor rounds up)."""
    halves = np.arange(-15.5, 16, 1, dtype=F32)
    below = np.nextafter(F32(0.5), F32(0))
    near = [below, -below, np.nextafter(F32(1.5), F32(0)), np.nextafter(F32(126.5), F32(200))]
    return [block(halves), block(near), block(halves, amax=F32(-127))]


def subnormals():
    tiny = np.finfo(F32).smallest_subnormal
    return [
        block([tiny, -tiny, 3 * tiny], amax=F32(1e-38)),  # 1 / d overflows: all zeros
        block([tiny, -2 * tiny], amax=127 * tiny * 2**20),  # d subnormal, 1 / d finite
        block([1e-30, -1e-31, tiny], amax=F32(1e-3)),  # d a float16 subnormal
        block(np.full(31, tiny), amax=np.finfo(F32).tiny),  # amax the smallest normal
    ]


def float16_edges():
    top = F32(65504 * 127)  # d = 65504, the largest float16, exactly
    just_below_inf = F32(65519 * 127)  # d = 65519 rounds down to 65504
    f16_tiny = F32(2.0**-24 * 127)  # d = the smallest float16 subnormal
    return [
        block([top / 2, -top / 3, 1.0], amax=top),
        block([-just_below_inf, 12345.0], amax=just_below_inf),
        block([f16_tiny / 2, -f16_tiny / 3], amax=f16_tiny),
        block([f16_tiny * 1.5], amax=F32(2.0**-24 * 1.5 * 127)),  # d on a float16 tie
    ]


def zeros():
    z = np.zeros(32, F32)
    nz = np.full(32, -0.0, F32)
    return [z, nz, block([0.0, -0.0], amax=F32(0.0))]


def adversarial_blocks():
    rng = np.random.default_rng(8)
    random = [(rng.standard_normal(32) * 10.0**e).astype(F32) for e in range(-30, 6, 5)]
    return np.array(ties() + subnormals() + float16_edges() + zeros() + random, F32)


def check(x):
    raw = ggml.quantize_q8_0(x)
    want = reference.quantize_q8_0(x)
    assert raw.shape == want.shape and raw.tobytes() == want.tobytes()
    back = ggml.dequantize_q8_0(raw)
    want_back = reference.dequantize_q8_0(raw)
    assert back.shape == want_back.shape and back.tobytes() == want_back.tobytes()


def test_the_oracle_rounds_ties_away_and_keeps_below_ties_down():
    raw = reference.quantize_q8_0(ties()[1]).reshape(-1, 34)
    q = raw[:, 2:].view(np.int8)[0]
    assert list(q[:4]) == [0, 0, 1, 127] and q[31] == 127
    q = reference.quantize_q8_0(ties()[0])[2:].view(np.int8)
    assert list(q[:3]) == [-16, -15, -14] and list(q[29:31]) == [14, 15]


@pytest.mark.parametrize("layout", ["one block a call", "all blocks in one row", "rows"])
def test_adversarial_blocks(simd, threads, layout):
    blocks = adversarial_blocks()
    for nthreads in (1, 2):
        threads(nthreads)
        if layout == "one block a call":  # each block alone: every level's scalar tail
            for b in blocks:
                check(b)
        elif layout == "all blocks in one row":
            check(blocks.reshape(-1))
        else:  # groups of blocks per row, with a tail (16-block groups in the loops)
            reps = np.concatenate([blocks] * 3)[:35]
            check(reps.reshape(5, 7 * 32))


def test_random_rows_and_scales(simd):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((33, 32 * 21)) * np.exp(rng.uniform(-60, 13, (33, 1)))
    check(x.astype(F32))


@pytest.mark.parametrize("dtype", [np.float16, np.float64, np.int32, "bfloat16"])
def test_other_dtypes_through_float32(dtype):
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    rng = np.random.default_rng(4)
    x = (rng.standard_normal((4, 64)) * 100).astype(dtype)
    check(x)
    check(np.zeros((2, 32), dtype))


def test_dequantize_arbitrary_bytes():
    # Any bytes: NaN/inf and subnormal float16 scales, every int8 code.
    rng = np.random.default_rng(5)
    raw = rng.integers(0, 256, (64, 34 * 3), dtype=np.uint8)
    raw[0, :2] = np.array([np.inf], "<f2").view(np.uint8)
    raw[1, :2] = np.array([np.nan], "<f2").view(np.uint8)
    raw[2, :2] = np.array([2.0**-24], "<f2").view(np.uint8)
    with np.errstate(invalid="ignore"):
        assert ggml.dequantize_q8_0(raw).tobytes() == reference.dequantize_q8_0(raw).tobytes()


def test_empty_rows():
    check(np.zeros((3, 0), F32))
