"""Golden files: on-disk formats that every later int8q must still read.

tests/golden/ holds files written by int8q 0.1.0 (int8q metadata version 1
in safetensors and .npz, codec chunk version 1) and the inputs they were
made from (tests/golden/make.py).  Reading is checked against values
computed here from the golden bytes alone (q * scale as the format defines
it), not against int8q; writing is checked byte for byte while version 1 is
the current format.  When a format changes, add new golden files beside
these and keep these tests: old files must keep reading.
"""

import json
import os
import struct
import sys

import numpy as np
import pytest
from checkpoints import read_safetensors

import int8q.io

GOLDEN = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, GOLDEN)
import make  # noqa: E402  (tests/golden/make.py: what each file was made from)

SAFETENSORS_DTYPES = {"F32": np.float32, "F16": np.float16, "F64": np.float64, "I64": np.int64}


def expand(scale, shape, entry):
    """The stored scale broadcast over q, as the version-1 format defines it."""
    if entry["scheme"] == "per_block":
        b = entry["block_size"]
        return np.repeat(scale, b, axis=-1)[..., : shape[-1]]
    return np.broadcast_to(scale, shape)


def restored(q, scale, entry, dtype):
    values = q.astype(np.float32) * expand(scale.astype(np.float32), q.shape, entry)
    dtype = np.dtype(dtype)
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        return np.clip(np.rint(values), info.min, info.max).astype(dtype)
    with np.errstate(over="ignore"):
        return values.astype(dtype)


@pytest.mark.parametrize("name", sorted(make.SAFETENSORS_V1))
def test_safetensors_v1_reads(tmp_path, name):
    path = os.path.join(GOLDEN, name)
    tensors, metadata = read_safetensors(path)
    meta = json.loads(metadata["int8q"])
    assert meta["version"] == 1 and metadata["format"] == "pt"
    out = tmp_path / "d.safetensors"
    int8q.io.dequantize_file(path, out)
    back, back_meta = read_safetensors(out)
    assert back_meta == {"format": "pt"}
    scales = {e["scale"] for e in meta["tensors"].values()}
    assert set(back) == set(tensors) - scales == set(make.inputs())
    for tname, a in back.items():
        e = meta["tensors"].get(tname)
        if e is None:
            assert a.tobytes() == tensors[tname].tobytes(), tname
            continue
        want = restored(tensors[tname], tensors[e["scale"]], e, SAFETENSORS_DTYPES[e["dtype"]])
        assert a.dtype == want.dtype and a.tobytes() == want.tobytes(), tname
    rows = {r["name"]: r for r in int8q.io.inspect_file(path)}
    assert {n: r["scheme"] for n, r in rows.items() if r["scheme"] != "none"} == {
        **{n: e["scheme"] for n, e in meta["tensors"].items()},
        **{s: "scale" for s in scales},
    }


@pytest.mark.parametrize("name", sorted(make.SAFETENSORS_V1))
def test_safetensors_v1_is_still_what_quantize_writes(tmp_path, name):
    out = tmp_path / name
    int8q.io.quantize_file(
        os.path.join(GOLDEN, "inputs.safetensors"), out, **make.SAFETENSORS_V1[name]
    )
    with open(os.path.join(GOLDEN, name), "rb") as f:
        assert out.read_bytes() == f.read()


@pytest.mark.parametrize("name", sorted(make.NPZ_V1))
def test_npz_v1_reads_and_is_still_written(tmp_path, name):
    path = os.path.join(GOLDEN, name)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays.pop("__int8q__")))
    assert meta["version"] == 1
    from_npy = meta.get("container") == "npy"
    out = tmp_path / ("d.npy" if from_npy else "d.npz")
    int8q.io.dequantize_file(path, out)
    if from_npy:
        back = {"q": np.load(out)}
    else:
        with np.load(out) as z:
            back = {k: z[k] for k in z.files}
    scales = {e["scale"] for e in meta["tensors"].values()}
    assert set(back) == set(arrays) - scales
    for tname, a in back.items():
        e = meta["tensors"].get(tname)
        want = (
            arrays[tname]
            if e is None
            else restored(arrays[tname], arrays[e["scale"]], e, e["dtype"])
        )
        assert a.dtype == want.dtype and a.tobytes() == want.tobytes(), tname
    again = tmp_path / name
    int8q.io.quantize_file(os.path.join(GOLDEN, make.NPZ_V1[name]), again)
    with np.load(again) as z, np.load(path) as g:
        assert z.files == g.files
        assert all(z[k].dtype == g[k].dtype and z[k].tobytes() == g[k].tobytes() for k in z.files)


@pytest.mark.parametrize("name", sorted(make.CODEC_V1))
def test_codec_chunk_v1_reads_and_is_still_written(name):
    pytest.importorskip("numcodecs")
    from int8q import codec

    with open(os.path.join(GOLDEN, name), "rb") as f:
        raw = f.read()
    magic, version, code, scale = struct.unpack("<4sB3sd", raw[:16])
    assert (magic, version, code.decode()) == (b"I8Q\0", 1, make.CODEC_V1[name])
    dtype = np.dtype(code.decode())
    work = np.float64 if dtype.itemsize == 8 else np.float32
    q = np.frombuffer(raw[16:], np.int8)
    want = (q.astype(work) * work(scale)).astype(dtype)
    got = codec.Int8QCodec().decode(raw)
    assert got.dtype == dtype and got.tobytes() == want.tobytes()
    assert codec.encode_chunk(make.codec_input(dtype)) == raw
