"""``int8q quantize`` and ``int8q dequantize``: checkpoints in, checkpoints out."""

import argparse
import contextlib
import fnmatch
import os
import sys
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, cast

from .. import int8_quantize
from ._common import CLIError, human, json_text, resolve

if TYPE_CHECKING:
    from ..io._compare import CompareRow, Summary
    from ..io._containers._container import Row

# int8q.io is imported only for file commands: printing the dict form stays as quick
# to start as it was.


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
        or args.per_channel
        or args.reduce_range
        or args.weight_type is not None
        or args.op_types is not None
    )


# inspect rows of tensors written as they were, and of a quantized weight's companions
_KEPT, _COMPANIONS = "none", ("scale", "shape", "zero_point")


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
        print(json_text(data))
    if args.quiet:
        return
    ratio = f" (ratio {data['ratio']:.2f})" if data["ratio"] is not None else ""
    speed = f", {human(in_bytes / seconds)}/s" if seconds > 0 else ""
    tensors = "tensor" if converted == 1 else "tensors"
    print(
        f"int8q: {verb}d {converted} {tensors}, kept {kept}; "
        f"{human(in_bytes)} -> {human(out_bytes)}{ratio} in {seconds:.2f} s{speed}",
        file=sys.stderr,
    )


def _check_patterns(patterns: Sequence[str], names: Sequence[str], src: str) -> None:
    for pattern in patterns:
        if not any(fnmatch.fnmatchcase(n, pattern) for n in names):
            raise CLIError(
                f"--skip {pattern!r} matches no tensor of {src} (names are case-sensitive)"
            )


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
        print(json_text(int8_quantize(cast("list[float]", numbers))))  # no None: see above
        return
    from .. import io

    given = _one_input(args)
    src = resolve(args, given)
    progress = _progress_wanted(args)
    before = io.inspect_file(src)
    _check_patterns(args.skip or (), io._skip_names(src, before), given)
    options: dict[str, Any] = {
        "per_tensor": args.per_tensor,
        "block_size": args.block_size,
        "rounding": args.rounding or "half_even",
        "skip": args.skip or (),
        "all_tensors": args.all,
        "scheme": args.scheme,
        "progress": progress,
        "clip": args.clip,
    }
    for name in ("per_channel", "reduce_range", "weight_type", "op_types"):
        if getattr(args, name):  # (given: the ONNX-only options, refused elsewhere)
            options[name] = getattr(args, name)
    start = time.perf_counter()
    if args.report is None:
        io.quantize_file(src, args.output, **options, force=args.force)
    else:
        _quantize_with_report(src, args.output, args.report, options, args.force)
    seconds = time.perf_counter() - start
    _report(args, given, before, io.inspect_file(args.output), seconds)


def _quantize_with_report(
    src: str, dst: str, report: str, options: dict[str, Any], force: bool
) -> None:
    """`quantize --report`: both outputs or neither.

    Both are checked before anything is written.  The checkpoint is written
    in a temporary folder beside `dst`, under its own name, and compared
    with `src` there; the report is written (atomically), and only then
    does the checkpoint take its place.  A failure before that leaves
    neither; the report is removed if the checkpoint cannot be put in place.
    """
    from .. import io
    from ..io._support._atomic import output_file
    from ..io._support._outputs import Output, staged

    out = io._check_quantize_outputs(src, dst, force, [Output(report, what="the report")])
    written = False
    try:
        with staged(dst, out.folder) as tmp:
            io.quantize_file(src, tmp, **options)
            text = report_text(src, tmp)
            with output_file(report) as f:
                f.write(text.encode())
            written = True
    except BaseException:
        if written:
            with contextlib.suppress(OSError):
                os.unlink(report)
        raise


def report_text(original: str, quantized: str) -> str:
    """What `int8q compare ORIGINAL QUANTIZED --json` prints."""
    from ..io import _compare

    rows = _compare.compare_files(original, quantized)
    return compare_json(rows, _compare.summarize(rows)) + "\n"


def compare_json(rows: "list[CompareRow]", summary: "Summary") -> str:
    return json_text({"tensors": rows, "summary": summary}, indent=1)


def _one_input(args: argparse.Namespace) -> str:
    if len(args.inputs) != 1:
        raise CLIError(f"give one input file with -o, got {len(args.inputs)}")
    path: str = args.inputs[0]  # argparse types its attributes Any
    return path


def cmd_dequantize(args: argparse.Namespace) -> None:
    from .. import io

    src = resolve(args, args.input)
    progress = _progress_wanted(args)
    before = io.inspect_file(src)
    start = time.perf_counter()
    io.dequantize_file(src, args.output, progress=progress, force=args.force)
    seconds = time.perf_counter() - start
    _report(args, args.input, before, io.inspect_file(args.output), seconds)
