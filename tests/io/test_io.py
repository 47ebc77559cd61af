"""int8q.io: checkpoint files quantized and restored, checked against the reference.

Files are written and read back with the independent helpers in
checkpoints.py (and with the safetensors package where installed), never
only with int8q's own reader.
"""

import doctest
import json
import os
import struct

import numpy as np
import pytest
from checkpoints import (
    DTYPE_NAMES,
    int8q_metadata,
    listing,
    ml_dtypes,
    read_header,
    read_safetensors,
    sample_tensors,
    write_raw,
    write_safetensors,
    write_sharded,
)

import int8q.io
from int8q import reference
from int8q.io._formats import _safetensors

FormatError = int8q.io.FormatError


@pytest.fixture
def rng():
    return np.random.default_rng(6)


def check_quantized(orig, out, meta, *, scheme_of, block_size=None, rounding="half_even"):
    """Every tensor of `orig` in `out`: quantized exactly as the reference, or unchanged."""
    entries = meta["tensors"]
    for name, x in orig.items():
        scheme = scheme_of(name, x)
        if scheme is None:
            assert name not in entries, name
            assert out[name].dtype.name == x.dtype.name, name
            assert out[name].shape == x.shape
            assert out[name].tobytes() == np.ascontiguousarray(x).tobytes(), name
            continue
        e = entries[name]
        assert e == {
            "scheme": scheme,
            "block_size": block_size if scheme == "per_block" else None,
            "dtype": _checkpoint_dtype(x),
            "rounding": rounding,
            "scale": name + "_scale",
        }
        axis = 0 if scheme == "per_row" else None
        bs = block_size if scheme == "per_block" else None
        q, scale = reference.quantize(as_stored(x), axis=axis, block_size=bs, rounding=rounding)
        assert scale.dtype == np.float32
        assert out[name].dtype == np.int8 and out[name].shape == x.shape
        np.testing.assert_array_equal(out[name], q, err_msg=name)
        stored = out[name + "_scale"]
        assert stored.dtype == scale.dtype, name
        if scheme == "per_row":
            assert stored.shape == (x.shape[0],) + (1,) * (x.ndim - 1), name
        else:
            assert stored.shape == scale.shape, name
        np.testing.assert_array_equal(stored.reshape(scale.shape), scale, err_msg=name)
    assert set(out) == set(orig) | {n + "_scale" for n in entries}


def as_stored(x):
    """The values a file's tensor is quantized from: scales are float32 in the
    format, so float64 and integer tensors go through float32 first."""
    if x.dtype.kind in "biu" or (x.dtype.kind == "f" and x.dtype.itemsize > 4):
        return x.astype(np.float32)
    return x


def _checkpoint_dtype(x):
    return DTYPE_NAMES[x.dtype.name]


def _default(name, x):
    """The default scheme: floating tensors of 2 or more dimensions per row."""
    floating = x.dtype.kind == "f" or x.dtype.name == "bfloat16"
    return "per_row" if floating and x.ndim >= 2 else None


def expected_restore(x, scheme, block_size=None, rounding="half_even"):
    """What dequantize must give back for tensor x: reference q * scale in x's dtype."""
    axis = 0 if scheme == "per_row" else None
    bs = block_size if scheme == "per_block" else None
    q, scale = reference.quantize(as_stored(x), axis=axis, block_size=bs, rounding=rounding)
    d = reference.dequantize(q, scale, axis=axis, block_size=bs)
    if x.dtype.kind in "biu":
        d = np.rint(d)
        if x.dtype.kind != "b":
            d = np.clip(d, np.iinfo(x.dtype).min, np.iinfo(x.dtype).max)
    return d.astype(x.dtype)


def check_restored(orig, back, scheme_of, **kw):
    assert set(back) == set(orig)
    for name, x in orig.items():
        assert back[name].shape == x.shape and back[name].dtype == x.dtype, name
        scheme = scheme_of(name, x)
        want = x if scheme is None else expected_restore(x, scheme, **kw)
        assert back[name].tobytes() == np.ascontiguousarray(want).tobytes(), name


# --- safetensors, one file -------------------------------------------------------


def test_safetensors_round_trip_default(tmp_path, rng):
    orig = sample_tensors(rng)
    src, q, back = (tmp_path / n for n in ("m.safetensors", "q.safetensors", "b.safetensors"))
    write_safetensors(src, orig, {"format": "pt"})
    int8q.io.quantize_file(src, q)
    out, metadata = read_safetensors(q)
    assert metadata["format"] == "pt"
    meta = json.loads(metadata["int8q"])
    assert meta["version"] == 1
    check_quantized(orig, out, meta, scheme_of=_default)
    assert out["layer.0.dense.weight_scale"].shape == (8, 1)
    assert out["conv.weight_scale"].shape == (4, 1, 1, 1)
    assert out["double.weight_scale"].dtype == np.float32  # always float32 in files
    assert out["half.weight_scale"].dtype == np.float32
    int8q.io.dequantize_file(q, back)
    restored, metadata = read_safetensors(back)
    assert metadata == {"format": "pt"}
    check_restored(orig, restored, _default)
    assert sorted(os.listdir(tmp_path)) == ["b.safetensors", "m.safetensors", "q.safetensors"]


@pytest.mark.parametrize(
    "kw, scheme, rounding",
    [
        ({"per_tensor": True}, "per_tensor", "half_even"),
        ({"block_size": 4}, "per_block", "half_even"),
        ({"block_size": 64}, "per_block", "half_even"),
        ({"rounding": "half_away"}, "per_row", "half_away"),
    ],
)
def test_safetensors_schemes(tmp_path, kw, scheme, rounding):
    rng = np.random.default_rng(1)
    orig = sample_tensors(rng)
    # exact ties at scale 1 make the rounding mode visible
    orig["ties.weight"] = np.array([[127, 0.5, -1.5, 2.5], [-127, 3.5, -4.5, 1]], np.float32)
    src, q, back = (tmp_path / n for n in ("m.safetensors", "q.safetensors", "b.safetensors"))
    write_safetensors(src, orig)
    int8q.io.quantize_file(src, q, **kw)
    out, metadata = read_safetensors(q)

    def scheme_of(name, x):
        return scheme if _default(name, x) else None

    bs = kw.get("block_size")
    check_quantized(
        orig,
        out,
        json.loads(metadata["int8q"]),
        scheme_of=scheme_of,
        block_size=bs,
        rounding=rounding,
    )
    int8q.io.dequantize_file(q, back)
    check_restored(orig, read_safetensors(back)[0], scheme_of, block_size=bs, rounding=rounding)


def test_all_quantizes_vectors_and_integers(tmp_path, rng):
    orig = sample_tensors(rng)
    src, q, back = (tmp_path / n for n in ("m.safetensors", "q.safetensors", "b.safetensors"))
    write_safetensors(src, orig)
    int8q.io.quantize_file(src, q, all_tensors=True, skip=["mask"])

    def scheme_of(name, x):
        if name == "mask":
            return None
        return "per_row" if x.ndim >= 2 else "per_tensor"

    out, metadata = read_safetensors(q)
    check_quantized(orig, out, json.loads(metadata["int8q"]), scheme_of=scheme_of)
    assert out["position_ids_scale"].dtype == np.float32  # always float32 in files
    int8q.io.dequantize_file(q, back)
    restored = read_safetensors(back)[0]
    check_restored(orig, restored, scheme_of)
    np.testing.assert_array_equal(restored["position_ids"], orig["position_ids"])


def test_all_with_block_size_cuts_vectors_in_blocks(tmp_path, rng):
    orig = {
        "bias": rng.standard_normal(10).astype(np.float32),
        "w": rng.standard_normal((3, 10)).astype(np.float32),
    }
    write_safetensors(tmp_path / "m.safetensors", orig)
    int8q.io.quantize_file(
        tmp_path / "m.safetensors", tmp_path / "q.safetensors", all_tensors=True, block_size=4
    )
    out, metadata = read_safetensors(tmp_path / "q.safetensors")
    check_quantized(
        orig, out, json.loads(metadata["int8q"]), scheme_of=lambda n, x: "per_block", block_size=4
    )
    assert out["bias_scale"].shape == (3,) and out["w_scale"].shape == (3, 3)


@pytest.mark.parametrize(
    "patterns, left_alone",
    [
        (["*.bias"], set()),  # biases are never quantized
        (["layer.*"], {"layer.0.dense.weight"}),
        (["embed.weight", "conv.*"], {"embed.weight", "conv.weight"}),
        (["*.WEIGHT"], set()),  # case-sensitive
        (["*"], None),
    ],
)
def test_skip_globs(tmp_path, patterns, left_alone):
    orig = sample_tensors(np.random.default_rng(0))
    write_safetensors(tmp_path / "m.safetensors", orig)
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors", skip=patterns)
    by_default = {n for n, x in orig.items() if _default(n, x)}
    quantized = set(int8q_metadata(tmp_path / "q.safetensors")["tensors"])
    assert quantized == (set() if left_alone is None else by_default - left_alone)


def test_output_layout_is_aligned_and_padded(tmp_path, rng):
    write_safetensors(tmp_path / "m.safetensors", sample_tensors(rng))
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors", all_tensors=True)
    header, start = read_header(tmp_path / "q.safetensors")
    assert start % 8 == 0
    with open(tmp_path / "q.safetensors", "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        text = f.read(n)
    # JSON, then fewer than 8 spaces of padding (NUL or other padding fails).
    body = text.rstrip(b" ")
    assert body.endswith(b"}") and len(text) - len(body) < 8
    json.loads(text)
    header.pop("__metadata__")
    spans = sorted(e["data_offsets"] for e in header.values())
    assert spans[0][0] == 0 and all(a[1] == b[0] for a, b in zip(spans, spans[1:]))
    assert spans[-1][1] == os.path.getsize(tmp_path / "q.safetensors") - start
    for name, e in header.items():
        size = np.dtype(read_safetensors(tmp_path / "q.safetensors")[0][name].dtype).itemsize
        assert (start + e["data_offsets"][0]) % size == 0, name


def test_bf16_without_ml_dtypes(tmp_path, monkeypatch):
    pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((6, 33)).astype(ml_dtypes.bfloat16)
    write_safetensors(tmp_path / "m.safetensors", {"w": x})
    monkeypatch.setattr(_safetensors, "ml_bfloat16", lambda: None)
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    int8q.io.dequantize_file(tmp_path / "q.safetensors", tmp_path / "b.safetensors")
    monkeypatch.undo()
    out = read_safetensors(tmp_path / "q.safetensors")[0]
    q, scale = reference.quantize(x, axis=0)
    np.testing.assert_array_equal(out["w"], q)
    np.testing.assert_array_equal(out["w_scale"].reshape(-1), scale)
    back = read_safetensors(tmp_path / "b.safetensors")[0]["w"]
    assert back.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(
        back.view(np.uint16), expected_restore(x, "per_row").view(np.uint16)
    )


def test_bfloat16_bits_match_ml_dtypes():
    pytest.importorskip("ml_dtypes")
    rng = np.random.default_rng(4)
    bits = rng.integers(0, 1 << 32, 100_000, dtype=np.uint64).astype(np.uint32)
    values = bits.view(np.float32)
    values = values[np.isfinite(values)]
    # exact halfway cases, odd and even kept halves, both signs
    top = np.concatenate([np.arange(0x3E00, 0x4100), np.arange(0xBE00, 0xC100)])
    ties = (top.astype(np.uint32) << 16 | 0x8000).view(np.float32)
    special = np.array([0.0, -0.0, np.inf, -np.inf, 3.3895314e38, 1e-45, -1e-45], np.float32)
    for v in (values, ties[np.isfinite(ties)], special):
        want = v.astype(ml_dtypes.bfloat16).view(np.uint16)
        np.testing.assert_array_equal(_safetensors.float32_to_bf16(v), want)
        np.testing.assert_array_equal(
            _safetensors.bf16_to_float32(want), want.view(ml_dtypes.bfloat16).astype(np.float32)
        )


def test_reads_and_writes_files_of_the_safetensors_package(tmp_path, rng):
    st_numpy = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    orig = {k: v for k, v in sample_tensors(rng, bf16=False).items()}
    st_numpy.save_file(orig, str(tmp_path / "m.safetensors"), metadata={"format": "np"})
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    out = st_numpy.load_file(str(tmp_path / "q.safetensors"))
    with safe_open(str(tmp_path / "q.safetensors"), "np") as f:
        meta = json.loads(f.metadata()["int8q"])
    check_quantized(orig, out, meta, scheme_of=_default)
    int8q.io.dequantize_file(tmp_path / "q.safetensors", tmp_path / "b.safetensors")
    check_restored(orig, st_numpy.load_file(str(tmp_path / "b.safetensors")), _default)


def test_inspect_safetensors(tmp_path, rng):
    orig = sample_tensors(rng, bf16=False)
    write_safetensors(tmp_path / "m.safetensors", orig)
    rows = int8q.io.inspect_file(tmp_path / "m.safetensors")
    assert {r["name"]: (r["shape"], r["dtype"], r["scheme"], r["size"]) for r in rows} == {
        n: (x.shape, _checkpoint_dtype(x), "none", x.nbytes) for n, x in orig.items()
    }
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    rows = {r["name"]: r for r in int8q.io.inspect_file(tmp_path / "q.safetensors")}
    assert rows["embed.weight"]["scheme"] == "per_row"
    assert rows["embed.weight"]["dtype"] == "I8"
    assert rows["embed.weight"]["original_dtype"] == "F32"
    assert rows["embed.weight_scale"]["scheme"] == "scale"
    assert rows["embed.weight_scale"]["shape"] == (37, 1)
    assert rows["layer.0.dense.bias"]["scheme"] == "none"
    assert (
        sum(r["size"] for r in rows.values())
        == os.path.getsize(tmp_path / "q.safetensors") - read_header(tmp_path / "q.safetensors")[1]
    )


# --- sharded ---------------------------------------------------------------------


def _shards(rng):
    t = sample_tensors(rng, bf16=False)
    names = list(t)
    return [
        {n: t[n] for n in names[:4]},
        {n: t[n] for n in names[4:9]},
        {n: t[n] for n in names[9:]},
    ]


@pytest.mark.parametrize("given", ["directory", "index"])
def test_sharded_round_trip(tmp_path, rng, given):
    shards = _shards(rng)
    index = write_sharded(tmp_path / "ckpt", shards)
    src = tmp_path / "ckpt" if given == "directory" else index
    int8q.io.quantize_file(src, tmp_path / "q")
    shard_names = sorted(n for n in os.listdir(tmp_path / "ckpt") if n.endswith(".safetensors"))
    assert sorted(os.listdir(tmp_path / "q")) == sorted(
        shard_names + ["model.safetensors.index.json"]
    )
    with open(tmp_path / "q" / "model.safetensors.index.json") as f:
        new_index = json.load(f)
    total = 0
    for shard_name, tensors in zip(shard_names, shards):
        out, metadata = read_safetensors(tmp_path / "q" / shard_name)
        assert metadata["format"] == "pt"
        check_quantized(tensors, out, json.loads(metadata["int8q"]), scheme_of=_default)
        for name, a in out.items():
            assert new_index["weight_map"][name] == shard_name
            total += a.nbytes
    assert len(new_index["weight_map"]) == sum(
        len(read_safetensors(tmp_path / "q" / s)[0]) for s in shard_names
    )
    assert new_index["metadata"]["total_size"] == total
    assert any(n.endswith("_scale") for n in new_index["weight_map"])

    back_src = (
        tmp_path / "q"
        if given == "directory"
        else (tmp_path / "q" / "model.safetensors.index.json")
    )
    int8q.io.dequantize_file(back_src, tmp_path / "back")
    with open(tmp_path / "back" / "model.safetensors.index.json") as f:
        back_index = json.load(f)
    with open(index) as f:
        assert back_index == json.load(f)
    for shard_name, tensors in zip(shard_names, shards):
        restored, metadata = read_safetensors(tmp_path / "back" / shard_name)
        assert metadata == {"format": "pt"}
        check_restored(tensors, restored, _default)
    rows = int8q.io.inspect_file(tmp_path / "q")
    assert {r["file"] for r in rows} == set(shard_names)
    assert not [p for p in listing(tmp_path) if "int8q-tmp" in p]  # no temporaries


def test_sharded_output_into_empty_directory(tmp_path, rng):
    write_sharded(tmp_path / "ckpt", _shards(rng))
    (tmp_path / "q").mkdir()
    int8q.io.quantize_file(tmp_path / "ckpt", tmp_path / "q")
    assert "model.safetensors.index.json" in os.listdir(tmp_path / "q")


def test_sharded_scale_name_clash_across_shards(tmp_path, rng):
    w = rng.standard_normal((3, 4)).astype(np.float32)
    write_sharded(tmp_path / "ckpt", [{"w": w}, {"w_scale": w}])
    before = listing(tmp_path)
    with pytest.raises(FormatError, match="w_scale"):
        int8q.io.quantize_file(tmp_path / "ckpt", tmp_path / "q")
    assert listing(tmp_path) == before


# --- .npy and .npz ---------------------------------------------------------------


@pytest.mark.parametrize(
    "make, scheme",
    [
        (lambda r: r.standard_normal((9, 13)).astype(np.float32), "per_row"),
        (lambda r: np.asfortranarray(r.standard_normal((9, 13)).astype(np.float32)), "per_row"),
        (lambda r: r.standard_normal((4, 5, 6)).astype(">f4"), "per_row"),
        (lambda r: r.standard_normal(17).astype(np.float16), "per_tensor"),
        (lambda r: np.array(2.5), "per_tensor"),
    ],
)
def test_npy_round_trip(tmp_path, rng, make, scheme):
    x = make(rng)
    np.save(tmp_path / "x.npy", x)
    int8q.io.quantize_file(tmp_path / "x.npy", tmp_path / "q.npz")
    with np.load(tmp_path / "q.npz") as z:
        assert sorted(z.files) == ["__int8q__", "q", "scale"]
        q, scale = reference.quantize(as_stored(x), axis=0 if scheme == "per_row" else None)
        assert z["scale"].dtype == np.float32
        np.testing.assert_array_equal(z["q"], q)
        np.testing.assert_array_equal(z["scale"].reshape(scale.shape), scale)
        meta = json.loads(str(z["__int8q__"]))
    assert meta["container"] == "npy"
    assert meta["tensors"]["q"]["scheme"] == scheme
    int8q.io.dequantize_file(tmp_path / "q.npz", tmp_path / "back.npy")
    back = np.load(tmp_path / "back.npy")
    assert back.dtype == x.dtype and back.shape == x.shape
    np.testing.assert_array_equal(back, expected_restore(x, scheme))


def test_npy_block_size(tmp_path, rng):
    x = rng.standard_normal((3, 10)).astype(np.float32)
    np.save(tmp_path / "x.npy", x)
    int8q.io.quantize_file(tmp_path / "x.npy", tmp_path / "q.npz", block_size=4)
    with np.load(tmp_path / "q.npz") as z:
        q, scale = reference.quantize(x, block_size=4)
        np.testing.assert_array_equal(z["q"], q)
        np.testing.assert_array_equal(z["scale"], scale)


def test_npy_integers_need_all(tmp_path):
    np.save(tmp_path / "x.npy", np.arange(12).reshape(3, 4))
    with pytest.raises(FormatError, match="--all"):
        int8q.io.quantize_file(tmp_path / "x.npy", tmp_path / "q.npz")
    int8q.io.quantize_file(tmp_path / "x.npy", tmp_path / "q.npz", all_tensors=True)
    int8q.io.dequantize_file(tmp_path / "q.npz", tmp_path / "b.npy")
    np.testing.assert_array_equal(
        np.load(tmp_path / "b.npy"), expected_restore(np.arange(12).reshape(3, 4), "per_row")
    )


def test_npz_round_trip(tmp_path, rng):
    orig = sample_tensors(rng, bf16=False)
    np.savez(tmp_path / "a.npz", **orig)
    int8q.io.quantize_file(tmp_path / "a.npz", tmp_path / "q.npz")
    with np.load(tmp_path / "q.npz") as z:
        out = {k: z[k] for k in z.files if k != "__int8q__"}
        meta = json.loads(str(z["__int8q__"]))
    for name, e in meta["tensors"].items():
        assert e["dtype"] == orig[name].dtype.str
        e["dtype"] = _checkpoint_dtype(orig[name])  # compare in safetensors notation
    check_quantized(orig, out, meta, scheme_of=_default)
    int8q.io.dequantize_file(tmp_path / "q.npz", tmp_path / "b.npz")
    with np.load(tmp_path / "b.npz") as z:
        check_restored(orig, {k: z[k] for k in z.files}, _default)
    rows = {r["name"]: r for r in int8q.io.inspect_file(tmp_path / "q.npz")}
    assert rows["embed.weight"]["scheme"] == "per_row"
    assert rows["embed.weight"]["original_dtype"] == "float32"
    assert rows["embed.weight_scale"]["scheme"] == "scale"
    assert "__int8q__" not in rows


def test_compressed_npz_is_read(tmp_path, rng):
    x = rng.standard_normal((4, 8)).astype(np.float32)
    np.savez_compressed(tmp_path / "a.npz", w=x, b=x[0])
    int8q.io.quantize_file(tmp_path / "a.npz", tmp_path / "q.npz")
    with np.load(tmp_path / "q.npz") as z:
        np.testing.assert_array_equal(z["w"], reference.quantize(x, axis=0)[0])
        np.testing.assert_array_equal(z["b"], x[0])


def test_inspect_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((3, 4), ">f8"))
    (row,) = int8q.io.inspect_file(tmp_path / "x.npy")
    assert (row["shape"], row["dtype"], row["scheme"], row["size"]) == ((3, 4), ">f8", "none", 96)


# --- errors: one exception, nothing left behind ----------------------------------


def _header(**entries):
    return {"__metadata__": {"format": "pt"}, **entries}


F32_2x2 = {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}
CORRUPT = {
    "empty file": lambda p: p.write_bytes(b""),
    "short prefix": lambda p: p.write_bytes(b"\x10\x00\x00"),
    "header past the end": lambda p: p.write_bytes(struct.pack("<Q", 1000) + b"{}"),
    "huge header length": lambda p: p.write_bytes(struct.pack("<Q", 2**63) + b"{}"),
    "not json": lambda p: write_raw(p, b"{not json", bytes(16)),
    "not utf-8": lambda p: write_raw(p, b'{"\xff": 1}', b""),
    "json list": lambda p: write_raw(p, b"[1, 2]", b""),
    "metadata not strings": lambda p: write_raw(p, {"__metadata__": {"a": 1}}, b""),
    "unknown dtype": lambda p: write_raw(p, {"w": {**F32_2x2, "dtype": "F12"}}, bytes(16)),
    "bad shape": lambda p: write_raw(p, {"w": {**F32_2x2, "shape": [2, -2]}}, bytes(16)),
    "shape and offsets disagree": lambda p: write_raw(
        p, {"w": {**F32_2x2, "shape": [2, 3]}}, bytes(16)
    ),
    "offsets reversed": lambda p: write_raw(
        p, {"w": {**F32_2x2, "data_offsets": [16, 0]}}, bytes(16)
    ),
    "missing offsets": lambda p: write_raw(p, {"w": {"dtype": "F32", "shape": [2, 2]}}, bytes(16)),
    "truncated data": lambda p: write_raw(p, _header(w=F32_2x2), bytes(12)),
    "offsets past the end": lambda p: write_raw(
        p, {"w": F32_2x2, "v": {**F32_2x2, "data_offsets": [16, 32]}}, bytes(20)
    ),
    "overlap": lambda p: write_raw(
        p, {"w": F32_2x2, "v": {**F32_2x2, "data_offsets": [8, 24]}}, bytes(24)
    ),
    "hole": lambda p: write_raw(
        p, {"w": F32_2x2, "v": {**F32_2x2, "data_offsets": [20, 36]}}, bytes(36)
    ),
    "trailing bytes": lambda p: write_raw(p, {"w": F32_2x2}, bytes(24)),
    "duplicate names": lambda p: write_raw(
        p,
        b'{"w": ' + json.dumps(F32_2x2).encode() + b', "w": ' + json.dumps(F32_2x2).encode() + b"}",
        bytes(16),
    ),
}


@pytest.mark.parametrize("case", sorted(CORRUPT))
@pytest.mark.parametrize("op", ["quantize", "dequantize", "inspect"])
def test_corrupt_safetensors_raise_format_error(tmp_path, case, op):
    src = tmp_path / "bad.safetensors"
    CORRUPT[case](src)
    with pytest.raises(FormatError):
        if op == "inspect":
            int8q.io.inspect_file(src)
        else:
            getattr(int8q.io, f"{op}_file")(src, tmp_path / "out.safetensors")
    assert os.listdir(tmp_path) == ["bad.safetensors"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nonfinite_tensor_names_it_and_leaves_nothing(tmp_path, rng, bad):
    t = sample_tensors(rng, bf16=False)
    t["layer.0.dense.weight"][3, 5] = bad
    write_safetensors(tmp_path / "m.safetensors", t)
    with pytest.raises(ValueError, match=r"'layer.0.dense.weight'.*\[3, 5\]"):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_nonfinite_in_a_skipped_tensor_passes_through(tmp_path):
    w = np.array([[1.0, np.nan]], np.float32)
    write_safetensors(tmp_path / "m.safetensors", {"w": w})
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors", skip=["w"])
    assert np.isnan(read_safetensors(tmp_path / "q.safetensors")[0]["w"][0, 1])


def test_failure_keeps_an_existing_output(tmp_path):
    write_safetensors(tmp_path / "m.safetensors", {"w": np.array([[1, np.inf]], np.float32)})
    (tmp_path / "q.safetensors").write_bytes(b"previous")
    with pytest.raises(ValueError):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    assert (tmp_path / "q.safetensors").read_bytes() == b"previous"
    assert sorted(os.listdir(tmp_path)) == ["m.safetensors", "q.safetensors"]


def test_missing_and_unknown_inputs(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.safetensors"):
        int8q.io.quantize_file(tmp_path / "nope.safetensors", tmp_path / "q.safetensors")
    (tmp_path / "model.bin").write_bytes(b"PK\x03\x04")
    for call in (
        lambda: int8q.io.quantize_file(tmp_path / "model.bin", tmp_path / "q"),
        lambda: int8q.io.dequantize_file(tmp_path / "model.bin", tmp_path / "q"),
        lambda: int8q.io.inspect_file(tmp_path / "model.bin"),
    ):
        with pytest.raises(FormatError, match="unknown format"):
            call()
    assert os.listdir(tmp_path) == ["model.bin"]


def test_output_equal_to_input_is_refused(tmp_path, rng):
    write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((2, 2), np.float32)})
    before = (tmp_path / "m.safetensors").read_bytes()
    targets = [tmp_path / "m.safetensors", tmp_path / "." / "m.safetensors"]
    try:  # Windows without the symlink privilege cannot make one
        os.symlink(tmp_path / "m.safetensors", tmp_path / "link.safetensors")
        targets.append(tmp_path / "link.safetensors")
    except OSError:
        pass
    for dst in targets:
        with pytest.raises(FormatError, match="overwrite the input"):
            int8q.io.quantize_file(tmp_path / "m.safetensors", dst)
    index = write_sharded(tmp_path / "ckpt", _shards(rng))
    for dst in (tmp_path / "ckpt", index):
        with pytest.raises(FormatError, match="overwrite the input"):
            int8q.io.quantize_file(tmp_path / "ckpt", dst)
        with pytest.raises(FormatError, match="overwrite the input"):
            int8q.io.quantize_file(index, dst)
    assert (tmp_path / "m.safetensors").read_bytes() == before


def test_bad_outputs_are_refused_before_work(tmp_path, rng):
    write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((2, 2), np.float32)})
    with pytest.raises(FormatError, match="is a directory"):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path)
    with pytest.raises(FileNotFoundError):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "no" / "q.safetensors")
    write_sharded(tmp_path / "ckpt", _shards(rng))
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep").write_text("x")
    with pytest.raises(FormatError, match="not empty"):
        int8q.io.quantize_file(tmp_path / "ckpt", tmp_path / "full")
    with pytest.raises(FormatError, match="without a file suffix"):
        int8q.io.quantize_file(tmp_path / "ckpt", tmp_path / "m.safetensors")
    assert (tmp_path / "full" / "keep").read_text() == "x"


def test_scale_name_clash(tmp_path):
    w = np.ones((2, 2), np.float32)
    write_safetensors(tmp_path / "m.safetensors", {"w": w, "w_scale": w})
    with pytest.raises(FormatError, match="'w_scale' already exists"):
        int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    assert os.listdir(tmp_path) == ["m.safetensors"]
    int8q.io.quantize_file(
        tmp_path / "m.safetensors", tmp_path / "q.safetensors", skip=["w"]
    )  # the way out the message suggests
    out = read_safetensors(tmp_path / "q.safetensors")[0]
    assert out["w"].dtype == np.float32  # left alone; the old w_scale is quantized itself
    assert set(out) == {"w", "w_scale", "w_scale_scale"}


def test_quantize_twice_and_dequantize_plain_are_refused(tmp_path):
    write_safetensors(tmp_path / "m.safetensors", {"w": np.ones((2, 2), np.float32)})
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    with pytest.raises(FormatError, match="already quantized"):
        int8q.io.quantize_file(tmp_path / "q.safetensors", tmp_path / "qq.safetensors")
    with pytest.raises(FormatError, match="not quantized by int8q"):
        int8q.io.dequantize_file(tmp_path / "m.safetensors", tmp_path / "d.safetensors")
    np.savez(tmp_path / "a.npz", w=np.ones((2, 2)))
    with pytest.raises(FormatError, match="not quantized by int8q"):
        int8q.io.dequantize_file(tmp_path / "a.npz", tmp_path / "d.npz")
    np.save(tmp_path / "a.npy", np.ones((2, 2)))
    with pytest.raises(FormatError, match="never quantized"):
        int8q.io.dequantize_file(tmp_path / "a.npy", tmp_path / "d.npy")
    assert sorted(os.listdir(tmp_path)) == ["a.npy", "a.npz", "m.safetensors", "q.safetensors"]


@pytest.mark.parametrize(
    "meta",
    [
        "not json",
        json.dumps({"version": 2, "tensors": {}}),
        json.dumps({"version": 1}),
        json.dumps({"version": 1, "tensors": {"w": {"scheme": "per_row"}}}),
        json.dumps(
            {
                "version": 1,
                "tensors": {
                    "w": {
                        "scheme": "per_block",
                        "block_size": None,
                        "dtype": "F32",
                        "scale": "w_scale",
                    }
                },
            }
        ),
        json.dumps(
            {
                "version": 1,
                "tensors": {
                    "x": {
                        "scheme": "per_row",
                        "block_size": None,
                        "dtype": "F32",
                        "scale": "w_scale",
                    }
                },
            }
        ),
        json.dumps(
            {
                "version": 1,
                "tensors": {
                    "w": {
                        "scheme": "per_tensor",
                        "block_size": None,
                        "dtype": "F32",
                        "scale": "w_scale",
                    }
                },
            }
        ),
        json.dumps(
            {
                "version": 1,
                "tensors": {
                    "w": {
                        "scheme": "per_row",
                        "block_size": None,
                        "dtype": "F8_E4M3",
                        "scale": "w_scale",
                    }
                },
            }
        ),
    ],
)
def test_corrupt_int8q_metadata(tmp_path, meta):
    write_safetensors(
        tmp_path / "q.safetensors",
        {"w": np.ones((2, 2), np.int8), "w_scale": np.ones((2, 1), np.float32)},
        {"int8q": meta},
    )
    with pytest.raises(FormatError):
        int8q.io.dequantize_file(tmp_path / "q.safetensors", tmp_path / "b.safetensors")
    assert os.listdir(tmp_path) == ["q.safetensors"]


def test_metadata_written_by_hand(tmp_path):
    """block_size and rounding may be left out; a 0-d tensor cannot be per row."""
    meta = {
        "version": 1,
        "tensors": {"w": {"scheme": "per_row", "dtype": "F16", "scale": "w_scale"}},
    }
    write_safetensors(
        tmp_path / "q.safetensors",
        {
            "w": np.array([[127, -64], [1, 2]], np.int8),
            "w_scale": np.array([[0.5], [2.0]], np.float32),
        },
        {"int8q": json.dumps(meta)},
    )
    int8q.io.dequantize_file(tmp_path / "q.safetensors", tmp_path / "b.safetensors")
    back = read_safetensors(tmp_path / "b.safetensors")[0]["w"]
    np.testing.assert_array_equal(back, np.array([[63.5, -32], [2, 4]], np.float16))
    write_safetensors(
        tmp_path / "s.safetensors",
        {"w": np.array(3, np.int8), "w_scale": np.array([[0.5]], np.float32)},
        {"int8q": json.dumps(meta)},
    )
    with pytest.raises(FormatError, match="0-d"):
        int8q.io.dequantize_file(tmp_path / "s.safetensors", tmp_path / "c.safetensors")


def test_nonfinite_scale_is_refused(tmp_path):
    meta = json.dumps(
        {
            "version": 1,
            "tensors": {
                "w": {
                    "scheme": "per_row",
                    "block_size": None,
                    "dtype": "F32",
                    "rounding": "half_even",
                    "scale": "w_scale",
                }
            },
        }
    )
    write_safetensors(
        tmp_path / "q.safetensors",
        {"w": np.ones((2, 2), np.int8), "w_scale": np.array([[1.0], [np.nan]], np.float32)},
        {"int8q": meta},
    )
    with pytest.raises(FormatError, match="'w'.*NaN"):
        int8q.io.dequantize_file(tmp_path / "q.safetensors", tmp_path / "b.safetensors")
    assert os.listdir(tmp_path) == ["q.safetensors"]


def _bad_index(folder, index, text):
    with open(index, "w") as f:
        f.write(text)


@pytest.mark.parametrize(
    "case",
    [
        "missing shard",
        "path traversal",
        "disagree",
        "corrupt json",
        "no weight_map",
        "corrupt shard",
        "no index",
        "two indexes",
    ],
)
def test_sharded_errors(tmp_path, rng, case):
    folder = tmp_path / "ckpt"
    index = write_sharded(folder, _shards(rng))
    with open(index) as f:
        data = json.load(f)
    first = next(iter(data["weight_map"]))
    if case == "missing shard":
        os.remove(folder / data["weight_map"][first])
    elif case == "path traversal":
        write_safetensors(tmp_path / "outside.safetensors", {first: np.ones(2, np.float32)})
        data["weight_map"][first] = "../outside.safetensors"
        _bad_index(folder, index, json.dumps(data))
    elif case == "disagree":
        data["weight_map"][first] = sorted(set(data["weight_map"].values()))[-1]
        _bad_index(folder, index, json.dumps(data))
    elif case == "corrupt json":
        _bad_index(folder, index, '{"weight_map": ')
    elif case == "no weight_map":
        _bad_index(folder, index, json.dumps({"metadata": {}}))
    elif case == "corrupt shard":
        (folder / data["weight_map"][first]).write_bytes(b"\x00" * 7)
    elif case == "no index":
        os.remove(index)
    else:
        _bad_index(folder, os.path.join(folder, "other.safetensors.index.json"), json.dumps(data))
    before = listing(tmp_path)
    with pytest.raises(FormatError):
        int8q.io.quantize_file(folder, tmp_path / "q")
    with pytest.raises(FormatError):
        int8q.io.inspect_file(folder)
    assert listing(tmp_path) == before


def test_sharded_failure_in_a_later_shard_leaves_nothing(tmp_path, rng):
    shards = _shards(rng)
    shards[2]["late.weight"] = np.array([[1.0, np.nan]], np.float32)
    write_sharded(tmp_path / "ckpt", shards)
    before = listing(tmp_path)
    with pytest.raises(ValueError, match="late.weight"):
        int8q.io.quantize_file(tmp_path / "ckpt", tmp_path / "q")
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    "case",
    [
        "not a zip",
        "not npy members",
        "bad npy magic",
        "pickled npy",
        "truncated npy",
        "wrong suffix",
    ],
)
def test_numpy_file_errors(tmp_path, case):
    if case == "not a zip":
        src = tmp_path / "a.npz"
        src.write_bytes(b"hello")
    elif case == "not npy members":
        import zipfile

        src = tmp_path / "a.npz"
        with zipfile.ZipFile(src, "w") as z:
            z.writestr("readme.txt", "hi")
    elif case == "bad npy magic":
        src = tmp_path / "a.npy"
        src.write_bytes(b"not an npy file")
    elif case == "pickled npy":
        src = tmp_path / "a.npy"
        np.save(src, np.array([{"a": 1}], dtype=object), allow_pickle=True)
    elif case == "truncated npy":
        src = tmp_path / "a.npy"
        np.save(src, np.ones((100, 100), np.float32))
        src.write_bytes(src.read_bytes()[:1000])
    else:
        src = tmp_path / "a.npy"
        np.save(src, np.ones((2, 2), np.float32))
    before = listing(tmp_path)
    dst = tmp_path / ("out.npy" if case == "wrong suffix" else "out.npz")
    with pytest.raises(FormatError):
        int8q.io.quantize_file(src, dst)
    assert listing(tmp_path) == before


def test_module_examples():
    result = doctest.testmod(int8q.io, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


def test_bad_options_fail_before_reading(tmp_path):
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"w": np.ones((2, 2), np.float32)})
    for kw, exc in [
        ({"block_size": 0}, ValueError),
        ({"block_size": 2.5}, TypeError),
        ({"per_tensor": True, "block_size": 4}, ValueError),
        ({"rounding": "up"}, ValueError),
    ]:
        with pytest.raises(exc):
            int8q.io.quantize_file(src, tmp_path / "q.safetensors", **kw)
    assert os.listdir(tmp_path) == ["m.safetensors"]


def test_npz_member_in_fortran_order(tmp_path):
    """np.savez writes a Fortran-ordered array's bytes in Fortran order (the
    .npy header says so); the stored member's CRC-32 covers those bytes and
    the values come back in their places."""
    w = np.asfortranarray(np.arange(-12, 12, dtype=np.float32).reshape(4, 6))
    src, out, back = tmp_path / "w.npz", tmp_path / "w8.npz", tmp_path / "back.npz"
    np.savez(src, w=w)
    int8q.io.quantize_file(str(src), str(out))
    int8q.io.dequantize_file(str(out), str(back))
    with np.load(back) as restored:
        got = restored["w"]
    assert got.shape == w.shape
    assert np.abs(got - w).max() <= np.abs(w).max() / 127 / 2 * 1.0001


def test_safetensors_data_bytes_is_the_data_region(tmp_path):
    """Header.data_bytes (what the progress bar and the pipeline's budget
    count) is the file's data region: every tensor's bytes, nothing more or
    less, as the safetensors library wrote them."""
    from safetensors.numpy import save_file

    path = tmp_path / "m.safetensors"
    save_file({"a": np.ones((3, 5), np.float32), "b": np.ones(7, np.float16)}, str(path))
    header_len = struct.unpack("<Q", path.read_bytes()[:8])[0]
    header = _safetensors.read_header(str(path))
    assert header.data_bytes == 3 * 5 * 4 + 7 * 2
    assert header.data_bytes == os.path.getsize(path) - 8 - header_len
