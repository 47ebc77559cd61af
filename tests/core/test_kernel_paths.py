"""The compiled paths large enough for threads (2 threads, above the
threading threshold), with half-precision inputs read inside the kernels,
against the NumPy reference bit for bit on every SIMD level."""

import pathlib
import platform
import re

import numpy as np
import pytest

import int8q
from int8q import _kernels, ggml, reference

GRANULARITIES = [
    {},
    {"axis": 0},
    {"axis": 1},
    {"block_size": 32},
    {"block_size": 100},
    {"block_size": 3000},
]


def half_dtypes():
    yield np.dtype(np.float16)
    try:
        import ml_dtypes

        yield np.dtype(ml_dtypes.bfloat16)
    except ImportError:
        pass


def big(dtype, shape=(300, 1100), seed=5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * np.exp(rng.uniform(-3, 3, shape[1]))
    x[min(7, shape[0] - 1), :40] = 0  # an all-zero block and part-row
    return x.astype(np.float32).astype(dtype)


@pytest.mark.parametrize(
    "dtype", list(half_dtypes()) + [np.dtype(np.float32), np.dtype(np.float64)]
)
@pytest.mark.parametrize("kw", GRANULARITIES)
def test_large_inputs_match_reference(simd, threads, dtype, kw):
    threads(2)
    x = big(dtype)
    assert x.size >= 2 * _kernels.MIN_PER_THREAD
    for rounding in ["half_even", "half_away"]:
        want_q, want_s = reference.quantize(x, rounding=rounding, **kw)
        want_d = reference.dequantize(want_q, want_s, **kw)
        qt, xhat = int8q.quantize_dequantize(x, rounding=rounding, **kw)
        np.testing.assert_array_equal(qt.q, want_q)
        np.testing.assert_array_equal(qt.scale, want_s)
        np.testing.assert_array_equal(xhat, want_d)
        out = np.empty(x.shape, np.int8)
        assert int8q.quantize(x, rounding=rounding, out=out, **kw).q is out
        np.testing.assert_array_equal(out, want_q)
        np.testing.assert_array_equal(int8q.dequantize(want_q, want_s, **kw), want_d)


@pytest.mark.parametrize("dtype", list(half_dtypes()))
def test_half_nonfinite_found(simd, dtype):
    for kw in [{}, {"block_size": 32}, {"block_size": 5000}, {"axis": 1}]:
        x = big(dtype, (3, 5000))
        x[2, 4321] = np.inf
        with pytest.raises(ValueError, match=r"x\[2, 4321\] is inf"):
            int8q.quantize(x, **kw)
        x[2, 4321] = np.nan
        with pytest.raises(ValueError, match=r"x\[2, 4321\] is nan"):
            int8q.quantize(x, **kw)


@pytest.mark.parametrize("dtype", list(half_dtypes()) + [np.dtype(np.float64)])
def test_q8_0_of_other_dtypes_is_that_of_float32(simd, threads, dtype):
    threads(2)
    x = big(dtype, (64, 8192))
    want = ggml.quantize_q8_0(x.astype(np.float32))
    np.testing.assert_array_equal(ggml.quantize_q8_0(x), want)


def test_scale_rule_is_one_rule():
    rng = np.random.default_rng(3)
    for m in np.concatenate([[0.0, 1e-45, 5e-324], rng.standard_exponential(50) * 1e3]):
        for f64 in (False, True):
            dtype = np.float64 if f64 else np.float32
            want = reference.quantize(np.array([m], dtype))[1]
            assert np.asarray(_kernels.scale_from_absmax(float(dtype(m)), f64), dtype) == want


def test_chunked_inputs_call_the_kernels_on_one_thread(monkeypatch, threads):
    # A converted input (int32; the float dtypes in any layout are gathered
    # by the kernels instead) reaches the kernels chunk by chunk;
    # each of those calls runs on one thread (see _chunks.chunk_threads),
    # while an input read in place gets every thread in one call.
    from int8q import _chunks

    threads(4)
    seen = []
    real = _kernels.quantize_into

    def spy(*args):
        seen.append(args[-1])
        return real(*args)

    monkeypatch.setattr(_kernels, "quantize_into", spy)
    x = np.random.default_rng(2).integers(-5000, 5000, 3 * _chunks.CHUNK_ELEMENTS, np.int32)
    want_q, want_s = reference.quantize(x)
    qt = int8q.quantize(x)
    np.testing.assert_array_equal(qt.q, want_q)
    assert seen and set(seen) == {1}
    assert _chunks.chunk_threads(x, x, 4) == 4


@pytest.mark.parametrize("kw", [{"block_size": 3}, {"axis": 0}])
def test_many_scales_threads_own_whole_blocks(simd, threads, kw):
    # more scales than per-thread partial rows allow (src/core/drivers.c,
    # blocks_own_scales): the threads split at block boundaries and write
    # each block's abs-max directly, in both the abs-max pass and the
    # two-pass quantize that out= takes
    shape = (700, 3001) if "block_size" in kw else (1 << 20, 3)
    x = np.random.default_rng(9).standard_normal(shape).astype(np.float32)
    x[: shape[0] // 2 + 1] *= 3  # scales differ on either side of the thread split
    want_q, want_s = reference.quantize(x, **kw)
    for t in (2, 3):
        threads(t)
        np.testing.assert_array_equal(int8q.absmax(x, **kw), reference.absmax(x, **kw))
        out = np.empty(shape, np.int8)
        qt = int8q.quantize(x, out=out, **kw)
        np.testing.assert_array_equal(out, want_q)
        np.testing.assert_array_equal(qt.scale, want_s)
    bad = x.copy()
    bad[shape[0] // 2, 1] = np.nan
    out = np.zeros(shape, np.int8)
    with pytest.raises(ValueError, match="nan"):
        int8q.quantize(bad, out=out, **kw)
    assert not out.any()


def test_abs_max_of_a_piece_starting_inside_a_block(threads):
    # a call whose first element is not on a block boundary (as a caller
    # cutting chunks anywhere may make) must still see every element, whoever
    # owns which blocks
    from int8q import _granularity

    shape = (700, 3001)
    x = np.random.default_rng(4).standard_normal(shape).astype(np.float32).reshape(-1)
    gran = _granularity.resolve(shape, None, 3)
    piece = x[5:]
    results = []
    for t in (1, 2):
        m = np.zeros(gran.nscales, np.float32)
        _kernels.absmax_into(piece, _kernels.INPUT_F32, piece.size, 5, gran.layout, m, t)
        results.append(m)
    assert results[0][1] == abs(x[5])  # block 1 holds x[3:6]; the piece starts at x[5]
    np.testing.assert_array_equal(results[1], results[0])


SRC = pathlib.Path(__file__).resolve().parents[2] / "src"
LEVEL_LINE = re.compile(
    r'^INT8Q_LEVEL\((\w+), (\w+), "([^"]*)", "([^"]*)", "([^"]*)", (\w+)\)$', re.MULTILINE
)


def feature_tables():
    """{architecture: the feature names of src/core/dispatch.c's probe}."""
    text = (SRC / "core" / "dispatch.c").read_text()
    x86 = text[text.index("#if INT8Q_X86\n") : text.index("#elif INT8Q_ARM64_LINUX")]
    arm64 = text[text.index("#elif INT8Q_ARM64_LINUX") : text.index("/* No run-time check")]
    names = re.compile(r'^\s+\{"(\w+)",', re.MULTILINE)
    return {"x86_64": set(names.findall(x86)), "arm64": set(names.findall(arm64))}


@pytest.mark.skipif(not (SRC / "levels" / "levels.def").exists(), reason="needs the sources")
def test_levels_def_declares_each_level_whole():
    # every level line names a known architecture, features the probe of
    # that architecture tests and a hand-loop family that has its header
    text = (SRC / "levels" / "levels.def").read_text()
    lines = [line for line in text.splitlines() if line.startswith("INT8Q_LEVEL(")]
    levels = [LEVEL_LINE.match(line) for line in lines]
    assert lines and all(levels), lines
    assert _kernels.ISA_NAMES == ("baseline", *(m[1] for m in levels))
    arches = dict(re.findall(r"^INT8Q_ARCH\((\w+), (\w+)\)$", text, re.MULTILINE))
    arch_h = (SRC / "levels" / "arch.h").read_text()
    features = feature_tables()
    families = set(arches.values()) | {m[6] for m in levels}
    for arch in arches:
        assert f"#define INT8Q_ARCH_IS_{arch} 1" in arch_h
    for m in levels:
        assert m[2] in arches and m[3] and m[4], m[0]
        assert set(m[5].split()) <= features[m[2]], m[0]
    for family in families:
        assert "#define BY_HAND(name)" in (SRC / "levels" / f"{family}.h").read_text()


@pytest.mark.skipif(
    platform.machine() != "x86_64" or not pathlib.Path("/proc/cpuinfo").exists(),
    reason="compares the probe with Linux's view of an x86-64 CPU",
)
@pytest.mark.skipif(not (SRC / "levels" / "levels.def").exists(), reason="needs the sources")
def test_probe_agrees_with_the_kernel_on_this_cpu():
    # the generic probe of src/core/dispatch.c runs a level where Linux lists
    # every feature it needs (Linux lists AVX only with the YMM state saved,
    # AVX-512 only with the ZMM state)
    flags = set()
    for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("flags"):
            flags = set(line.split(":", 1)[1].split())
            flags |= {"ymm"} if "avx" in flags else set()
            flags |= {"zmm"} if "avx512f" in flags else set()
            break
    text = (SRC / "levels" / "levels.def").read_text()
    runs = ["baseline"] + [
        m[1] for m in LEVEL_LINE.finditer(text) if m[2] == "x86_64" and set(m[5].split()) <= flags
    ]
    built = [name for level, name in enumerate(_kernels.ISA_NAMES) if _kernels.isa_compiled(level)]
    assert int8q.available_simd() == [name for name in runs if name in built]
