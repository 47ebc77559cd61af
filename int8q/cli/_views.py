"""``int8q inspect`` and ``int8q compare``: what a checkpoint holds, and what it lost."""

import argparse
import re
import shlex
from collections.abc import Sequence
from typing import Any

from ._common import CLIError, human, json_text, resolve
from ._files import compare_json


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
    from .. import io

    rows = sorted(
        io.inspect_file(resolve(args, args.input)), key=lambda r: (_natural(r["name"]), r["file"])
    )
    if args.json:
        print(json_text(rows, indent=1))
        return
    table = [("name", "shape", "dtype", "scheme", "size")]
    for r in rows:
        dtype = r["dtype"] + (f" ({r['original_dtype']})" if r["original_dtype"] else "")
        scheme = r["scheme"] + (f" {r['strategy']}" if r.get("strategy") else "")
        table.append((r["name"], _shape(r["shape"]), dtype, scheme, human(r["size"])))
    for line in _table(table, right=[4]):
        print(line)
    totals: dict[str, list[int]] = {}
    for r in rows:
        count_size = totals.setdefault(r["dtype"], [0, 0])
        count_size[0] += 1
        count_size[1] += r["size"]
    files = len({r["file"] for r in rows})
    summary = [
        (f"{dtype}:", f"{n} tensor{'s' * (n != 1)}", human(size))
        for dtype, (n, size) in sorted(totals.items())
    ]
    summary.append(
        (
            "total:",
            f"{len(rows)} tensor{'s' * (len(rows) != 1)}",
            human(sum(r["size"] for r in rows)) + (f" in {files} files" if files > 1 else ""),
        )
    )
    print()
    for line in _table(summary, right=[1]):
        print(line)


def _glob_escaped(name: str) -> str:
    """`name` as a --skip pattern matching only itself."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def cmd_compare(args: argparse.Namespace) -> None:
    from .. import io
    from ..io import _compare

    original, quantized = resolve(args, args.original), resolve(args, args.quantized)
    if args.plot is not None:
        from ..io import _compare_plot
        from ..io._support._outputs import Output, check_outputs

        plot = Output(args.plot, what="the plot", check_name=_compare_plot.check_plot_path)
        try:
            check_outputs([plot], io._inputs(original) + io._inputs(quantized), args.force)
        except ModuleNotFoundError as exc:
            raise CLIError(str(exc)) from None
    rows = _compare.compare_files(original, quantized)
    summary = _compare.summarize(rows, args.min_sqnr)
    if args.plot is not None:
        _compare_plot.plot_sqnr(rows, summary, args.plot, f"{args.quantized} vs {args.original}")
    if args.json:
        print(compare_json(rows, summary))
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
