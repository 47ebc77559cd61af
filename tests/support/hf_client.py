"""The client side of tests/peers/test_hf_clients.py: a script that never imports int8q.

    python hf_client.py RESULT.json FLOAT_DIR [--ct-w8a8 DIR] NAME=DIR ...

``import int8q`` is blocked in this process.  Loads FLOAT_DIR and each
quantized DIR with ``transformers.AutoModel.from_pretrained`` (the
compressed-tensors integration does the rest), embeds the sentences below
(mean pooling over the attention mask, as all-MiniLM-L6-v2's
sentence-transformers pooling does), and writes to RESULT.json, per NAME:
the cosine with the float embedding of every sentence, the
``quantization_config`` as compressed-tensors' own ``QuantizationConfig``
parses it (``model_validate``), the model's dtype, and the name of an
``.npz`` (beside RESULT.json) holding the weight of every ``nn.Linear`` as
the loaded model computes with it (compressed-tensors decompresses on the
first forward), as float32.

``--ct-w8a8 DIR`` first makes a W8A8 checkpoint of FLOAT_DIR with
compressed-tensors itself, as llm-compressor's ``W8A8`` preset with a
min-max observer would: the preset scheme applied to every Linear, weight
scales from ``calculate_qparams`` on each row's min and max, then
``ModelCompressor.compress_model``, ``save_pretrained`` and ``update_config``.
Its cosines are the reference for int8q's W8A8.
"""

import importlib.abc
import json
import os
import sys


class _NoInt8q(importlib.abc.MetaPathFinder):
    """Make ``import int8q`` fail here: the clients must not need it."""

    def find_spec(self, name, path=None, target=None):
        if name == "int8q" or name.startswith("int8q."):
            raise ImportError(f"{name} is blocked in the client process")
        return None


sys.meta_path.insert(0, _NoInt8q())

import numpy as np  # noqa: E402  (after the blocker, on purpose)
import torch  # noqa: E402
from compressed_tensors.compressors import ModelCompressor  # noqa: E402
from compressed_tensors.quantization import (  # noqa: E402
    QuantizationConfig,
    apply_quantization_config,
    preset_name_to_scheme,
)
from compressed_tensors.quantization.utils import calculate_qparams, is_module_quantized  # noqa: E402
from transformers import AutoModel, AutoTokenizer  # noqa: E402

SENTENCES = [
    "The cat sits on the mat.",
    "A man is playing a guitar on stage.",
    "Quantization maps floating point weights to small integers.",
    "hello world",
    "Where is the nearest train station?",
    "The stock market fell sharply after the announcement.",
    "She baked a chocolate cake for her brother's birthday.",
    "Photosynthesis converts light energy into chemical energy.",
    "I can't believe it's already December.",
    "The committee will meet again next Tuesday to discuss the budget.",
    "Rain is expected tomorrow in the northern regions.",
    "He forgot his umbrella at the restaurant.",
    "Neural networks are trained with gradient descent.",
    "What time does the museum open on Sundays?",
    "The quick brown fox jumps over the lazy dog.",
    "Our team won the championship after a difficult season.",
    "Please restart the server before applying the update.",
    "The river flooded the village during the storm.",
    "Coffee or tea?",
    "Mount Everest is the highest mountain above sea level.",
    "The children built a sandcastle on the beach.",
    "This recipe needs two cups of flour and one egg.",
    "Lost: a small black dog answering to the name of Max.",
    "The violinist performed Bach's partitas from memory.",
    "Interest rates are likely to rise later this year.",
    "A sentence embedding represents the meaning of a text as a vector.",
    "The spacecraft entered orbit around Jupiter.",
    "Please turn off your phones during the performance.",
    "My grandmother grows tomatoes in her garden every summer.",
    "Translation quality has improved a lot in recent years.",
    "The library is closed for renovation until March.",
    "Two plus two equals four.",
    "An apple a day keeps the doctor away.",
    "The defendant pleaded not guilty to all charges.",
    "Let's meet at the corner café at noon.",
    "Volcanic eruptions can affect the global climate for years.",
]


def embed(model, batch):
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    return (hidden * mask).sum(1) / mask.sum(1)


def make_ct_w8a8(src, out):
    """A W8A8 checkpoint of `src` made by compressed-tensors (see the module doc)."""
    model = AutoModel.from_pretrained(src)
    config = QuantizationConfig(
        config_groups={"group_0": preset_name_to_scheme("W8A8", ["Linear"])}, ignore=["lm_head"]
    )
    apply_quantization_config(model, config)
    with torch.no_grad():
        for module in model.modules():
            if is_module_quantized(module):
                w = module.weight
                scale, zero_point = calculate_qparams(
                    w.amin(dim=1, keepdim=True),
                    w.amax(dim=1, keepdim=True),
                    module.quantization_scheme.weights,
                )
                module.weight_scale.copy_(scale)
                if hasattr(module, "weight_zero_point"):
                    module.weight_zero_point.copy_(zero_point)
    compressor = ModelCompressor.from_pretrained_model(model)
    compressor.compress_model(model)
    model.save_pretrained(out)
    compressor.update_config(out)


def main(argv):
    result_path, float_dir, rest = argv[0], argv[1], argv[2:]
    folders = {}
    while rest:
        arg = rest.pop(0)
        if arg == "--ct-w8a8":
            folders["ct-W8A8"] = rest.pop(0)
            make_ct_w8a8(float_dir, folders["ct-W8A8"])
        else:
            name, _, path = arg.partition("=")
            folders[name] = path
    tokenizer = AutoTokenizer.from_pretrained(float_dir)
    batch = tokenizer(SENTENCES, padding=True, truncation=True, return_tensors="pt")
    reference = embed(AutoModel.from_pretrained(float_dir), batch)
    results = {"sentences": len(SENTENCES)}
    for name, path in folders.items():
        model = AutoModel.from_pretrained(path)
        cosines = torch.nn.functional.cosine_similarity(embed(model, batch), reference)
        with open(os.path.join(path, "config.json")) as f:
            written = json.load(f)["quantization_config"]
        parsed = QuantizationConfig.model_validate(written)
        # float32 holds bfloat16 and float16 values exactly (NumPy has no bfloat16)
        weights = {
            n: m.weight.detach().float().numpy()
            for n, m in model.named_modules()
            if isinstance(m, torch.nn.Linear)
        }
        npz = os.path.join(os.path.dirname(result_path), f"{name}-weights.npz")
        np.savez(npz, **weights)
        results[name] = {
            "cosines": cosines.tolist(),
            "weights": npz,
            "dtype": str(model.dtype),
            "config": json.loads(parsed.model_dump_json()),
        }
    results["int8q_imported"] = "int8q" in sys.modules
    with open(result_path, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1:])
