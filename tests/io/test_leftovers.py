"""Killed or interrupted runs leave nothing behind (docs/safety.md).

SIGTERM is handled like Ctrl-C (clean up, exit 143); on Linux the output is
an unnamed O_TMPFILE until it is complete, so even SIGKILL leaves nothing;
where a named temporary is used, the next run removes the stale ones.
"""

import os
import signal
import sys

import numpy as np
import pytest
from checkpoints import listing, write_safetensors, write_sharded
from processes import dead_pid, posix_only, start_and_catch_writing, tmpfile_supported

import int8q.io
from int8q.io._support import _atomic


def _big_input(folder):
    src = folder / "in" / "m.safetensors"
    src.parent.mkdir()
    x = np.random.default_rng(0).standard_normal((4096, 4096)).astype(np.float32)
    write_safetensors(src, {"a": x, "b": x})
    return src


@posix_only
def test_sigterm_removes_the_output_and_exits_143(tmp_path):
    src = _big_input(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    proc = start_and_catch_writing(["quantize", src, "-o", out / "q.safetensors"], out)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 143, (proc.returncode, stderr)
    assert stdout == "" and stderr == "int8q: terminated\n"
    assert listing(out) == []


@posix_only
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="O_TMPFILE is Linux's")
def test_sigkill_leaves_nothing(tmp_path):
    src = _big_input(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    if not tmpfile_supported(out):
        pytest.skip("this filesystem has no O_TMPFILE")
    proc = start_and_catch_writing(["quantize", src, "-o", out / "q.safetensors"], out)
    proc.kill()
    proc.communicate(timeout=120)
    assert proc.returncode == -signal.SIGKILL
    assert listing(out) == []


@posix_only
def test_next_run_removes_stale_temporaries_only(tmp_path):
    src = tmp_path / "m.safetensors"
    write_safetensors(src, {"w": np.ones((3, 4), np.float32)})
    dead, alive = dead_pid(), os.getppid()
    stale_file = tmp_path / f".q.safetensors.int8q-{dead}-0123abcd.tmp"
    stale_dir = tmp_path / f".q.safetensors.int8q-{dead}-4567abcd.tmp"
    live = tmp_path / f".q.safetensors.int8q-{alive}-89abcdef.tmp"
    other_target = tmp_path / f".other.safetensors.int8q-{dead}-0123abcd.tmp"
    not_ours = tmp_path / ".q.safetensors.tmp"
    for path in (stale_file, live, other_target, not_ours):
        path.write_bytes(b"partial")
    stale_dir.mkdir()
    (stale_dir / "inside").write_bytes(b"x")
    int8q.io.quantize_file(src, tmp_path / "q.safetensors")
    assert not stale_file.exists() and not stale_dir.exists() and not other_target.exists()
    assert live.exists() and not_ours.exists()


@posix_only
def test_stale_sharded_output_folder_is_removed(tmp_path):
    index = write_sharded(
        tmp_path / "in", [{"w": np.ones((2, 2), np.float32)}, {"v": np.ones((2, 2), np.float32)}]
    )
    stale = tmp_path / f".out.int8q-{dead_pid()}-0123abcd.tmp"
    stale.mkdir()
    (stale / "model-00001-of-00002.safetensors").write_bytes(b"partial")
    int8q.io.quantize_file(index, tmp_path / "out")
    assert sorted(os.listdir(tmp_path)) == ["in", "out"]


def test_named_temporary_fallback(tmp_path, monkeypatch):
    """Where O_TMPFILE is missing: written under the temporary name, renamed
    into place, and removed on error."""
    monkeypatch.setattr(_atomic, "_open_anonymous", lambda parent: None)
    seen = []
    with _atomic.output_file(tmp_path / "a.bin") as f:
        f.write(b"data")
        seen = os.listdir(tmp_path)
    assert len(seen) == 1 and _atomic._TEMPORARY.fullmatch(seen[0]), seen
    assert os.listdir(tmp_path) == ["a.bin"] and (tmp_path / "a.bin").read_bytes() == b"data"
    with pytest.raises(RuntimeError):
        with _atomic.output_file(tmp_path / "b.bin") as f:
            f.write(b"data")
            raise RuntimeError
    assert os.listdir(tmp_path) == ["a.bin"]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="O_TMPFILE is Linux's")
def test_output_has_no_name_until_complete(tmp_path):
    if not tmpfile_supported(tmp_path):
        pytest.skip("this filesystem has no O_TMPFILE")
    with _atomic.output_file(tmp_path / "a.bin") as f:
        f.write(b"data")
        assert os.listdir(tmp_path) == []
    assert os.listdir(tmp_path) == ["a.bin"]
    # Replacing an existing file is atomic too: the old one stays until the end.
    with _atomic.output_file(tmp_path / "a.bin") as f:
        f.write(b"new")
        assert (tmp_path / "a.bin").read_bytes() == b"data"
    assert (tmp_path / "a.bin").read_bytes() == b"new"
    mode = os.stat(tmp_path / "a.bin").st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask
