"""Peak memory of `int8q quantize`, `dequantize` and `compare` on a large checkpoint.

Writes a float32 checkpoint shaped like TinyLlama-1.1B cut to --layers layers
(hidden 2048, MLP 5632, 4 key/value heads of 64, vocabulary 32000: the
largest tensors are the 250 MiB embedding and lm_head), tensor by tensor,
into a scratch folder; runs the console script on it under GNU time for the
peak resident set size (inputs are read, not mapped, since issue #14) while
sampling /proc for the peak anonymous memory (RssAnon); prints one line per
command; deletes everything.  Linux only.

    python tools/measure/io_peak_rss.py --layers 8          # 1.8 GiB
    python tools/measure/io_peak_rss.py --layers 2          # same largest tensor, 0.8 GiB
    python tools/measure/io_peak_rss.py --layers 8 --hf 4   # a Hugging Face folder in 4 shards
                                                    # (config.json, index): W8A16, W8A8

Run it with the interpreter int8q is installed in, from outside the
repository root.
"""

import argparse
import json
import os
import shutil
import struct
import subprocess
import sys
import sysconfig
import tempfile
import time

import numpy as np

HIDDEN, MLP, KV, VOCAB = 2048, 5632, 256, 32000


def tensors(layers):
    """(name, shape) in file order, as a Llama checkpoint names them."""
    yield "model.embed_tokens.weight", (VOCAB, HIDDEN)
    for i in range(layers):
        p = f"model.layers.{i}."
        yield p + "input_layernorm.weight", (HIDDEN,)
        yield p + "self_attn.q_proj.weight", (HIDDEN, HIDDEN)
        yield p + "self_attn.k_proj.weight", (KV, HIDDEN)
        yield p + "self_attn.v_proj.weight", (KV, HIDDEN)
        yield p + "self_attn.o_proj.weight", (HIDDEN, HIDDEN)
        yield p + "post_attention_layernorm.weight", (HIDDEN,)
        yield p + "mlp.gate_proj.weight", (MLP, HIDDEN)
        yield p + "mlp.up_proj.weight", (MLP, HIDDEN)
        yield p + "mlp.down_proj.weight", (HIDDEN, MLP)
    yield "model.norm.weight", (HIDDEN,)
    yield "lm_head.weight", (VOCAB, HIDDEN)


def write_checkpoint(path, layers, items=None):
    """Stream the checkpoint (or just `items`: (name, shape) pairs) to `path`;
    returns (file size, largest tensor bytes)."""
    rng = np.random.default_rng(0)
    items = list(tensors(layers)) if items is None else items
    header, position, largest = {"__metadata__": {"format": "pt"}}, 0, 0
    for name, shape in items:
        nbytes = int(np.prod(shape)) * 4
        header[name] = {
            "dtype": "F32",
            "shape": list(shape),
            "data_offsets": [position, position + nbytes],
        }
        position += nbytes
        largest = max(largest, nbytes)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, shape in items:
            a = rng.standard_normal(shape, dtype=np.float32) * 0.02
            f.write(a.tobytes())
            del a
    return os.path.getsize(path), largest


def write_hf_folder(folder, layers, shards):
    """A Hugging Face model folder: config.json, `shards` shard files, their
    index; returns (total size, largest tensor bytes)."""
    items = list(tensors(layers))
    size, largest, weight_map = 0, 0, {}
    for i in range(shards):
        part = items[i::shards]
        name = f"model-{i + 1:05d}-of-{shards:05d}.safetensors"
        s, big = write_checkpoint(os.path.join(folder, name), layers, part)
        size, largest = size + s, max(largest, big)
        weight_map.update(dict.fromkeys((n for n, _ in part), name))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": size}, "weight_map": weight_map}, f)
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(
            {
                "architectures": ["LlamaForCausalLM"],
                "model_type": "llama",
                "hidden_size": HIDDEN,
                "intermediate_size": MLP,
                "num_hidden_layers": layers,
                "vocab_size": VOCAB,
                "torch_dtype": "float32",
            },
            f,
        )
    return size, largest


def _size(path):
    if os.path.isfile(path):
        return os.path.getsize(path)
    return sum(
        os.path.getsize(os.path.join(root, n)) for root, _, names in os.walk(path) for n in names
    )


def _children(pid):
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(c) for c in f.read().split()]
    except OSError:
        return []


def _rss(pid):
    """(RssAnon, RssFile) in bytes of a running process, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            fields = dict(line.split(":", 1) for line in f if line.startswith("Rss"))
        return (int(fields["RssAnon"].split()[0]) * 1024, int(fields["RssFile"].split()[0]) * 1024)
    except (OSError, KeyError, ValueError):
        return None


def measure(args, workdir):
    """Run the int8q console script under GNU time: (max RSS, peak anon, seconds)."""
    exe = shutil.which("int8q", path=sysconfig.get_path("scripts")) or "int8q"
    report = os.path.join(workdir, "time.txt")
    timer = subprocess.Popen(
        ["/usr/bin/time", "-f", "%M %e", "-o", report, exe, *args],
        cwd=workdir,
        stdout=subprocess.DEVNULL,
    )
    peak_anon = 0
    while timer.poll() is None:
        for child in _children(timer.pid):
            rss = _rss(child)
            if rss:
                peak_anon = max(peak_anon, rss[0])
        time.sleep(0.005)
    if timer.returncode:
        sys.exit(f"int8q {' '.join(args)} failed with status {timer.returncode}")
    with open(report) as f:
        max_rss_kib, seconds = f.read().split()[-2:]
    return int(max_rss_kib) * 1024, peak_anon, float(seconds)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument(
        "--hf",
        type=int,
        metavar="SHARDS",
        help="write a Hugging Face model folder in SHARDS shards and quantize it with both schemes",
    )
    parser.add_argument(
        "--dir",
        default=tempfile.gettempdir(),
        help="where to make the scratch folder (default: the temp dir)",
    )
    opts = parser.parse_args()
    if not os.path.exists("/usr/bin/time"):
        sys.exit("needs GNU time at /usr/bin/time")
    work = tempfile.mkdtemp(prefix="int8q-peak-rss-", dir=opts.dir)
    try:
        MiB = 1 << 20
        if opts.hf:
            src = os.path.join(work, "model")
            os.mkdir(src)
            size, largest = write_hf_folder(src, opts.layers, opts.hf)
            runs = [
                ["quantize", src, "-o", os.path.join(work, "w8a16")],
                ["quantize", src, "-o", os.path.join(work, "w8a8"), "--scheme", "W8A8"],
                ["dequantize", os.path.join(work, "w8a16"), "-o", os.path.join(work, "back")],
                ["compare", src, os.path.join(work, "w8a16")],
            ]
        else:
            src = os.path.join(work, "model.safetensors")
            size, largest = write_checkpoint(src, opts.layers)
            runs = [
                ["quantize", src, "-o", os.path.join(work, "q.safetensors")],
                [
                    "dequantize",
                    os.path.join(work, "q.safetensors"),
                    "-o",
                    os.path.join(work, "back.safetensors"),
                ],
                ["compare", src, os.path.join(work, "q.safetensors")],
            ]
        print(
            f"checkpoint: {opts.layers} layers, {size / MiB:.0f} MiB float32"
            + (f" in {opts.hf} shards (Hugging Face folder)" if opts.hf else "")
            + f", largest tensor {largest / MiB:.0f} MiB"
        )
        for args in runs:
            writes = "-o" in args  # compare only reads (and prints its report)
            max_rss, anon, seconds = measure(args + (["--quiet"] if writes else ["--json"]), work)
            print(
                f"int8q {' '.join(args[:1] + args[4:]):<25}  max RSS {max_rss / MiB:6.0f} MiB  "
                f"peak RssAnon {anon / MiB:6.0f} MiB  {seconds:5.1f} s  "
                + (f"output {_size(args[3]) / MiB:.0f} MiB" if writes else "")
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
