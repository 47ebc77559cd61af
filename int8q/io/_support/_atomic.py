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
  target and renamed into place; its files inside use the same rules.  A
  directory already at the target (the caller has checked that it may go:
  ``--force``) is swapped with the new one in one step where the system
  can (Linux ``renameat2(RENAME_EXCHANGE)``), else moved aside under a
  temporary name just before the new one takes its place; the old one is
  then removed.

After a SIGKILL (or a power cut) such a name can remain.  Every int8q run
that writes into a folder first removes the temporaries there whose process
is gone, whatever target they were for, so none outlives the next run in
the same folder.

Errors never name a temporary path: what the user sees is the target.
"""

import contextlib
import ctypes
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


def _public(path: object, dst: str) -> object:
    """`path` as the user knows it: a temporary name (or a path inside a
    temporary folder) becomes its target's name; /proc links become `dst`."""
    if not isinstance(path, str):
        return path
    if path.startswith("/proc/self/fd/"):
        return dst
    parts = path.split(os.sep)
    return os.sep.join(m["base"] if (m := _TEMPORARY.fullmatch(part)) else part for part in parts)


@contextlib.contextmanager
def _errors_name_target(dst: str) -> Iterator[None]:
    """OSErrors raised in the block name the target, never a temporary path."""
    try:
        yield
    except OSError as exc:
        names = (_public(exc.filename, dst), _public(exc.filename2, dst))
        if names == (exc.filename, exc.filename2) or exc.errno is None:
            raise
        raise OSError(exc.errno, exc.strerror, names[0], None, names[1]) from None


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
    """Yield a binary file to write; it becomes `dst` when the block succeeds
    (replacing a file already there)."""
    with _errors_name_target(dst):
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

    A directory already at `dst` is replaced (see the module doc); whether
    it may be is the caller's check, made before any work.
    """
    with _errors_name_target(dst):
        remove_stale(dst)
        tmp = _temporary_name(dst)
        os.mkdir(tmp, 0o777)
        try:
            yield tmp
            if os.path.isdir(dst) and not os.path.islink(dst):
                _replace_dir(tmp, dst)
            else:
                os.rename(tmp, dst)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise


_RENAME_EXCHANGE = 2  # linux/fs.h
_AT_FDCWD = -100


def _exchange(a: str, b: str) -> bool:
    """Swap the names `a` and `b` in one step (Linux renameat2); False where
    the C library, the kernel or the filesystem cannot."""
    if not sys.platform.startswith("linux"):
        return False
    renameat2 = getattr(ctypes.CDLL(None, use_errno=True), "renameat2", None)
    if renameat2 is None:  # C library older than glibc 2.28
        return False
    renameat2.argtypes = [
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_int,
        ctypes.c_char_p,
        ctypes.c_uint,
    ]
    if renameat2(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), b)


def _replace_dir(new: str, dst: str) -> None:
    """Put the directory `new` at `dst`, where a directory already is, and
    remove the old one."""
    if _exchange(new, dst):
        shutil.rmtree(new, ignore_errors=True)  # now the old directory
        return
    old = _temporary_name(dst)
    os.rename(dst, old)
    try:
        os.rename(new, dst)
    except BaseException:
        os.rename(old, dst)
        raise
    shutil.rmtree(old, ignore_errors=True)
