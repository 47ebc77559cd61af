"""Peak memory of `int8q quantize model-f16.gguf -o model-q8_0.gguf`.

Writes an F16 GGUF shaped like TinyLlama-1.1B cut to --layers layers (the
shapes of tools/measure/io_peak_rss.py, llama.cpp's tensor names; the largest
tensors are the 125 MiB token embedding and output), tensor by tensor, into
a scratch folder; runs the console script under GNU time (max RSS) while
sampling /proc for the peak
anonymous memory; prints one line; deletes everything.  Linux only.

    python tools/measure/gguf_peak_rss.py --layers 8

Run it with the interpreter int8q is installed in, from outside the
repository root.
"""

import argparse
import os
import shutil
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from io_peak_rss import HIDDEN, KV, MLP, VOCAB, measure  # noqa: E402

from int8q.io._formats import _gguf_format as gf  # noqa: E402


def tensors(layers):
    """(name, NumPy shape) in file order, as llama.cpp's converter names them."""
    yield "token_embd.weight", (VOCAB, HIDDEN)
    for i in range(layers):
        p = f"blk.{i}."
        yield p + "attn_norm.weight", (HIDDEN,)
        yield p + "attn_q.weight", (HIDDEN, HIDDEN)
        yield p + "attn_k.weight", (KV, HIDDEN)
        yield p + "attn_v.weight", (KV, HIDDEN)
        yield p + "attn_output.weight", (HIDDEN, HIDDEN)
        yield p + "ffn_norm.weight", (HIDDEN,)
        yield p + "ffn_gate.weight", (MLP, HIDDEN)
        yield p + "ffn_up.weight", (MLP, HIDDEN)
        yield p + "ffn_down.weight", (HIDDEN, MLP)
    yield "output_norm.weight", (HIDDEN,)
    yield "output.weight", (VOCAB, HIDDEN)


def write_gguf(path, layers):
    """Stream the F16 GGUF (1-D tensors F32, as the converter writes them) to `path`."""
    rng = np.random.default_rng(0)
    specs = [(n, s, gf.TYPE_IDS["F32" if len(s) == 1 else "F16"]) for n, s in tensors(layers)]
    arch = gf.string_kv("general.architecture", "llama")
    with open(path, "wb") as f:
        w = gf.Writer(f, [arch, gf.u32_kv("general.file_type", 1)], specs, gf.DEFAULT_ALIGNMENT)
        for name, shape, ttype in specs:
            w.begin(name)
            a = rng.standard_normal(shape, dtype=np.float32) * 0.02
            w.write(a.astype(np.float16 if ttype == gf.TYPE_IDS["F16"] else np.float32))
            w.end()
            del a
        w.close()
    return os.path.getsize(path)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--dir", default=tempfile.gettempdir())
    opts = parser.parse_args()
    if not os.path.exists("/usr/bin/time"):
        sys.exit("needs GNU time at /usr/bin/time")
    work = tempfile.mkdtemp(prefix="int8q-gguf-rss-", dir=opts.dir)
    try:
        src, dst = os.path.join(work, "model-f16.gguf"), os.path.join(work, "model-q8_0.gguf")
        size = write_gguf(src, opts.layers)
        max_rss, anon, seconds = measure(["quantize", src, "-o", dst, "--quiet"], work)
        MiB = 1 << 20
        print(
            f"{opts.layers} layers, {size / MiB:.0f} MiB F16 GGUF -> "
            f"{os.path.getsize(dst) / MiB:.0f} MiB Q8_0: max RSS {max_rss / MiB:.0f} MiB, "
            f"peak RssAnon {anon / MiB:.0f} MiB, {seconds:.1f} s"
        )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
