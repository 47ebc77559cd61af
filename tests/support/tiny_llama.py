"""A tiny random Llama for the engine tests: made here, never downloaded.

``build(folder)`` writes a Hugging Face ``LlamaForCausalLM`` folder: hidden
size 512, 4 layers, 8 attention heads over 4 key/value heads, float32
weights drawn from a seeded NumPy generator (so every run, and every engine,
sees the same model), and a SentencePiece BPE tokenizer trained on a small
generated text (``tokenizer.model`` for llama.cpp's converter, plus the
``tokenizer.json`` transformers writes from it, which vLLM and transformers
load).  ``prompts.json`` holds a few prompts already tokenized, so that every
engine is given the same token ids.

The weights are scaled so that the float model's log probabilities of the
prompt tokens spread by about half a nat (a model whose logits are all near 0
would agree with any quantization of itself), while the residual branches
stay small enough for int8 activations (W8A8) to follow the float model
closely, as in a trained model.  Needs ``sentencepiece`` and
``transformers``; the caller skips without them.
"""

import io
import json
import pathlib

import numpy as np
from checkpoints import write_safetensors

HIDDEN, LAYERS, HEADS, KV_HEADS, INTERMEDIATE = 512, 4, 8, 4, 1024
VOCAB = 1000
SEED = 0

PROMPTS = [
    "the river runs past the old mill and the miller counts his sacks",
    "a small boat drifts toward the harbour while the gulls circle above",
    "she reads the letter twice before she folds it into her coat",
]


def _words(rng, count):
    """Pseudo-words from a few syllables: text a BPE tokenizer can learn."""
    syllables = [a + b for a in "bdfgklmnprstvz" for b in ("a", "e", "i", "o", "u", "ai", "ou")]
    lengths = rng.integers(1, 4, size=count)
    return ["".join(rng.choice(syllables, size=n)) for n in lengths]


def training_text(rng, lines=3000):
    """Generated sentences, plus the prompts' own words so they tokenize well."""
    words = _words(rng, 400) + " ".join(PROMPTS).split()
    text = [" ".join(rng.choice(words, size=rng.integers(4, 16))) for _ in range(lines)]
    return text + PROMPTS


def train_tokenizer(rng, path):
    import sentencepiece as spm

    model = io.BytesIO()
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(training_text(rng)),
        model_writer=model,
        model_type="bpe",
        vocab_size=VOCAB,
        byte_fallback=True,
        character_coverage=1.0,
        unk_id=0,
        bos_id=1,
        eos_id=2,
        pad_id=-1,
        num_threads=1,
        minloglevel=2,
    )
    path.write_bytes(model.getvalue())
    return spm.SentencePieceProcessor(model_file=str(path))


def weights(rng):
    """Float32 tensors named as transformers' LlamaForCausalLM names them."""

    def linear(out, inp, gain=1.0):
        return (rng.standard_normal((out, inp)) * (gain / np.sqrt(inp))).astype(np.float32)

    def norm(n):
        return (1 + 0.1 * rng.standard_normal(n)).astype(np.float32)

    head_dim = HIDDEN // HEADS
    t = {"model.embed_tokens.weight": rng.standard_normal((VOCAB, HIDDEN)).astype(np.float32)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm(HIDDEN)
        t[p + "self_attn.q_proj.weight"] = linear(HEADS * head_dim, HIDDEN)
        t[p + "self_attn.k_proj.weight"] = linear(KV_HEADS * head_dim, HIDDEN)
        t[p + "self_attn.v_proj.weight"] = linear(KV_HEADS * head_dim, HIDDEN)
        t[p + "self_attn.o_proj.weight"] = linear(HIDDEN, HEADS * head_dim, 0.25)
        t[p + "post_attention_layernorm.weight"] = norm(HIDDEN)
        t[p + "mlp.gate_proj.weight"] = linear(INTERMEDIATE, HIDDEN)
        t[p + "mlp.up_proj.weight"] = linear(INTERMEDIATE, HIDDEN)
        t[p + "mlp.down_proj.weight"] = linear(HIDDEN, INTERMEDIATE, 0.25)
    t["model.norm.weight"] = norm(HIDDEN)
    t["lm_head.weight"] = linear(VOCAB, HIDDEN, 0.6)
    return t


CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": HIDDEN,
    "intermediate_size": INTERMEDIATE,
    "num_hidden_layers": LAYERS,
    "num_attention_heads": HEADS,
    "num_key_value_heads": KV_HEADS,
    "head_dim": HIDDEN // HEADS,
    "hidden_act": "silu",
    "vocab_size": VOCAB,
    "max_position_embeddings": 256,
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}


def build(folder):
    """Write the model folder (see the module doc) and return its path."""
    from transformers import LlamaTokenizer

    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    sp = train_tokenizer(rng, folder / "tokenizer.model")
    LlamaTokenizer.from_pretrained(folder).save_pretrained(folder)  # adds tokenizer.json
    (folder / "config.json").write_text(json.dumps(CONFIG, indent=1))
    write_safetensors(folder / "model.safetensors", weights(rng), {"format": "pt"})
    prompts = [[sp.bos_id(), *sp.encode(p)] for p in PROMPTS]
    (folder / "prompts.json").write_text(json.dumps(prompts))
    return folder


def prompts(folder):
    """The token ids of PROMPTS (BOS first) as `build` wrote them."""
    return json.loads((pathlib.Path(folder) / "prompts.json").read_text())
