"""clip="mse" on all-MiniLM-L6-v2: SQNR gain over abs-max per row, and the
cosine between the float model's sentence embeddings and the quantized
models' (every 2-D weight quantized per row, as `int8q quantize` does by
default).  Prints the figures quoted in docs/guide/calibration.md.

    python tools/measure/clip_report.py [n_sentences]
"""

import sys
import time

import minilm
import numpy as np

import int8q


def sqnr_db(x, xhat):
    x = x.astype(np.float64)
    return 10 * np.log10(np.sum(x**2) / np.sum((x - xhat.astype(np.float64)) ** 2))


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 400
    weights = minilm.load_weights()
    models = {"abs-max": dict(weights), "mse": dict(weights)}
    gains, rows = [], []
    t_abs = t_mse = 0.0
    for name, x in weights.items():
        if x.ndim != 2 or x.dtype != np.float32:
            continue
        t0 = time.perf_counter()
        a = int8q.quantize(x, axis=0)
        t1 = time.perf_counter()
        m = int8q.quantize(x, axis=0, clip="mse")
        t2 = time.perf_counter()
        t_abs += t1 - t0
        t_mse += t2 - t1
        da, dm = a.dequantize(), m.dequantize()
        models["abs-max"][name], models["mse"][name] = da, dm
        sa, sm = sqnr_db(x, da), sqnr_db(x, dm)
        gains.append(sm - sa)
        rows.append((name, x.shape, sa, sm))
    gains = np.array(gains)
    print(f"{len(gains)} weight matrices, per-row scales")
    print(
        f"SQNR gain of clip='mse' over abs-max: min {gains.min():.2f} dB, "
        f"median {np.median(gains):.2f} dB, max {gains.max():.2f} dB"
    )
    worst = min(rows, key=lambda r: r[2])
    print(
        f"lowest abs-max SQNR: {worst[0]} {worst[1]}: {worst[2]:.2f} dB -> "
        f"{worst[3]:.2f} dB with mse"
    )
    print(
        f"time: abs-max {t_abs:.2f} s, clip='mse' {t_mse:.2f} s "
        f"({int8q.get_num_threads()} threads, SIMD {int8q.get_simd()})"
    )
    sentences = minilm.stdlib_sentences()[:: max(1, 3960 // n)][:n]
    tok = minilm.tokenizer()
    ref = minilm.embed(sentences, weights, tok)
    for label, w in models.items():
        e = minilm.embed(sentences, w, tok)
        cos = np.sum(ref * e, axis=1)
        print(
            f"embedding cosine to float32, {label:7s}: mean {cos.mean():.6f}, "
            f"min {cos.min():.6f}  ({len(sentences)} sentences)"
        )


if __name__ == "__main__":
    main()
