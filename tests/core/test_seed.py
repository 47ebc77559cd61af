"""int8_quantize: the seed dict, bit-exact against the plain NumPy reference."""

import fractions
import math

import numpy as np
import pytest

import int8q
from int8q import reference


def check(values):
    got = int8q.int8_quantize(values)
    want = reference.int8_quantize(values)
    assert got == want, values
    assert all(type(v) is int for v in got["quantized"])
    assert all(type(v) is float for v in got["dequantized"])
    assert type(got["scale"]) is float
    return got


def test_seed_example():
    assert int8q.int8_quantize([1.0, -1.0, 0.5, -0.5]) == {
        "quantized": [127, -127, 64, -64],
        "scale": 0.007874,
        "dequantized": [1.0, -1.0, 0.5039, -0.5039],
    }


@pytest.mark.parametrize("n", [0, 1, 2, 4, 63, 64, 65, 1000, 100_000])
def test_random_lists(n):
    rng = np.random.default_rng(n)
    for scale in (1e-6, 1.0, 3e5):
        check(list(rng.standard_normal(n) * scale))


def test_ties_round_half_even():
    # absmax 127 makes the scale exactly 1: x / scale hits .5 ties exactly.
    got = check([127.0, 0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 126.5])
    assert got["quantized"] == [127, 0, 2, 2, 0, -2, -2, 126]


def test_empty_zero_and_underflow_give_scale_one():
    assert int8q.int8_quantize([]) == {"quantized": [], "scale": 1.0, "dequantized": []}
    assert check([0.0, -0.0])["scale"] == 1.0
    # 63 * 2^-1074 / 127 rounds to 0 in float64: scale falls back to 1.
    got = check([5e-324 * 63, -5e-324])
    assert got["scale"] == 1.0 and got["quantized"] == [0, 0]
    # One step up the division no longer underflows: a (tiny) real scale.
    got = check([5e-324 * 64, -5e-324])
    # The scale is 2^-1074 (64/127 of a step rounds up), so x / scale = 64, -1.
    assert got["quantized"] == [64, -1] and got["scale"] == 0.0


def test_near_tie_dequantized_rounding():
    """round(d, 4) must agree with Python's round on values a hair from a tie."""
    rng = np.random.default_rng(7)
    for _ in range(300):
        q = int(rng.integers(1, 128))
        tie = (int(rng.integers(0, 20000)) * 2 + 1) * 5e-5  # ...x5 in the 5th decimal
        scale = tie / q
        for s in (np.nextafter(scale, 0), scale, np.nextafter(scale, 1)):
            absmax = float(s) * 127
            check([absmax, q * float(s), -q * float(s)])


def test_near_tie_scale_rounding():
    for k in range(1, 400, 7):
        tie = (2 * k + 1) * 5e-7  # halfway between two 6-decimal values
        for absmax in (tie * 127, np.nextafter(tie * 127, 0), np.nextafter(tie * 127, 1e9)):
            check([float(absmax), 0.25 * float(absmax)])


def test_exact_binary_ties_use_round_semantics():
    # 0.03125 * 10^4 = 312.5 exactly: Python's round gives 0.0312 (half even on
    # the exact binary value), np.round would give the same here but differs
    # on inexact neighbours; the reference uses round().
    check([0.03125 * 127 / 127 * 127, 0.03125])
    check([2.675, 1.0])


def test_element_types():
    values = [
        1,
        True,
        False,
        np.float32(0.25),
        np.int64(-3),
        np.float16(0.5),
        fractions.Fraction(1, 3),
        np.uint8(7),
        2.5,
    ]
    got = int8q.int8_quantize(values)
    assert got == int8q.int8_quantize([float(v) for v in values])


@pytest.mark.parametrize(
    "make",
    [
        tuple,
        iter,
        lambda v: (x for x in v),
        lambda v: np.array(v),
        lambda v: np.array(v, np.float32),
        lambda v: np.array(v, dtype=object),
    ],
)
def test_sequence_kinds(make):
    values = [0.1, -2.0, 3.25, 0.0]
    want = int8q.int8_quantize([float(np.float64(v)) for v in make(values)])
    assert int8q.int8_quantize(make(values)) == want


def test_integer_and_bool_arrays():
    check(np.arange(-5, 9))
    check(list(np.array([True, False, True])))
    assert int8q.int8_quantize(np.array([True, False])) == int8q.int8_quantize([1.0, 0.0])


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf"), np.float32("nan")])
def test_nonfinite_is_value_error_with_index(bad):
    with pytest.raises(ValueError, match=r"x\[2\]"):
        int8q.int8_quantize([1.0, 2.0, bad, 3.0])
    with pytest.raises(ValueError, match=r"x\[1\]"):
        int8q.int8_quantize(np.array([0.0, bad]))


def test_huge_int_is_value_error():
    with pytest.raises(ValueError, match=r"x\[0\]"):
        int8q.int8_quantize([10**400])


@pytest.mark.parametrize(
    "bad", ["1.0", None, 1j, [1.0], (2.0,), b"x", np.complex64(1), np.array([1.0, 2.0]), object()]
)
def test_non_number_element_is_type_error(bad):
    with pytest.raises(TypeError, match=r"x\[1\]"):
        int8q.int8_quantize([0.0, bad])


@pytest.mark.parametrize(
    "bad",
    [
        None,
        1.0,
        3,
        "1.0 2.0",
        b"\x01\x02",
        np.float64(2.0),
        np.zeros((2, 2)),
        np.zeros(()),
        np.array([1 + 2j]),
        np.array(["a"]),
    ],
)
def test_non_sequence_argument_is_type_error(bad):
    with pytest.raises(TypeError):
        int8q.int8_quantize(bad)


def test_input_not_modified():
    values = [3.0, -1.5, 0.25]
    arr = np.array(values)
    int8q.int8_quantize(values)
    int8q.int8_quantize(arr)
    assert values == [3.0, -1.5, 0.25]
    assert arr.tolist() == values


def test_large_values_and_dequantized_precision():
    got = check([1e300, -1e300, 3e299])
    assert got["quantized"] == [127, -127, 38]
    assert math.isclose(got["dequantized"][0], 1e300)


def test_every_simd_level_agrees(simd):
    rng = np.random.default_rng(3)
    check(list(rng.standard_normal(1000)))


# An element whose conversion changes the list being read: the seed function
# must read what the list held when it was called, and never crash.  Run in a
# child process, since the failure this guards against is a segfault.
MUTATING_LIST = r"""
import numbers, sys
import int8q

values = [2.0, -1.0, 0.5, 3.0, -0.25] * 20

class Mutator:
    def __init__(self, value, how):
        self.value, self.how = value, how
    def __float__(self):
        if self.how == "clear":
            L.clear()
        elif self.how == "replace":
            L[:] = [object() for _ in range(3)]   # frees the other elements
        elif self.how == "grow":
            L.extend([1e300] * 1000)              # the list moves in memory
        return self.value

numbers.Real.register(Mutator)
for how in ("clear", "replace", "grow"):
    for at in (0, 7, 99):
        for others in ("plain floats", "numbers with __float__"):
            L = [Mutator(v, how) if i == at else v if others == "plain floats"
                 else Mutator(v, "none") for i, v in enumerate(values)]
            got = int8q.int8_quantize(L)
            assert got == int8q.int8_quantize(values), (how, at, others, got)
print("ok")
"""


def test_list_mutated_by_an_element_conversion(tmp_path):
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-c", MUTATING_LIST],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", (
        done.returncode,
        done.stderr[-2000:],
    )
