"""The int8q command line.

    int8q quantize 1.0 -1.0 0.5 -0.5          print the dict form as JSON
    int8q quantize IN -o OUT [options]        quantize a checkpoint file
    int8q dequantize IN -o OUT                restore it
    int8q inspect FILE [--json]               list its tensors

IN is a .safetensors file, a Hugging Face model folder (config.json beside
its weights: written in compressed-tensors format), a sharded checkpoint
(its directory or its *.safetensors.index.json), a .npy, a .npz or a .gguf
(into Q8_0, as llama-quantize does); see int8q.io for the conventions.
``quantize`` prints the dict form when every argument is a number and there
is no -o.

Errors print one line on stderr and exit with status 2.  An interrupt
(Ctrl-C, exit 130) or SIGTERM (``timeout``, a container stop; exit 143)
removes the unfinished output before exiting.
"""

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator, Sequence
from types import FrameType
from typing import NoReturn, cast

from ._seed import int8_quantize
from ._validate import ROUNDINGS
from ._version import __version__

# int8q.io is imported only for file commands: printing the dict form stays as quick
# to start as it was.


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
def _sigterm_raises() -> Iterator[None]:
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


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported on one line like every other error."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"int8q: error: {message} (see {self.prog} --help)\n")


def _block_size(text: str) -> int | str:
    """An integer block size, or the text itself so that int8q.io's check
    words the mistake as the API does."""
    try:
        return int(text)
    except ValueError:
        return text


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _progress_wanted(args: argparse.Namespace) -> bool:
    if args.quiet:
        return False
    return args.progress or sys.stderr.isatty()


def _file_options_given(args: argparse.Namespace) -> bool:
    return (
        args.per_tensor
        or args.block_size is not None
        or args.rounding is not None
        or args.skip
        or args.all
        or args.progress
        or args.quiet
        or args.scheme is not None
        or args.clip is not None
    )


def cmd_quantize(args: argparse.Namespace) -> None:
    numbers = [_as_number(t) for t in args.inputs]
    if args.output is None:
        if None in numbers:
            bad = args.inputs[numbers.index(None)]
            if os.path.exists(bad):
                raise CLIError(f"quantize {bad} needs -o OUT")
            raise CLIError(f"not a number: {bad!r} (to quantize a file, give -o OUT)")
        if _file_options_given(args):
            raise CLIError("options apply to files; numbers take none")
        print(json.dumps(int8_quantize(cast("list[float]", numbers))))  # no None: see above
        return
    from . import io

    io.quantize_file(
        _one_input(args),
        args.output,
        per_tensor=args.per_tensor,
        block_size=args.block_size,
        rounding=args.rounding or "half_even",
        skip=args.skip or (),
        all_tensors=args.all,
        scheme=args.scheme,
        progress=_progress_wanted(args),
        clip=args.clip,
    )


def _one_input(args: argparse.Namespace) -> str:
    if len(args.inputs) != 1:
        raise CLIError(f"give one input file with -o, got {len(args.inputs)}")
    path: str = args.inputs[0]  # argparse types its attributes Any
    return path


def cmd_dequantize(args: argparse.Namespace) -> None:
    from . import io

    io.dequantize_file(args.input, args.output, progress=_progress_wanted(args))


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "()"


def cmd_inspect(args: argparse.Namespace) -> None:
    from . import io

    rows = io.inspect_file(args.input)
    if args.json:
        print(json.dumps([{**r, "shape": list(r["shape"])} for r in rows], indent=1))
        return
    table = [("name", "shape", "dtype", "scheme", "size")]
    for r in rows:
        dtype = r["dtype"] + (f" ({r['original_dtype']})" if r["original_dtype"] else "")
        scheme = r["scheme"] + (f" {r['strategy']}" if r.get("strategy") else "")
        table.append((r["name"], _shape(r["shape"]), dtype, scheme, str(r["size"])))
    widths = [max(len(row[i]) for row in table) for i in range(5)]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:4], widths)] + [row[4].rjust(widths[4])]
        print("  ".join(cells))
    files = len({r["file"] for r in rows})
    print(
        f"{len(rows)} tensors, {sum(r['size'] for r in rows)} bytes"
        + (f" in {files} files" if files > 1 else "")
    )


def _add_output(p: argparse.ArgumentParser, progress_help: str) -> None:
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help="output file, or output directory for a sharded checkpoint "
        "or a Hugging Face model folder",
    )
    quiet = p.add_mutually_exclusive_group()
    quiet.add_argument(
        "--progress",
        action="store_true",
        help=f"{progress_help} even when stderr is not a terminal",
    )
    quiet.add_argument("--quiet", action="store_true", help="no progress bar")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="int8q", description="Symmetric INT8 quantization.")
    parser.add_argument("--version", action="version", version=f"int8q {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "quantize",
        help="quantize a checkpoint file, or numbers given on the command line",
        description="Quantize IN (.safetensors, a Hugging Face model folder, a sharded "
        "checkpoint directory or its "
        "index, .npy, .npz, .gguf) into OUT.  With numbers and no -o, print the "
        "dict form (int8q.int8_quantize) as JSON.",
    )
    p.add_argument(
        "inputs", nargs="+", metavar="IN|NUMBER", help="the checkpoint to quantize, or numbers"
    )
    _add_output(p, "show a progress bar")
    how = p.add_mutually_exclusive_group()
    how.add_argument(
        "--per-tensor", action="store_true", help="one scale per tensor (default: one per row)"
    )
    how.add_argument(
        "--block-size",
        type=_block_size,
        metavar="B",
        help="one scale per B consecutive elements of the last axis",
    )
    # No argparse choices: the API's check gives the same message for the
    # same mistake.
    p.add_argument(
        "--rounding",
        metavar="{" + ",".join(ROUNDINGS) + "}",
        help="how ties round (default half_even)",
    )
    p.add_argument(
        "--skip",
        action="append",
        metavar="GLOB",
        help="leave tensors whose name matches GLOB in float (repeatable)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="also quantize 1-D floating tensors and integer tensors "
        "(a Hugging Face model folder: also lm_head; W8A16 only)",
    )
    p.add_argument(
        "--scheme",
        choices=["W8A16", "W8A8"],
        help="a Hugging Face model folder's compressed-tensors scheme: W8A16 "
        "(default; weight-only, vLLM's CompressedTensorsWNA16) or W8A8 "
        "(int8 weights and dynamic per-token int8 activations, "
        "CompressedTensorsW8A8Int8)",
    )
    p.add_argument(
        "--clip",
        choices=["mse"],
        help="mse: clip each row (tensor, block) where the squared error is "
        "smallest (default: no clipping, abs-max)",
    )
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser("dequantize", help="restore a file written by int8q quantize")
    p.add_argument("input", metavar="IN")
    _add_output(p, "show a progress bar")
    p.set_defaults(func=cmd_dequantize, need_output=True)

    p = sub.add_parser("inspect", help="list the tensors of a checkpoint file")
    p.add_argument("input", metavar="FILE")
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    p.set_defaults(func=cmd_inspect)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "need_output", False) and args.output is None:
        parser.error(f"{args.command} needs -o OUT")
    try:
        with _sigterm_raises():
            args.func(args)
            sys.stdout.flush()  # a closed pipe shows up here, not at exit
    except BrokenPipeError:
        # `int8q inspect ... | head`: the reader left; say nothing, as cat does.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except (CLIError, ValueError, TypeError, OSError, MemoryError) as exc:
        print(f"int8q: error: {_one_line(exc)}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("int8q: interrupted", file=sys.stderr)
        return 130
    except Terminated:
        print("int8q: terminated", file=sys.stderr)
        return 128 + signal.SIGTERM
    return 0


if __name__ == "__main__":
    sys.exit(main())
