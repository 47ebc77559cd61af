"""Outputs that appear whole or not at all.

A file is written under a temporary name in its target directory and renamed
into place only once complete (and flushed to disk), so a failure, an
interrupt or a crash never leaves a partial checkpoint under the real name.
A directory (a sharded checkpoint) is built the same way, beside its target.
"""
import contextlib
import os
import secrets
import shutil


def _temporary_name(dst):
    parent, base = os.path.split(os.path.abspath(dst))
    return os.path.join(parent, f".{base}.{secrets.token_hex(4)}.int8q-tmp")


@contextlib.contextmanager
def output_file(dst):
    """Yield a binary file to write; it becomes `dst` when the block succeeds."""
    tmp = _temporary_name(dst)
    # os.open with mode 0o666 lets the umask decide permissions, as for any
    # new file (tempfile would make it private, 0o600).
    fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
    try:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def output_dir(dst):
    """Yield a new directory path to fill; it becomes `dst` when the block succeeds.

    `dst` must not exist or be an empty directory (checked by the caller
    before any work; a non-empty directory cannot be replaced atomically).
    """
    tmp = _temporary_name(dst)
    os.mkdir(tmp, 0o777)
    try:
        yield tmp
        if os.path.isdir(dst):
            os.rmdir(dst)
        os.rename(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
