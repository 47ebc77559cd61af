"""Run-time configuration: SIMD level and thread count, from code and environment."""

import io
import os
import subprocess
import sys

import pytest

import int8q


def python_with_env(code, **env):
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        cwd=os.path.dirname(os.path.dirname(int8q.__file__)),
        env={**os.environ, **env},
    )


def test_show_config_reports_simd_and_threads():
    out = io.StringIO()
    assert int8q.show_config(file=out) is None  # printed once, not echoed by a REPL
    text = out.getvalue()
    assert f"simd: {int8q.get_simd()}" in text
    assert f"threads: {int8q.get_num_threads()}" in text


def test_show_config_in_a_repl_shows_the_text_once(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-i", "-q"],
        cwd=tmp_path,  # the installed int8q, not the source folder
        input="import int8q\nint8q.show_config()\n",
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("dispatch table") == 1, proc.stdout


def test_every_available_level_can_be_selected():
    before = int8q.get_simd()
    try:
        for level in int8q.available_simd():
            int8q.set_simd(level)
            assert int8q.get_simd() == level
    finally:
        int8q.set_simd(before)
    assert "baseline" in int8q.available_simd()


def test_unknown_level_is_value_error():
    with pytest.raises(ValueError):
        int8q.set_simd("sse9")


def test_env_forces_simd_level():
    proc = python_with_env("import int8q; print(int8q.get_simd())", INT8Q_SIMD="baseline")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "baseline"


def test_env_thread_count_is_honoured():
    proc = python_with_env(
        "import int8q; print(int8q.get_num_threads())", OMP_NUM_THREADS="1", INT8Q_NUM_THREADS=""
    )
    assert proc.stdout.strip() == "1", proc.stderr
    proc = python_with_env("import int8q; print(int8q.get_num_threads())", INT8Q_NUM_THREADS="3")
    assert proc.stdout.strip() in ("3", "1"), proc.stderr  # 1 in a serial build
