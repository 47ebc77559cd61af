"""int8q against its peers, side by side in one process.

    python benchmarks/bench.py            # full suite (sizes 2^10 .. 2^26)
    python benchmarks/bench.py --quick    # smoke run: small sizes, one repeat

For every case the competitors run interleaved (A, B, C, A, B, C, ...) and
each keeps its best time over the repeats; a measurement loops a call until it
takes at least --min-time seconds (after bottleneck's autotimeit).  Peers that
are not installed (torch, gguf) are skipped, never faked.  Prints a table of
Gelem/s and peer/int8q ratios, writes JSON and, with matplotlib, a PNG plot.
"""
import argparse
import datetime
import json
import os
import pathlib
import platform
import sys
import time
import warnings

import numpy as np

import int8q
from int8q import ggml, reference

try:
    import torch
except ImportError:
    torch = None
try:
    from gguf import GGMLQuantizationType
    from gguf import quants as gguf_quants
except ImportError:
    gguf_quants = None

HERE = pathlib.Path(__file__).resolve().parent


# ----------------------------------------------------------------------------
# Competitors: each maker takes the input and returns a zero-argument callable.

def numpy_per_tensor(x):
    def run():
        s = np.abs(x).max() / np.float32(127)
        s = s if s != 0 else np.float32(1)
        return np.clip(np.rint(x / s), -127, 127).astype(np.int8), s
    return run


def numpy_qdq(x):
    per_tensor = numpy_per_tensor(x)

    def run():
        q, s = per_tensor()
        return q, q.astype(np.float32) * s
    return run


def numpy_per_row(w):
    def run():
        s = np.abs(w).max(axis=1, keepdims=True) / np.float32(127)
        s[s == 0] = 1
        return np.clip(np.rint(w / s), -127, 127).astype(np.int8), s
    return run


def numpy_per_block(x, block=32):
    def run():
        b = x.reshape(-1, block)
        s = np.abs(b).max(axis=1, keepdims=True) / np.float32(127)
        s[s == 0] = 1
        return np.clip(np.rint(b / s), -127, 127).astype(np.int8), s
    return run


def torch_per_tensor(x, dequantize=False):
    t = torch.from_numpy(x)

    def run():
        s = float(t.abs().max()) / 127 or 1.0
        qt = torch.quantize_per_tensor(t, s, 0, torch.qint8)
        return qt.dequantize() if dequantize else qt
    return run


def torch_per_row(w):
    t = torch.from_numpy(w)
    zeros = torch.zeros(w.shape[0], dtype=torch.int64)

    def run():
        s = t.abs().amax(dim=1).double() / 127
        s[s == 0] = 1
        return torch.quantize_per_channel(t, s, zeros, 0, torch.qint8)
    return run


def gguf_q8_0(x):
    def run():
        return gguf_quants.quantize(x, GGMLQuantizationType.Q8_0)
    return run


def copy_roof(x):
    dst = np.empty_like(x)

    def run():
        np.copyto(dst, x)
    return run


# ----------------------------------------------------------------------------

def best_time(func, min_time, repeats_state):
    """Seconds per call: loop until min_time has passed, return the mean."""
    number = repeats_state.get(func, 1)
    while True:
        start = time.perf_counter()
        for _ in range(number):
            func()
        elapsed = time.perf_counter() - start
        if elapsed >= min_time or number >= 1 << 20:
            repeats_state[func] = number
            return elapsed / number
        number *= 2 if elapsed == 0 else max(2, int(min_time / elapsed * 1.2))


def measure(competitors, repeats, min_time):
    """Best seconds per call for each competitor, interleaved over repeats."""
    best = {name: float("inf") for name in competitors}
    state = {}
    for _ in range(repeats):
        for name, func in competitors.items():
            best[name] = min(best[name], best_time(func, min_time, state))
    return best


def cases(sizes, quick):
    """(case, size, elements, {name: callable}) for every benchmark."""
    rng = np.random.default_rng(0)
    for n in sizes:
        x = rng.standard_normal(n, dtype=np.float32)
        comp = {"int8q": lambda x=x: int8q.quantize(x),
                "numpy": numpy_per_tensor(x),
                "copy": copy_roof(x)}
        if torch is not None:
            comp["torch"] = torch_per_tensor(x)
        yield "per-tensor", n, n, comp

        comp = {"int8q": lambda x=x: int8q.quantize_dequantize(x),
                "numpy": numpy_qdq(x),
                "copy": copy_roof(x)}
        if torch is not None:
            comp["torch"] = torch_per_tensor(x, dequantize=True)
        yield "qdq", n, n, comp

        comp = {"int8q": lambda x=x: int8q.quantize(x.reshape(-1, 32), block_size=32),
                "numpy": numpy_per_block(x),
                "copy": copy_roof(x)}
        yield "per-block-32", n, n, comp

        comp = {"int8q": lambda x=x: ggml.quantize_q8_0(x), "copy": copy_roof(x)}
        if gguf_quants is not None and n <= 1 << 24:
            comp["gguf"] = gguf_q8_0(x)
        yield "q8_0", n, n, comp
        del x

    rows = 256 if quick else 4096
    w = rng.standard_normal((rows, 4096), dtype=np.float32)
    comp = {"int8q": lambda: int8q.quantize(w, axis=0), "numpy": numpy_per_row(w),
            "copy": copy_roof(w)}
    if torch is not None:
        comp["torch"] = torch_per_row(w)
    yield "per-row", w.size, w.size, comp

    for n in ([4, 100] if quick else [4, 100, 1000, 100_000]):
        values = rng.standard_normal(n).tolist()
        yield "dict", n, n, {"int8q": lambda v=values: int8q.int8_quantize(v),
                             "numpy": lambda v=values: reference.int8_quantize(v)}


# Bytes each case moves per element (float32 in, int8 out), for the roof.
BYTES_PER_ELEMENT = {"per-tensor": 9, "qdq": 13, "per-block-32": 5 + 4 / 32,
                     "q8_0": 4 + 34 / 32, "per-row": 5}


def machine():
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(),
            "numpy": np.__version__, "torch": getattr(torch, "__version__", None),
            "int8q": int8q.__version__, "simd": int8q.get_simd(),
            "threads": int8q.get_num_threads(),
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "date": datetime.date.today().isoformat()}


def run(args):
    if args.quick:
        sizes = [1 << 10, 1 << 16]
    else:
        sizes = [1 << k for k in range(10, 27, 2)]
        if args.max_log2:
            sizes = [s for s in sizes if s <= 1 << args.max_log2]
    results = []
    for case, size, elements, comp in cases(sizes, args.quick):
        best = measure(comp, args.repeats, args.min_time)
        row = {"case": case, "size": size, "seconds": best,
               "gelem_per_s": {k: elements / v / 1e9 for k, v in best.items()},
               "ratio": {k: v / best["int8q"] for k, v in best.items()
                         if k not in ("int8q", "copy")}}
        if "copy" in best:
            roof = 8 * elements / best["copy"]  # bytes/s of np.copyto
            row["roof_fraction"] = BYTES_PER_ELEMENT[case] * elements / best["int8q"] / roof
        results.append(row)
        print_row(row)
        sys.stdout.flush()
    return results


def print_header():
    print(f"{'case':<13}{'size':>10}  {'int8q Gel/s':>11}  {'roof':>5}  peers (Gel/s, peer time / int8q time)")


def print_row(row):
    g = row["gelem_per_s"]
    peers = "  ".join(f"{k} {g[k]:.3g} ({r:.1f}x)" for k, r in row["ratio"].items())
    roof = f"{row['roof_fraction']:.2f}" if "roof_fraction" in row else "  -"
    print(f"{row['case']:<13}{row['size']:>10}  {g['int8q']:>11.3f}  {roof:>5}  {peers}")


def markdown(data):
    """The README's table: one row per case and size, Gelem/s and ratios."""
    m = data["machine"]
    lines = [f"{m['cpu']}, {m['cores']} cores, {m['date']}; int8q {m['int8q']} "
             f"(simd {m['simd']}, {m['threads']} threads), NumPy {m['numpy']}, "
             f"torch {m['torch']} ({m['torch_threads']} threads). Ratio = peer time / "
             "int8q time; roof = fraction of np.copyto bandwidth.", "",
             "| case | elements | int8q Gelem/s | roof | vs NumPy | vs torch | vs gguf |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for r in data["results"]:
        if r["case"] != "dict" and r["size"] < 1 << 16:
            continue
        ratio = r["ratio"]
        cells = [f"{ratio[k]:.1f}x" if k in ratio else "-" for k in ("numpy", "torch", "gguf")]
        roof = f"{r['roof_fraction']:.2f}" if "roof_fraction" in r and r["size"] >= 1 << 26 else "-"
        lines.append(f"| {r['case']} | {r['size']:,} | {r['gelem_per_s']['int8q']:.3g} | "
                     f"{roof} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


STYLE = {"int8q": dict(color="tab:blue", linewidth=2.6, marker="o"),
         "numpy": dict(color="tab:orange", marker="s"),
         "torch": dict(color="tab:red", marker="^"),
         "gguf": dict(color="tab:purple", marker="v"),
         "copy": dict(color="0.5", linestyle="--", marker="", label="np.copyto (roof)")}


def plot(results, path):
    """Throughput against size, one panel per case, one colour per competitor."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    sweep = [c for c in ("per-tensor", "qdq", "per-block-32", "q8_0")
             if any(r["case"] == c for r in results)]
    fig, axes = plt.subplots(1, len(sweep), figsize=(4.2 * len(sweep), 3.8), squeeze=False)
    for ax, case in zip(axes[0], sweep):
        rows = [r for r in results if r["case"] == case]
        for name, style in STYLE.items():
            pts = [(r["size"], r["gelem_per_s"][name]) for r in rows if name in r["gelem_per_s"]]
            if pts:
                ax.plot(*zip(*pts), **{"label": name, "linewidth": 1.2, **style})
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_title(case)
        ax.set_xlabel("float32 elements")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7)
    axes[0][0].set_ylabel("Gelem/s (higher is better)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, one repeat")
    parser.add_argument("--repeats", type=int, default=None)
    parser.add_argument("--min-time", type=float, default=None,
                        help="seconds each measurement runs at least")
    parser.add_argument("--max-log2", type=int, default=None, help="largest size, log2")
    parser.add_argument("--out", type=pathlib.Path, default=HERE / "results")
    parser.add_argument("--no-plot", action="store_true")
    parser.add_argument("--plot-only", type=pathlib.Path, metavar="JSON",
                        help="redraw the plot from an earlier run's JSON")
    parser.add_argument("--markdown", type=pathlib.Path, metavar="JSON",
                        help="print the README table from an earlier run's JSON")
    args = parser.parse_args(argv)
    if args.repeats is None:
        args.repeats = 1 if args.quick else 5
    if args.min_time is None:
        args.min_time = 0.01 if args.quick else 0.2
    if args.markdown:
        print(markdown(json.loads(args.markdown.read_text())))
        return 0
    if args.plot_only:
        plot(json.loads(args.plot_only.read_text())["results"], args.out / "bench.png")
        return 0
    warnings.simplefilter("ignore")  # torch's deprecation notices are not ours
    info = machine()
    print(" ".join(f"{k}={v}" for k, v in info.items()))
    print_header()
    results = run(args)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "bench.json", "w") as f:
        json.dump({"machine": info, "results": results}, f, indent=1)
    if not args.no_plot:
        try:
            plot(results, args.out / "bench.png")
        except ImportError:
            print("matplotlib not installed: no plot")
    return 0


if __name__ == "__main__":
    sys.exit(main())
