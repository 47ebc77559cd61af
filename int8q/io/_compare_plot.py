"""``int8q compare --plot``: SQNR per tensor in layer order, as an image.

matplotlib is optional (the ``plot`` extra) and imported only here.
"""

import math
import os
from collections.abc import Sequence
from typing import Any

from ._compare import CompareRow, Summary
from ._support._atomic import output_file

MAX_LABELS = 60  # tensor names written under the axis; more would overlap


def _pyplot() -> Any:  # (matplotlib.pyplot: typed by matplotlib where installed)
    try:
        import matplotlib
    except ImportError:
        raise ModuleNotFoundError("--plot needs matplotlib: pip install 'int8q[plot]'") from None
    matplotlib.use("Agg")  # files only: no display needed
    import matplotlib.pyplot as plt

    return plt


def check_plot_path(path: str) -> str:
    """The image format of `path` (its suffix); ValueError for one matplotlib
    cannot write, ModuleNotFoundError without matplotlib.  Called before any
    work, with the output policy's checks (_support._outputs: never an
    input, never an existing file without --force)."""
    plt = _pyplot()
    fmt = os.path.splitext(path)[1].lower().lstrip(".")
    supported = plt.figure().canvas.get_supported_filetypes()
    plt.close("all")
    if fmt not in supported:
        raise ValueError(
            f"--plot {path}: name the image .png (or .{', .'.join(sorted(supported))})"
        )
    return fmt


def plot_sqnr(rows: Sequence[CompareRow], summary: Summary, path: str, title: str) -> None:
    """Write the plot of `rows` (already in layer order) to `path`."""
    fmt = check_plot_path(path)
    plt = _pyplot()
    sqnr = [r["sqnr_db"] for r in rows]
    finite = [s for s in sqnr if math.isfinite(s)]
    top = max(finite, default=0.0) + 5  # where exact (infinite SQNR) tensors are drawn
    ys = [s if math.isfinite(s) else top for s in sqnr]
    threshold = summary["min_sqnr_threshold_db"]
    xs = range(len(rows))
    fig, ax = plt.subplots(figsize=(min(6 + 0.12 * len(rows), 30), 5))
    ax.plot(xs, ys, "-", color="0.7", linewidth=0.8)
    low = [i for i in xs if ys[i] < threshold]
    high = [i for i in xs if ys[i] >= threshold]
    ax.scatter(high, [ys[i] for i in high], s=12, color="tab:blue", label="SQNR")
    if low:
        ax.scatter(
            low, [ys[i] for i in low], s=16, color="tab:red", label=f"below {threshold:g} dB"
        )
    ax.axhline(threshold, color="tab:red", linestyle="--", linewidth=0.8)
    step = max(1, math.ceil(len(rows) / MAX_LABELS))
    ax.set_xticks(list(xs)[::step])
    ax.set_xticklabels([r["name"] for r in rows][::step], rotation=90, fontsize=6)
    ax.set_ylabel("SQNR (dB)")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(axis="y", linewidth=0.3)
    fig.tight_layout()
    try:
        with output_file(path) as f:
            fig.savefig(f, format=fmt, dpi=120)
    finally:
        plt.close(fig)
