"""The client side of tests/peers/test_hf_clients.py: a script that never imports int8q.

    python hf_client.py RESULT.json FLOAT_DIR [--ct-w8a8 DIR] NAME=DIR ...
    python hf_client.py RESULT.json FLOAT_DIR --logits PROMPTS.json NAME=DIR ...

``import int8q`` is blocked in this process (tests/support/clients.py).  Loads FLOAT_DIR and each
quantized DIR with ``transformers.AutoModel.from_pretrained`` (the
compressed-tensors integration does the rest), embeds ``clients.SENTENCES``
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

``--logits PROMPTS.json`` (lists of token ids) loads the folders with
``AutoModelForCausalLM`` instead and compares, in place of embeddings, the
logits at every token of every prompt (each prompt run on its own).
"""

import json
import os
import sys

import clients  # first: blocks int8q before the clients import anything
import numpy as np
import torch
from compressed_tensors.compressors import ModelCompressor
from compressed_tensors.quantization import (
    QuantizationConfig,
    apply_quantization_config,
    preset_name_to_scheme,
)
from compressed_tensors.quantization.utils import calculate_qparams, is_module_quantized
from transformers import AutoModel, AutoModelForCausalLM, AutoTokenizer


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


def sentence_embeddings(float_dir):
    """AutoModel and (model -> the embedding of every sentence)."""
    tokenizer = AutoTokenizer.from_pretrained(float_dir)
    batch = tokenizer(clients.SENTENCES, padding=True, truncation=True, return_tensors="pt")
    return AutoModel, lambda model: embed(model, batch)


def prompt_logits(prompts):
    """AutoModelForCausalLM and (model -> its logits at every token of every prompt)."""

    def logits(model):
        with torch.no_grad():
            return torch.cat([model(torch.tensor([p])).logits[0] for p in prompts])

    return AutoModelForCausalLM, logits


def main(argv):
    result_path, float_dir, rest = argv[0], argv[1], argv[2:]
    folders, prompts = {}, None
    while rest:
        arg = rest.pop(0)
        if arg == "--ct-w8a8":
            folders["ct-W8A8"] = rest.pop(0)
            make_ct_w8a8(float_dir, folders["ct-W8A8"])
        elif arg == "--logits":
            with open(rest.pop(0)) as f:
                prompts = json.load(f)
        else:
            name, _, path = arg.partition("=")
            folders[name] = path
    if prompts is None:
        auto, outputs = sentence_embeddings(float_dir)
        results = {"sentences": len(clients.SENTENCES)}
    else:
        auto, outputs = prompt_logits(prompts)
        results = {"tokens": sum(map(len, prompts))}
    reference = outputs(auto.from_pretrained(float_dir))
    for name, path in folders.items():
        model = auto.from_pretrained(path)
        cosines = torch.nn.functional.cosine_similarity(outputs(model), reference)
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
