"""Recall@10 of INT8 sentence embeddings against float32, with ranges
calibrated once on the corpus, saved as JSON, and reused for single queries
(docs/guide/calibration.md, "Recipe: sentence embeddings").

Embeddings: all-MiniLM-L6-v2 (tools/measure/minilm.py, NumPy forward) of the
sentences in the standard library's docstrings.  Every 10th sentence is a
query; the rest is the corpus.  Ground truth: top-10 by float32 cosine.

    python tools/measure/embedding_recall.py [cache.npy]
"""

import json
import os
import sys

import minilm
import numpy as np

import int8q


def top10(scores):
    return np.argsort(-scores, axis=1, kind="stable")[:, :10]


def recall(truth, got):
    return np.mean([len(set(t) & set(g)) / 10 for t, g in zip(truth, got)])


CONFIGS = [
    ("per tensor, minmax", dict(method="minmax")),
    ("per tensor, percentile 99.99", dict(method="percentile", percentile=99.99)),
    ("per dimension, minmax", dict(method="minmax", axis=-1)),
    ("per dimension, percentile 99.9", dict(method="percentile", percentile=99.9, axis=-1)),
    ("per dimension, mse", dict(method="mse", axis=-1)),
    ("per dimension, asymmetric int8", dict(method="minmax", axis=-1, symmetric=False)),
]


def main():
    cache = sys.argv[1] if len(sys.argv) > 1 else None
    if cache and os.path.exists(cache):
        emb = np.load(cache)
    else:
        emb = minilm.embed(minilm.stdlib_sentences(), minilm.load_weights())
        if cache:
            np.save(cache, emb)
    is_query = np.arange(len(emb)) % 10 == 0
    corpus, queries = emb[~is_query], emb[is_query]
    truth = top10(queries @ corpus.T)
    print(f"{len(corpus)} corpus and {len(queries)} query embeddings of dimension {emb.shape[1]}")

    rows = []
    for label, kw in CONFIGS:
        # Calibrate once on the corpus (in batches, as a stream would come),
        # save, reload: the queries use the saved ranges, one at a time.
        cal = int8q.Calibrator(**kw)
        cal.update(corpus[i : i + 512] for i in range(0, len(corpus), 512))
        saved = json.dumps(cal.to_dict())
        cal = int8q.Calibrator.from_dict(json.loads(saved))
        qc = cal.quantize(corpus)
        qq = [cal.quantize(q) for q in queries]
        assert all(np.count_nonzero(q.q) for q in qq)
        if kw.get("axis") is None and kw.get("symmetric", True):
            # One scale: integer dot products rank exactly like the
            # dequantized ones.
            scores = np.stack([q.q for q in qq]).astype(np.int32) @ qc.q.astype(np.int32).T
        else:
            scores = np.stack([q.dequantize() for q in qq]) @ qc.dequantize().T
        rows.append((label, recall(truth, top10(scores))))
    # The failure mode saved ranges avoid: ranges taken from one query.
    one = int8q.Calibrator("minmax", axis=-1).update(queries[:1])
    scores = (
        np.stack([one.quantize(q).dequantize() for q in queries])
        @ one.quantize(corpus).dequantize().T
    )
    rows.append(("per dimension, ranges from ONE query", recall(truth, top10(scores))))
    print(f"{'ranges':36s} recall@10")
    for label, r in rows:
        print(f"{label:36s} {r:.4f}")


if __name__ == "__main__":
    main()
