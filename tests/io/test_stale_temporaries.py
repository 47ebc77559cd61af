"""What a SIGKILL leaves never outlives the next int8q run in the same folder,
whatever that run's target: a model-folder output killed mid-write leaves its
temporary folder (``.NAME.int8q-PID-RANDOM.tmp``), and the next run there
removes it because its process is gone."""

import os
import signal
import subprocess
import sys

import numpy as np
import pytest
from checkpoints import listing, write_safetensors, write_sharded
from cli import cli_command
from processes import dead_pid, posix_only, start_and_catch_writing

import int8q.io
from int8q.io._support import _atomic


def _big_sharded(folder):
    x = np.random.default_rng(1).standard_normal((4096, 4096)).astype(np.float32)
    return write_sharded(folder / "in", [{"a.weight": x}, {"b.weight": x}, {"c.weight": x}])


@posix_only
def test_sigkill_during_a_folder_write_is_cleaned_by_the_next_run(tmp_path):
    index = _big_sharded(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = start_and_catch_writing(["quantize", index, "-o", out / "model"], out)
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    left = [n for n in os.listdir(out) if _atomic._TEMPORARY.fullmatch(n)]
    assert left and f"int8q-{proc.pid}-" in left[0], os.listdir(out)  # the case under test
    # The next run, to another target in the same folder, removes it.
    small = tmp_path / "small.safetensors"
    write_safetensors(small, {"w": np.ones((3, 4), np.float32)})
    done = subprocess.run(
        cli_command() + ["quantize", str(small), "-o", str(out / "other.safetensors")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert listing(out) == ["other.safetensors"]


@posix_only
def test_stale_temporaries_of_any_target_are_removed(tmp_path):
    dead = dead_pid()
    alive = os.getppid()
    stale = [
        tmp_path / f".model.int8q-{dead}-0123abcd.tmp",  # a folder output
        tmp_path / f".x.safetensors.int8q-{dead}-4567abcd.tmp",
        tmp_path / f".y.npz.int8q-{dead}-89abcdef.tmp",
    ]
    kept = [
        tmp_path / f".z.npz.int8q-{alive}-0123abcd.tmp",  # its process still runs
        tmp_path / f".z.npz.int8q-{dead}-0123abcd",  # not int8q's pattern
        tmp_path / f".z.npz.int8q-{dead}-0123abcg.tmp",
        tmp_path / "model.int8q-1-0123abcd.tmp",
    ]
    stale[0].mkdir()
    (stale[0] / "model-00001-of-00002.safetensors").write_bytes(b"partial")
    for p in stale[1:] + kept:
        p.write_bytes(b"partial")
    src = tmp_path / "in" / "m.safetensors"
    src.parent.mkdir()
    write_safetensors(src, {"w": np.ones((3, 4), np.float32)})
    int8q.io.quantize_file(src, tmp_path / "q.safetensors")
    assert not any(p.exists() for p in stale)
    assert all(p.exists() for p in kept)


@pytest.mark.skipif(os.name != "posix", reason="process ids")
def test_a_live_writer_in_the_same_folder_is_left_alone(tmp_path):
    """A temporary folder whose process runs (another int8q writing now) stays."""
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        live = tmp_path / f".model.int8q-{sleeper.pid}-0123abcd.tmp"
        live.mkdir()
        (live / "part").write_bytes(b"being written")
        src = tmp_path / "m.safetensors"
        write_safetensors(src, {"w": np.ones((3, 4), np.float32)})
        int8q.io.quantize_file(src, tmp_path / "q.safetensors")
        assert (live / "part").read_bytes() == b"being written"
    finally:
        sleeper.kill()
        sleeper.wait()
