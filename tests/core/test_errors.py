"""Bad input: the right error, nothing written to out=, input untouched."""

import numpy as np
import pytest
from numpy.exceptions import AxisError

import int8q

GRANULARITIES = [{}, {"axis": 0}, {"axis": 1}, {"block_size": 4}, {"block_size": 1000}]


@pytest.mark.parametrize("kw", GRANULARITIES)
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
@pytest.mark.parametrize("where", [(0, 0), (5, 7), (9, 11)])
def test_nonfinite_raises_names_position_and_leaves_out_alone(kw, bad, dtype, where):
    x = np.arange(120, dtype=dtype).reshape(10, 12) / 7
    x[where] = bad
    before = x.copy()
    out = np.full(x.shape, 42, np.int8)
    pattern = rf"x\[{where[0]}, {where[1]}\]"
    with pytest.raises(ValueError, match=pattern):
        int8q.quantize(x, out=out, **kw)
    assert (out == 42).all()
    for func in (int8q.quantize, int8q.quantize_dequantize, int8q.absmax):
        with pytest.raises(ValueError, match=pattern):
            func(x, **kw)
        with pytest.raises(ValueError, match=pattern):
            func(np.asfortranarray(x), **kw)
    np.testing.assert_array_equal(x, before)


def test_nonfinite_in_a_late_chunk_of_a_large_array():
    x = np.ones(3_000_000, np.float32)
    x[-1] = np.nan
    out = np.zeros(x.shape, np.int8)
    with pytest.raises(ValueError, match=r"x\[2999999\]"):
        int8q.quantize(x, out=out, block_size=32)
    assert not out.any()
    with pytest.raises(ValueError, match=r"x\[2999999\]"):
        int8q.quantize(x[::-1][::-1].astype(np.float16))


@pytest.mark.parametrize(
    "x",
    [
        np.ones(3, np.complex64),
        np.array([1, "a"], object),
        np.array(["1.0"]),
        np.array([b"x"]),
        np.array([1], "datetime64[s]"),
        np.ones(2, np.longdouble) if np.dtype(np.longdouble).itemsize > 8 else np.ones(2, "m8[s]"),
        [1 + 2j],
        ["a", "b"],
    ],
)
def test_unsupported_dtypes_are_type_errors(x):
    for func in (int8q.quantize, int8q.quantize_dequantize, int8q.absmax):
        with pytest.raises(TypeError):
            func(x)


@pytest.mark.parametrize("axis", [2, -3, 10])
def test_bad_axis_is_axis_error(axis):
    with pytest.raises(AxisError):
        int8q.quantize(np.ones((2, 3)), axis=axis)
    with pytest.raises(AxisError):
        int8q.absmax(np.ones((2, 3)), axis=axis)


def test_axis_on_0d_and_block_size_on_0d_are_axis_errors():
    with pytest.raises(AxisError):
        int8q.quantize(np.float32(1), axis=0)
    with pytest.raises(AxisError):
        int8q.quantize(np.float32(1), block_size=2)


@pytest.mark.parametrize("axis", [1.0, "0", True, [0]])
def test_non_integer_axis_is_type_error(axis):
    with pytest.raises(TypeError):
        int8q.quantize(np.ones((2, 3)), axis=axis)


@pytest.mark.parametrize("block_size", [0, -1])
def test_block_size_below_one_is_value_error(block_size):
    with pytest.raises(ValueError, match="block_size"):
        int8q.quantize(np.ones((2, 3)), block_size=block_size)


def test_axis_and_block_size_together_are_blocks_along_axis():
    # ONNX's blocked granularity (tests/core/test_blocks_any_axis.py)
    assert int8q.quantize(np.ones((5, 3)), axis=0, block_size=2).scale.shape == (3, 3)
    with pytest.raises(AxisError):
        int8q.quantize(np.ones((2, 3)), axis=2, block_size=2)
    with pytest.raises(ValueError, match="block_size"):
        int8q.quantize(np.ones((2, 3)), axis=0, block_size=0)


@pytest.mark.parametrize("rounding", ["nearest", "HALF_EVEN", None, 1])
def test_unknown_rounding_is_value_error(rounding):
    with pytest.raises(ValueError, match="rounding"):
        int8q.quantize(np.ones(3), rounding=rounding)


@pytest.mark.parametrize(
    "out, error",
    [
        (np.zeros((2, 3), np.uint8), TypeError),
        (np.zeros((2, 3), np.float32), TypeError),
        ([[0, 0, 0], [0, 0, 0]], TypeError),
        (np.zeros((3, 2), np.int8), ValueError),
        (np.zeros(6, np.int8), ValueError),
        (np.zeros((2, 3), np.int8, order="F"), ValueError),
        (np.zeros((2, 6), np.int8)[:, ::2], ValueError),
    ],
)
def test_bad_out_is_rejected_untouched(out, error):
    before = np.array(out, copy=True)
    with pytest.raises(error):
        int8q.quantize(np.ones((2, 3), np.float32), out=out)
    np.testing.assert_array_equal(np.asarray(out), before)


def test_read_only_out_is_rejected():
    out = np.zeros(3, np.int8)
    out.flags.writeable = False
    with pytest.raises(ValueError, match="writeable"):
        int8q.quantize(np.ones(3), out=out)


def test_dequantize_errors():
    q = np.zeros((2, 3), np.int8)
    with pytest.raises(TypeError, match="int8"):
        int8q.dequantize(q.astype(np.int16), np.float32(1))
    with pytest.raises(TypeError, match="floating"):
        int8q.dequantize(q, np.int32(1))
    with pytest.raises(ValueError, match="shape"):
        int8q.dequantize(q, np.ones(3, np.float32), axis=0)
    with pytest.raises(ValueError, match="NaN"):
        int8q.dequantize(q, np.float32(np.nan))
    with pytest.raises(TypeError):
        int8q.dequantize(q)
    with pytest.raises(TypeError):
        int8q.dequantize(int8q.quantize(np.ones(3)), np.float32(1))
    with pytest.raises(TypeError):
        int8q.dequantize(q, np.float32(1), dtype=np.int32)


def test_readonly_input_is_fine():
    x = np.arange(10, dtype=np.float32)
    x.flags.writeable = False
    assert int8q.quantize(x).q[-1] == 127
