"""Arguments of the installed `int8q` command: negative numbers in any float
syntax, case-insensitive choices, help with examples, errors that name the
flag, and the progress bar on a terminal only (docs/semantics.md §8)."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from checkpoints import read_safetensors, write_safetensors
from cli import run_cli
from hf_folders import make_folder, tiny_tensors

import int8q


@pytest.fixture
def model(tmp_path):
    src = tmp_path / "m.safetensors"
    rng = np.random.default_rng(0)
    write_safetensors(src, {"w": rng.standard_normal((64, 256)).astype(np.float32)})
    return src


def one_line_error(proc):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "Traceback" not in proc.stderr
    return proc.stderr


@pytest.mark.parametrize(
    "numbers",
    [["1", "-2.5e2"], ["-1e-3", "2"], ["-.5", "0.25"], ["-1_000", "3"], ["-2", "-1E+2", "-0.0"]],
)
def test_negative_numbers_in_any_float_syntax(tmp_path, numbers):
    proc = run_cli("quantize", *numbers, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == int8q.int8_quantize([float(x) for x in numbers])


@pytest.mark.parametrize("value", ["-inf", "-Infinity", "-nan"])
def test_non_finite_numbers_are_read_then_refused(tmp_path, value):
    err = one_line_error(run_cli("quantize", "1", value, cwd=tmp_path))
    assert "finite" in err and "unrecognized" not in err


def test_a_token_that_only_starts_like_a_number(tmp_path):
    err = one_line_error(run_cli("quantize", "1", "-1x", cwd=tmp_path))
    assert "not a number: '-1x'" in err


def test_choices_are_case_insensitive(tmp_path, model):
    q = tmp_path / "q.safetensors"
    for args in (["--rounding", "HALF_AWAY"], ["--clip", "MSE"]):
        proc = run_cli("quantize", model, "-o", q, "--force", "-q", *args, cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
    meta = json.loads(read_safetensors(q)[1]["int8q"])["tensors"]["w"]
    assert meta["clip"] == "mse"
    src = make_folder(tmp_path / "model", tiny_tensors(np.random.default_rng(0)))
    for spelling in ("w8a8", "W8a8"):
        out = tmp_path / f"out-{spelling}"
        proc = run_cli("quantize", src, "-o", out, "--scheme", spelling, "-q", cwd=tmp_path)
        assert proc.returncode == 0, proc.stderr
        config = json.loads((out / "config.json").read_text())
        assert config["quantization_config"]["format"] == "int-quantized"  # W8A8
    err = one_line_error(
        run_cli("quantize", src, "-o", tmp_path / "x", "--scheme", "w4a16", cwd=tmp_path)
    )
    assert "--scheme" in err and "W8A16" in err


@pytest.mark.parametrize("command", ["quantize", "dequantize", "inspect"])
def test_every_subcommand_help_has_a_description_and_examples(tmp_path, command):
    proc = run_cli(command, "--help", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    text = proc.stdout
    usage, description = text.split("\n\n")[:2]
    assert usage.startswith(f"usage: int8q {command}")
    assert len(description.split()) >= 10 and not description.startswith(
        ("positional", "options")
    ), description
    examples = text.split("examples:\n", 1)[1]
    lines = [line.strip() for line in examples.splitlines() if line.strip().startswith("int8q")]
    assert len(lines) >= 2 and all(line.startswith(f"int8q {command} ") for line in lines)


@pytest.mark.parametrize(
    "args, flag",
    [
        (["--block-size", "0"], "--block-size"),
        (["--block-size", "-3"], "--block-size"),
        (["--block-size", "x"], "--block-size"),
        (["--rounding", "up"], "--rounding"),
        (["--clip", "kl"], "--clip"),
        (["--scheme", "int4"], "--scheme"),
    ],
)
def test_errors_name_the_flag(tmp_path, model, args, flag):
    err = one_line_error(
        run_cli("quantize", model, "-o", tmp_path / "q.safetensors", *args, cwd=tmp_path)
    )
    assert flag in err, err
    assert "block_size" not in err  # the Python parameter's name
    assert not (tmp_path / "q.safetensors").exists()


def test_dequantize_without_output_says_how(tmp_path, model):
    err = one_line_error(run_cli("dequantize", model, cwd=tmp_path))
    assert "dequantize needs -o OUT" in err and f"int8q dequantize {model} -o" in err
    assert "int8q --help" not in err


def run_on_terminal(*args, cwd):
    """The console script with stderr on a pseudo-terminal: (status, what the terminal showed)."""
    pty = pytest.importorskip("pty")
    exe = shutil.which("int8q", path=sysconfig.get_path("scripts"))
    cmd = [exe] if exe else [sys.executable, "-m", "int8q.cli"]
    import fcntl
    import struct
    import termios

    master, slave = pty.openpty()
    # 24 rows, 100 columns: a new pseudo-terminal has none, and tqdm fits its bar to them.
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    try:
        proc = subprocess.Popen(
            cmd + [str(a) for a in args], cwd=cwd, stdout=subprocess.DEVNULL, stderr=slave
        )
        os.close(slave)
        chunks = []
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the terminal's other side closed
                break
            if not chunk:
                break
            chunks.append(chunk)
        return proc.wait(), b"".join(chunks).decode(errors="replace")
    finally:
        os.close(master)


@pytest.mark.skipif(sys.platform == "win32", reason="pseudo-terminals are POSIX")
def test_progress_bar_on_a_terminal_only(tmp_path, model):
    code, shown = run_on_terminal("quantize", model, "-o", tmp_path / "a.safetensors", cwd=tmp_path)
    assert code == 0 and "100%" in shown and "quantize" in shown, shown
    code, shown = run_on_terminal(
        "quantize", model, "-o", tmp_path / "b.safetensors", "--no-progress", cwd=tmp_path
    )
    assert code == 0 and "100%" not in shown and "int8q: quantized 1 tensor" in shown, shown
    code, shown = run_on_terminal(
        "quantize", model, "-o", tmp_path / "c.safetensors", "-q", cwd=tmp_path
    )
    assert (code, shown) == (0, "")
    # not a terminal: no bar unless asked for
    proc = run_cli("quantize", model, "-o", tmp_path / "d.safetensors", cwd=tmp_path)
    assert proc.returncode == 0 and "100%" not in proc.stderr
    proc = run_cli("quantize", model, "-o", tmp_path / "e.safetensors", "--progress", cwd=tmp_path)
    assert proc.returncode == 0 and "100%" in proc.stderr


def test_block_size_one_is_accepted(tmp_path, model):
    """The smallest block size, as int8q.quantize(block_size=1) takes it."""
    proc = run_cli(
        "quantize", model, "-o", tmp_path / "q.safetensors", "--block-size", "1", cwd=tmp_path
    )
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "q.safetensors").exists()
