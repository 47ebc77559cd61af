"""The int8q command line, run as a user runs it."""

import json
import os
import shutil
import subprocess
import sys
import sysconfig

import pytest

from int8q.cli import main

EXAMPLE = {
    "quantized": [127, -127, 64, -64],
    "scale": 0.007874,
    "dequantized": [1.0, -1.0, 0.5039, -0.5039],
}


def run_cli(*args, cwd):
    # The console script installed beside this interpreter (not whatever
    # `int8q` comes first on PATH).
    scripts = sysconfig.get_path("scripts")
    exe = shutil.which("int8q", path=scripts)
    cmd = [exe] if exe else [sys.executable, "-m", "int8q.cli"]
    return subprocess.run(
        cmd + list(args),
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def test_console_script_prints_seed_json(tmp_path):
    proc = run_cli("quantize", "1.0", "-1.0", "0.5", "-0.5", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == EXAMPLE
    assert proc.stderr == ""


@pytest.mark.parametrize(
    "args", [["quantize", "1.0", "nan"], ["quantize", "abc"], ["quantize", "1", "inf"]]
)
def test_bad_numbers_exit_2_with_one_line(args, tmp_path):
    proc = run_cli(*args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_main_in_process(capsys):
    assert main(["quantize", "1.0", "-1.0", "0.5", "-0.5"]) == 0
    assert json.loads(capsys.readouterr().out) == EXAMPLE
