"""Every reader under hostile input: a FormatError (a ValueError) that names
the file (and the tensor), never another exception, a crash or a huge
allocation; the command line says it in one line and exits 2.

One test per class of input found by the adversarial campaign of issue #14.
"""

import json
import os
import subprocess
import sys
import textwrap
import zipfile
import zlib

import numpy as np
import pytest
from checkpoints import listing, write_raw, write_safetensors, write_sharded
from cli import check_cli
from hostile import (
    BZIP2,
    DEFLATED,
    LZMA,
    deflate,
    deflated_member,
    float_npy,
    npy_bytes,
    npy_of,
    zip_bytes,
)

import int8q.io
from int8q.io import FormatError
from int8q.io._formats import _zip
from int8q.io._support import _limits

HEADER = {"w": {"dtype": "F32", "shape": [2, 2], "data_offsets": [0, 16]}}


def nested(depth):
    return "[" * depth + "]" * depth


def check_refused(path, match, *, call=int8q.io.inspect_file, names=()):
    """`call(path)` raises FormatError naming the file (and `names`)."""
    with pytest.raises(FormatError, match=match) as info:
        call(path)
    message = str(info.value)
    assert os.fspath(path) in message
    assert all(repr(n) in message for n in names), message
    return message


# --- JSON: depth, size, keys, types ------------------------------------------


@pytest.mark.parametrize("depth", [_limits.MAX_JSON_DEPTH + 1, 100_000])
def test_deep_json_in_a_safetensors_header(tmp_path, capsys, depth):
    path = tmp_path / "deep.safetensors"
    write_raw(path, f'{{"x": {nested(depth - 1)}}}'.encode(), b"")
    check_refused(path, "nested")
    check_cli(tmp_path, capsys, "quantize", path, "-o", tmp_path / "out.safetensors")


@pytest.mark.parametrize("depth", [_limits.MAX_JSON_DEPTH + 1, 100_000])
def test_deep_json_in_int8q_metadata(tmp_path, capsys, depth):
    path = tmp_path / "deep.safetensors"
    write_safetensors(
        path,
        {"w": np.zeros((2, 2), np.int8), "w_scale": np.ones((2, 1), np.float32)},
        {"int8q": f'{{"version": 1, "tensors": {nested(depth - 1)}}}'},
    )
    check_refused(path, "nested")
    check_cli(tmp_path, capsys, "dequantize", path, "-o", tmp_path / "out.safetensors")


@pytest.mark.parametrize("depth", [_limits.MAX_JSON_DEPTH + 1, 100_000])
def test_deep_json_in_a_shard_index(tmp_path, capsys, depth):
    index = write_sharded(tmp_path, [{"w": np.ones((2, 2), np.float32)}])
    with open(index, "w") as f:
        f.write(f'{{"weight_map": {{}}, "metadata": {nested(depth)}}}')
    check_refused(index, "nested")
    check_cli(tmp_path, capsys, "inspect", index)


def test_deep_json_in_a_model_folder_config(tmp_path, capsys):
    folder = tmp_path / "model"
    folder.mkdir()
    write_safetensors(folder / "model.safetensors", {"w": np.ones((2, 2), np.float32)})
    (folder / "config.json").write_text(f'{{"a": {nested(100_000)}}}')
    check_refused(folder, "nested")
    check_cli(tmp_path, capsys, "quantize", folder, "-o", tmp_path / "out")


def test_depth_is_counted_outside_strings(tmp_path):
    # Brackets inside names and escapes are text, not nesting.
    name = "[" * 200 + '\\"{{' + "\\\\"
    header = {name: {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}}
    path = tmp_path / "names.safetensors"
    write_raw(path, header, b"\0" * 4)
    assert [r["name"] for r in int8q.io.inspect_file(path)] == [name]


def test_structure_scan_carries_strings_across_chunks(monkeypatch):
    """The JSON depth and key count are the same whatever the scan's chunk
    size: a string (with brackets, colons and escaped quotes in it) may span
    chunks."""
    text = json.dumps({"a:[{": 1, "b": [[2]], 'c\\"{': {"d": 3}}).encode()
    assert _limits._depth_and_keys(text) == (3, 4)
    for chunk in (1, 2, 3, 5, 7):
        monkeypatch.setattr(_limits, "_SCAN_CHUNK", chunk)
        assert _limits._depth_and_keys(text) == (3, 4), chunk


def test_header_size_and_key_limits(tmp_path, monkeypatch):
    path = tmp_path / "m.safetensors"
    write_safetensors(path, {f"t{i}": np.ones(2, np.float32) for i in range(10)})
    monkeypatch.setattr(_limits, "MAX_JSON_KEYS", 39)  # 10 tensors x 4 keys
    check_refused(path, "keys")
    monkeypatch.setattr(_limits, "MAX_JSON_KEYS", 40)
    assert len(int8q.io.inspect_file(path)) == 10
    monkeypatch.setattr(_limits, "MAX_JSON_BYTES", 100)
    check_refused(path, "limit")


def test_output_int8q_could_not_read_back_is_refused(tmp_path, monkeypatch):
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {f"t{i}": np.ones((2, 2), np.float32) for i in range(5)})
    monkeypatch.setattr(_limits, "MAX_JSON_KEYS", 20)  # the input's 5 x 4 keys
    assert len(int8q.io.inspect_file(src)) == 5
    with pytest.raises(FormatError, match="int8q reads at most"):
        int8q.io.quantize_file(src, tmp_path / "q.safetensors")
    assert os.listdir(tmp_path) == ["m.safetensors"]


@pytest.mark.parametrize("metadata", [0, [], False, 1, "x", None, {"a": 1}])
def test_metadata_must_be_an_object_of_strings(tmp_path, metadata):
    path = tmp_path / "m.safetensors"
    write_raw(path, {"__metadata__": metadata, **HEADER}, b"\0" * 16)
    check_refused(path, "__metadata__")


def test_duplicate_keys(tmp_path):
    path = tmp_path / "dup.safetensors"
    entry = json.dumps(HEADER["w"])
    write_raw(path, f'{{"w": {entry}, "w": {entry}}}'.encode(), b"\0" * 16)
    check_refused(path, "duplicate key 'w'")


@pytest.mark.parametrize("shape", [[0, 2**64], [2**62, 2], [0, 2**63, 3], [2**31, 2**31, 2**31]])
def test_shape_whose_size_overflows(tmp_path, capsys, shape):
    path = tmp_path / "huge.safetensors"
    write_raw(path, {"w": {"dtype": "F32", "shape": shape, "data_offsets": [0, 0]}}, b"")
    check_refused(path, "too large", names=["w"])
    check_cli(tmp_path, capsys, "inspect", path)


def test_float64_beyond_float32_is_named(tmp_path):
    path = tmp_path / "big.safetensors"
    x = np.ones((2, 3))
    x[1, 2] = 1e39
    write_safetensors(path, {"w": x})
    with pytest.raises(ValueError, match=r"'w'.*x\[1, 2\] is 1e\+39, which overflows float32"):
        int8q.io.quantize_file(path, tmp_path / "q.safetensors")


# --- .npy headers -------------------------------------------------------------

MALFORMED_NPY = {
    "token error": "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), '''",
    "syntax error": "{'descr': '<f4', 'fortran_order': False, 'shape': (3,), )(",
    "not a dict": "[1, 2, 3]",
    "extra key": "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), 'x': 1}",
    "bad shape": "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}",
    "float shape": "{'descr': '<f4', 'fortran_order': False, 'shape': (1.5,)}",
    "bad descr": "{'descr': '(,)', 'fortran_order': False, 'shape': (1,)}",
    "descr type": "{'descr': 5, 'fortran_order': False, 'shape': (1,)}",
    "object dtype": "{'descr': '|O', 'fortran_order': False, 'shape': (1,)}",
    "fortran type": "{'descr': '<f4', 'fortran_order': 1, 'shape': (1,)}",
    "huge shape": "{'descr': '<f4', 'fortran_order': False, 'shape': (0, 18446744073709551616)}",
    "nested": "{'descr': '<f4', 'fortran_order': False, 'shape': " + "(" * 300 + ")" * 300 + "}",
    "call": "{'descr': __import__('os').getcwd(), 'fortran_order': False, 'shape': (1,)}",
}


@pytest.mark.parametrize("case", sorted(MALFORMED_NPY))
def test_malformed_npy_header(tmp_path, capsys, case):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_bytes(MALFORMED_NPY[case], b"\0" * 16))
    check_refused(path, "x.npy")
    check_cli(tmp_path, capsys, "quantize", path, "-o", tmp_path / "q.npz")
    archive = tmp_path / "x.npz"
    archive.write_bytes(zip_bytes([{"name": "a.npy", "payload": path.read_bytes()}]))
    check_refused(archive, "'a.npy'")


def test_truncated_npy_is_refused_before_reading(tmp_path):
    path = tmp_path / "x.npy"
    path.write_bytes(npy_of((1000,), "<f4", b"\0" * 100))
    check_refused(path, "truncated", call=lambda p: int8q.io.quantize_file(p, tmp_path / "q.npz"))
    assert not (tmp_path / "q.npz").exists()


# --- .npz archives --------------------------------------------------------------

GOOD = float_npy([1.0, -2.0, 0.5])
BIG = float_npy(np.linspace(-1, 1, 5000))


def _archives():
    raw = np.float32([1, 2, 3, 4]).tobytes()
    return {
        "corrupt deflate": [
            {"name": "a.npy", "payload": b"\xff" * 40, "method": DEFLATED, "size": len(GOOD)}
        ],
        "deflate ends early": [
            {"name": "a.npy", "payload": deflate(GOOD)[:-8], "method": DEFLATED, "size": len(GOOD)}
        ],
        "bad crc": [deflated_member("a.npy", GOOD, crc=12345)],
        # the bytes after the array, which only a read past its end meets
        "deflated member longer than its array": [deflated_member("a.npy", GOOD + b"\0" * 8)],
        # larger than zipfile reads ahead with the header (4 KiB), so that
        # int8q's own read of a stored member's data is what must see it
        "bad crc stored": [{"name": "a.npy", "payload": BIG, "crc": zlib.crc32(BIG) ^ 1}],
        "lzma": [{"name": "a.npy", "payload": GOOD, "method": LZMA}],
        "bzip2": [{"name": "a.npy", "payload": GOOD, "method": BZIP2}],
        "unknown method": [{"name": "a.npy", "payload": GOOD, "method": 99}],
        "encrypted": [{"name": "a.npy", "payload": GOOD, "flags": 0x1}],
        "strong encryption": [{"name": "a.npy", "payload": GOOD, "flags": 0x41}],
        "patched data": [{"name": "a.npy", "payload": GOOD, "flags": 0x20}],
        "duplicate member": [
            {"name": "a.npy", "payload": GOOD},
            {"name": "a.npy", "payload": GOOD},
        ],
        "overlapping members": [
            {"name": "a.npy", "payload": GOOD},
            {"name": "b.npy", "payload": GOOD, "offset": 0},
        ],
        "declared size lies": [{"name": "a.npy", "payload": GOOD, "size": len(GOOD) + 4}],
        "array larger than member": [{"name": "a.npy", "payload": npy_of((8,), "<f4", raw)}],
        "zip bomb ratio": [
            {
                "name": "a.npy",
                "payload": deflate(npy_of((1 << 28,))),
                "method": DEFLATED,
                "size": len(npy_of((1 << 28,))) + (1 << 30),
            }
        ],
        "metadata scale not a name": [
            {"name": "w.npy", "payload": npy_of((2,), "|i1", b"\1\2")},
            {"name": "w_scale.npy", "payload": float_npy(1.0)},
            {
                "name": "__int8q__.npy",
                "payload": npy_bytes(
                    "{'descr': '<U97', 'fortran_order': False, 'shape': (), }",
                    json.dumps(
                        {
                            "version": 1,
                            "tensors": {
                                "w": {"scheme": "per_tensor", "dtype": "float32", "scale": 5}
                            },
                        }
                    )
                    .ljust(97)
                    .encode("utf-32-le"),
                ),
            },
        ],
        "odd metadata dtype": [
            {"name": "w.npy", "payload": npy_of((2,), "|i1", b"\1\2")},
            {"name": "w_scale.npy", "payload": float_npy(1.0)},
            {
                "name": "__int8q__.npy",
                "payload": npy_bytes(
                    "{'descr': '<U97', 'fortran_order': False, 'shape': (), }",
                    json.dumps(
                        {
                            "version": 1,
                            "tensors": {
                                "w": {"scheme": "per_tensor", "dtype": "(,)", "scale": "w_scale"}
                            },
                        }
                    )
                    .ljust(97)
                    .encode("utf-32-le"),
                ),
            },
        ],
    }


@pytest.mark.parametrize("case", sorted(_archives()))
def test_hostile_npz(tmp_path, capsys, case):
    path = tmp_path / "x.npz"
    path.write_bytes(zip_bytes(_archives()[case]))
    before = listing(tmp_path)
    check_refused(
        path, None, call=lambda p: int8q.io.quantize_file(p, tmp_path / "q.npz", all_tensors=True)
    )
    check_refused(path, None, call=lambda p: int8q.io.dequantize_file(p, tmp_path / "d.npz"))
    try:  # inspect reads headers only: it may not meet the damage
        int8q.io.inspect_file(path)
    except FormatError as exc:
        assert os.fspath(path) in str(exc)
    assert listing(tmp_path) == before
    check_cli(tmp_path, capsys, "quantize", path, "-o", tmp_path / "q.npz", "--all")


@pytest.mark.parametrize("zip64", [False, True])
def test_archive_directory_is_sized_before_it_is_read(tmp_path, monkeypatch, zip64):
    path = tmp_path / "many.npz"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(5):
            with zf.open(f"a{i}.npy", "w", force_zip64=zip64) as m:
                m.write(GOOD)
    if zip64:  # a ZIP64 end record too, as zipfile writes past 65535 members
        monkeypatch.setattr(zipfile, "ZIP_FILECOUNT_LIMIT", 2)
        with zipfile.ZipFile(path, "a") as zf:
            zf.writestr("a5.npy", GOOD)
        monkeypatch.undo()
    assert len(int8q.io.inspect_file(path)) == (6 if zip64 else 5)
    monkeypatch.setattr(_zip, "MAX_MEMBERS", 4)
    check_refused(path, "members")
    monkeypatch.setattr(_zip, "MAX_MEMBERS", 10)
    monkeypatch.setattr(_zip, "MAX_DIRECTORY_BYTES", 100)
    check_refused(path, f"declares {6 if zip64 else 5} members")


def test_hand_built_archives_are_valid_when_honest(tmp_path):
    # The builder itself is right: honest stored and deflated members load.
    path = tmp_path / "ok.npz"
    path.write_bytes(
        zip_bytes([{"name": "a.npy", "payload": GOOD}, deflated_member("b.npy", GOOD)])
    )
    rows = int8q.io.inspect_file(path)
    assert [(r["name"], r["shape"]) for r in rows] == [("a", (3,)), ("b", (3,))]
    int8q.io.quantize_file(path, tmp_path / "q.npz", all_tensors=True)
    with np.load(tmp_path / "q.npz") as z:
        assert z["b"].tolist() == [64, -127, 32]


BOMB = textwrap.dedent("""
    import sys
    import int8q.io
    for path in sys.argv[1:]:
        try:
            int8q.io.quantize_file(path, path + ".q.npz", all_tensors=True)
        except ValueError as exc:
            pass
        else:
            raise SystemExit(f"{path} accepted")
    # VmHWM: this process's peak RSS (ru_maxrss would include the parent's
    # at fork: Linux keeps it across exec).
    with open("/proc/self/status") as f:
        print(next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")))
""")


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="VmHWM is Linux's")
def test_zip_bombs_stay_small(tmp_path):
    """Archives of about 1 MiB that claim or inflate to gigabytes: refused
    without ever holding more than a few MiB."""
    gib = 1 << 30
    big = npy_of((gib // 4,))
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    # Header and ZIP agree on 1 GiB (and 1 MiB of compressed data could hold
    # it), but the stream ends after 9 MiB: reading stops there.
    short = (
        c.compress(big)
        + c.compress(b"\0" * (8 << 20))
        + c.compress(np.random.default_rng(0).bytes(1 << 20))
        + c.flush(zlib.Z_SYNC_FLUSH)
    )
    kernel = deflated_member("a.npy", float_npy(np.zeros(1 << 20)))
    mismatch = float_npy([0] * 4) + b"\0" * (64 << 20)
    files = {
        "short.npz": [
            {"name": "a.npy", "payload": short, "method": DEFLATED, "size": len(big) + gib}
        ],
        # The stream inflates to 64 MiB, the .npy header holds 16 bytes:
        # refused before inflating.
        "mismatch.npz": [deflated_member("a.npy", mismatch)],
        # 200 members sharing one deflated kernel (an overlapping zip bomb).
        "overlap.npz": [kernel] + [{**kernel, "name": f"{i}.npy", "offset": 0} for i in range(200)],
    }
    paths = []
    for name, members in files.items():
        (tmp_path / name).write_bytes(zip_bytes(members))
        assert (tmp_path / name).stat().st_size < 2 << 20
        paths.append(str(tmp_path / name))
    done = subprocess.run(
        [sys.executable, "-c", BOMB, *paths],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    # The interpreter with NumPy and int8q is about 35 MiB; a GiB would show.
    assert int(done.stdout) < 150 * 1024, f"peak RSS {int(done.stdout) // 1024} MiB"
    assert sorted(os.listdir(tmp_path)) == sorted(files)


# --- inputs that change while they are read -------------------------------------

SHRINK = textwrap.dedent("""
    import os, sys
    import int8q.io
    from int8q.io._policy import _convention
    from int8q.io._support import _pipeline
    path = sys.argv[1]
    # One tensor in flight: the next is read only once this one is written,
    # so after the cut below (not before it, as reading ahead could).
    _pipeline.BUDGET = 1
    quantize = _convention.quantize

    def shrink_then_quantize(*args):
        # The first tensor is in hand: cut the file under the reader's feet.
        with open(path, "r+b") as f:
            f.truncate(os.path.getsize(path) // 2)
        _convention.quantize = quantize
        return quantize(*args)

    _convention.quantize = shrink_then_quantize
    if path.endswith(".gguf"):
        from int8q import ggml
        q8_0 = ggml.quantize_q8_0

        def shrink_then_q8_0(*args):
            with open(path, "r+b") as f:
                f.truncate(os.path.getsize(path) // 2)
            ggml.quantize_q8_0 = q8_0
            return q8_0(*args)

        ggml.quantize_q8_0 = shrink_then_q8_0
    out = path + (".out.npz" if path.endswith(".npy") else ".out" + os.path.splitext(path)[1])
    try:
        int8q.io.quantize_file(path, out)
    except ValueError as exc:
        print("error:", exc)
    else:
        print("ok")
""")


@pytest.mark.skipif(os.name != "posix", reason="SIGBUS is POSIX's; Windows locks open files")
@pytest.mark.parametrize("name", ["m.safetensors", "m.npy", "m.gguf"])
def test_input_truncated_while_read_is_an_error_not_sigbus(tmp_path, name):
    """Clean error or correct result; before #14 a mapped input died of SIGBUS."""
    path = tmp_path / name
    x = np.random.default_rng(0).standard_normal((512, 1024)).astype(np.float32)
    if name.endswith(".npy"):
        np.save(path, x)
    elif name.endswith(".gguf"):
        gguf = pytest.importorskip("gguf")
        w = gguf.GGUFWriter(str(path), "llama")
        w.add_tensor("blk.0.attn_q.weight", x)
        w.add_tensor("blk.0.attn_k.weight", x)
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    else:
        write_safetensors(path, {"a": x, "b": x})
    done = subprocess.run(
        [sys.executable, "-c", SHRINK, str(path)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert done.returncode == 0, (done.returncode, done.stderr[-2000:])
    if not name.endswith(".npy"):  # the second tensor lies past the cut
        assert done.stdout.startswith("error:") and "ended after" in done.stdout, done.stdout
        assert os.listdir(tmp_path) == [name]
    else:  # read whole before the cut: a correct result
        assert done.stdout.strip() == "ok"
        with np.load(str(path) + ".out.npz") as z:
            q = z["q"]
        from int8q import reference

        assert np.array_equal(q, reference.quantize(x, axis=0)[0])


def test_metadata_scale_that_is_not_a_name_is_named_as_such(tmp_path):
    path = tmp_path / "x.npz"
    path.write_bytes(zip_bytes(_archives()["metadata scale not a name"]))
    check_refused(
        path,
        "corrupt int8q metadata for tensor 'w'",
        call=lambda p: int8q.io.dequantize_file(p, tmp_path / "d.npz"),
    )
