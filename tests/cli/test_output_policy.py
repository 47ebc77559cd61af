"""Every path the command writes goes through one policy: never an input,
never an existing path without --force, all checked before anything is
written, and `quantize -o OUT --report FILE` writes both or neither."""

import json
import os
import signal

import numpy as np
import pytest
from checkpoints import listing, write_safetensors, write_sharded
from cli import run, run_cli
from processes import posix_only, start_and_catch_writing


def strict_json(text):
    """json.loads that refuses Infinity, -Infinity and NaN (not JSON)."""

    def refuse(name):
        raise ValueError(f"not JSON: {name}")

    return json.loads(text, parse_constant=refuse)


def one_line_error(code, out, err):
    assert code == 2, (code, err)
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err, err
    assert ".tmp" not in err and "int8q-" not in err, err
    return err


@pytest.fixture
def w(tmp_path):
    path = tmp_path / "w.npy"
    np.save(path, np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32))
    return path


def test_report_never_overwrites_the_input(tmp_path, w, capsys):
    before = w.read_bytes()
    err = one_line_error(*run(capsys, "quantize", w, "-o", tmp_path / "q.npz", "--report", w))
    assert "the report would overwrite the input" in err
    assert w.read_bytes() == before
    assert listing(tmp_path) == ["w.npy"]  # nor the output, nor a temporary
    # not even with --force, nor through another spelling of the same path
    other = tmp_path / "." / "w.npy"
    code, _, _ = run(capsys, "quantize", w, "-o", tmp_path / "q.npz", "--report", other, "--force")
    assert code == 2 and w.read_bytes() == before


@pytest.mark.parametrize("name", ["model-00001-of-00002.safetensors", "r.json"])
def test_report_never_replaces_a_file_of_an_input_folder(tmp_path, capsys, name):
    """A shard is input too, even with --force; a new file beside it is not."""
    ckpt = tmp_path / "ckpt"
    write_sharded(ckpt, [{"a": np.ones((4, 4), np.float32)}, {"b": np.ones((4, 4), np.float32)}])
    shard = ckpt / "model-00001-of-00002.safetensors"
    assert shard.exists()
    (ckpt / "r.json").write_text("a file of the input folder")
    before, listed = shard.read_bytes(), listing(tmp_path)
    args = ("quantize", ckpt, "-o", tmp_path / "q", "--report", ckpt / name, "--force")
    err = one_line_error(*run(capsys, *args))
    assert "would overwrite a file of the input folder" in err
    assert shard.read_bytes() == before and listing(tmp_path) == listed
    (ckpt / "r.json").unlink()
    args = ("quantize", ckpt, "-o", tmp_path / "q2", "--report", ckpt / "new.json", "-q")
    assert run(capsys, *args)[0] == 0
    assert (ckpt / "new.json").exists() and (tmp_path / "q2").is_dir()


def test_existing_report_needs_force(tmp_path, w, capsys):
    report, out = tmp_path / "r.json", tmp_path / "q.npz"
    report.write_text("keep me")
    err = one_line_error(*run(capsys, "quantize", w, "-o", out, "--report", report))
    assert "the report exists" in err and "--force" in err
    assert report.read_text() == "keep me"
    assert not out.exists()  # checked before the output was written
    code, _, err = run(capsys, "quantize", w, "-o", out, "--report", report, "--force", "-q")
    assert code == 0, err
    assert strict_json(report.read_text())["summary"]["tensors"] == 1
    assert out.exists()


def test_report_naming_a_folder_leaves_no_output(tmp_path, w, capsys):
    (tmp_path / "d").mkdir()
    out = tmp_path / "q.npz"
    err = one_line_error(*run(capsys, "quantize", w, "-o", out, "--report", tmp_path / "d"))
    assert "the report is a directory" in err
    assert listing(tmp_path) == ["d", "w.npy"]


def test_report_and_output_at_the_same_path(tmp_path, w, capsys):
    out = tmp_path / "q.npz"
    err = one_line_error(*run(capsys, "quantize", w, "-o", out, "--report", out, "--force"))
    assert "name the same path" in err
    assert listing(tmp_path) == ["w.npy"]


@pytest.mark.parametrize("old_output", [False, True])
def test_a_report_that_fails_leaves_neither(tmp_path, w, capsys, monkeypatch, old_output):
    """The output takes its place only once the report is written."""
    out, report = tmp_path / "q.npz", tmp_path / "r.json"
    if old_output:
        out.write_bytes(b"the old output")

    def fail(original, quantized):
        raise OSError(28, "No space left on device", str(report))

    import int8q.cli._files  # (a module of the package int8q.cli)

    monkeypatch.setattr(int8q.cli._files, "report_text", fail)
    args = ("quantize", w, "-o", out, "--report", report, "--force")
    err = one_line_error(*run(capsys, *args))
    assert "No space left" in err
    expected = ["q.npz", "w.npy"] if old_output else ["w.npy"]
    assert listing(tmp_path) == expected
    if old_output:
        assert out.read_bytes() == b"the old output"


def test_a_failed_quantize_with_report_names_the_output(tmp_path, capsys):
    """Errors met while writing the staged output name OUT, never a temporary path."""
    src = tmp_path / "nan.npy"
    np.save(src, np.array([[1.0, np.nan]], np.float32))
    args = ("quantize", src, "-o", tmp_path / "q.npz", "--report", tmp_path / "r.json")
    err = one_line_error(*run(capsys, *args))
    assert "NaN" in err or "nan" in err.lower()
    assert listing(tmp_path) == ["nan.npy"]


def test_plot_never_overwrites_the_input_nor_an_existing_file(tmp_path, w, capsys):
    pytest.importorskip("matplotlib")
    q = tmp_path / "q.npz"
    assert run(capsys, "quantize", w, "-o", q, "-q")[0] == 0
    before = w.read_bytes()
    plot = tmp_path / "w.png"
    plot.write_bytes(b"old plot")
    err = one_line_error(*run(capsys, "compare", w, q, "--plot", plot))
    assert "the plot exists" in err and plot.read_bytes() == b"old plot"
    code, _, err = run(capsys, "compare", w, q, "--plot", plot, "--force")
    assert code == 0, err
    assert plot.read_bytes().startswith(b"\x89PNG")
    err = one_line_error(*run(capsys, "compare", w, q, "--plot", q, "--force"))
    assert "the plot would overwrite the input" in err
    assert w.read_bytes() == before


def test_dict_form_json_has_no_infinity():
    """127 * (max float64 / 127) rounds past the largest float64: written as null."""
    proc = run_cli("quantize", "1.7976931348623157e308", "-1", cwd=".")
    assert proc.returncode == 0, proc.stderr
    data = strict_json(proc.stdout)
    assert data["dequantized"][0] is None and data["quantized"] == [127, 0]


def test_compare_and_report_json_have_no_infinity(tmp_path, capsys):
    src, q, report = tmp_path / "z.npy", tmp_path / "z.npz", tmp_path / "r.json"
    np.save(src, np.zeros((4, 8), np.float32))  # exact: SQNR infinite
    code, out, err = run(capsys, "quantize", src, "-o", q, "--report", report, "--json")
    assert code == 0, err
    strict_json(out)
    assert strict_json(report.read_text())["tensors"][0]["sqnr_db"] is None
    code, out, _ = run(capsys, "compare", src, q, "--json", "--min-sqnr", "inf")
    assert code == 0
    assert strict_json(out)["summary"]["min_sqnr_threshold_db"] is None
    code, out, _ = run(capsys, "inspect", q, "--json")
    assert code == 0 and strict_json(out)


@posix_only
def test_sigterm_during_quantize_with_report_leaves_neither(tmp_path):
    src = tmp_path / "in" / "m.safetensors"
    src.parent.mkdir()
    x = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    write_safetensors(src, {"a": x, "b": x})
    out = tmp_path / "out"
    out.mkdir()
    args = ["quantize", src, "-o", out / "q.safetensors", "--report", out / "r.json"]
    proc = start_and_catch_writing(args, out)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, (proc.returncode, stderr)
    assert stdout == "" and stderr == "int8q: terminated\n"
    assert listing(out) == []


def test_a_folder_that_cannot_be_written_is_refused_first(tmp_path, w, capsys, monkeypatch):
    """(Root may write anywhere, so the permission is denied by hand.)"""
    denied = str(tmp_path / "ro")
    (tmp_path / "ro").mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: str(p) != denied and real_access(p, mode))
    args = ("quantize", w, "-o", tmp_path / "q.npz", "--report", tmp_path / "ro" / "r.json")
    err = one_line_error(*run(capsys, *args))
    assert "no permission to write in" in err
    assert listing(tmp_path) == ["ro", "w.npy"]
