"""What every command of the ``int8q`` command line shares: its errors,
signals, sizes and JSON."""

import argparse
import contextlib
import json
import math
import signal
import threading
from collections.abc import Iterator
from types import FrameType
from typing import NoReturn


class CLIError(Exception):
    """A user error: reported as one line on stderr, exit status 2."""


class Terminated(BaseException):
    """SIGTERM, raised in the main thread like KeyboardInterrupt for SIGINT,
    so that every `with` block on the way out removes what it was writing."""


def _terminate(signum: int, frame: FrameType | None) -> NoReturn:
    # A second SIGTERM must not interrupt the clean-up of the first.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise Terminated()


@contextlib.contextmanager
def sigterm_raises() -> Iterator[None]:
    """SIGTERM raises Terminated while the block runs (main thread only:
    Python delivers signals there, and only there may handlers be set)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _terminate)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def human(nbytes: float) -> str:
    """A size in binary units, as tqdm's bar shows it: 512 B, 1.5 KiB, 86.9 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def json_text(value: object, indent: int | None = None) -> str:
    """`value` as JSON that every parser accepts: inf and NaN, which JSON
    lacks, are written as null (a dequantized value past float64's range,
    the SQNR of an exact tensor)."""
    return json.dumps(_finite(value), indent=indent, allow_nan=False)


def _finite(value: object) -> object:
    """`value` with tuples as lists and non-finite floats as None, at any depth."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite(v) for v in value]
    return value


def resolve(args: argparse.Namespace, path: str) -> str:
    """A local path for IN: IN itself, or the folder of a Hub model ID."""
    from ..io._hub import resolve_model_path

    return resolve_model_path(path, revision=args.revision)
