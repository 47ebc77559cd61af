"""Tiny Hugging Face model folders (config.json beside the weights) for the file tests."""

import json
import os

import numpy as np
from checkpoints import write_safetensors, write_sharded

CONFIG = {
    "architectures": ["TinyModel"],
    "model_type": "tiny",
    "hidden_size": 12,
    "torch_dtype": "float32",
}
LINEAR = ["layers.0.attn.q_proj.weight", "layers.0.mlp.up.weight", "layers.1.mlp.down.weight"]


def tiny_tensors(rng, dtype=np.float32):
    t = {
        "embed_tokens.weight": rng.standard_normal((20, 12)),
        "layers.0.attn.q_proj.weight": rng.standard_normal((12, 12)) * 0.2,
        "layers.0.attn.q_proj.bias": rng.standard_normal(12),
        "layers.0.input_layernorm.weight": np.ones(12),
        "layers.0.mlp.up.weight": rng.standard_normal((24, 12)),
        "layers.1.mlp.down.weight": rng.standard_normal((12, 24)) * 3,
        "norm.weight": np.ones(12),
        "lm_head.weight": rng.standard_normal((20, 12)),
    }
    t = {n: a.astype(dtype) for n, a in t.items()}
    t["position_ids"] = np.arange(8, dtype=np.int64).reshape(1, 8)
    return t


def make_folder(path, tensors, *, shards=1, config=CONFIG):
    """A model folder: config.json, the weights, and the files a hub folder carries."""
    os.makedirs(path / "1_Pooling")
    (path / "config.json").write_text(json.dumps(config, indent=2))
    (path / "tokenizer.json").write_text('{"version": "1.0"}')
    (path / "README.md").write_text("# tiny\n")
    (path / "1_Pooling" / "config.json").write_text('{"pooling_mode_mean_tokens": true}')
    if shards == 1:
        write_safetensors(path / "model.safetensors", tensors, {"format": "pt"})
    else:
        names = list(tensors)
        write_sharded(path, [{n: tensors[n] for n in names[i::shards]} for i in range(shards)])
    return path
