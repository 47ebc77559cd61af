"""int8q.codec.Int8QCodec against numcodecs' own contract helpers
(numcodecs.tests.common): memory order, any buffer with a `dtype`,
configuration, repr, and the golden chunks of tests/golden/numcodecs_v1/.

check_encode_decode compares with `decimal=2` (|error| < 1.5e-2): every
array here lies within [-1, 1], where a chunk's error is at most
``scale / 2 = 1 / 254`` plus the float16 rounding of the result.  The
tighter promise, within ``scale / 2`` in the right places, is checked here
on its own (`check_within_half_scale`).
"""

import array
import filecmp
import json
import os
import shutil
import struct

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")
common = pytest.importorskip("numcodecs.tests.common")

import make_numcodecs  # noqa: E402  (tests/golden/make_numcodecs.py)

import int8q  # noqa: E402
from int8q.codec import Int8QCodec  # noqa: E402

PRECISION = 2  # decimals check_encode_decode can hold a quantizer to on [-1, 1]
GOLDEN = make_numcodecs.FIXTURE


def contract_arrays():
    """C and F order, 1-D to 3-D, float16/32/64 (and one big-endian)."""
    found = {}
    for i, arr in enumerate(make_numcodecs.arrays()):
        order = "F" if arr.flags.f_contiguous and arr.ndim > 1 else "C"
        found[f"{i:02d} {arr.dtype.str} {arr.shape} {order}"] = arr
    return found


ARRAYS = contract_arrays()


def in_memory_order(arr, flat):
    """`flat` (values in `arr`'s memory order) put back in `arr`'s shape."""
    order = "F" if arr.flags.f_contiguous else "C"
    return np.asarray(flat).reshape(arr.shape, order=order)


def check_within_half_scale(arr, enc, dec, rounding="half_even"):
    """Every decoded value is within scale / 2 of the value at its place
    (plus the float16 rounding of the result), and is exactly what
    int8q.quantize gives for that place."""
    scale = struct.unpack("<d", bytes(enc[8:16]))[0]
    got = in_memory_order(arr, dec)
    assert got.shape == arr.shape and got.dtype == arr.dtype
    want = int8q.quantize(arr, rounding=rounding).dequantize(arr.dtype)  # in place
    assert got.tobytes() == np.ascontiguousarray(want).tobytes()
    x = arr.astype(np.float64)
    slack = np.spacing(np.abs(x).astype(arr.dtype)).astype(np.float64) if arr.itemsize == 2 else 0
    assert (np.abs(got.astype(np.float64) - x) <= scale * (0.5 + 1e-6) + slack).all()


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_check_encode_decode(name):
    arr = ARRAYS[name]
    # The helper also encodes arr.tobytes(), a bytearray and an array.array:
    # raw buffers, which the codec reads as its configured dtype.
    codec = Int8QCodec(dtype=arr.dtype)
    common.check_encode_decode(arr, codec, precision=PRECISION)
    enc = codec.encode(arr)
    check_within_half_scale(arr, enc, codec.decode(enc))
    out = np.empty_like(arr)  # keeps arr's memory order
    codec.decode(enc, out=out)
    check_within_half_scale(arr, enc, out.reshape(-1, order="A"))


@pytest.mark.parametrize("name", sorted(ARRAYS))
def test_arrays_without_dtype_in_memory_order(name):
    arr = ARRAYS[name]
    codec = Int8QCodec()
    enc = codec.encode(arr)
    check_within_half_scale(arr, enc, codec.decode(enc))
    # the chunk stores the memory-order sequence: the same bytes as its ravel
    assert enc == codec.encode(arr.ravel(order="A"))
    assert enc == Int8QCodec(dtype=arr.dtype).encode(arr.tobytes(order="A"))


def test_f_order_is_stored_column_by_column():
    x = np.arange(12, dtype=np.float32).reshape(3, 4)  # issue #36's reproduction
    codec = Int8QCodec()
    f = np.asfortranarray(x)
    dec = codec.decode(codec.encode(f))
    assert np.array_equal(dec.reshape(3, 4, order="F"), codec.decode(codec.encode(x)).reshape(3, 4))
    assert np.abs(dec.reshape(3, 4, order="F") - x).max() <= 11 / 254
    # an out receives the values in its own memory order (numcodecs' rule):
    # an out of the array's order puts each value in its place
    out = np.empty((3, 4), np.float32, order="F")
    codec.decode(codec.encode(f), out=out)
    assert np.array_equal(out, dec.reshape(3, 4, order="F"))
    out = np.empty((3, 4), np.float32)
    codec.decode(codec.encode(f), out=out)
    assert np.array_equal(out, dec.reshape(3, 4))


def test_views_without_memory_order_are_stored_in_c_order():
    x = np.arange(60, dtype=np.float64).reshape(6, 10) / 60
    for view in (x[::2, ::3], x.T[::2], x[:, 1:].T):
        assert not (view.flags.c_contiguous or view.flags.f_contiguous)
        codec = Int8QCodec()
        dec = codec.decode(codec.encode(view)).reshape(view.shape)  # C order
        assert np.abs(dec - view).max() <= np.abs(view).max() / 254 * (1 + 1e-9)


def test_nan_in_an_f_ordered_array_is_named_by_its_index():
    x = np.asfortranarray(np.array([[1.0, 2.0], [np.nan, 3.0]], np.float32))
    with pytest.raises(ValueError, match=r"x\[1, 0\] is nan"):
        Int8QCodec().encode(x)


# --- any buffer, with a dtype ------------------------------------------------


def raw_buffers(x):
    raw = x.tobytes()
    return {
        "bytes": raw,
        "bytearray": bytearray(raw),
        "array.array b": array.array("b", raw),
        "memoryview": memoryview(raw),
        "uint8 array": np.frombuffer(raw, np.uint8),
        "int32 array": np.frombuffer(raw, np.int32),
    }


@pytest.mark.parametrize("dtype", ["<f2", "<f4", "<f8", ">f4"])
def test_raw_buffers_with_a_dtype(dtype):
    x = np.linspace(-2, 3, 24).astype(dtype)
    codec = Int8QCodec(dtype=dtype)
    want = Int8QCodec().encode(x)
    for kind, buf in raw_buffers(x).items():
        enc = codec.encode(buf)
        assert enc == want, kind
        dec = codec.decode(enc)
        assert dec.dtype == np.dtype(dtype) and dec.tobytes() == Int8QCodec().decode(want).tobytes()
    # float buffers of the configured type are taken as floats
    assert codec.encode(
        memoryview(x.astype(np.dtype(dtype).newbyteorder("=")))
    ) == Int8QCodec().encode(x.astype(np.dtype(dtype).newbyteorder("=")))


def test_float_array_array_is_read_as_floats():
    x = np.linspace(-1, 1, 9).astype(np.float32)
    buf = array.array("f", x.tolist())
    assert Int8QCodec().encode(buf) == Int8QCodec().encode(x)
    assert Int8QCodec(dtype="f4").encode(buf) == Int8QCodec().encode(x)


@pytest.mark.parametrize(
    "kind", ["bytes", "bytearray", "array.array b", "memoryview", "uint8 array"]
)
def test_raw_buffer_without_dtype_is_refused(kind):
    buf = raw_buffers(np.ones(4, np.float32))[kind]
    with pytest.raises(TypeError, match=r"float16/32/64 .*give the codec the dtype"):
        Int8QCodec().encode(buf)


def test_dtype_option_errors():
    with pytest.raises(ValueError, match="whole number of float32 values"):
        Int8QCodec(dtype="<f4").encode(b"\x00" * 6)
    with pytest.raises(TypeError, match=r"reads float32 values .*got dtype float64"):
        Int8QCodec(dtype="<f4").encode(np.ones(3))
    for bad in ("i4", "u1", "c8", "O", ">i2"):
        with pytest.raises(TypeError, match="float16/32/64"):
            Int8QCodec(dtype=bad)
    for refused in (np.array(["a"], object), np.ones(3, bool), np.ones(3, np.complex64)):
        with pytest.raises(TypeError):
            Int8QCodec(dtype="<f4").encode(refused)
    common.check_err_encode_object_buffer(Int8QCodec(dtype="<f8"))


# --- configuration and repr --------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [{}, {"rounding": "half_away"}, {"dtype": "<f4"}, {"dtype": ">f8", "rounding": "half_away"}],
)
def test_check_config(kwargs):
    codec = Int8QCodec(**kwargs)
    common.check_config(codec)
    config = codec.get_config()
    assert config == {
        "id": "int8q",
        "rounding": kwargs.get("rounding", "half_even"),
        **({"dtype": kwargs["dtype"]} if "dtype" in kwargs else {}),
    }
    assert numcodecs.get_codec(json.loads(json.dumps(config))) == codec


def test_config_without_dtype_still_reads():
    codec = numcodecs.get_codec({"id": "int8q", "rounding": "half_even"})
    assert codec.dtype is None and codec == Int8QCodec()
    assert codec != Int8QCodec(dtype="<f4")
    assert Int8QCodec(dtype=np.float32).get_config()["dtype"] == "<f4"


@pytest.mark.parametrize(
    "stmt",
    [
        "Int8QCodec(rounding='half_even')",
        "Int8QCodec(rounding='half_away')",
        "Int8QCodec(rounding='half_even', dtype='<f2')",
        "Int8QCodec(rounding='half_away', dtype='>f8')",
    ],
)
def test_check_repr(stmt, monkeypatch):
    # check_repr evaluates the statement among numcodecs' own names.
    monkeypatch.setattr(common, "Int8QCodec", Int8QCodec, raising=False)
    common.check_repr(stmt)


# --- golden chunks: check_backwards_compatibility ------------------------------


def snapshot(folder):
    return {
        os.path.relpath(os.path.join(root, name), folder)
        for root, _, names in os.walk(folder)
        for name in names
    }


def test_check_backwards_compatibility(tmp_path, monkeypatch):
    """The helper reads fixture/int8q/ from the working directory and writes
    whatever is missing: it runs on a copy, which must come out unchanged
    (every golden file present, nothing written into the checkout)."""
    copy = tmp_path / "fixture" / "int8q"
    shutil.copytree(GOLDEN, copy)
    before = snapshot(copy)
    arrays = make_numcodecs.arrays()
    assert len([n for n in before if n.startswith("array.")]) == len(arrays)
    codecs = [numcodecs.get_codec(dict(c)) for c in make_numcodecs.CODECS]
    monkeypatch.chdir(tmp_path)
    common.check_backwards_compatibility(
        "int8q", arrays, codecs, precision=[PRECISION] * len(codecs)
    )
    assert snapshot(copy) == before
    assert not filecmp.dircmp(GOLDEN, copy).diff_files


@pytest.mark.parametrize("j", range(len(make_numcodecs.CODECS)))
def test_golden_chunks_decode_in_place_and_are_still_written(j):
    codec = numcodecs.get_codec(dict(make_numcodecs.CODECS[j]))
    with open(os.path.join(GOLDEN, f"codec.{j:02d}", "config.json")) as f:
        assert numcodecs.get_codec(json.load(f)) == codec
    for i, arr in enumerate(make_numcodecs.arrays()):
        stored = np.load(os.path.join(GOLDEN, f"array.{i:02d}.npy"))
        assert stored.dtype == arr.dtype and stored.flags.f_contiguous == arr.flags.f_contiguous
        assert stored.tobytes(order="A") == arr.tobytes(order="A")
        with open(os.path.join(GOLDEN, f"codec.{j:02d}", f"encoded.{i:02d}.dat"), "rb") as f:
            enc = f.read()
        # the values as the format defines them: q * scale in the working dtype
        _, _, code, scale = struct.unpack("<4sB3sd", enc[:16])
        work = np.float64 if arr.itemsize == 8 else np.float32
        q = np.frombuffer(enc[16:], np.int8)
        want = (q.astype(work) * work(scale)).astype(code.decode())
        dec = codec.decode(enc)
        assert dec.dtype == arr.dtype and dec.tobytes() == want.tobytes()
        check_within_half_scale(arr, enc, dec, codec.rounding)
        assert codec.encode(arr) == enc  # the format is unchanged, bit for bit
