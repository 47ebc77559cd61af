"""Outputs of `int8q quantize/dequantize`: named for the container written,
never replacing anything without --force, replaced atomically with it, and
no temporary path in any message (docs/semantics.md §8)."""

import os

import numpy as np
import pytest
from checkpoints import listing, read_safetensors, write_safetensors, write_sharded
from cli import run_cli
from hf_folders import make_folder, tiny_tensors

import int8q.io
from int8q.io import FormatError


def one_line_error(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    assert ".tmp" not in proc.stderr and "int8q-" not in proc.stderr, proc.stderr
    return proc.stderr


def w(seed=0):
    return np.random.default_rng(seed).standard_normal((6, 8)).astype(np.float32)


@pytest.fixture
def inputs(tmp_path):
    """One input per container: {container: (path, a well-named output)}."""
    d = tmp_path / "in"
    d.mkdir()
    write_safetensors(d / "m.safetensors", {"w": w()})
    np.save(d / "x.npy", w())
    np.savez(d / "a.npz", w=w())
    write_sharded(d / "ckpt", [{"a": w()}, {"b": w(1)}])
    make_folder(d / "model", tiny_tensors(np.random.default_rng(0)))
    return {
        "safetensors": (d / "m.safetensors", "q.safetensors"),
        "npy": (d / "x.npy", "q.npz"),
        "npz": (d / "a.npz", "q.npz"),
        "sharded": (d / "ckpt", "q"),
        "hf": (d / "model", "q"),
    }


WRONG = {
    "safetensors": ["q.npz", "q.gguf", "q", "q.SAFETENSORS.bak"],
    "npy": ["q.npy", "q.safetensors", "q"],
    "npz": ["q.safetensors", "q.npy", "q"],
    "sharded": ["q.safetensors", "q.npz", "q.index.json"],
    "hf": ["q.safetensors", "m.gguf", "q.npz"],
}
EXPECTED = {
    "safetensors": ".safetensors",
    "npy": ".npz",
    "npz": ".npz",
    "sharded": "folder",
    "hf": "folder",
}


@pytest.mark.parametrize("container", sorted(WRONG))
def test_quantize_output_suffix_must_match_the_container(tmp_path, inputs, container):
    src, good = inputs[container]
    for name in WRONG[container]:
        before = listing(tmp_path)
        err = one_line_error(run_cli("quantize", src, "-o", tmp_path / name, cwd=tmp_path))
        assert EXPECTED[container] in err, err
        assert listing(tmp_path) == before, name  # nothing made under the wrong name
    proc = run_cli("quantize", src, "-o", tmp_path / good, "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert int8q.io.detect_format(tmp_path / good) in (container, "npz")


def test_gguf_output_suffix(tmp_path):
    pytest.importorskip("gguf")
    from gguf_files import write_gguf

    write_gguf(tmp_path / "m.gguf")
    for name in ("q.safetensors", "q.npz", "q"):
        err = one_line_error(
            run_cli("quantize", tmp_path / "m.gguf", "-o", tmp_path / name, cwd=tmp_path)
        )
        assert ".gguf suffix" in err
        assert not (tmp_path / name).exists()
    proc = run_cli("quantize", tmp_path / "m.gguf", "-o", tmp_path / "q.GGUF", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr  # any case
    assert int8q.io.inspect_file(tmp_path / "q.GGUF")[0]["dtype"] in ("Q8_0", "F32", "F16")


def test_dequantize_output_suffix(tmp_path, inputs):
    cases = {
        "safetensors": ("back.safetensors", ["back.npz", "back"]),
        "npy": ("back.npy", ["back.npz", "back.safetensors"]),  # an .npz made from a .npy
        "npz": ("back.npz", ["back.npy", "back"]),
        "hf": ("back", ["back.safetensors"]),
        "sharded": ("back", ["back.safetensors"]),
    }
    for container, (good, wrong) in cases.items():
        src, q = inputs[container]
        q = tmp_path / container / q
        q.parent.mkdir()
        assert run_cli("quantize", src, "-o", q, "-q", cwd=tmp_path).returncode == 0
        for name in wrong:
            before = listing(tmp_path)
            err = one_line_error(run_cli("dequantize", q, "-o", q.parent / name, cwd=tmp_path))
            assert "suffix" in err, err
            assert listing(tmp_path) == before
        proc = run_cli("dequantize", q, "-o", q.parent / good, "-q", cwd=tmp_path)
        assert proc.returncode == 0, (container, proc.stderr)


@pytest.mark.parametrize("container", ["safetensors", "npz", "sharded", "hf"])
def test_existing_output_needs_force_and_is_replaced(tmp_path, inputs, container):
    src, good = inputs[container]
    dst = tmp_path / good
    if container in ("sharded", "hf"):
        dst.mkdir()
        (dst / "keep.txt").write_text("old")
    else:
        dst.write_bytes(b"old")
    before = listing(tmp_path)
    err = one_line_error(run_cli("quantize", src, "-o", dst, cwd=tmp_path))
    assert "--force" in err and str(dst) in err
    assert listing(tmp_path) == before
    assert (dst / "keep.txt" if dst.is_dir() else dst).read_bytes() == b"old"

    proc = run_cli("quantize", src, "-o", dst, "--force", "-q", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert not (dst / "keep.txt").exists() if container in ("sharded", "hf") else True
    assert int8q.io.detect_format(dst) in (container, "npz")
    assert sorted(os.listdir(tmp_path)) == sorted(["in", good])  # no temporary left beside


def test_failed_force_leaves_the_old_output(tmp_path):
    nan = tmp_path / "nan.safetensors"
    write_safetensors(nan, {"w": np.array([[1.0, np.nan]], np.float32)})
    dst = tmp_path / "q.safetensors"
    dst.write_bytes(b"old")
    err = one_line_error(run_cli("quantize", nan, "-o", dst, "--force", cwd=tmp_path))
    assert "nan" in err.lower()
    assert dst.read_bytes() == b"old"
    # a folder: the old one stays whole
    t = tiny_tensors(np.random.default_rng(0))
    t["layers.0.mlp.up.weight"][0, 0] = np.inf
    src = make_folder(tmp_path / "model", t)
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "keep.txt").write_text("old")
    before = listing(tmp_path)
    one_line_error(run_cli("quantize", src, "-o", tmp_path / "out", "--force", cwd=tmp_path))
    assert listing(tmp_path) == before


def test_force_never_replaces_the_input_or_a_folder_holding_it(tmp_path, inputs):
    src, _ = inputs["hf"]
    for dst in (src, src.parent):
        before = listing(tmp_path)
        err = one_line_error(run_cli("quantize", src, "-o", dst, "--force", cwd=tmp_path))
        assert "input" in err
        assert listing(tmp_path) == before
    src, _ = inputs["safetensors"]
    one_line_error(run_cli("quantize", src, "-o", src, "--force", cwd=tmp_path))
    # a directory where a file goes, even with --force
    (tmp_path / "d.safetensors").mkdir()
    err = one_line_error(
        run_cli("quantize", src, "-o", tmp_path / "d.safetensors", "--force", cwd=tmp_path)
    )
    assert "directory" in err


def test_no_temporary_path_in_messages(tmp_path, inputs):
    src, _ = inputs["safetensors"]
    # a trailing slash: the name of a folder, not of the output file
    err = one_line_error(run_cli("quantize", src, "-o", f"{tmp_path}/outdir/", cwd=tmp_path))
    assert ".safetensors" in err
    if os.name == "posix" and os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            err = one_line_error(
                run_cli("quantize", src, "-o", locked / "q.safetensors", cwd=tmp_path)
            )
            assert str(locked) in err
        finally:
            locked.chmod(0o700)


def test_atomic_errors_name_the_target(tmp_path):
    """An OSError raised while an output is written names the output, never
    the temporary name it is written under (checked at the source, as root
    can write anywhere)."""
    from int8q.io._support import _atomic

    dst = tmp_path / "out.safetensors"
    with pytest.raises(OSError) as caught:
        with _atomic.output_file(str(dst)):
            raise OSError(28, "No space left on device", str(_atomic._temporary_name(str(dst))))
    assert caught.value.filename == str(dst) and "int8q-" not in str(caught.value)
    with pytest.raises(OSError) as caught:
        with _atomic.output_dir(str(tmp_path / "folder")) as tmp:
            raise OSError(13, "Permission denied", os.path.join(tmp, "model.safetensors"))
    assert caught.value.filename == str(tmp_path / "folder" / "model.safetensors")
    assert sorted(os.listdir(tmp_path)) == []


def test_api_force(tmp_path):
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"w": w()})
    dst = tmp_path / "q.safetensors"
    int8q.io.quantize_file(src, dst)
    with pytest.raises(FormatError, match="force=True"):
        int8q.io.quantize_file(src, dst, per_tensor=True)
    int8q.io.quantize_file(src, dst, per_tensor=True, force=True)
    assert read_safetensors(dst)[0]["w_scale"].shape == ()
    back = tmp_path / "b.safetensors"
    int8q.io.dequantize_file(dst, back)
    with pytest.raises(FormatError, match="force=True"):
        int8q.io.dequantize_file(dst, back)
    int8q.io.dequantize_file(dst, back, force=True)


def test_folder_replaced_in_one_step(tmp_path):
    """With --force a folder output is swapped with the old one; the old
    one's files are gone afterwards and nothing is left beside."""
    from int8q.io._support import _atomic

    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "old.txt").write_text("old")
    with _atomic.output_dir(str(tmp_path / "out")) as tmp:
        (tmp_path / tmp / "new.txt").write_text("new")
        assert (tmp_path / "out" / "old.txt").read_text() == "old"  # untouched until complete
    assert os.listdir(tmp_path / "out") == ["new.txt"]
    assert os.listdir(tmp_path) == ["out"]
