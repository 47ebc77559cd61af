"""Blocks along any axis (ONNX opset 21's blocked granularity): `axis` with
`block_size` gives one scale per block of `block_size` along `axis`, the
scale shaped as x with that axis ceil-divided.  Checked against
int8q.reference (the plain NumPy oracle, itself checked here by brute force)
and, where onnxruntime is installed, against its QuantizeLinear and
DequantizeLinear."""

import itertools

import numpy as np
import pytest
from numpy.exceptions import AxisError

import int8q
from int8q import _chunks, reference

# (shape, axis, block_size): remainders, a block longer than its axis,
# blocks of 1, negative axes, trailing axes of length 1, several outer indices.
CASES = [
    ((7, 5, 3), 1, 2),
    ((7, 5, 3), 0, 3),
    ((9, 6), 0, 4),
    ((2, 3, 4, 5), 1, 2),
    ((2, 3, 4, 5), -2, 3),
    ((2, 3, 4, 5), 0, 1),
    ((5, 3), 0, 10),
    ((3, 4, 1), 1, 3),
    ((6, 4), -2, 1),
    ((1, 4, 3, 2), 1, 2),
]
DTYPES = [np.float32, np.float64, np.float16, np.int16]


def data(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 3
    flat = x.reshape(-1)
    flat[::5] = 0.0  # blocks of zeros here and there (scale 1)
    if np.dtype(dtype).kind == "i":
        return (x * 100).astype(dtype)
    return x.astype(dtype)


def test_reference_scale_is_the_brute_force_one():
    x = data((2, 5, 3), np.float32)
    _, scale = reference.quantize(x, axis=1, block_size=2)
    assert scale.shape == (2, 3, 3)
    for p, b, i in itertools.product(range(2), range(3), range(3)):
        amax = np.abs(x[p, 2 * b : 2 * b + 2, i]).max()
        assert scale[p, b, i] == (amax / np.float32(127) if amax else 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("shape", "axis", "block_size"), CASES)
def test_symmetric_matches_reference(shape, axis, block_size, dtype):
    x = data(shape, dtype)
    q, scale = reference.quantize(x, axis, block_size)
    qt = int8q.quantize(x, axis=axis, block_size=block_size)
    np.testing.assert_array_equal(qt.q, q)
    np.testing.assert_array_equal(qt.scale, scale)
    assert qt.scale.shape == scale.shape
    np.testing.assert_array_equal(
        int8q.absmax(x, axis=axis, block_size=block_size), reference.absmax(x, axis, block_size)
    )
    np.testing.assert_array_equal(
        int8q.dequantize(qt), reference.dequantize(q, scale, axis, block_size)
    )
    np.testing.assert_array_equal(
        int8q.dequantize(qt.q, qt.scale, axis=axis, block_size=block_size),
        reference.dequantize(q, scale, axis, block_size),
    )
    qd, xhat = int8q.quantize_dequantize(x, axis=axis, block_size=block_size)
    np.testing.assert_array_equal(qd.q, q)
    np.testing.assert_array_equal(xhat, reference.dequantize(q, scale, axis, block_size))


@pytest.mark.parametrize("qdtype", [np.uint8, np.int8])
@pytest.mark.parametrize(("shape", "axis", "block_size"), CASES)
def test_asymmetric_and_given_match_reference(shape, axis, block_size, qdtype):
    x = data(shape, np.float32, seed=1)
    qt = int8q.quantize(x, axis=axis, block_size=block_size, symmetric=False, qdtype=qdtype)
    q, scale, zp = reference.quantize_asymmetric(x, qdtype, axis, block_size)
    np.testing.assert_array_equal(qt.q, q)
    np.testing.assert_array_equal(qt.scale, scale)
    np.testing.assert_array_equal(qt.zero_point, zp)
    np.testing.assert_array_equal(
        int8q.dequantize(qt), reference.dequantize_affine(q, scale, zp, axis, block_size)
    )
    # given scales and zero points, ONNX-shaped
    given = int8q.quantize(x, axis=axis, block_size=block_size, scale=scale, zero_point=zp)
    np.testing.assert_array_equal(
        given.q, reference.quantize_given(x, scale, zp, axis, block_size, qdtype)
    )
    np.testing.assert_array_equal(
        int8q.dequantize(q, scale, axis=axis, block_size=block_size, zero_point=zp),
        reference.dequantize_affine(q, scale, zp, axis, block_size),
    )


@pytest.mark.parametrize(("shape", "axis", "block_size"), CASES[:5])
def test_clip_mse_matches_reference(shape, axis, block_size):
    x = data(shape, np.float32, seed=2)
    qt = int8q.quantize(x, axis=axis, block_size=block_size, clip="mse")
    np.testing.assert_array_equal(qt.scale, reference.mse_scales(x, axis, block_size))


def test_blocks_along_the_last_axis_are_the_block_size_call():
    x = data((4, 7), np.float32)
    plain = int8q.quantize(x, block_size=3)
    for axis in (1, -1):
        qt = int8q.quantize(x, axis=axis, block_size=3)
        np.testing.assert_array_equal(qt.q, plain.q)
        np.testing.assert_array_equal(qt.scale, plain.scale)
        assert (qt.axis, qt.block_size) == (None, 3)  # one geometry, one spelling
    # ONNX's scale shape for the last axis is today's x.shape[:-1] + (nblocks,)
    assert plain.scale.shape == (4, 3)


def test_scale_shape_is_x_shape_with_the_axis_ceil_divided():
    for shape, axis, block_size in CASES:
        expected = list(shape)
        expected[axis] = -(-shape[axis] // block_size)
        x = np.ones(shape, np.float32)
        assert int8q.quantize(x, axis=axis, block_size=block_size).scale.shape == tuple(expected)


def test_layouts_and_strides():
    x = data((6, 10, 4), np.float32)
    q, scale = reference.quantize(x, 1, 3)
    for view in (np.asfortranarray(x), x[:, ::-1][:, ::-1], x.astype(">f4")):
        qt = int8q.quantize(view, axis=1, block_size=3)
        np.testing.assert_array_equal(qt.q, q)
        np.testing.assert_array_equal(qt.scale, scale)
    wide = data((6, 20, 4), np.float32)[:, ::2]  # strided along the blocked axis
    q2, s2 = reference.quantize(wide, 1, 3)
    np.testing.assert_array_equal(int8q.quantize(wide, axis=1, block_size=3).q, q2)
    np.testing.assert_array_equal(
        int8q.absmax(wide, axis=1, block_size=3), reference.absmax(wide, 1, 3)
    )


@pytest.mark.parametrize("shape", [(0, 4), (4, 0), (3, 0, 2), (0, 3, 2)])
def test_zero_size_dims(shape):
    x = np.zeros(shape, np.float32)
    qt = int8q.quantize(x, axis=0, block_size=2)
    q, scale = reference.quantize(x, 0, 2)
    assert qt.q.shape == shape and qt.scale.shape == scale.shape
    np.testing.assert_array_equal(qt.scale, scale)
    assert int8q.dequantize(qt).shape == shape


def test_nan_is_named_by_its_position():
    x = data((5, 6, 3), np.float32)
    x[3, 4, 1] = np.nan
    with pytest.raises(ValueError, match=r"x\[3, 4, 1\] is nan"):
        int8q.quantize(x, axis=1, block_size=4)
    with pytest.raises(ValueError, match=r"x\[3, 4, 1\] is nan"):
        int8q.absmax(x, axis=0, block_size=2)
    with pytest.raises(ValueError, match=r"x\[3, 4, 1\] is nan"):
        int8q.quantize(x, axis=1, block_size=4, symmetric=False, qdtype=np.uint8)


def test_bad_arguments():
    x = np.ones((4, 6), np.float32)
    with pytest.raises(AxisError):
        int8q.quantize(x, axis=2, block_size=2)
    with pytest.raises(AxisError):
        int8q.quantize(np.float32(1), axis=0, block_size=2)
    with pytest.raises(ValueError, match="block_size must be >= 1"):
        int8q.quantize(x, axis=0, block_size=0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        int8q.quantize(x, axis=0.5, block_size=2)
    qt = int8q.quantize(x, axis=0, block_size=3)
    with pytest.raises(ValueError, match=r"scale has shape \(2, 6\), expected \(4, 2\)"):
        int8q.dequantize(qt.q, qt.scale, block_size=3)
    with pytest.raises(ValueError, match="does not broadcast to the scale shape"):
        int8q.quantize(x, axis=0, block_size=3, scale=np.ones((3, 6)))


def test_threads_and_chunks_give_the_same_bits(threads):
    # large enough for several threads, and integer input: chunk by chunk
    x = data((300, 70, 40), np.float32, seed=3)
    expected = reference.quantize(x, 1, 32)
    for n in (1, 2, 3, 4):
        threads(n)
        qt = int8q.quantize(x, axis=1, block_size=32)
        np.testing.assert_array_equal(qt.q, expected[0])
        np.testing.assert_array_equal(qt.scale, expected[1])
        np.testing.assert_array_equal(
            int8q.dequantize(qt), reference.dequantize(*expected, axis=1, block_size=32)
        )
    xi = (x * 1000).astype(np.int32)
    assert xi.size > _chunks.CHUNK_ELEMENTS
    qi, si = reference.quantize(xi, 0, 7)
    for n in (1, 3):
        threads(n)
        qt = int8q.quantize(xi, axis=0, block_size=7)
        np.testing.assert_array_equal(qt.q, qi)
        np.testing.assert_array_equal(qt.scale, si)


# Blocks along axis 0 go fused, a block at a time (src/templates/ranges.h
# fused_rows).  Rows of at most ROW_TILE (1024) elements are quantized
# through quantize_rows, several at a time where narrower than ROW_RUN / 2
# (128), wider ones a tile of columns at a time; the abs-max runs down the
# rows one row after another up to ROW_STREAM_BYTES (2 KiB), and eight, then
# four, then one row at a time beyond (templates/loops.h amaxv); half
# precision is widened ROW_TILE elements at a time, whole rows where they
# fit.  With out= they take the two passes.  Block lengths around those
# steps, a short last block, and column counts off the vector widths and
# on both sides of each threshold.
WIDE = [(17, 256, 8), (23, 257, 7), (40, 300, 16), (9, 1031, 9), (64, 259, 12), (33, 513, 1)]
NARROW = [(37, 2, 32), (50, 3, 8), (33, 31, 16), (66, 32, 32), (45, 33, 10), (29, 100, 29)]
NARROW += [(70, 127, 32), (35, 128, 5), (31, 129, 31), (20, 1024, 6), (9, 1025, 4)]
# around ROW_STREAM_BYTES for float32 (512 elements) and float64 (256)
STREAM = [(17, 512, 16), (19, 511, 8), (21, 2048, 16)]
# above the threading threshold for 4 threads, a slice boundary inside a block
BIG = [(1800, 301, 24), (9000, 61, 32)]
ROWS = [(np.float32, *c) for c in WIDE + NARROW + STREAM + BIG]
ROWS += [(np.float16, *c) for c in [(17, 256, 8), (9, 1031, 9), (50, 3, 8), (45, 33, 10)]]
ROWS += [(np.float16, *c) for c in [(70, 127, 32), (31, 129, 31), (20, 1024, 6), (1800, 301, 24)]]
ROWS += [("bfloat16", *c) for c in [(17, 256, 8), (31, 129, 31), (45, 33, 10), (9, 1031, 9)]]
ROWS += [(np.float64, *c) for c in [(23, 257, 7), (45, 33, 10), (17, 256, 16), (19, 1025, 8)]]


@pytest.mark.parametrize(("dtype", "rows", "cols", "block_size"), ROWS)
def test_rows_along_axis_0(simd, threads, dtype, rows, cols, block_size):
    if dtype == "bfloat16":
        dtype = pytest.importorskip("ml_dtypes").bfloat16
    x = data((rows, cols), np.float32, seed=rows)
    x[rows // 2, :: max(cols // 7, 1)] = 127.5  # ties of a block's scale 1
    x = x.astype(dtype)
    q, scale = reference.quantize(x, 0, block_size)
    want_d = reference.dequantize(q, scale, 0, block_size)
    qa, sa, za = reference.quantize_asymmetric(x, np.uint8, 0, block_size)
    for n in (1, 2, 3, 4):
        threads(n)
        qt = int8q.quantize(x, axis=0, block_size=block_size)
        np.testing.assert_array_equal(qt.q, q)
        np.testing.assert_array_equal(qt.scale, scale)
        out = np.full(x.shape, 99, np.int8)
        int8q.quantize(x, axis=0, block_size=block_size, out=out)
        np.testing.assert_array_equal(out, q)
        qd, xhat = int8q.quantize_dequantize(x, axis=0, block_size=block_size)
        np.testing.assert_array_equal(qd.q, q)
        assert xhat.tobytes() == want_d.tobytes()  # +0.0 and -0.0 apart
        np.testing.assert_array_equal(int8q.dequantize(qt), want_d)
        np.testing.assert_array_equal(
            int8q.absmax(x, axis=0, block_size=block_size), reference.absmax(x, 0, block_size)
        )
        ua = int8q.quantize(x, axis=0, block_size=block_size, symmetric=False, qdtype=np.uint8)
        np.testing.assert_array_equal(ua.q, qa)
        np.testing.assert_array_equal(ua.scale, sa)
        np.testing.assert_array_equal(ua.zero_point, za)


@pytest.mark.parametrize("dtype", [np.float32, np.float16])
@pytest.mark.parametrize("cols", [259, 33, 2100])
@pytest.mark.parametrize("bad", [np.nan, -np.inf])
def test_rows_along_axis_0_name_the_first_nonfinite(simd, threads, bad, cols, dtype):
    rows, block_size = 41, 8
    x = data((rows, cols), dtype, seed=5)
    n = rows * cols
    for i in sorted({0, n - 1, 8 * cols - 1, 8 * cols, n // 2, n // 3 + 1, 40 * cols + 3}):
        where = divmod(i, cols)
        y = x.copy()
        y[where] = bad
        before = y.copy()
        pattern = rf"x\[{where[0]}, {where[1]}\]"
        for t in (1, 2, 4):
            threads(t)
            out = np.full(y.shape, 42, np.int8)
            with pytest.raises(ValueError, match=pattern):
                int8q.quantize(y, axis=0, block_size=block_size, out=out)
            assert (out == 42).all()
            with pytest.raises(ValueError, match=pattern):
                int8q.quantize(y, axis=0, block_size=block_size)
            with pytest.raises(ValueError, match=pattern):
                int8q.quantize_dequantize(y, axis=0, block_size=block_size)
            with pytest.raises(ValueError, match=pattern):
                int8q.absmax(y, axis=0, block_size=block_size)
        np.testing.assert_array_equal(y, before)


# -- onnxruntime and ONNX's own cases ------------------------------------------


def _onnx_peer():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    import onnx_peer

    return onnx_peer


@pytest.mark.parametrize("qdtype", [np.int8, np.uint8])
@pytest.mark.parametrize(
    "granularity",
    [
        {},
        {"axis": 1},
        {"block_size": 2},
        {"axis": 0, "block_size": 3},
        {"axis": 1, "block_size": 2},
        {"axis": -3, "block_size": 4},
        {"axis": 1, "block_size": 7},
    ],
)
def test_onnxruntime_bit_identity(granularity, qdtype):
    peer = _onnx_peer()
    rng = np.random.default_rng(5)
    x = peer.inputs(rng, (5, 6, 4))
    # int8q's own asymmetric parameters, then both sides quantize with them
    qt = int8q.quantize(x, symmetric=False, qdtype=qdtype, **granularity)
    scale, zp = qt.scale, qt.zero_point
    if "axis" in granularity and "block_size" not in granularity:
        ort_q = peer.ort_quantize_linear(x, scale, zp, axis=granularity["axis"])
    else:
        ort_q = peer.ort_quantize_linear(x, scale, zp, **granularity)
    given = int8q.quantize(x, scale=scale, zero_point=zp, **granularity)
    np.testing.assert_array_equal(given.q, ort_q)
    np.testing.assert_array_equal(qt.q, ort_q)
    ort_x = peer.ort_dequantize_linear(ort_q, scale, zp, **granularity)
    np.testing.assert_array_equal(int8q.dequantize(qt), ort_x)


def _onnx_case(module, method):
    """(inputs, outputs, node) that an onnx.backend.test.case.node export
    hands to its `expect`."""
    pytest.importorskip("onnx")
    import importlib

    mod = importlib.import_module(f"onnx.backend.test.case.node.{module}")
    seen = {}

    def expect(node, inputs, outputs, name, **kwargs):
        seen.update(node=node, inputs=inputs, outputs=outputs)

    original = mod.expect
    mod.expect = expect
    try:
        getattr(next(v for k, v in vars(mod).items() if k.lower() == module), method)()
    finally:
        mod.expect = original
    attrs = {a.name: a.i for a in seen["node"].attribute}
    return seen["inputs"], seen["outputs"], attrs


def test_onnx_dequantizelinear_blocked_case():
    (q, scale, zp), (y,), attrs = _onnx_case("dequantizelinear", "export_blocked")
    assert q.shape == (1, 4, 3, 2) and attrs == {"axis": 1, "block_size": 2}
    got = int8q.dequantize(q, scale, zero_point=zp, **attrs)
    np.testing.assert_array_equal(got, y)
    assert got.dtype == y.dtype


def test_onnx_quantizelinear_blocked_asymmetric_case():
    (x, scale, zp), (y,), attrs = _onnx_case("quantizelinear", "export_blocked_asymmetric")
    got = int8q.quantize(x, scale=scale, zero_point=zp, **attrs)
    np.testing.assert_array_equal(got.q, y)
    assert got.q.dtype == y.dtype
