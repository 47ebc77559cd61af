"""Every entry point holds int8q.quantize's rules (tests/support/entry_points.py).

One table of inputs, bad and good, runs through every registered entry
point: where `int8q.quantize` refuses a case, the entry point must raise the
same exception type (a NaN's position named the same way); where quantize
succeeds, the entry point must return the same bits (or its own oracle's,
for the formats defined elsewhere: the dict form, the files' float32
scales, Q8_0).  Hypothesis generates more of both.  An entry point that
cannot express a case (an option it does not have) is not given it; a new
entry point joins by registering an adapter in tests/support/entry_points.py.
"""

import re

import numpy as np
import pytest
from entry_points import ENTRY_POINTS, CliRefusal, has
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import int8q

RNG = np.random.default_rng(32)
X = RNG.standard_normal((6, 32)).astype(np.float32)  # 32 columns: Q8_0 takes it too


def with_value(x, index, value):
    x = x.copy()
    x[index] = value
    return x


def masked(x, index, value):
    data = with_value(x, index, value)
    mask = np.zeros(x.shape, bool)
    mask[index] = True
    return np.ma.masked_array(data, mask=mask)


# -- the bad inputs: int8q.quantize refuses each ----------------------------
BAD_X = {
    "nan": with_value(X, (4, 6), np.nan),
    "inf": with_value(X, (4, 6), np.inf),
    "-inf": with_value(X, (2, 31), -np.inf),
    "nan float64": with_value(X.astype(np.float64), (5, 0), np.nan),
    "nan float16": with_value(X.astype(np.float16), (0, 17), np.nan),
    "masked 1000": masked(X, (1, 3), 1000.0),
    "object": X.astype(object),
    "complex": X.astype(np.complex64),
    "strings": X.astype(str),
}
BAD_X_1D = {
    "nan 1-D": with_value(X[0], 5, np.nan),
    "inf 1-D": with_value(X[0], 0, np.inf),
    "masked 1-D": masked(X[0], 3, 1000.0),
    "object 1-D": X[0].astype(object),
    "complex 1-D": X[0].astype(np.complex128),
    "strings 1-D": X[0].astype(str),
}
BAD_OPTIONS = {
    "scale=0": {"scale": 0},
    "scale=nan": {"scale": np.nan},
    "scale=-1": {"scale": -1},
    "scale=inf": {"scale": np.inf},
    "scale='0.5'": {"scale": "0.5"},
    "scale=1e-300 (0 in float32)": {"scale": 1e-300},
    "scale masked": {"scale": np.ma.masked_array(0.5, mask=False)},
    "scale masked (mask set)": {
        "scale": np.ma.masked_array([0.5] * 6, mask=[0, 0, 1, 0, 0, 0]),
        "axis": 0,
    },
    "scale object": {"scale": np.array(0.5, dtype=object)},
    "scale per row with a 0": {"scale": with_value(np.full(6, 0.5), 3, 0.0), "axis": 0},
    "zero_point=300": {"scale": 0.5, "zero_point": 300},
    "zero_point object 5": {"scale": 0.5, "zero_point": np.array(5, dtype=object)},
    "zero_point=2.5": {"scale": 0.5, "zero_point": 2.5},
    "axis=2": {"axis": 2},
    "axis=-3": {"axis": -3},
    "axis=1.0": {"axis": 1.0},
    "axis='0'": {"axis": "0"},
    "axis=True": {"axis": True},
    "block_size=0": {"block_size": 0},
    "block_size=-1": {"block_size": -1},
    "block_size=2**63": {"block_size": 2**63},
    "block_size=2.7": {"block_size": 2.7},
    "block_size=True": {"block_size": True},
    "axis=2 and block_size": {"axis": 2, "block_size": 4},
    "axis and block_size=0": {"axis": 0, "block_size": 0},
    "axis=1.0 and block_size": {"axis": 1.0, "block_size": 2},
    "blocks along axis 0, scale of the last-axis shape": {
        "axis": 0,
        "block_size": 4,
        "scale": np.full((6, 8), 0.5, np.float32),
    },
    "rounding='bogus'": {"rounding": "bogus"},
    "qdtype=float32": {"qdtype": np.float32},
    "qdtype=uint8, symmetric": {"qdtype": np.uint8},
    "symmetric='False'": {"symmetric": "False"},
    "symmetric=0": {"symmetric": 0},
}
GRANULARITIES = {
    "per tensor": {},
    "axis=0": {"axis": 0},
    "block_size=32": {"block_size": 32},
    "axis=0, block_size=4": {"axis": 0, "block_size": 4},
}

BAD = {
    **{f"{k}, {g}": (x, dict(o)) for k, x in BAD_X.items() for g, o in GRANULARITIES.items()},
    **{k: (x, {}) for k, x in BAD_X_1D.items()},
    **{k: (X, o) for k, o in BAD_OPTIONS.items()},
}


# -- the good inputs: int8q.quantize takes each ------------------------------
def ties():
    # absmax 127, so scale 1 exactly: every x.5 is a tie
    return np.array([127.0, 0.5, 1.5, 2.5, -0.5, -2.5, 126.5, -3.5], np.float32)


GOOD_X = {
    "float32 (6, 32)": X,
    "float16": X.astype(np.float16),
    "float64": X.astype(np.float64) * 3,
    "int8": RNG.integers(-128, 128, (4, 2), dtype=np.int8),
    "int32": RNG.integers(-(2**31), 2**31, (3, 5), dtype=np.int32),
    "int64": RNG.integers(-(2**40), 2**40, (7,), dtype=np.int64),
    "bool": RNG.integers(0, 2, (3, 4)).astype(bool),
    "0-d": np.array(2.5, np.float32),
    "(1,)": np.array([-3.0], np.float32),
    "(7,)": RNG.standard_normal(7).astype(np.float32),
    "(4, 2)": RNG.standard_normal((4, 2)),
    "(3, 5, 7)": RNG.standard_normal((3, 5, 7)).astype(np.float32),
    "zeros": np.zeros((2, 3), np.float32),
    "strided view": X[::2, ::3],
    "transposed": X.T,
    "big-endian": X.astype(">f4"),
    "ties": ties(),
    "ties (2, 8)": np.stack([ties(), -ties()]),
    "large float32": X * np.float32(1e30),
    "large float64": X.astype(np.float64) * 1e300,
    "small float32": X * np.float32(1e-30),
    "subnormal float32": np.array([1e-45, -3e-45, 7e-45], np.float32),
    "subnormal float64": np.array([5e-324, -1e-310], np.float64),
}
GOOD_OPTIONS = {
    "per tensor": {},
    "half_away": {"rounding": "half_away"},
    "axis=0": {"axis": 0},
    "axis=-1 half_away": {"axis": -1, "rounding": "half_away"},
    "axis=np.int64(0)": {"axis": np.int64(0)},
    "block_size=3": {"block_size": 3},
    "block_size=np.int64(4)": {"block_size": np.int64(4)},
    "block_size=32 half_away": {"block_size": 32, "rounding": "half_away"},
    "axis=0, block_size=2": {"axis": 0, "block_size": 2},
    "axis=-1, block_size=3": {"axis": -1, "block_size": 3},
    "axis=0, block_size=4 asymmetric uint8": {
        "axis": 0,
        "block_size": 4,
        "symmetric": False,
        "qdtype": np.uint8,
    },
    "scale=0.02": {"scale": 0.02},
    "scale=0.5, zero_point=-3": {"scale": 0.5, "zero_point": -3},
    "scale, uint8 zero_point": {"scale": 0.05, "zero_point": np.uint8(128)},
    "asymmetric": {"symmetric": False},
    "asymmetric uint8 axis=0": {"symmetric": False, "qdtype": np.uint8, "axis": 0},
    "symmetric=np.True_": {"symmetric": np.True_},
}
# Every array with the three granularities, and every option on a few arrays.
CORE_OPTIONS = ("per tensor", "axis=0", "block_size=3", "axis=0, block_size=2")
EVERY_OPTION_ON = ("float32 (6, 32)", "ties (2, 8)", "int64", "(3, 5, 7)", "float16")
GOOD = {
    f"{k}, {o}": (x, dict(v))
    for k, x in GOOD_X.items()
    for o, v in GOOD_OPTIONS.items()
    if o in CORE_OPTIONS or k in EVERY_OPTION_ON
}
GOOD.update(
    {
        "per row scales": (X, {"scale": np.linspace(0.01, 0.06, 6), "axis": 0}),
        "per block scales": (X, {"scale": np.full((6, 4), 0.03, np.float32), "block_size": 8}),
        "blocks along axis 0 scales": (
            X,
            {"scale": np.linspace(0.01, 0.06, 3 * 32).reshape(3, 32), "axis": 0, "block_size": 2},
        ),
        "blocks along axis 0 scales, uint8": (
            X,
            {
                "scale": np.full((2, 32), 0.02, np.float32),
                "zero_point": np.arange(64, dtype=np.uint8).reshape(2, 32),
                "axis": -2,
                "block_size": 4,
            },
        ),
        "per column scales, uint8": (
            X,
            {"scale": np.full(32, 0.02), "zero_point": np.full(32, 128, np.uint8), "axis": 1},
        ),
    }
)

POSITION = re.compile(r"(\[[\d, ]*\]) is (nan|inf|-inf)")


# The entry points that start a process per call take only these cases.
SLOW_CASES = {
    "float32 (6, 32), per tensor",
    "float32 (6, 32), axis=0",
    "float32 (6, 32), block_size=3",
    "float32 (6, 32), axis=0, block_size=2",
    "ties, per tensor",
    "nan, axis=0",
    "nan 1-D",
    "inf 1-D",
    "block_size=2**63",
}


def params(table):
    return [
        pytest.param(name, case, id=f"{name} | {case}")
        for case, (x, opts) in table.items()
        for name, ep in ENTRY_POINTS.items()
        if ep.supports(x, opts) and (not ep.slow or case in SLOW_CASES)
    ]


def snapshot(x):
    if isinstance(x, np.ma.MaskedArray):
        return x.data.tobytes(), np.ma.getmaskarray(x).tobytes()
    return x.tobytes()


def same_bits(got, want, where):
    assert sorted(got) == sorted(want), f"{where}: returned {sorted(got)}, expected {sorted(want)}"
    for key in want:
        a, b = np.asarray(got[key]), np.asarray(want[key])
        assert (a.dtype, a.shape) == (b.dtype, b.shape), (
            f"{where}: {key} is {a.dtype} {a.shape}, expected {b.dtype} {b.shape}"
        )
        assert np.ascontiguousarray(a).tobytes() == np.ascontiguousarray(b).tobytes(), (
            f"{where}: {key} differs\n got {a!r}\nwant {b!r}"
        )


def conforms(name, x, opts):
    """Entry point `name` refuses (x, opts) as int8q.quantize (or its oracle)
    does, or returns its oracle's bits; x is never modified."""
    ep = ENTRY_POINTS[name]
    where = f"{name} on {opts}"
    before = snapshot(x)
    refused = want = None
    try:
        int8q.quantize(x, **opts)
        want = ep.oracle(x, opts)  # (which may refuse what quantize takes: a file's float32)
    except Exception as error:
        refused = error
    if refused is None:
        same_bits(ep.run(x, opts), want, where)
    else:
        with pytest.raises(Exception) as got:
            ep.run(x, opts)
        if not isinstance(got.value, CliRefusal):  # (the CLI has one kind: status 2)
            assert isinstance(got.value, type(refused)), (
                f"{where}: raised {type(got.value).__name__}: {got.value}\n"
                f"int8q.quantize raises {type(refused).__name__}: {refused}"
            )
        position = POSITION.search(str(refused))
        if position:
            assert position.group(1) in str(got.value), (
                f"{where}: {got.value!s} names another position than int8q.quantize's "
                f"{position.group(0)!r}"
            )
    assert snapshot(x) == before, f"{where} modified its input"


def test_every_entry_point_is_registered():
    expected = {"quantize", "quantize(out=)", "quantize_dequantize", "absmax", "Calibrator"}
    expected |= {"io.quantize_file(.npy)", "cli quantize FILE.npy", "cli quantize NUMBER..."}
    expected |= {"int8_quantize"}
    peers = {
        "dask.array": "dask.quantize[chunks=2]",
        "numcodecs": "codec.Int8QCodec",
        "zarr": "zarr.create_array[one chunk]",
        "gguf": "ggml.quantize_q8_0",
    }
    expected |= {entry for peer, entry in peers.items() if has(peer)}
    assert expected <= set(ENTRY_POINTS)


@pytest.mark.parametrize("case", list(BAD))
def test_quantize_refuses_every_bad_case(case):
    x, opts = BAD[case]
    with pytest.raises((ValueError, TypeError)):
        int8q.quantize(x, **opts)


@pytest.mark.parametrize(("name", "case"), params(BAD))
def test_bad_input_refused_as_quantize_refuses_it(name, case):
    x, opts = BAD[case]
    conforms(name, x, opts)


@pytest.mark.parametrize(("name", "case"), params(GOOD))
def test_good_input_gives_the_same_bits(name, case):
    x, opts = GOOD[case]
    conforms(name, x, opts)


BOOLEAN_STRINGS = ("False", "no")


@pytest.mark.parametrize(
    ("name", "flag", "value"),
    [
        (name, flag, value)
        for name, ep in ENTRY_POINTS.items()
        for flag in ("symmetric", *ep.flags)
        if ep.supports(X, {flag: True})
        for value in BOOLEAN_STRINGS
    ],
)
def test_string_booleans_are_refused(name, flag, value):
    # "False" is a true string: read as a boolean it would do the opposite.
    with pytest.raises(TypeError):
        ENTRY_POINTS[name].run(X, {flag: value})


# -- generated cases ----------------------------------------------------------
DTYPES = st.sampled_from(
    [np.float16, np.float32, np.float64, np.int8, np.int16, np.int32, np.int64, ">f4"]
).map(np.dtype)


@st.composite
def arrays(draw, min_dims=0):
    dtype = draw(DTYPES)
    shape = draw(hnp.array_shapes(min_dims=min_dims, max_dims=3, min_side=1, max_side=6))
    if dtype.kind == "f":
        # beyond float32's range a file's float32 values would be inf
        bound = float(dtype.type(min(float(np.finfo(dtype).max), 3e38)))
        elements = st.floats(-bound, bound, width=8 * dtype.itemsize)
    else:
        elements = None
    x = draw(hnp.arrays(dtype, shape, elements=elements))
    if x.ndim >= 2 and draw(st.booleans()):
        x = x.T  # a non-contiguous view
    return x


@st.composite
def options(draw, x):
    opts = {}
    kind = draw(st.sampled_from(["tensor", "axis", "block", "axis block"]))
    if kind in ("axis", "axis block") and x.ndim:
        opts["axis"] = draw(st.integers(-x.ndim, x.ndim - 1))
    if kind in ("block", "axis block"):
        opts["block_size"] = draw(st.sampled_from([1, 2, 3, 5, 8, 32]))
    if draw(st.booleans()):
        opts["rounding"] = draw(st.sampled_from(["half_even", "half_away"]))
    scheme = draw(st.sampled_from(["absmax", "asymmetric", "asymmetric uint8", "given"]))
    if scheme == "asymmetric":
        opts["symmetric"] = False
    elif scheme == "asymmetric uint8":
        opts.update(symmetric=False, qdtype=np.uint8)
    elif scheme == "given":
        opts["scale"] = draw(st.floats(1e-3, 1e3))
        if draw(st.booleans()):
            opts["zero_point"] = draw(st.integers(-128, 127))
    return opts


# No shrinking: each failing example already lists every entry point that
# differs on it, and shrinking through ~15 entry points takes minutes.
GENERATED = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    phases=(Phase.explicit, Phase.generate),
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def run_everywhere(x, opts):
    failures = []
    for name, ep in ENTRY_POINTS.items():
        if ep.slow or not ep.supports(x, opts):
            continue
        try:
            conforms(name, x, opts)
        except (Exception, pytest.fail.Exception) as error:
            failures.append(f"{name}: {type(error).__name__}: {error}")
    assert not failures, "\n".join(failures)


@GENERATED
@given(data=st.data())
def test_generated_inputs_give_the_same_bits(data):
    x = data.draw(arrays())
    run_everywhere(x, data.draw(options(x)))


@GENERATED
@given(data=st.data())
def test_generated_nonfinite_named_at_the_same_position(data):
    x = data.draw(arrays(min_dims=1).filter(lambda a: a.dtype.kind == "f"))
    index = tuple(data.draw(st.integers(0, n - 1)) for n in x.shape)
    x = with_value(x, index, data.draw(st.sampled_from([np.nan, np.inf, -np.inf])))
    run_everywhere(x, data.draw(options(x)))


# -- the process-wide settings --------------------------------------------------
@pytest.mark.parametrize("n", [2**40, 2.7, "3", True, 0, -1])
def test_set_num_threads_refuses(threads, n):
    before = int8q.get_num_threads()
    with pytest.raises((TypeError, ValueError)):
        threads(n)
    assert int8q.get_num_threads() == before
    assert int8q.quantize(X).q.shape == X.shape  # still usable


@pytest.mark.parametrize("name", ["bogus", "", "avx9000"])
def test_set_simd_refuses_unknown_names(name):
    before = int8q.get_simd()
    with pytest.raises(ValueError):
        int8q.set_simd(name)
    assert int8q.get_simd() == before
