"""The int8q command line.

    int8q quantize 1.0 -1.0 0.5 -0.5          print the dict form as JSON
    int8q quantize IN -o OUT [options]        quantize a checkpoint file
    int8q dequantize IN -o OUT                restore it
    int8q inspect FILE [--json]               list its tensors
    int8q compare ORIGINAL QUANTIZED          what each quantized tensor lost

IN is a .safetensors file, a Hugging Face model folder (config.json beside
its weights: written in compressed-tensors format), a sharded checkpoint
(its directory or its *.safetensors.index.json), a .npy, a .npz or a .gguf
(into Q8_0, as llama-quantize does); see int8q.io for the conventions.
With huggingface_hub installed, IN may also be a Hub model ID (org/name).
``quantize`` prints the dict form when every argument is a number and there
is no -o.

OUT is named for what is written (docs/semantics.md §4): the container's
suffix for a file, no file suffix for a folder.  An existing OUT is
replaced only with --force.  On success a one-line summary goes to stderr
(-q: none; --json: the same data as JSON on stdout).

Errors print one line on stderr and exit with status 2.  An interrupt
(Ctrl-C, exit 130) or SIGTERM (``timeout``, a container stop; exit 143)
removes the unfinished output before exiting.
"""

import argparse
import contextlib
import fnmatch
import json
import math
import os
import re
import shlex
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn, cast, get_args

from . import __version__, int8_quantize
from ._shared import ROUNDINGS, check_block_size
from ._typing import Scheme

if TYPE_CHECKING:
    from .io._compare import CompareRow, Summary

if TYPE_CHECKING:
    from .io._containers._container import Row

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


# What argparse takes for a negative number rather than an option: the
# start of any float syntax (-2.5e2, -.5, -1e-3, -inf, -nan), not only the
# -1 and -0.5 that its own pattern matches before Python 3.13.  No int8q
# option starts so; a token that only starts like a number (-1x) is then
# refused as "not a number".
_NEGATIVE_NUMBER = re.compile(r"^-(?:\.?\d|(?i:inf|nan))")


class _Formatter(argparse.HelpFormatter):
    """The description wrapped as usual; the epilog (examples) kept as written."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        if text.startswith("examples:"):
            return "".join(indent + line for line in text.splitlines(keepends=True))
        return super()._fill_text(text, width, indent)


class _Parser(argparse.ArgumentParser):
    """argparse, with usage errors reported on one line like every other error,
    and negative numbers of any float syntax taken as values."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", _Formatter)
        super().__init__(*args, **kwargs)
        self._negative_number_matcher = _NEGATIVE_NUMBER

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"int8q: error: {message} (see {self.prog} --help)\n")


def _choice(*values: str) -> Callable[[str], str]:
    """An argparse type: one of `values`, in any case, given back as spelled in `values`."""
    by_key = {v.lower(): v for v in values}

    def parse(text: str) -> str:
        try:
            return by_key[text.lower()]
        except KeyError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not one of {', '.join(values)} (any case)"
            ) from None

    parse.__name__ = "choice"
    return parse


def _block_size(text: str) -> int:
    try:
        return check_block_size(int(text))
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be an integer >= 1, got {text!r}") from None


def _as_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _progress_wanted(args: argparse.Namespace) -> bool:
    """A bar on a terminal (stderr), unless -q or --no-progress; --progress forces it."""
    if args.progress is None:
        return not args.quiet and sys.stderr.isatty() and _have_tqdm()
    if args.progress and not _have_tqdm():
        raise CLIError("--progress needs tqdm (pip install tqdm)")
    return bool(args.progress)


def _have_tqdm() -> bool:
    try:
        import tqdm  # noqa: F401
    except ImportError:
        return False
    return True


def _file_options_given(args: argparse.Namespace) -> bool:
    return (
        args.per_tensor
        or args.block_size is not None
        or args.rounding is not None
        or args.skip
        or args.all
        or args.progress is not None
        or args.quiet
        or args.force
        or args.revision is not None
        or args.scheme is not None
        or args.clip is not None
        or args.report is not None
    )


def _human(nbytes: float) -> str:
    """A size in binary units, as tqdm's bar shows it: 512 B, 1.5 KiB, 86.9 MiB."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(nbytes) < 1024 or unit == "TiB":
            return f"{nbytes:.0f} {unit}" if unit == "B" else f"{nbytes:.1f} {unit}"
        nbytes /= 1024
    raise AssertionError("unreachable")


# inspect rows of tensors written as they were, and of a quantized weight's companions
_KEPT, _COMPANIONS = "none", ("scale", "shape")


def _converted(rows: "list[Row]") -> int:
    return sum(r["scheme"] != _KEPT and r["scheme"] not in _COMPANIONS for r in rows)


def _kept(rows: "list[Row]") -> int:
    return sum(r["scheme"] == _KEPT for r in rows)


def _report(
    args: argparse.Namespace, given: str, before: "list[Row]", after: "list[Row]", seconds: float
) -> None:
    """The summary: one line on stderr (none with -q), and with --json on stdout.
    `given`: the input as the user named it (a path, or a Hub model ID)."""
    verb = args.command  # "quantize" or "dequantize"
    converted = _converted(after) if verb == "quantize" else _converted(before)
    kept = _kept(after) if verb == "quantize" else _kept(before)
    in_bytes, out_bytes = sum(r["size"] for r in before), sum(r["size"] for r in after)
    data = {
        "command": verb,
        "input": given,
        "output": args.output,
        f"{verb}d": converted,
        "kept": kept,
        "input_bytes": in_bytes,
        "output_bytes": out_bytes,
        "ratio": round(in_bytes / out_bytes, 4) if out_bytes else None,
        "seconds": round(seconds, 4),
        "bytes_per_second": round(in_bytes / seconds) if seconds > 0 else None,
    }
    if args.json:
        print(json.dumps(data))
    if args.quiet:
        return
    ratio = f" (ratio {data['ratio']:.2f})" if data["ratio"] is not None else ""
    speed = f", {_human(in_bytes / seconds)}/s" if seconds > 0 else ""
    tensors = "tensor" if converted == 1 else "tensors"
    print(
        f"int8q: {verb}d {converted} {tensors}, kept {kept}; "
        f"{_human(in_bytes)} -> {_human(out_bytes)}{ratio} in {seconds:.2f} s{speed}",
        file=sys.stderr,
    )


def _check_patterns(patterns: Sequence[str], rows: "list[Row]", src: str) -> None:
    names = [r["name"] for r in rows]
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise CLIError(
                f"--skip {pattern!r} matches no tensor of {src} (names are case-sensitive)"
            )


def _resolve(args: argparse.Namespace, path: str) -> str:
    """A local path for IN: IN itself, or the folder of a Hub model ID."""
    from .io._hub import resolve_model_path

    return resolve_model_path(path, revision=args.revision)


def cmd_quantize(args: argparse.Namespace) -> None:
    numbers = [_as_number(t) for t in args.inputs]
    if args.output is None:
        if None in numbers:
            bad = args.inputs[numbers.index(None)]
            if os.path.exists(bad):
                raise CLIError(f"quantize {bad} needs -o OUT, the file or folder to write")
            raise CLIError(f"not a number: {bad!r} (to quantize a file, give -o OUT)")
        if _file_options_given(args):
            raise CLIError("options apply to files; numbers take none")
        print(json.dumps(int8_quantize(cast("list[float]", numbers))))  # no None: see above
        return
    from . import io

    given = _one_input(args)
    src = _resolve(args, given)
    progress = _progress_wanted(args)
    before = io.inspect_file(src)
    _check_patterns(args.skip or (), before, given)
    start = time.perf_counter()
    if args.report is not None and not os.path.isdir(os.path.dirname(os.path.abspath(args.report))):
        raise CLIError(f"--report {args.report}: no such directory")
    io.quantize_file(
        src,
        args.output,
        per_tensor=args.per_tensor,
        block_size=args.block_size,
        rounding=args.rounding or "half_even",
        skip=args.skip or (),
        all_tensors=args.all,
        scheme=args.scheme,
        progress=progress,
        clip=args.clip,
        force=args.force,
    )
    seconds = time.perf_counter() - start
    _report(args, given, before, io.inspect_file(args.output), seconds)
    if args.report is not None:
        write_report(src, args.output, args.report)


def _one_input(args: argparse.Namespace) -> str:
    if len(args.inputs) != 1:
        raise CLIError(f"give one input file with -o, got {len(args.inputs)}")
    path: str = args.inputs[0]  # argparse types its attributes Any
    return path


def cmd_dequantize(args: argparse.Namespace) -> None:
    from . import io

    src = _resolve(args, args.input)
    progress = _progress_wanted(args)
    before = io.inspect_file(src)
    start = time.perf_counter()
    io.dequantize_file(src, args.output, progress=progress, force=args.force)
    seconds = time.perf_counter() - start
    _report(args, args.input, before, io.inspect_file(args.output), seconds)


def _shape(shape: Sequence[int]) -> str:
    return "x".join(str(d) for d in shape) if shape else "()"


def _natural(name: str) -> list[Any]:
    """Sort key: layers.2 before layers.10."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def _table(rows: Sequence[Sequence[str]], right: Sequence[int]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            c.rjust(w) if i in right else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths))
        ).rstrip()
        for row in rows
    ]


def cmd_inspect(args: argparse.Namespace) -> None:
    from . import io

    rows = sorted(
        io.inspect_file(_resolve(args, args.input)), key=lambda r: (_natural(r["name"]), r["file"])
    )
    if args.json:
        print(json.dumps([{**r, "shape": list(r["shape"])} for r in rows], indent=1))
        return
    table = [("name", "shape", "dtype", "scheme", "size")]
    for r in rows:
        dtype = r["dtype"] + (f" ({r['original_dtype']})" if r["original_dtype"] else "")
        scheme = r["scheme"] + (f" {r['strategy']}" if r.get("strategy") else "")
        table.append((r["name"], _shape(r["shape"]), dtype, scheme, _human(r["size"])))
    for line in _table(table, right=[4]):
        print(line)
    totals: dict[str, list[int]] = {}
    for r in rows:
        count_size = totals.setdefault(r["dtype"], [0, 0])
        count_size[0] += 1
        count_size[1] += r["size"]
    files = len({r["file"] for r in rows})
    summary = [
        (f"{dtype}:", f"{n} tensor{'s' * (n != 1)}", _human(size))
        for dtype, (n, size) in sorted(totals.items())
    ]
    summary.append(
        (
            "total:",
            f"{len(rows)} tensor{'s' * (len(rows) != 1)}",
            _human(sum(r["size"] for r in rows)) + (f" in {files} files" if files > 1 else ""),
        )
    )
    print()
    for line in _table(summary, right=[1]):
        print(line)


_QUANTIZE_EXAMPLES = """\
examples:
  int8q quantize model.safetensors -o model-int8.safetensors
  int8q quantize ./Qwen3-0.6B -o ./Qwen3-0.6B-W8A8 --scheme w8a8
  int8q quantize Qwen/Qwen3-0.6B -o ./Qwen3-0.6B-W8A16    # a Hub model ID
  int8q quantize model-f16.gguf -o model-q8_0.gguf
  int8q quantize weights.npy -o weights-int8.npz --block-size 64
  int8q quantize 1 -2.5e2 .5                             # numbers: the dict form

OUT is named for what is written: a .safetensors, .npz or .gguf file keeps
its container's suffix (a .npy becomes an .npz); a model folder or sharded
checkpoint is written as a folder named without a file suffix.  An existing
OUT is refused unless --force (it is then replaced in one step).
"""

_DEQUANTIZE_EXAMPLES = """\
examples:
  int8q dequantize model-int8.safetensors -o model.safetensors
  int8q dequantize ./Qwen3-0.6B-W8A16 -o ./Qwen3-0.6B-restored
  int8q dequantize weights-int8.npz -o weights.npy

OUT is named as for quantize: the restored container's suffix for a file
(.npy for an .npz made from a .npy), no file suffix for a folder.
"""

_INSPECT_EXAMPLES = """\
examples:
  int8q inspect model-int8.safetensors
  int8q inspect ./Qwen3-0.6B-W8A16 --json
  int8q inspect Qwen/Qwen3-0.6B --revision main
"""


# ---- compare ----


def _json_ready(fields: Mapping[str, object]) -> dict[str, object]:
    """Tuples as lists; inf and NaN, which JSON lacks, as null."""
    return {
        k: list(v)
        if isinstance(v, tuple)
        else None
        if isinstance(v, float) and not math.isfinite(v)
        else v
        for k, v in fields.items()
    }


def _glob_escaped(name: str) -> str:
    """`name` as a --skip pattern matching only itself."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def _report_json(rows: "list[CompareRow]", summary: "Summary") -> str:
    rows_out = [_json_ready(r) for r in rows]
    return json.dumps({"tensors": rows_out, "summary": _json_ready(summary)}, indent=1)


def write_report(original: str, quantized: str, path: str) -> None:
    """`quantize --report`: compare's JSON for the input and the output just written."""
    from .io import _compare
    from .io._support._atomic import output_file

    rows = _compare.compare_files(original, quantized)
    with output_file(path) as f:
        f.write((_report_json(rows, _compare.summarize(rows)) + "\n").encode())


def cmd_compare(args: argparse.Namespace) -> None:
    from .io import _compare

    if args.plot is not None:
        from .io import _compare_plot

        try:
            _compare_plot.check_plot_path(args.plot)
        except ModuleNotFoundError as exc:
            raise CLIError(str(exc)) from None
    rows = _compare.compare_files(_resolve(args, args.original), _resolve(args, args.quantized))
    summary = _compare.summarize(rows, args.min_sqnr)
    if args.plot is not None:
        _compare_plot.plot_sqnr(rows, summary, args.plot, f"{args.quantized} vs {args.original}")
    if args.json:
        print(_report_json(rows, summary))
        return
    table = [("name", "shape", "dtype", "SQNR dB", "cosine", "max abs err", "saturated", "zero")]
    for r in rows:
        table.append(
            (
                r["name"],
                _shape(r["shape"]),
                r["dtype"],
                f"{r['sqnr_db']:.2f}",
                f"{r['cosine']:.6f}",
                f"{r['max_abs_error']:.3g}",
                f"{100 * r['saturated']:.2f}%",
                f"{100 * r['zero']:.2f}%",
            )
        )
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    for row in table:
        cells = [c.ljust(w) for c, w in zip(row[:3], widths)]
        print("  ".join(cells + [c.rjust(w) for c, w in zip(row[3:], widths[3:])]))
    by_name = {r["name"]: r["sqnr_db"] for r in rows}
    print(
        f"{summary['tensors']} quantized tensors: SQNR mean {summary['mean_sqnr_db']:.2f} dB, "
        f"min {summary['min_sqnr_db']:.2f} dB, overall {summary['overall_sqnr_db']:.2f} dB"
    )
    print("worst: " + ", ".join(f"{n} ({by_name[n]:.2f} dB)" for n in summary["worst"]))
    below, threshold = summary["below_threshold"], summary["min_sqnr_threshold_db"]
    if not below:
        print(f"no tensor below {threshold:g} dB")
    else:
        skips = " ".join(f"--skip {shlex.quote(_glob_escaped(n))}" for n in below)
        print(f"{len(below)} below {threshold:g} dB; to keep them in float, quantize with: {skips}")


def _add_compare(sub: "argparse._SubParsersAction[_Parser]") -> None:
    p = sub.add_parser(
        "compare",
        help="how much each tensor of a quantized checkpoint lost against its original",
        description="Compare QUANTIZED (written by int8q, a compressed-tensors model folder,\n"
        "or a Q8_0 GGUF) with ORIGINAL, the float checkpoint it was made from: per\n"
        "tensor, SQNR in dB, cosine similarity, max abs error and the shares of\n"
        "saturated and zero codes, in layer order; then a summary, and the tensors\n"
        "below --min-sqnr as the --skip options that would keep them in float.",
        epilog="examples:\n"
        "  int8q compare model.safetensors model-int8.safetensors\n"
        "  int8q compare MODEL_DIR MODEL_DIR-W8A8 --json > report.json\n"
        "  int8q compare model-f16.gguf model-q8_0.gguf --plot sqnr.png\n"
        "  int8q compare Qwen/Qwen3-0.6B ./Qwen3-0.6B-W8A16    # a Hub model ID",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("original", metavar="ORIGINAL", help="the float checkpoint")
    p.add_argument("quantized", metavar="QUANTIZED", help="the quantized checkpoint")
    p.add_argument("--json", action="store_true", help="print rows and summary as JSON")
    p.add_argument("--plot", metavar="FILE.png", help="draw SQNR per tensor (needs matplotlib)")
    p.add_argument(
        "--min-sqnr",
        type=float,
        default=30.0,
        metavar="DB",
        help="list tensors below this SQNR as --skip candidates (default 30)",
    )
    _add_revision(p)
    p.set_defaults(func=cmd_compare)


def _add_output(p: argparse.ArgumentParser, what: str) -> None:
    p.add_argument(
        "-o",
        "--output",
        metavar="OUT",
        help=f"{what}: a file with its container's suffix, or a folder (no file suffix) "
        "for a sharded checkpoint or a Hugging Face model folder",
    )
    p.add_argument("--force", action="store_true", help="replace OUT if it exists (in one step)")
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        help="show a progress bar (default: when stderr is a terminal)",
    )
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no summary and no progress bar on stderr"
    )
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout")


def _add_revision(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--revision",
        metavar="REV",
        help="for a Hub model ID: the branch, tag or commit (default: main)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="int8q",
        description="Symmetric INT8 quantization of checkpoints and numbers.",
        epilog="run 'int8q COMMAND --help' for a command's options and examples",
    )
    parser.add_argument("--version", action="version", version=f"int8q {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser(
        "quantize",
        help="quantize a checkpoint file, or numbers given on the command line",
        description="Quantize IN (.safetensors, a Hugging Face model folder, a sharded "
        "checkpoint directory or its index, .npy, .npz, .gguf, or a Hub model ID) into "
        "OUT, and print a one-line summary on stderr.  With numbers and no -o, print "
        "the dict form (int8q.int8_quantize) as JSON.",
        epilog=_QUANTIZE_EXAMPLES,
    )
    p.add_argument(
        "inputs",
        nargs="+",
        metavar="IN|NUMBER",
        help="the checkpoint to quantize, or numbers (any float syntax: -2.5e2, -.5)",
    )
    _add_output(p, "the output")
    _add_revision(p)
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
    p.add_argument(
        "--rounding",
        type=_choice(*ROUNDINGS),
        metavar="{" + ",".join(ROUNDINGS) + "}",
        help="how ties round (default half_even)",
    )
    p.add_argument(
        "--skip",
        action="append",
        metavar="GLOB",
        help="leave tensors whose name matches GLOB in float (repeatable; "
        "case-sensitive; a GLOB that matches no tensor is an error)",
    )
    p.add_argument(
        "--all",
        action="store_true",
        help="also quantize 1-D floating tensors and integer tensors "
        "(a Hugging Face model folder: also lm_head; W8A16 only)",
    )
    p.add_argument(
        "--scheme",
        type=_choice(*get_args(Scheme)),
        metavar="{" + ",".join(get_args(Scheme)) + "}",
        help="a Hugging Face model folder's compressed-tensors scheme, in any case: W8A16 "
        "(default; weight-only, vLLM's CompressedTensorsWNA16) or W8A8 "
        "(int8 weights and dynamic per-token int8 activations, "
        "CompressedTensorsW8A8Int8)",
    )
    p.add_argument(
        "--clip",
        type=_choice("mse"),
        metavar="{mse}",
        help="mse: clip each row (tensor, block) where the squared error is "
        "smallest (default: no clipping, abs-max)",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="then write what `int8q compare IN OUT --json` prints to FILE",
    )
    p.set_defaults(func=cmd_quantize)

    p = sub.add_parser(
        "dequantize",
        help="restore a file written by int8q quantize",
        description="Restore IN (a file or folder written by int8q quantize, a "
        "compressed-tensors model folder, or a Hub model ID) to its original names, "
        "shapes and dtypes in OUT, and print a one-line summary on stderr.",
        epilog=_DEQUANTIZE_EXAMPLES,
    )
    p.add_argument("input", metavar="IN", help="the quantized checkpoint")
    _add_output(p, "the restored output (required)")
    _add_revision(p)
    p.set_defaults(func=cmd_dequantize, need_output=True)

    p = sub.add_parser(
        "inspect",
        help="list the tensors of a checkpoint file",
        description="List the tensors of FILE (any input of quantize, quantized or not), "
        "sorted by name, with shapes, dtypes, how each is stored and its size, then "
        "totals per dtype.  Reads headers only.",
        epilog=_INSPECT_EXAMPLES,
    )
    p.add_argument("input", metavar="FILE", help="the checkpoint (file, folder or Hub model ID)")
    p.add_argument("--json", action="store_true", help="print the list as JSON (sizes in bytes)")
    _add_revision(p)
    p.set_defaults(func=cmd_inspect)
    _add_compare(sub)
    return parser


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "need_output", False) and args.output is None:
        print(
            f"int8q: error: {args.command} needs -o OUT, the file or folder to write "
            f"(for example: int8q {args.command} {args.input} -o OUT)",
            file=sys.stderr,
        )
        return 2
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
