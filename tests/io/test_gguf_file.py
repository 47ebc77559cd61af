"""``int8q quantize model.gguf -o model-q8_0.gguf``: llama-quantize's Q8_0 file.

The inputs are written with gguf-py's GGUFWriter and the outputs read with
gguf-py's GGUFReader; every Q8_0 tensor is compared byte for byte with
gguf-py's reference quantizer (``gguf.quants.quantize``, ggml's
quantize_row_q8_0_ref recipe).  The expected type of each tensor is the
rule of llama.cpp's src/llama-quant.cpp for ``llama-quantize ... Q8_0``.
"""

import json
import os
import re
import struct
import warnings

import numpy as np
import pytest
from cli import run

from int8q.io import FormatError, inspect_file, quantize_file
from int8q.io._containers import _gguf

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf_files import TENSORS, fields, write_gguf  # noqa: E402


def q8_0_reference(values):
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")  # gguf-py warns where 1 / d overflows (tiny blocks)
        return gguf.quants.quantize(values, T.Q8_0)


def float32_values(t):
    """A GGUFReader tensor's float32 values as (rows, ne[0]), from its raw bytes."""
    raw = bytes(t.data)
    if t.tensor_type == T.BF16:
        values = (np.frombuffer(raw, "<u2").astype(np.uint32) << 16).view(np.float32)
    else:
        values = np.frombuffer(raw, {T.F32: "<f4", T.F16: "<f2"}[t.tensor_type])
    return values.astype(np.float32).reshape(-1, int(t.shape[0]))


def check_output(src, dst, tensors=TENSORS):
    a, b = gguf.GGUFReader(src), gguf.GGUFReader(dst)
    assert [t.name for t in b.tensors] == [t.name for t in a.tensors]  # order kept
    want_types = {name: target for name, _, _, target in tensors}
    for ti, to in zip(a.tensors, b.tensors, strict=True):
        assert to.tensor_type == want_types[ti.name], ti.name
        assert list(to.shape) == list(ti.shape), ti.name
        if to.tensor_type == ti.tensor_type:
            assert bytes(to.data) == bytes(ti.data), ti.name
            continue
        values = float32_values(ti)
        want = q8_0_reference(values) if to.tensor_type == T.Q8_0 else values.astype(np.float16)
        assert bytes(to.data) == want.tobytes(), ti.name
    kept = [
        f
        for f in fields(a)
        if f[0] not in ("general.file_type", "general.quantization_version", "split.count")
    ]
    assert fields(b) == kept + [
        u32_field("general.quantization_version", 2),
        u32_field("general.file_type", 7),
    ]


def u32_field(key, value):
    """A u32 key as GGUFReader splits it: key length, key, type, value."""
    return (
        key,
        [gguf.GGUFValueType.UINT32],
        [struct.pack("<Q", len(key)), key.encode(), struct.pack("<I", 4), struct.pack("<I", value)],
    )


def test_types_data_and_metadata_as_llama_quantize(tmp_path):
    src, dst = tmp_path / "m-f16.gguf", tmp_path / "m-q8_0.gguf"
    write_gguf(src)
    before = src.read_bytes()
    quantize_file(src, dst)
    check_output(src, dst)
    assert src.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["m-f16.gguf", "m-q8_0.gguf"]
    assert int8q_size(dst) == os.path.getsize(dst)


def int8q_size(path):
    """The file size the rows of inspect add up to, plus header and padding."""
    rows = inspect_file(path)
    reader = gguf.GGUFReader(path)
    return int(reader.data_offset) + sum(-(-r["size"] // 32) * 32 for r in rows)


def test_slabs_do_not_change_bytes(tmp_path, monkeypatch):
    write_gguf(tmp_path / "m.gguf", seed=3)
    quantize_file(tmp_path / "m.gguf", tmp_path / "whole.gguf")
    monkeypatch.setattr(_gguf, "SLAB_ELEMENTS", 100)  # a few rows at a time
    quantize_file(tmp_path / "m.gguf", tmp_path / "slabs.gguf")
    assert (tmp_path / "whole.gguf").read_bytes() == (tmp_path / "slabs.gguf").read_bytes()


def test_custom_alignment_and_q8_0_input_copied(tmp_path):
    write_gguf(tmp_path / "m.gguf", alignment=64, seed=4)
    quantize_file(tmp_path / "m.gguf", tmp_path / "q.gguf")
    check_output(tmp_path / "m.gguf", tmp_path / "q.gguf")
    r = gguf.GGUFReader(tmp_path / "q.gguf")
    assert r.alignment == 64 and all(t.data_offset % 64 == 0 for t in r.tensors)
    # A Q8_0 file in: every tensor is already its target type, copied byte for byte.
    quantize_file(tmp_path / "q.gguf", tmp_path / "qq.gguf")
    assert [bytes(t.data) for t in gguf.GGUFReader(tmp_path / "qq.gguf").tensors] == [
        bytes(t.data) for t in r.tensors
    ]


def test_tied_rows_and_tiny_blocks(tmp_path):
    def ties(x):
        x[:, :32] = np.arange(-15.5, 16.5, 1.0)
        x[:, 0] = 127
        x[1] = 0
        x[2] *= np.float32(1e-37)
        return x

    tensors = [("blk.0.attn_q.weight", (4, 64), T.F32, T.Q8_0)]
    write_gguf(tmp_path / "m.gguf", tensors, extra={"blk.0.attn_q.weight": ties})
    quantize_file(tmp_path / "m.gguf", tmp_path / "q.gguf")
    check_output(tmp_path / "m.gguf", tmp_path / "q.gguf", tensors)


def test_cli_quantize_and_inspect(tmp_path, capsys):
    write_gguf(tmp_path / "m.gguf")
    code, out, err = run(capsys, "quantize", tmp_path / "m.gguf", "-o", tmp_path / "q.gguf", "-q")
    assert (code, out, err) == (0, "", "")
    code, out, err = run(capsys, "inspect", tmp_path / "q.gguf", "--json")
    assert code == 0 and err == ""
    rows = {r["name"]: r for r in json.loads(out)}
    assert len(rows) == len(TENSORS)
    assert rows["token_embd.weight"] == {
        "file": "q.gguf",
        "name": "token_embd.weight",
        "shape": [64, 96],
        "dtype": "Q8_0",
        "scheme": "q8_0",
        "size": 64 * 96 // 32 * 34,
        "original_dtype": None,
    }
    assert rows["blk.0.ffn_down.weight"]["dtype"] == "F16"
    assert rows["blk.0.ffn_down.weight"]["size"] == 96 * 40 * 2


def corrupt(path, how):
    """A small GGUF written by hand (not by int8q or gguf-py), damaged `how`."""

    def s(text):
        return struct.pack("<Q", len(text)) + text.encode()

    version, ttype, ndims, offset2 = 3, 0, 2, 64 * 4
    if how == "version 1":
        version = 1
    if how == "unknown type":
        ttype = 99
    if how == "5 dims":
        ndims = 5
    if how == "overlap":
        offset2 = 32
    if how == "misaligned":
        offset2 = 260
    kv = s("general.architecture") + struct.pack("<I", 8) + s("llama")
    kvs = [kv, kv] if how == "duplicate key" else [kv]
    if how == "short vocabulary":  # says 1000 strings, holds 2
        kvs.append(s("tokenizer.ggml.tokens") + struct.pack("<IIQ", 9, 8, 1000) + s("a") + s("b"))
    head = b"GGUF" + struct.pack("<IQQ", version, 2, len(kvs)) + b"".join(kvs)
    for name, off in (("a.weight", 0), ("b.weight", offset2)):
        head += (
            s(name)
            + struct.pack("<I", ndims)
            + struct.pack(f"<{ndims}Q", *[32, 2, 1, 1, 1][:ndims])
        )
        head += struct.pack("<IQ", ttype, off)
    head += bytes(-len(head) % 32)
    data = np.ones(2 * 64, np.float32).tobytes()
    if how == "big-endian":
        head = b"GGUF" + struct.pack(">I", 3) + head[8:]
    if how == "bad magic":
        head = b"GGUX" + head[4:]
    body = head + data
    if how == "truncated data":
        body = body[:-100]
    if how == "truncated header":
        body = body[:40]
    path.write_bytes(body)


CORRUPT = [
    "bad magic",
    "version 1",
    "big-endian",
    "truncated header",
    "truncated data",
    "unknown type",
    "5 dims",
    "overlap",
    "misaligned",
    "duplicate key",
    "short vocabulary",
]


@pytest.mark.parametrize("how", CORRUPT)
def test_corrupt_gguf_is_one_line_exit_2(tmp_path, capsys, how):
    corrupt(tmp_path / "bad.gguf", how)
    before = (tmp_path / "bad.gguf").read_bytes()
    for args in (
        ["quantize", tmp_path / "bad.gguf", "-o", tmp_path / "q.gguf"],
        ["inspect", tmp_path / "bad.gguf"],
    ):
        code, out, err = run(capsys, *args)
        assert code == 2 and out == "", (how, out)
        assert err.startswith("int8q: error: ") and err.count("\n") == 1, err
    assert sorted(os.listdir(tmp_path)) == ["bad.gguf"]
    assert (tmp_path / "bad.gguf").read_bytes() == before


def test_the_hand_written_file_is_valid(tmp_path):
    """The corrupt() fixture without damage is a good GGUF (so each damage is the cause)."""
    corrupt(tmp_path / "ok.gguf", "none")
    quantize_file(tmp_path / "ok.gguf", tmp_path / "q.gguf")
    assert [t.tensor_type for t in gguf.GGUFReader(tmp_path / "q.gguf").tensors] == [T.Q8_0, T.Q8_0]


def bad_values(x):
    x[3, 17] = np.nan
    return x


@pytest.mark.parametrize(
    "case, match",
    [
        ("nan", r"tensor 'blk.0.attn_k.weight': blk.0.attn_k.weight\[3, 17\] is nan"),
        ("f16 overflow", "blk.0.ffn_down.weight.*float16"),
        ("q4_0", "'blk.0.attn_q.weight' is Q4_0"),
        ("same file", "overwrite the input"),
        ("options", "do not apply"),
        ("dequantize", "does not dequantize GGUF"),
    ],
)
def test_errors_exit_2_and_leave_nothing(tmp_path, capsys, case, match):
    src, dst = tmp_path / "m.gguf", tmp_path / "q.gguf"
    extra = None
    if case == "nan":
        extra = {"blk.0.attn_k.weight": bad_values}
    elif case == "f16 overflow":
        extra = {"blk.0.ffn_down.weight": lambda x: x * 1e6}
    if case == "q4_0":
        w = gguf.GGUFWriter(str(src), "llama")
        w.add_tensor("blk.0.attn_q.weight", np.zeros((4, 2 * 18), np.uint8), raw_dtype=T.Q4_0)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    else:
        write_gguf(src, extra=extra)
    before = src.read_bytes()
    args = {
        "same file": ["quantize", src, "-o", src],
        "options": ["quantize", src, "-o", dst, "--block-size", "64"],
        "dequantize": ["dequantize", src, "-o", dst],
    }.get(case, ["quantize", src, "-o", dst])
    code, out, err = run(capsys, *args)
    assert code == 2 and out == ""
    assert err.startswith("int8q: error: ") and err.count("\n") == 1
    assert re.search(match, err), err
    assert sorted(os.listdir(tmp_path)) == ["m.gguf"]
    assert src.read_bytes() == before


def test_format_error_type(tmp_path):
    corrupt(tmp_path / "bad.gguf", "overlap")
    with pytest.raises(FormatError, match="overlaps"):
        quantize_file(tmp_path / "bad.gguf", tmp_path / "q.gguf")


def test_mutated_files_fail_cleanly(tmp_path):
    """Random bytes changed in the header (or the file cut short): quantize
    either succeeds or raises FormatError/ValueError, and leaves nothing."""
    write_gguf(tmp_path / "m.gguf", seed=1)
    good = (tmp_path / "m.gguf").read_bytes()
    header = gguf.GGUFReader(tmp_path / "m.gguf").data_offset
    rng = np.random.default_rng(7)
    outcomes = set()
    for _ in range(80):
        b = bytearray(good)
        for pos in rng.integers(0, header, rng.integers(1, 4)):
            b[pos] = rng.integers(0, 256)
        if rng.random() < 0.2:
            b = b[: rng.integers(0, len(b))]
        (tmp_path / "x.gguf").write_bytes(bytes(b))
        try:
            quantize_file(tmp_path / "x.gguf", tmp_path / "y.gguf")
            outcomes.add("ok")
            os.remove(tmp_path / "y.gguf")
        except ValueError as exc:  # FormatError is a ValueError
            outcomes.add(type(exc).__name__)
            assert "\n" not in str(exc)
        assert sorted(os.listdir(tmp_path)) == ["m.gguf", "x.gguf"]
    assert "FormatError" in outcomes


def test_glm5_next_rules_apply_to_that_architecture_only():
    """llama.cpp keeps GLM-5-next's indexer tensors unquantized, and only its."""
    from int8q.io._policy import _gguf_rules

    name = "blk.0.indexer.proj.weight"
    assert _gguf_rules.allows_quantization(name, (64, 64), "llama")
    assert not _gguf_rules.allows_quantization(name, (64, 64), "glm5-next")


def test_a_header_larger_than_the_limit_is_refused(tmp_path, monkeypatch):
    """The prefix read grows eightfold up to MAX_HEADER_BYTES; a header still
    larger is refused then, not read again at that size."""
    from int8q.io._formats import _gguf_format

    path = tmp_path / "t.gguf"
    write_gguf(path)  # a header of about 1.7 kB
    monkeypatch.setattr(_gguf_format, "FIRST_READ", 16)
    monkeypatch.setattr(_gguf_format, "MAX_HEADER_BYTES", 1024)  # 16 * 8 * 8
    parse, reads = _gguf_format._parse, []

    def counted(buf, *args):
        reads.append(len(buf))
        assert len(reads) <= 10, f"read again and again: {reads}"
        return parse(buf, *args)

    monkeypatch.setattr(_gguf_format, "_parse", counted)
    with pytest.raises(FormatError, match="larger than 1024 bytes"):
        _gguf_format.read_header(str(path))
    assert reads == [16, 128, 1024]
