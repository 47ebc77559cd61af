"""Zarr arrays through the int8q codecs in every memory order: format 2 with
`Int8QCodec` as compressor or filter (order C and F), and format 3 with
`int8q.zarr` (C order, transposed views, F-ordered chunks in memory, a
transpose codec before it).

Each array is read back with plain zarr and checked chunk by chunk: every
value is exactly what `int8q.quantize` gives for its chunk (padded edge
chunks included) and within that chunk's ``scale / 2`` of what was written.
"""

import itertools

import numpy as np
import pytest

numcodecs = pytest.importorskip("numcodecs")
zarr = pytest.importorskip("zarr", minversion="3")

import int8q  # noqa: E402
import int8q.zarr  # noqa: E402
from int8q.codec import Int8QCodec  # noqa: E402

SHAPE, CHUNKS = (7, 10), (4, 6)  # edge chunks in both axes


def sample(shape=SHAPE, dtype=np.float32, seed=0):
    x = np.random.default_rng(seed).standard_normal(shape) * 3
    x.flat[::7] += np.arange(x.size)[::7] / 5  # no symmetry: misplaced values show
    return x.astype(dtype)


def check_chunks(read, x, chunks, rounding="half_even"):
    """`read` holds, in each chunk, int8q.quantize's dequantized values of
    that chunk of `x` (zero-padded to full size, as Zarr stores edge
    chunks), each within scale / 2 of its own value of `x`."""
    assert read.shape == x.shape and read.dtype == x.dtype.newbyteorder("=")
    starts = [range(0, n, c) for n, c in zip(x.shape, chunks, strict=True)]
    for corner in itertools.product(*starts):
        part = tuple(slice(s, s + c) for s, c in zip(corner, chunks, strict=True))
        padded = np.zeros(chunks, x.dtype)
        piece = x[part]
        padded[tuple(slice(0, n) for n in piece.shape)] = piece
        qt = int8q.quantize(padded, rounding=rounding)
        want = qt.dequantize(x.dtype)[tuple(slice(0, n) for n in piece.shape)]
        assert read[part].tobytes() == want.astype(read.dtype).tobytes(), corner
        err = np.abs(read[part].astype(np.float64) - piece.astype(np.float64))
        slack = np.spacing(np.abs(piece)).astype(np.float64) if x.itemsize == 2 else 0
        assert (err <= float(qt.scale) * (0.5 + 1e-6) + slack).all(), corner


# --- Zarr format 2: the numcodecs codec ----------------------------------------


V2_ROLES = {
    "compressor": lambda codec: {"compressors": [codec], "filters": None},
    "filter": lambda codec: {"filters": [codec], "compressors": None},
    "filter, then Zstd": lambda codec: {
        "filters": [codec],
        "compressors": [numcodecs.Zstd(level=1)],
    },
}


@pytest.mark.parametrize("order", ["C", "F"])
@pytest.mark.parametrize("role", sorted(V2_ROLES))
@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<f2"])
def test_zarr_v2_round_trip(tmp_path, order, role, dtype):
    x = sample(dtype=dtype)
    path = str(tmp_path / "a.zarr")
    z = zarr.create_array(
        path,
        shape=SHAPE,
        chunks=CHUNKS,
        dtype=dtype,
        zarr_format=2,
        order=order,
        **V2_ROLES[role](Int8QCodec()),
    )
    z[...] = x
    check_chunks(zarr.open_array(path, mode="r")[...], x, CHUNKS)


@pytest.mark.parametrize("order", ["C", "F"])
def test_zarr_v2_issue_reproduction(order):
    """Issue #36: one (3, 4) chunk of arange(12); F order read back 6.0 off."""
    for role in ("compressors", "filters"):
        z = zarr.create_array(
            zarr.storage.MemoryStore(),
            shape=(3, 4),
            chunks=(3, 4),
            dtype="f4",
            zarr_format=2,
            order=order,
            **{role: [Int8QCodec()]},
        )
        x = np.arange(12, dtype="f4").reshape(3, 4)
        z[:] = x
        assert np.abs(z[:] - x).max() <= 11 / 254 * (1 + 1e-6), role


@pytest.mark.parametrize("order", ["C", "F"])
def test_zarr_v2_codec_with_a_dtype_and_partial_writes(tmp_path, order):
    x = sample(seed=3)
    path = str(tmp_path / "a.zarr")
    z = zarr.create_array(
        path,
        shape=SHAPE,
        chunks=CHUNKS,
        dtype="f4",
        zarr_format=2,
        order=order,
        compressors=[Int8QCodec(rounding="half_away", dtype="<f4")],
        filters=None,
    )
    z[:4] = x[:4]
    z[4:] = x[4:]  # rewrites the chunks of the last row of chunks
    back = zarr.open_array(path, mode="r")  # the codec from .zarray
    assert back.metadata.compressor == Int8QCodec(rounding="half_away", dtype="<f4")
    check_chunks(back[...], x, CHUNKS, rounding="half_away")


# --- Zarr format 3: int8q.zarr ---------------------------------------------------


@pytest.mark.parametrize("dtype", ["<f4", "<f8", "<f2", ">f4"])
def test_zarr_v3_c_order(tmp_path, dtype):
    x = sample(dtype=dtype, seed=1)
    int8q.zarr.create_array(str(tmp_path / "a.zarr"), data=x, chunks=CHUNKS)
    check_chunks(zarr.open_array(str(tmp_path / "a.zarr"), mode="r")[...], x, CHUNKS)


def test_zarr_v3_transposed_view(tmp_path):
    x = sample((10, 7), seed=2)
    view = x.T  # F-ordered: the array holds x.T
    assert view.flags.f_contiguous and not view.flags.c_contiguous
    int8q.zarr.create_array(str(tmp_path / "a.zarr"), data=view, chunks=CHUNKS)
    check_chunks(zarr.open_array(str(tmp_path / "a.zarr"), mode="r")[...], view, CHUNKS)
    # written into an existing array, one region at a time
    z = int8q.zarr.create_array(str(tmp_path / "b.zarr"), shape=SHAPE, dtype="f4", chunks=CHUNKS)
    z[:, :6] = view[:, :6]
    z[:, 6:] = view[:, 6:]
    check_chunks(zarr.open_array(str(tmp_path / "b.zarr"), mode="r")[...], view, CHUNKS)


def test_zarr_v3_f_ordered_chunks_in_memory(tmp_path):
    """config order "F": Zarr hands the codec F-ordered chunks; the stored
    chunk stays in C order, so any reader gets the values in place."""
    x = sample(seed=4)
    path = str(tmp_path / "a.zarr")
    int8q.zarr.create_array(path, data=np.asfortranarray(x), chunks=CHUNKS, config={"order": "F"})
    check_chunks(zarr.open_array(path, mode="r")[...], x, CHUNKS)
    check_chunks(zarr.open_array(path, mode="r", config={"order": "F"})[...], x, CHUNKS)


def test_zarr_v3_after_a_transpose_codec(tmp_path):
    x = sample(seed=5)
    path = str(tmp_path / "a.zarr")
    int8q.zarr.create_array(
        path, data=x, chunks=CHUNKS, filters=[zarr.codecs.TransposeCodec(order=(1, 0))]
    )
    back = zarr.open_array(path, mode="r")
    assert [c["name"] for c in back.metadata.to_dict()["codecs"]] == ["transpose", "int8q"]
    check_chunks(back[...], x, CHUNKS)
