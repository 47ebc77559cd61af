"""Where int8q may write: the one check every output goes through.

Every file or folder that int8q.io or the ``int8q`` command writes (a
quantized or restored checkpoint, ``quantize --report``, ``compare --plot``)
is checked here, all of a command's outputs together, before anything is
written:

- never an input: not the same file (by real path, or by device and inode
  for hard links), not a file already in an input folder, not a folder
  holding an input, and no two outputs at the same place;
- never an existing path unless `force` (an empty folder, where a folder
  is to be written, holds nothing to lose); a directory where a file is to
  be written, or a file where a folder is, is refused even with `force`;
- the folder it goes into must exist and be writable.

Then each output is written atomically (_atomic): complete or not at all,
and nothing left behind on any error.  `staged` lets a command read an
output back under its own name (``quantize --report`` compares it with the
input) before it takes its place, so that a failure of the later output
leaves neither.
"""

import contextlib
import os
import shutil
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import NamedTuple

from ._atomic import _public, _replace_dir, _temporary_name, remove_stale
from ._errors import FormatError


class Output(NamedTuple):
    """One path a command will write."""

    path: str
    folder: bool = False  # a folder is written there (else a file)
    what: str = "the output"  # how messages name it: "the report", "the plot"
    check_name: Callable[[str], object] | None = None  # e.g. the container's suffix


def same_path(a: str, b: str) -> bool:
    """Whether `a` and `b` name the same file or folder (symlinks and hard links included)."""
    if os.path.realpath(a) == os.path.realpath(b):
        return True
    with contextlib.suppress(OSError):
        return os.path.samefile(a, b)
    return False


def inside(path: str, folder: str) -> bool:
    """Whether `path` is `folder` or lies under it (after resolving links)."""
    path, folder = os.path.realpath(path), os.path.realpath(folder)
    try:
        return os.path.commonpath([path, folder]) == folder
    except ValueError:  # Windows: on different drives
        return False


def _check_one(out: Output, inputs: Sequence[str], force: bool) -> None:
    dst, what = out.path, out.what
    if any(same_path(p, dst) for p in inputs):
        raise FormatError(f"{dst}: {what} would overwrite the input")
    if (
        not out.folder
        and os.path.lexists(dst)
        and any(os.path.isdir(p) and inside(dst, p) for p in inputs)
    ):
        # A file of an input folder (a shard, a model folder's weights) is
        # input too; a new file beside them is not.
        raise FormatError(f"{dst}: {what} would overwrite a file of the input folder")
    if not out.folder and os.path.isdir(dst):
        raise FormatError(f"{dst}: {what} is a directory; name {what} file")
    if out.check_name is not None:
        out.check_name(dst)
    parent = os.path.dirname(os.path.abspath(dst))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"no such directory for {what}: {parent}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise PermissionError(f"{dst}: no permission to write in {parent}")
    if not os.path.lexists(dst):
        return
    exists = f"{what} exists"
    if out.folder:
        if not os.path.isdir(dst):
            raise FormatError(f"{dst}: exists and is not a folder; {what} is a folder")
        if not os.listdir(dst):
            return  # an empty folder holds nothing to lose
        if any(inside(p, dst) for p in inputs):
            raise FormatError(f"{dst}: {what} folder holds the input")
        exists = f"{what} folder exists and is not empty"
    if not force:
        raise FormatError(f"{dst}: {exists}; pass force=True (int8q: --force) to replace it")


def check_outputs(outputs: Sequence[Output], inputs: Iterable[str], force: bool) -> None:
    """Refuse, before anything is written, any of `outputs` that the policy
    (module doc) forbids; `inputs` are every file and folder the command reads."""
    inputs = [os.fspath(p) for p in inputs]
    for i, out in enumerate(outputs):
        _check_one(out, inputs, force)
        for earlier in outputs[:i]:
            if inside(out.path, earlier.path) or inside(earlier.path, out.path):
                raise FormatError(f"{out.path}: {out.what} and {earlier.what} name the same path")


def _unstage(exc: BaseException, tmp: str, dst: str) -> None:
    """Messages name `dst`, never the staged path (as written, or as _atomic shows it)."""
    names = (tmp, _public(tmp, dst))

    def fix(value: object) -> object:
        if not isinstance(value, str):
            return value
        for name in names:
            if isinstance(name, str):
                value = value.replace(name, dst)
        return value

    exc.args = tuple(fix(a) for a in exc.args)
    if isinstance(exc, OSError):
        exc.filename, exc.filename2 = fix(exc.filename), fix(exc.filename2)


@contextlib.contextmanager
def staged(dst: str, folder: bool) -> Iterator[str]:
    """Yield a path named as `dst` (same base name, so same suffix) in a new
    temporary folder beside it; what the block writes there takes `dst`'s
    place when the block succeeds (replacing what is there: the caller has
    checked that it may).  On any error the temporary folder is removed,
    and messages name `dst`."""
    dst = os.path.abspath(dst)
    remove_stale(dst)
    stage = _temporary_name(dst)
    tmp = os.path.join(stage, os.path.basename(dst))
    os.mkdir(stage, 0o700)
    try:
        try:
            yield tmp
        except Exception as exc:
            _unstage(exc, tmp, dst)
            raise
        if folder and os.path.isdir(dst) and not os.path.islink(dst):
            _replace_dir(tmp, dst)
        else:
            os.replace(tmp, dst)
    finally:
        shutil.rmtree(stage, ignore_errors=True)
