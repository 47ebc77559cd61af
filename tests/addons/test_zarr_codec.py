"""The numcodecs codec "int8q" and Zarr 3 arrays stored with it."""

import doctest
import itertools
import pathlib
import struct
import subprocess
import sys

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr", minversion="3")

import int8q  # noqa: E402
import int8q.codec  # noqa: E402
import int8q.zarr  # noqa: E402
from int8q.codec import Int8QCodec  # noqa: E402


def same_bits(a, b):
    a, b = np.asarray(a), np.asarray(b)
    return a.dtype == b.dtype and a.shape == b.shape and a.tobytes() == b.tobytes()


def sample(shape, dtype=np.float32, seed=0):
    return (np.random.default_rng(seed).standard_normal(shape) * 3).astype(dtype)


def stored_bytes(path):
    return sum(p.stat().st_size for p in pathlib.Path(path).rglob("*") if p.is_file())


# --- numcodecs ---------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, ">f4"])
def test_codec_bytes_and_round_trip(dtype):
    x = sample((7, 9), dtype)
    codec = Int8QCodec()
    enc = codec.encode(x)
    qt = int8q.quantize(x)
    magic, version, code, scale = struct.unpack("<4sB3sd", enc[:16])
    assert (magic, version, code) == (b"I8Q\0", 1, np.dtype(dtype).str.encode())
    assert same_bits(qt.scale.dtype.type(scale), qt.scale)
    assert enc[16:] == qt.q.tobytes() and len(enc) == 16 + x.size
    dec = codec.decode(enc)
    assert same_bits(dec, qt.dequantize(dtype).reshape(-1))
    out = np.empty_like(x)
    codec.decode(enc, out=out)
    assert same_bits(out, qt.dequantize(dtype))


def test_codec_rounding_and_config():
    x = np.array([127.0, 0.5, -1.5, 2.5], np.float32)  # scale 1: ties
    even = Int8QCodec().encode(x)[16:]
    away = Int8QCodec(rounding="half_away").encode(x)[16:]
    assert list(np.frombuffer(even, np.int8)) == [127, 0, -2, 2]
    assert list(np.frombuffer(away, np.int8)) == [127, 1, -2, 3]
    codec = numcodecs.get_codec({"id": "int8q", "rounding": "half_away"})
    assert isinstance(codec, Int8QCodec) and codec.rounding == "half_away"
    assert codec.get_config() == {"id": "int8q", "rounding": "half_away"}
    with pytest.raises(ValueError, match="rounding"):
        Int8QCodec(rounding="up")


def test_codec_errors():
    codec = Int8QCodec()
    with pytest.raises(ValueError, match=r"x\[1\] is nan"):
        codec.encode(np.array([1.0, np.nan]))
    with pytest.raises(TypeError, match="float16/32/64"):
        codec.encode(np.arange(4))
    good = codec.encode(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="magic"):
        codec.decode(b"XXXX" + good[4:])
    with pytest.raises(ValueError, match="version"):
        codec.decode(good[:4] + b"\x02" + good[5:])
    with pytest.raises(ValueError, match="dtype"):
        codec.decode(good[:5] + b"<i4" + good[8:])
    with pytest.raises(ValueError, match="too short"):
        codec.decode(good[:10])


def test_entry_points_in_a_fresh_process(tmp_path):
    """numcodecs and zarr find the codecs through the installed entry points,
    without int8q being imported first."""
    x = sample((6, 10))
    int8q.zarr.create_array(str(tmp_path / "a.zarr"), data=x, chunks=(3, 5))
    script = f"""
import sys, numcodecs, zarr
assert "int8q" not in sys.modules
print(type(numcodecs.get_codec({{"id": "int8q"}})).__name__)
a = zarr.open_array({str(tmp_path / "a.zarr")!r}, mode="r")
sys.stdout.write(a.dtype.str + " " + a[...].tobytes().hex())
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.split()
    assert out[0] == "Int8QCodec" and out[1] == "<f4"
    read = np.frombuffer(bytes.fromhex(out[2]), np.float32).reshape(x.shape)
    assert same_bits(read, zarr.open_array(str(tmp_path / "a.zarr"))[...])


# --- Zarr 3 arrays -------------------------------------------------------------


@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_zarr_chunks_round_trip_within_half_scale(tmp_path, dtype):
    x = sample((50, 70), dtype, seed=1)
    x[:10, :20] = 0  # an all-zero chunk
    path = str(tmp_path / "q.zarr")
    int8q.zarr.create_array(path, data=x, chunks=(10, 20))
    z = zarr.open_array(path, mode="r")  # plain zarr from here
    read = z[...]
    assert read.dtype == x.dtype and read.shape == x.shape
    for i, j in itertools.product(range(0, 50, 10), range(0, 70, 20)):
        part = np.s_[i : i + 10, j : j + 20]
        qt = int8q.quantize(x[part])  # edge chunks: zero padding
        # the chunk is stored exactly as int8q.quantize would quantize it
        assert same_bits(read[part], qt.dequantize(dtype))
        if dtype != np.float16:  # float16 adds its own rounding
            err = np.abs(read[part].astype(np.float64) - x[part].astype(np.float64))
            assert (err <= float(qt.scale) * (0.5 + 1e-5)).all()


def test_zarr_store_about_four_times_smaller(tmp_path):
    x = sample((256, 1024), seed=2)
    int8q.zarr.create_array(str(tmp_path / "q.zarr"), data=x, chunks=(64, 256))
    zarr.create_array(str(tmp_path / "f.zarr"), data=x, chunks=(64, 256), compressors=None)
    ratio = stored_bytes(tmp_path / "q.zarr") / stored_bytes(tmp_path / "f.zarr")
    assert 0.24 < ratio <= 0.3, ratio


def test_zarr_metadata_and_partial_writes(tmp_path):
    path = str(tmp_path / "q.zarr")
    z = int8q.zarr.create_array(
        path, shape=(8, 8), dtype="float32", chunks=(4, 4), rounding="half_away"
    )
    z[2:6, 2:6] = np.full((4, 4), 2.5, np.float32)
    back = zarr.open_array(path, mode="r")
    codecs = list(back.metadata.to_dict()["codecs"])
    assert codecs == [{"name": "int8q", "configuration": {"rounding": "half_away"}}]
    want = np.zeros((8, 8), np.float32)
    want[2:6, 2:6] = 2.5
    assert np.array_equal(back[...], want)  # 2.5 = 127 * (2.5 / 127)


def test_zarr_with_dask(tmp_path):
    """Read a float Zarr array with Dask, write it into an int8q Zarr array."""
    da = pytest.importorskip("dask.array")
    x = sample((40, 60), seed=3)
    src = zarr.create_array(str(tmp_path / "f.zarr"), data=x, chunks=(20, 30))
    dst = int8q.zarr.create_array(
        str(tmp_path / "q.zarr"), shape=x.shape, dtype=x.dtype, chunks=(20, 30)
    )
    da.from_zarr(src).to_zarr(dst, compute=True)
    read = da.from_zarr(str(tmp_path / "q.zarr")).compute(scheduler="threads")
    for i, j in itertools.product((0, 20), (0, 30)):
        part = np.s_[i : i + 20, j : j + 30]
        assert same_bits(read[part], int8q.quantize(x[part]).dequantize())


def test_zarr_create_array_errors(tmp_path):
    with pytest.raises(TypeError, match="float16/32/64"):
        int8q.zarr.create_array(str(tmp_path / "i.zarr"), data=np.arange(6), chunks=(3,))
    with pytest.raises(ValueError, match="fill_value"):
        int8q.zarr.create_array(
            str(tmp_path / "n.zarr"), shape=(4,), dtype="float32", fill_value=np.nan
        )
    with pytest.raises(TypeError, match="serializer"):
        int8q.zarr.create_array(str(tmp_path / "s.zarr"), data=np.ones(3), serializer="bytes")
    with pytest.raises(ValueError, match="is inf"):
        int8q.zarr.create_array(str(tmp_path / "f.zarr"), data=np.array([1.0, np.inf]))


@pytest.mark.parametrize("module", ["codec", "zarr"])
def test_docstring_examples(module):
    result = doctest.testmod(getattr(int8q, module), optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0
