"""Text in files is decoded strictly: invalid code points and lone surrogates
in an .npz unicode member, in a safetensors ``__metadata__`` and in GGUF
strings are a FormatError (one line from the command line), never a
SystemError or a string int8q could not write back."""

import io
import json
import os
import shutil
import tempfile
import zipfile

import numpy as np
import pytest
from cli import check_cli
from file_seeds import SEEDS, gguf_seed, in_folder, metadata_seed, run_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import int8q.io
from int8q.io import FormatError
from int8q.io._formats._npyheader import text_from

FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
# Code points no str may hold (beyond U+10FFFF, NumPy's SystemError) and
# surrogates (no UTF-8 or UTF-32 encoding has them).
BAD_CODE_POINTS = [0x110000, 0xFFFFFFFF, 0x7FFFFFFF, 0xD800, 0xDBFF, 0xDC00, 0xDFFF]


def _npz_with_member(member_bytes):
    """The quantized .npz seed with its __int8q__ member's .npy replaced."""
    src = zipfile.ZipFile(io.BytesIO(SEEDS["npz quantized"][1]))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as out:
        for info in src.infolist():
            data = member_bytes if info.filename == "__int8q__.npy" else src.read(info)
            out.writestr(info.filename, data)
    return buf.getvalue()


def _unicode_npy(code_points, order="<"):
    """A 0-d U array holding exactly these UTF-32 code units (no check)."""
    raw = np.array(code_points, dtype=order + "u4").tobytes()
    a = np.frombuffer(raw, dtype=f"{order}U{len(code_points)}").reshape(())
    buf = io.BytesIO()
    np.lib.format.write_array(buf, a, allow_pickle=False)
    return buf.getvalue()


def _meta_code_points():
    src = zipfile.ZipFile(io.BytesIO(SEEDS["npz quantized"][1]))
    text = str(np.load(io.BytesIO(src.read("__int8q__.npy")))[()])
    return [ord(c) for c in text]


@pytest.mark.parametrize("bad", BAD_CODE_POINTS)
@pytest.mark.parametrize("order", ["<", ">"])
def test_npz_metadata_with_invalid_code_point(tmp_path, capsys, bad, order):
    path = tmp_path / "q.npz"
    path.write_bytes(_npz_with_member(_unicode_npy([bad], order)))
    for call in (int8q.io.inspect_file, lambda p: int8q.io.dequantize_file(p, tmp_path / "d.npz")):
        with pytest.raises(FormatError, match="__int8q__") as info:
            call(path)
        assert str(path) in str(info.value)
    check_cli(tmp_path, capsys, "inspect", path)
    check_cli(tmp_path, capsys, "dequantize", path, "-o", tmp_path / "d.npz")


def test_npz_metadata_valid_in_either_byte_order(tmp_path):
    for order in "<>":
        path = tmp_path / f"q{order == '>'}.npz"
        path.write_bytes(_npz_with_member(_unicode_npy(_meta_code_points(), order)))
        int8q.io.dequantize_file(path, tmp_path / f"d{order == '>'}.npz")
        assert {r["name"] for r in int8q.io.inspect_file(tmp_path / f"d{order == '>'}.npz")} == {
            "w",
            "h",
            "b",
            "ids",
        }


@FUZZ
@given(st.data())
def test_mutated_npz_metadata_code_points(data):
    """The metadata text with code points replaced by hostile ones: an error
    or (never, for these) a result, under the parsers' invariant."""
    # The text with some code points replaced, or a short text of them only
    # (NumPy's SystemError came from a one-character member).
    points = (
        _meta_code_points() if data.draw(st.booleans()) else [0x20] * data.draw(st.integers(1, 3))
    )
    for _ in range(data.draw(st.integers(1, 3))):
        i = data.draw(st.integers(0, len(points) - 1))
        points[i] = data.draw(
            st.sampled_from(BAD_CODE_POINTS)
            | st.integers(0xD800, 0xDFFF)
            | st.integers(0x110000, 2**32 - 1)
        )
    raw = _npz_with_member(_unicode_npy(points, data.draw(st.sampled_from("<>"))))
    in_folder("in.npz", raw, _refused_by_all)


def _refused_by_all(folder, path):
    run_all(folder, path)  # the invariant: ValueError, nothing left, no crash
    with pytest.raises(FormatError):
        int8q.io.dequantize_file(path, os.path.join(folder, "d.npz"))


def test_text_from_is_the_checked_decode():
    assert text_from(np.array("héllo\U0001f600"), "f", "m") == "héllo\U0001f600"
    assert text_from(np.array(b"abc"), "f", "m") == "abc"
    assert text_from(np.array("x", dtype=">U4"), "f", "m") == "x"
    for bad in (
        np.frombuffer(b"\xff\xff\xff\xff", "<U1").reshape(()),
        np.frombuffer(b"\x00\xd8\x00\x00", "<U1").reshape(()),
        np.array(b"\xff\xfe"),
        np.array(b"\xed\xa0\x80"),  # a surrogate in UTF-8
    ):
        with pytest.raises(FormatError, match="'m' is not valid text"):
            text_from(bad, "f", "m")
    with pytest.raises(FormatError):
        text_from(np.array(["a", "b"]), "f", "m")


def _safetensors_with_metadata(metadata_json):
    """The quantized safetensors seed with its __metadata__ object replaced by
    raw JSON text (escapes kept as written)."""
    header, body = metadata_seed()
    header = dict(header)
    del header["__metadata__"]
    text = json.dumps(header)[:-1] + ', "__metadata__": ' + metadata_json + "}"
    blob = text.encode("utf-8", "surrogatepass")
    blob += b" " * (-len(blob) % 8)
    return len(blob).to_bytes(8, "little") + blob + body


def _escaped(cp):
    return f"\\u{cp:04x}"


@pytest.mark.parametrize("where", ["int8q value", "other value", "other key"])
@pytest.mark.parametrize("cp", [0xD800, 0xDFFF, 0xDBFF])
def test_safetensors_metadata_lone_surrogate_escape(tmp_path, capsys, where, cp):
    meta = metadata_seed()[0]["__metadata__"]
    text = json.dumps(meta["int8q"])
    if where == "int8q value":
        metadata = '{"int8q": ' + text[:-1] + _escaped(cp) + '"}'
    elif where == "other value":
        metadata = '{"int8q": ' + text + ', "note": "a' + _escaped(cp) + '"}'
    else:
        metadata = '{"int8q": ' + text + ', "k' + _escaped(cp) + '": "v"}'
    path = tmp_path / "in.safetensors"
    path.write_bytes(_safetensors_with_metadata(metadata))
    with pytest.raises(FormatError, match="surrogate|not valid|UTF-8"):
        int8q.io.inspect_file(path)
    check_cli(tmp_path, capsys, "inspect", path)


@pytest.mark.parametrize("raw", [b"\xed\xa0\x80", b"\xff", b"\xc0\x80", b"\xf4\x90\x80\x80"])
def test_safetensors_metadata_invalid_utf8(tmp_path, capsys, raw):
    meta = metadata_seed()[0]["__metadata__"]
    blob = _safetensors_with_metadata('{"int8q": ' + json.dumps(meta["int8q"]) + ', "n": "X"}')
    path = tmp_path / "in.safetensors"
    path.write_bytes(blob.replace(b'"X"', b'"' + raw + b'"'))
    with pytest.raises(FormatError):
        int8q.io.inspect_file(path)
    check_cli(tmp_path, capsys, "inspect", path)


@FUZZ
@given(st.data())
def test_mutated_safetensors_metadata_code_points(data):
    meta = metadata_seed()[0]["__metadata__"]
    text = json.dumps(meta["int8q"])  # a JSON string literal
    at = data.draw(st.integers(1, len(text) - 1))
    cp = data.draw(st.integers(0xD800, 0xDFFF))
    mutated = text[:at] + _escaped(cp) + text[at:]
    if text[at - 1] == "\\":  # inside an escape: shift past it
        mutated = text[: at + 1] + _escaped(cp) + text[at + 1 :]
    raw = _safetensors_with_metadata('{"int8q": ' + mutated + "}")
    in_folder("in.safetensors", raw, run_all)


def _gguf_with(old, new):
    pytest.importorskip("gguf")
    raw = gguf_seed()
    assert raw.count(old) >= 1 and len(old) == len(new)
    return raw.replace(old, new, 1)


GGUF_BAD = [b"\xed\xa0\x80", b"\xed\xbf\xbf", b"\xff\xfe\xfd", b"\xf4\x90\x80"]


@pytest.mark.parametrize("bad", GGUF_BAD)
@pytest.mark.parametrize("field", [b"llama.block_count", b"blk.0.attn_q.weight", b"llama\x00"])
def test_gguf_strings_invalid_utf8(tmp_path, capsys, bad, field):
    if field == b"llama\x00":  # the architecture value: "llama" then the next field
        old = b"llama"
        new = bad + b"a" * (5 - len(bad))
    else:
        old = field
        new = field[:2] + bad + field[2 + len(bad) :]
    path = tmp_path / "in.gguf"
    path.write_bytes(_gguf_with(old, new))
    folder = tempfile.mkdtemp()
    try:
        shutil.copy(path, os.path.join(folder, "in.gguf"))
        run_all(folder, os.path.join(folder, "in.gguf"))
    finally:
        shutil.rmtree(folder)
    with pytest.raises(FormatError, match="UTF-8"):
        int8q.io.inspect_file(path)
    check_cli(tmp_path, capsys, "inspect", path)
