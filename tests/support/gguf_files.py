"""Small llama-like GGUF files for the tests, written with gguf-py's GGUFWriter.

Without gguf-py, importing this module skips the module that imports it.
"""

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
T = gguf.GGMLQuantizationType

# name, NumPy shape, stored type, the type llama-quantize Q8_0 gives it (and why)
TENSORS = [
    ("token_embd.weight", (64, 96), T.F16, T.Q8_0),
    ("rope_freqs.weight", (32,), T.F32, T.F32),  # 1-D
    ("blk.0.attn_norm.weight", (96,), T.F32, T.F32),  # 1-D, a norm
    ("blk.0.attn_q.weight", (96, 96), T.BF16, T.Q8_0),
    ("blk.0.attn_k.weight", (48, 96), T.F32, T.Q8_0),
    ("blk.0.attn_v.weight", (1, 96), T.F32, T.F32),  # ggml_n_dims 1
    ("blk.0.attn_kv.scale", (8, 32), T.F32, T.F32),  # not a "weight"
    ("blk.0.ffn_down.weight", (96, 40), T.F32, T.F16),  # row 40: no Q8_0 -> F16
    ("blk.0.ffn_up.weight", (40, 50), T.BF16, T.F16),  # row 50: no Q8_0 -> F16
    ("blk.0.ffn_gate.weight", (40, 72), T.F16, T.F16),  # row 72, already F16: copied
    ("blk.0.ffn_gate_inp.weight", (4, 96), T.F32, T.F32),  # expert gate
    ("blk.0.ssm_conv1d.weight", (4, 96), T.F32, T.F32),  # conv1d
    ("blk.0.norm_proj.weight", (8, 32), T.F32, T.Q8_0),  # 2-D, no "_norm.weight"
    ("blk.0.attn_out_norm.weight", (8, 32), T.F32, T.F32),  # "_norm.weight"
    ("position_embd.weight", (16, 96), T.F32, T.F32),  # BERT positions
    ("token_types.weight", (2, 96), T.F32, T.F32),  # BERT token types
    ("blk.0.ffn_up_exps.weight", (2, 8, 64), T.F16, T.Q8_0),  # 3-D experts
    ("blk.0.tok_ids", (3, 4), T.I32, T.I32),
    ("abcde", (4, 32), T.F32, T.Q8_0),  # llama.cpp's rfind quirk
    ("output.weight", (64, 96), T.F16, T.Q8_0),
]


def stored(x, ttype):
    """(array GGUFWriter stores, its float32 values)."""
    if ttype == T.BF16:
        bits = (x.astype(np.float32).view(np.uint32) >> 16).astype(np.uint16)
        return bits, (bits.astype(np.uint32) << 16).view(np.float32)
    if ttype == T.I32:
        return x.astype(np.int32), None
    dtype = {T.F32: np.float32, T.F16: np.float16}[ttype]
    return x.astype(dtype), x.astype(dtype).astype(np.float32)


def write_gguf(path, tensors=TENSORS, extra=None, seed=0, alignment=None):
    """A llama-like GGUF with many kinds of keys; returns {name: float32 values}."""
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(str(path), "llama")
    w.add_name("tiny")
    w.add_file_type(1)  # MOSTLY_F16: replaced by 7
    w.add_uint32("llama.block_count", 1)
    w.add_float32("llama.rope.freq_base", 10000.0)
    w.add_bool("tokenizer.ggml.add_bos_token", True)
    w.add_array("tokenizer.ggml.tokens", ["<s>", "</s>", "héllo", ""])
    w.add_array("tokenizer.ggml.scores", [0.0, -1.5, 2.25, 3.0])
    w.add_uint16("split.count", 1)  # removed, as llama-quantize does
    if alignment:
        w.add_custom_alignment(alignment)
    w.add_quantization_version(2)  # moved to the end
    w.add_string("zz.last", "kept")
    values = {}
    for name, shape, ttype, _ in tensors:
        x = (rng.standard_normal(shape) * rng.uniform(0.01, 3)).astype(np.float32)
        if extra and name in extra:
            x = extra[name](x)
        arr, values[name] = stored(x, ttype)
        w.add_tensor(name, arr, raw_dtype=ttype if ttype == T.BF16 else None)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return values


def fields(reader):
    return [
        (k, f.types, [bytes(p) for p in f.parts])
        for k, f in reader.fields.items()
        if not k.startswith("GGUF.")
    ]
