"""The other files of a Hugging Face model folder (configs, tokenizers...),
listed and copied as they are into the output folder (see _hf)."""

import errno
import fnmatch
import os
import shutil
import stat

from .._support._errors import FormatError

# Other copies of the float weights that transformers could load instead of
# the quantized safetensors (it reads them when asked to, or when the
# safetensors are absent); they are not copied into the output.
OTHER_WEIGHTS = ("pytorch_model*.bin", "pytorch_model*.bin.index.json")


def other_files(src: str, dst: str, skip: set[str]) -> tuple[list[str], list[str]]:
    """(folders, files) of `src` to copy as they are, as relative paths, in
    the order to make them: every file but `skip` (top-level names).

    Links are followed (a Hugging Face cache folder is made of links to
    blobs).  Not copied: top-level dot folders (.git, .cache: version control
    and caches, which would carry the float weights again), other copies of
    the float weights (`OTHER_WEIGHTS`), and the output itself when it lies
    inside `src`.  Listed before anything is written, so that a link loop or
    a dangling link is a one-line error with nothing made.
    """
    output = os.path.realpath(dst)
    folders: list[str] = []
    files: list[str] = []

    def walk(rel: str, ancestors: tuple[str, ...]) -> None:
        folder = os.path.join(src, rel)
        for entry in sorted(os.listdir(folder)):
            path, child = os.path.join(folder, entry), os.path.join(rel, entry)
            if not rel and (entry in skip or any(fnmatch.fnmatch(entry, g) for g in OTHER_WEIGHTS)):
                continue
            real = os.path.realpath(path)
            if real == output or not rel and entry.startswith(".") and os.path.isdir(path):
                continue
            if real in ancestors:
                raise FormatError(f"{path}: a symbolic link loop (it leads back to {real})")
            try:
                mode = os.stat(path).st_mode  # a dangling link, or a loop of links, fails here
            except OSError as exc:
                what = "a symbolic link loop" if exc.errno == errno.ELOOP else exc.strerror
                raise FormatError(f"{path}: {what}") from None
            if stat.S_ISDIR(mode):
                folders.append(child)
                walk(child, (*ancestors, real))
            else:
                files.append(child)

    walk("", (os.path.realpath(src),))
    return folders, files


def copy_files(src: str, tmp: str, folders: list[str], files: list[str]) -> None:
    for folder in folders:
        os.mkdir(os.path.join(tmp, folder))
    for name in files:
        shutil.copyfile(os.path.join(src, name), os.path.join(tmp, name))
