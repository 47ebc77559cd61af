"""int8q.zarr's intake: fill values checked in the array's dtype, masked
data refused, NaN named in the array's coordinates."""

import re

import numpy as np
import pytest

zarr = pytest.importorskip("zarr")
pytest.importorskip("numcodecs")

import int8q  # noqa: E402
import int8q.zarr  # noqa: E402


@pytest.mark.parametrize(
    "dtype, fill", [("float32", 1e39), ("float16", 1e5), ("float32", "NaN"), ("float64", np.inf)]
)
def test_fill_value_is_checked_in_the_arrays_dtype(dtype, fill):
    with pytest.raises(ValueError, match="fill_value must be finite"):
        int8q.zarr.create_array(
            zarr.storage.MemoryStore(), shape=(4,), dtype=dtype, chunks=(2,), fill_value=fill
        )


def test_fill_value_is_checked_against_the_datas_dtype():
    with pytest.raises(ValueError, match="fill_value must be finite"):
        int8q.zarr.create_array(
            zarr.storage.MemoryStore(), data=np.ones(4, np.float16), chunks=(2,), fill_value=7e4
        )


def test_finite_fill_value_is_taken():
    z = int8q.zarr.create_array(
        zarr.storage.MemoryStore(), shape=(4,), dtype="float32", chunks=(2,), fill_value=3e38
    )
    assert z.dtype == np.float32


def test_masked_data_is_refused_as_quantize_does():
    x = np.ma.array(np.ones(4, np.float32), mask=[0, 1, 0, 0])
    with pytest.raises(TypeError) as want:
        int8q.quantize(x)
    with pytest.raises(TypeError) as got:
        int8q.zarr.create_array(zarr.storage.MemoryStore(), data=x, chunks=(2,))
    assert str(got.value) == str(want.value)


def test_nan_is_named_in_the_arrays_coordinates():
    x = np.ones((8, 8), np.float32)
    x[4, 6] = np.nan
    with pytest.raises(ValueError, match=re.escape("x[4, 6] is nan")):
        int8q.zarr.create_array(zarr.storage.MemoryStore(), data=x, chunks=(4, 4))


def test_a_write_through_zarr_names_the_place_in_its_chunk():
    # Zarr tells a codec nothing of where its chunk lies: the message says
    # "chunk", never a place in the array that would be wrong.
    z = int8q.zarr.create_array(
        zarr.storage.MemoryStore(), shape=(8, 8), dtype="float32", chunks=(4, 4)
    )
    x = np.ones((8, 8), np.float32)
    x[4, 6] = np.nan
    with pytest.raises(ValueError, match=re.escape("chunk[0, 2] is nan")):
        z[...] = x
