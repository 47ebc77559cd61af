"""Which ggml type each tensor gets in a Q8_0 GGUF: llama-quantize's choice.

This follows llama.cpp's src/llama-quant.cpp for ``llama-quantize IN OUT
Q8_0`` with default options (no --pure, --leave-output-tensor,
--output-tensor-type, --token-embedding-type, --tensor-type or imatrix):

- ``tensor_allows_quantization``: only tensors of two or more dimensions
  (counted as ``ggml_n_dims`` does: trailing ne of 1 do not count) whose
  name ends in "weight" and is none of the exceptions below keep their
  type otherwise: norms, expert gates, position embeddings and token types
  (BERT), conv1d, RWKV and multimodal tensors, ...;
- every other tensor gets Q8_0 (``llama_tensor_get_type_impl``: for Q8_0
  files the output and tied token embeddings stay Q8_0 too);
- ``tensor_type_fallback``: a row length (``ne[0]``) that is not a multiple
  of 32 cannot be Q8_0, and Q8_0 has no smaller block to fall back to, so
  the tensor becomes F16.

The file's metadata gets ``general.quantization_version = 2``
(GGML_QNT_VERSION) and ``general.file_type = 7`` (LLAMA_FTYPE_MOSTLY_Q8_0),
both u32, each removed and appended at the end as ``gguf_set_val_u32``
does; split keys are removed.
"""

from collections.abc import Sequence

from ..._shared import Q8_0_BLOCK
from .._formats._gguf_format import TYPE_IDS

Q8_0, F16 = TYPE_IDS["Q8_0"], TYPE_IDS["F16"]

QUANTIZATION_VERSION = ("general.quantization_version", 2)  # GGML_QNT_VERSION
FILE_TYPE = ("general.file_type", 7)  # LLAMA_FTYPE_MOSTLY_Q8_0
SPLIT_KEYS = ("split.no", "split.count", "split.tensors.count")

# Substrings that keep a tensor unquantized (tensor_allows_quantization).
_NEVER = (
    "_norm.weight",
    "ffn_gate_inp.weight",
    "ffn_gate_tid2eid.weight",
    "altup",
    "laurel",
    "per_layer_model_proj",
    "ssm_conv1d",
    "shortconv.conv.weight",
    "indexer.k_proj.weight",
    "indexer.q_proj.weight",
    "time_mix_first.weight",
    "time_mix_w0.weight",
    "time_mix_w1.weight",
    "time_mix_w2.weight",
    "time_mix_v0.weight",
    "time_mix_v1.weight",
    "time_mix_v2.weight",
    "time_mix_a0.weight",
    "time_mix_a1.weight",
    "time_mix_a2.weight",
    "time_mix_g1.weight",
    "time_mix_g2.weight",
    "time_mix_decay_w1.weight",
    "time_mix_decay_w2.weight",
    "time_mix_lerp_fused.weight",
    "attn_rel_b.weight",
    ".position_embd",
    "sam.pos_embd",
    "sam.neck.",
    "sam.net_",
    ".rel_pos",
    ".patch_embd",
    ".patch_merger",
    "a.rvq.codebook",
    "mm.a.code_embd",
)
# LLM_TN(arch)(LLM_TENSOR_POS_EMBD / LLM_TENSOR_TOKEN_TYPES, "weight"): the same for every arch.
_NEVER_EXACT = ("position_embd.weight", "token_types.weight")
# Only for general.architecture == "glm5-next" (LLM_ARCH_GLM5_NEXT).
_NEVER_GLM5_NEXT = (
    "hc_",
    "indexer.attn_q_b",
    "indexer.attn_k",
    "indexer.proj",
    "indexer_compressor_gate",
    "indexer_compressor_ape",
    "ssm_f_a.weight",
    "ssm_f_b.weight",
    "ssm_g_a.weight",
    "ssm_g_b.weight",
    "ssm_beta.weight",
    "attn_kv_a_mqa.weight",
    "attn_k_b.weight",
    "attn_v_b.weight",
)


def ggml_n_dims(shape: Sequence[int]) -> int:
    """ggml_n_dims: 1 + the index of the last ne (NumPy: first axis) above 1."""
    ne = list(reversed(shape))
    for i in range(len(ne) - 1, 0, -1):
        if ne[i] > 1:
            return i + 1
    return 1


def _ends_in_weight(name: str) -> bool:
    # llama.cpp: name.rfind("weight") == name.size() - 6, in size_t arithmetic.
    # Besides names ending in "weight", that is also true of a 5-byte name
    # (npos == 5 - 6 wrapped), and llama-quantize quantizes those too.
    b = name.encode("utf-8")
    found = b.rfind(b"weight")
    npos = 2**64 - 1
    return (npos if found < 0 else found) == (len(b) - 6) % 2**64


def allows_quantization(name: str, shape: Sequence[int], arch: object) -> bool:
    """tensor_allows_quantization with default parameters."""
    if ggml_n_dims(shape) < 2 or not _ends_in_weight(name):
        return False
    if name in _NEVER_EXACT or any(s in name for s in _NEVER):
        return False
    return not (arch == "glm5-next" and any(s in name for s in _NEVER_GLM5_NEXT))


def target_type(name: str, shape: Sequence[int], src_type: int, arch: object) -> int:
    """The ggml type llama-quantize gives this tensor in a Q8_0 file."""
    if not allows_quantization(name, shape, arch):
        return src_type
    return Q8_0 if shape[-1] % Q8_0_BLOCK == 0 else F16
