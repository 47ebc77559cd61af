"""`int8q quantize/dequantize/inspect` on checkpoint files, run as a user runs them.

Most cases call main() in-process (fast); a few run the installed console
script to check what a shell sees: exit status, one-line errors, no
traceback, and no stray output.
"""

import json
import sys

import numpy as np
import pytest
from checkpoints import listing, read_safetensors, write_safetensors, write_sharded
from cli import run, run_cli

from int8q import reference


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    t = {
        "w": rng.standard_normal((6, 10)).astype(np.float32),
        "b": rng.standard_normal(6).astype(np.float32),
        "ids": np.arange(4, dtype=np.int64),
    }
    write_safetensors(tmp_path / "m.safetensors", t, {"format": "pt"})
    return tmp_path / "m.safetensors", t


def test_console_script_round_trip(tmp_path, model):
    src, t = model
    proc = run_cli("quantize", src, "-o", tmp_path / "q.safetensors", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    proc = run_cli(
        "dequantize",
        tmp_path / "q.safetensors",
        "-o",
        tmp_path / "b.safetensors",
        "-q",
        cwd=tmp_path,
    )
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    back = read_safetensors(tmp_path / "b.safetensors")[0]
    q, scale = reference.quantize(t["w"], axis=0)
    np.testing.assert_array_equal(back["w"], reference.dequantize(q, scale, axis=0))
    np.testing.assert_array_equal(back["b"], t["b"])


@pytest.mark.parametrize(
    "args, check",
    [
        (["--per-tensor"], lambda out: out["w_scale"].shape == ()),
        (["--block-size", "4"], lambda out: out["w_scale"].shape == (6, 3)),
        (["--all"], lambda out: out["b_scale"].shape == () and out["ids"].dtype == np.int8),
        (["--skip", "w"], lambda out: out["w"].dtype == np.float32 and "w_scale" not in out),
        (["--skip", "b*", "--skip", "w"], lambda out: "w_scale" not in out),
        (["--rounding", "half_away"], lambda out: out["w"].dtype == np.int8),
    ],
)
def test_options(tmp_path, model, capsys, args, check):
    src, _ = model
    assert run(capsys, "quantize", src, "-o", tmp_path / "q.safetensors", *args)[0] == 0
    assert check(read_safetensors(tmp_path / "q.safetensors")[0])


def test_inspect_table_and_json(tmp_path, model, capsys):
    src, _ = model
    run(capsys, "quantize", src, "-o", tmp_path / "q.safetensors")
    code, out, err = run(capsys, "inspect", tmp_path / "q.safetensors")
    assert code == 0 and err == ""
    lines = out.splitlines()
    assert lines[0].split() == ["name", "shape", "dtype", "scheme", "size"]
    # sorted by name, sizes in human units, then totals per dtype
    assert [line.split() for line in lines[1:5]] == [
        ["b", "6", "F32", "none", "24", "B"],
        ["ids", "4", "I64", "none", "32", "B"],
        ["w", "6x10", "I8", "(F32)", "per_row", "60", "B"],
        ["w_scale", "6x1", "F32", "scale", "24", "B"],
    ]
    assert [line.split() for line in lines[6:]] == [
        ["F32:", "2", "tensors", "48", "B"],
        ["I64:", "1", "tensor", "32", "B"],
        ["I8:", "1", "tensor", "60", "B"],
        ["total:", "4", "tensors", "140", "B"],
    ]
    code, out, _ = run(capsys, "inspect", tmp_path / "q.safetensors", "--json")
    data = {r["name"]: r for r in json.loads(out)}
    assert data["w"]["shape"] == [6, 10] and data["w"]["original_dtype"] == "F32"


def test_sharded_and_numpy_files(tmp_path, capsys):
    rng = np.random.default_rng(1)
    w = rng.standard_normal((4, 8)).astype(np.float32)
    write_sharded(tmp_path / "ckpt", [{"a": w}, {"b": w * 2, "c": w[0]}])
    assert run(capsys, "quantize", tmp_path / "ckpt", "-o", tmp_path / "q")[0] == 0
    assert run(capsys, "dequantize", tmp_path / "q", "-o", tmp_path / "back")[0] == 0
    code, out, _ = run(capsys, "inspect", tmp_path / "q")
    assert code == 0 and out.splitlines()[-1].endswith(" in 2 files")
    np.save(tmp_path / "x.npy", w)
    assert run(capsys, "quantize", tmp_path / "x.npy", "-o", tmp_path / "x.npz")[0] == 0
    assert run(capsys, "dequantize", tmp_path / "x.npz", "-o", tmp_path / "y.npy")[0] == 0
    assert np.load(tmp_path / "y.npy").dtype == np.float32


def test_progress_bar_only_when_asked(tmp_path, model, capsys):
    pytest.importorskip("tqdm")
    src, _ = model
    code, _, err = run(capsys, "quantize", src, "-o", tmp_path / "q.safetensors", "--progress")
    assert code == 0 and "quantize" in err and "100%" in err
    code, _, err = run(
        capsys,
        "dequantize",
        tmp_path / "q.safetensors",
        "-o",
        tmp_path / "b.safetensors",
        "--quiet",
    )
    assert (code, err) == (0, "")
    # stderr is not a terminal under pytest: no bar by default, only the summary
    code, _, err = run(capsys, "quantize", src, "-o", tmp_path / "q2.safetensors")
    assert code == 0 and "100%" not in err and len(err.splitlines()) == 1


def test_progress_without_tqdm(tmp_path, model, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm", None)  # import tqdm now fails
    src, _ = model
    # asked for: an error that says what is missing, before any work
    code, _, err = run(capsys, "quantize", src, "-o", tmp_path / "q.safetensors", "--progress")
    assert code == 2 and "--progress needs tqdm" in err
    assert not (tmp_path / "q.safetensors").exists()
    # not asked for: no bar, and the work is done
    code, _, err = run(capsys, "quantize", src, "-o", tmp_path / "q.safetensors", "-q")
    assert (code, err) == (0, "")


def test_seed_mode_is_kept(capsys):
    code, out, _ = run(capsys, "quantize", "1.0", "-1.0", "0.5", "-0.5")
    assert code == 0 and json.loads(out)["quantized"] == [127, -127, 64, -64]
    code, out, _ = run(capsys, "quantize", "-2", "1e3", "0")
    assert code == 0 and json.loads(out)["quantized"] == [0, 127, 0]


def _error_cases(tmp_path, src):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{not js}")
    short = tmp_path / "short.safetensors"
    short.write_bytes(b"\x01\x02")
    nan = tmp_path / "nan.safetensors"
    write_safetensors(nan, {"w": np.array([[1.0, np.nan]], np.float32)})
    other = tmp_path / "model.bin"
    other.write_bytes(b"data")
    out = tmp_path / "out.safetensors"
    return {
        "missing file": ["quantize", tmp_path / "nope.safetensors", "-o", out],
        "corrupt header": ["quantize", bad, "-o", out],
        "truncated header": ["quantize", short, "-o", out],
        "nan": ["quantize", nan, "-o", out],
        "unknown format": ["quantize", other, "-o", out],
        "output is input": ["quantize", src, "-o", src],
        "file without -o": ["quantize", src],
        "two inputs": ["quantize", src, src, "-o", out],
        "numbers with options": ["quantize", "1", "2", "--per-tensor"],
        "dequantize plain": ["dequantize", src, "-o", out],
        "dequantize without -o": ["dequantize", src],
        "inspect corrupt": ["inspect", bad],
        "bad block size": ["quantize", src, "-o", out, "--block-size", "0"],
        "unknown option": ["quantize", src, "-o", out, "--frobnicate"],
    }


CASES = [
    "missing file",
    "corrupt header",
    "truncated header",
    "nan",
    "unknown format",
    "output is input",
    "file without -o",
    "two inputs",
    "numbers with options",
    "dequantize plain",
    "dequantize without -o",
    "inspect corrupt",
    "bad block size",
    "unknown option",
]


@pytest.mark.parametrize("case", CASES)
def test_errors_are_one_line_exit_2_nothing_left(tmp_path, model, capsys, case):
    src, _ = model
    args = _error_cases(tmp_path, src)[case]
    before = listing(tmp_path)
    code, out, err = run(capsys, *args)
    assert code == 2
    assert out == ""
    assert len(err.strip().splitlines()) == 1 and err.startswith("int8q: error: "), err
    assert listing(tmp_path) == before


@pytest.mark.parametrize("case", ["corrupt header", "nan", "output is input"])
def test_console_script_errors(tmp_path, model, case):
    src, _ = model
    args = _error_cases(tmp_path, src)[case]
    before = listing(tmp_path)
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    assert listing(tmp_path) == before
