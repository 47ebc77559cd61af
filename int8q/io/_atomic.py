"""Outputs that appear whole or not at all, and leave nothing behind.

A file is written where its target will be, and only once complete (and
flushed to disk) does it take the target's name, so a failure, an
interrupt or a crash never leaves a partial checkpoint under the real name.

- On Linux the file is made with O_TMPFILE: it has no name at all until it
  is linked into place, so even SIGKILL or a power cut leaves nothing (the
  kernel frees an unlinked file when its last descriptor closes).
- Elsewhere, or where the filesystem has no O_TMPFILE (some network and
  FUSE filesystems), it is written under a recognisable temporary name,
  ``.NAME.int8q-PID-RANDOM.tmp`` beside the target, removed on any error.
- A directory (a sharded checkpoint) is built under such a name beside its
  target and renamed into place; its files inside use the same rules.

After a SIGKILL (or a power cut) such a name can remain.  Every int8q run
that writes into a folder first removes the temporaries there whose process
is gone, whatever target they were for, so none outlives the next run in
the same folder.
"""

import contextlib
import errno
import os
import re
import secrets
import shutil
import sys
import time
from collections.abc import Iterator
from typing import BinaryIO

_TEMPORARY = re.compile(r"\.(?P<base>.+)\.int8q-(?P<pid>\d+)-[0-9a-f]{8}\.tmp")
# Where the process cannot be asked about (not POSIX), a temporary file
# untouched for this long is taken as stale.
STALE_AFTER_S = 24 * 3600
# What open(O_TMPFILE) fails with where the kernel or filesystem lacks it:
# then a named temporary file is used instead.
_NO_TMPFILE = {
    errno.EOPNOTSUPP,
    errno.EISDIR,
    errno.EINVAL,
    errno.ENOENT,
    errno.EACCES,
    errno.EPERM,
    errno.ENOSYS,
}


def _temporary_name(dst: str) -> str:
    parent, base = os.path.split(os.path.abspath(dst))
    return os.path.join(parent, f".{base}.int8q-{os.getpid()}-{secrets.token_hex(4)}.tmp")


def _process_gone(pid: int) -> bool:
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except OSError:  # exists, but belongs to someone else
        return False
    return False


def remove_stale(dst: str) -> None:
    """Remove the temporary files and folders that killed int8q processes left
    in `dst`'s folder, for any target: those whose process is gone (POSIX),
    or untouched for STALE_AFTER_S (elsewhere, where os.kill would kill)."""
    parent = os.path.dirname(os.path.abspath(dst))
    try:
        names = os.listdir(parent)
    except OSError:
        return
    for name in names:
        match = _TEMPORARY.fullmatch(name)
        if not match:
            continue
        path = os.path.join(parent, name)
        stale = False
        if os.name == "posix":
            stale = _process_gone(int(match["pid"]))
        else:
            with contextlib.suppress(OSError):
                stale = time.time() - os.lstat(path).st_mtime > STALE_AFTER_S
        if stale:
            if os.path.isdir(path) and not os.path.islink(path):
                shutil.rmtree(path, ignore_errors=True)
            else:
                with contextlib.suppress(OSError):
                    os.unlink(path)


def _open_anonymous(parent: str) -> int | None:
    """A descriptor of a new unnamed file in `parent` that can be linked into
    place through /proc, or None where that is not possible."""
    if not sys.platform.startswith("linux") or not hasattr(os, "O_TMPFILE"):
        return None
    try:
        # 0o666: the umask decides, as for any new file.
        fd = os.open(parent, os.O_TMPFILE | os.O_RDWR, 0o666)
    except OSError as exc:
        if exc.errno in _NO_TMPFILE:
            return None
        raise
    if not os.path.exists(f"/proc/self/fd/{fd}"):  # /proc not mounted: cannot link
        os.close(fd)
        return None
    return fd


def _link_into_place(fd: int, dst: str) -> None:
    """Give the unnamed file `fd` the name `dst`, replacing what is there.

    linkat() cannot replace a name, so the file is linked under a temporary
    name first and renamed over `dst` (atomic); the name exists for two
    system calls, and a later run removes it if a SIGKILL falls between.
    """
    tmp = _temporary_name(dst)
    # linkat(AT_SYMLINK_FOLLOW) through /proc/self/fd needs no privilege
    # (AT_EMPTY_PATH would need CAP_DAC_READ_SEARCH); see open(2), O_TMPFILE.
    # os.link calls plain link(), which does not follow the /proc link,
    # unless a directory fd is given: then it calls linkat with the flag.
    root = os.open("/", os.O_RDONLY)
    try:
        os.link(f"/proc/self/fd/{fd}", tmp, src_dir_fd=root, follow_symlinks=True)
    finally:
        os.close(root)
    try:
        os.replace(tmp, dst)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def output_file(dst: str) -> Iterator[BinaryIO]:
    """Yield a binary file to write; it becomes `dst` when the block succeeds."""
    remove_stale(dst)
    fd = _open_anonymous(os.path.dirname(os.path.abspath(dst)))
    if fd is not None:
        with os.fdopen(fd, "w+b") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
            _link_into_place(f.fileno(), dst)
        return
    tmp = _temporary_name(dst)
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
def output_dir(dst: str) -> Iterator[str]:
    """Yield a new directory path to fill; it becomes `dst` when the block succeeds.

    `dst` must not exist or be an empty directory (checked by the caller
    before any work; a non-empty directory cannot be replaced atomically).
    """
    remove_stale(dst)
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
