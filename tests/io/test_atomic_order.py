"""The order of an atomic write: the data reaches the disk (fsync) before the
output takes its name, on the O_TMPFILE path and on the named-file fallback.
A destination that exists while fsync runs would, after a power cut, be a
complete-looking name over incomplete data; a failing fsync must leave the
destination as it was (absent, or the old file) and no temporary behind."""

import errno
import os
import sys

import pytest
from checkpoints import listing
from processes import tmpfile_supported

from int8q.io._support import _atomic


@pytest.fixture(params=["O_TMPFILE", "named"])
def way(request, tmp_path, monkeypatch):
    """Run a test on both ways output_file writes."""
    if request.param == "named":
        monkeypatch.setattr(_atomic, "_open_anonymous", lambda parent: None)
    elif not sys.platform.startswith("linux") or not tmpfile_supported(tmp_path):
        pytest.skip("no O_TMPFILE here")
    else:  # the test must run on the O_TMPFILE path, not fall back silently
        calls = []
        real = _atomic._open_anonymous
        monkeypatch.setattr(_atomic, "_open_anonymous", lambda p: calls.append(p) or real(p))
        yield request.param
        assert calls, "O_TMPFILE was never tried"
        return
    yield request.param


def _spy_fsync(monkeypatch, dst, fail=False):
    """Record, at each os.fsync, what `dst` holds (None: absent)."""
    seen = []
    real = os.fsync

    def fsync(fd):
        seen.append(dst.read_bytes() if dst.exists() else None)
        if fail:
            raise OSError(errno.EIO, "injected fsync failure")
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return seen


@pytest.mark.parametrize("existing", [None, b"old"])
def test_destination_untouched_when_fsync_runs(tmp_path, monkeypatch, way, existing):
    dst = tmp_path / "out.bin"
    if existing is not None:
        dst.write_bytes(existing)
    seen = _spy_fsync(monkeypatch, dst)
    with _atomic.output_file(dst) as f:
        f.write(b"new data")
    assert seen and all(s == existing for s in seen), (way, seen)
    assert dst.read_bytes() == b"new data"
    assert listing(tmp_path) == ["out.bin"]


@pytest.mark.parametrize("existing", [None, b"old"])
def test_failing_fsync_leaves_no_destination(tmp_path, monkeypatch, way, existing):
    dst = tmp_path / "out.bin"
    if existing is not None:
        dst.write_bytes(existing)
    seen = _spy_fsync(monkeypatch, dst, fail=True)
    with pytest.raises(OSError, match="injected"):
        with _atomic.output_file(dst) as f:
            f.write(b"new data")
    assert seen, way
    if existing is None:
        assert not dst.exists()
        assert listing(tmp_path) == []
    else:
        assert dst.read_bytes() == existing
        assert listing(tmp_path) == ["out.bin"]
