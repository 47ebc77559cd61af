"""End to end: `int8q quantize` on a 2 GiB checkpoint, against the I/O floor.

    python benchmarks/checkpoint.py --dir /scratch/int8q-ckpt          # build (once) and run
    python benchmarks/checkpoint.py --dir /scratch/int8q-ckpt --repeats 9 --cases hf-W8A16 gguf
    python benchmarks/checkpoint.py --dir ... --llmc-python /path/to/venv/bin/python

Builds (or reuses, when --dir already holds them) synthetic checkpoints
shaped like TinyLlama-1.1B (22 layers, hidden 2048, MLP 5632, 4 key/value
heads of 64, vocabulary 32000; 2.05 GiB of bfloat16):

- a Hugging Face folder: config.json, model-0000X-of-0000N.safetensors and
  model.safetensors.index.json (bfloat16), quantized as a Hugging Face folder
  (W8A16 per channel and in groups of 128, W8A8) and, through its index, as
  a sharded checkpoint;
- the same tensors in one .safetensors file;
- the same model as an F16 GGUF (norms F32, as llama.cpp writes them);
- with --npz, the same tensors as float16 arrays in an uncompressed .npz.

Then, for each case, runs side by side, interleaved (floor, CLI, API,
floor, CLI, API, ...), keeping the best of --repeats:

- the I/O floor: read every byte of the input files, write as many bytes as
  int8q's output holds into as many files, fsync each (one thread, 16 MiB
  pieces); and the same with the disk writes started every 64 MiB
  (sync_file_range, as int8q does: "floor+wb"), the stricter of the two;
- ``int8q quantize IN -o OUT --quiet`` as a child process (wall time,
  interpreter start and imports included; its peak resident set size);
- ``int8q.io.quantize_file`` in this process;
- with --llmc-python (an interpreter where llm-compressor is installed),
  llm-compressor's ``model_free_ptq`` on the Hugging Face folder (the call
  alone, timed inside its process; skipped when it cannot be imported).

Page cache: both warm for the inputs (every input is read just before each
sample), both cold for the outputs (each sample writes new files and fsyncs
them; the previous sample's output is deleted and ``sync`` is called before
the next sample starts).  Prints the ratios to the floor and int8q's peak
resident set size (GNU time's, when /usr/bin/time exists).  Run it with the
interpreter int8q is installed in.
"""

import argparse
import ctypes
import json
import math
import os
import platform
import shutil
import struct
import subprocess
import sys
import tempfile
import textwrap
import time

import numpy as np

LAYERS = 22
DIMS = {"hidden": 2048, "mlp": 5632, "kv": 256, "vocab": 32000}  # TinyLlama-1.1B
SMOKE_DIMS = {"hidden": 128, "mlp": 256, "kv": 64, "vocab": 1000}  # --smoke: a few MiB
PIECE = 16 << 20  # bytes per read or write call of the floor
POOL = 1 << 24  # random values reused to fill the tensors (64 MiB as float32)
GGUF_TYPES = {"F32": 0, "F16": 1}


# ----------------------------------------------------------------------------
# The synthetic checkpoints.


def llama_tensors(layers, dims):
    """(Hugging Face name, GGUF name, shape) in file order."""
    HIDDEN, MLP, KV, VOCAB = (dims[k] for k in ("hidden", "mlp", "kv", "vocab"))
    yield "model.embed_tokens.weight", "token_embd.weight", (VOCAB, HIDDEN)
    for i in range(layers):
        p, g = f"model.layers.{i}.", f"blk.{i}."
        yield p + "input_layernorm.weight", g + "attn_norm.weight", (HIDDEN,)
        yield p + "self_attn.q_proj.weight", g + "attn_q.weight", (HIDDEN, HIDDEN)
        yield p + "self_attn.k_proj.weight", g + "attn_k.weight", (KV, HIDDEN)
        yield p + "self_attn.v_proj.weight", g + "attn_v.weight", (KV, HIDDEN)
        yield p + "self_attn.o_proj.weight", g + "attn_output.weight", (HIDDEN, HIDDEN)
        yield p + "post_attention_layernorm.weight", g + "ffn_norm.weight", (HIDDEN,)
        yield p + "mlp.gate_proj.weight", g + "ffn_gate.weight", (MLP, HIDDEN)
        yield p + "mlp.up_proj.weight", g + "ffn_up.weight", (MLP, HIDDEN)
        yield p + "mlp.down_proj.weight", g + "ffn_down.weight", (HIDDEN, MLP)
    yield "model.norm.weight", "output_norm.weight", (HIDDEN,)
    yield "lm_head.weight", "output.weight", (VOCAB, HIDDEN)


class Filler:
    """Writes n values of a dtype from a pool of Gaussian values (x 0.02),
    starting at a different place for each tensor."""

    def __init__(self):
        rng = np.random.default_rng(0)
        f32 = rng.standard_normal(POOL, dtype=np.float32) * np.float32(0.02)
        self.pools = {
            "BF16": (f32.view(np.uint32) >> 16).astype("<u2"),  # bfloat16 bits (truncated)
            "F16": f32.astype("<f2"),
            "F32": f32.astype("<f4"),
        }
        self.start = 0

    def write(self, f, dtype, n):
        pool = self.pools[dtype]
        self.start = (self.start + 7919 * 64) % POOL
        at = self.start
        while n:
            piece = pool[at : at + min(n, POOL - at)]
            f.write(piece.data)
            n -= piece.size
            at = 0


def _safetensors(path, items, filler, metadata=None):
    """items: (name, dtype, shape); returns the file's data bytes."""
    header, position = ({"__metadata__": metadata} if metadata else {}), 0
    for name, dtype, shape in items:
        size = math.prod(shape) * (4 if dtype == "F32" else 2)
        header[name] = {
            "dtype": dtype,
            "shape": list(shape),
            "data_offsets": [position, position + size],
        }
        position += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, dtype, shape in items:
            filler.write(f, dtype, math.prod(shape))
    return position


def build_hf(folder, layers, dims, shards, filler):
    os.makedirs(folder)
    items = [(name, "BF16", shape) for name, _, shape in llama_tensors(layers, dims)]
    # Consecutive runs of tensors of about equal size, as save_pretrained cuts shards.
    total = sum(math.prod(s) * 2 for _, _, s in items)
    parts, part, size = [], [], 0
    for item in items:
        part.append(item)
        size += math.prod(item[2]) * 2
        if size >= total * (len(parts) + 1) / shards and len(parts) < shards - 1:
            parts.append(part)
            part = []
    parts = [p for p in [*parts, part] if p]
    weight_map = {}
    for i, part in enumerate(parts):
        name = f"model-{i + 1:05d}-of-{len(parts):05d}.safetensors"
        _safetensors(os.path.join(folder, name), part, filler, {"format": "pt"})
        weight_map.update(dict.fromkeys((n for n, _, _ in part), name))
    with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    config = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "hidden_size": dims["hidden"],
        "intermediate_size": dims["mlp"],
        "num_hidden_layers": layers,
        "num_attention_heads": dims["hidden"] // 32,
        "num_key_value_heads": dims["kv"] // 32,
        "vocab_size": dims["vocab"],
        "max_position_embeddings": 2048,
        "rms_norm_eps": 1e-5,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
    }
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f, indent=2)


def _gguf_string(text):
    b = text.encode()
    return struct.pack("<Q", len(b)) + b


def build_gguf(path, layers, dims, filler, alignment=32):
    """An F16 GGUF (version 3) as llama.cpp's converter lays it out: 2-D
    tensors F16, norms F32."""
    kvs = [
        _gguf_string("general.architecture") + struct.pack("<I", 8) + _gguf_string("llama"),
        _gguf_string("general.name") + struct.pack("<I", 8) + _gguf_string("synthetic"),
        _gguf_string("general.file_type") + struct.pack("<II", 4, 1),  # MOSTLY_F16
        _gguf_string("llama.block_count") + struct.pack("<II", 4, layers),
    ]
    tensors, infos, offset = [], [], 0
    for _, name, shape in llama_tensors(layers, dims):
        dtype = "F16" if len(shape) == 2 else "F32"
        ne = list(reversed(shape))
        infos.append(
            _gguf_string(name)
            + struct.pack("<I", len(ne))
            + struct.pack(f"<{len(ne)}Q", *ne)
            + struct.pack("<IQ", GGUF_TYPES[dtype], offset)
        )
        size = math.prod(shape) * (2 if dtype == "F16" else 4)
        tensors.append((dtype, math.prod(shape), size))
        offset += -(-size // alignment) * alignment
    head = (
        b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kvs)) + b"".join(kvs) + b"".join(infos)
    )
    with open(path, "wb") as f:
        f.write(head + bytes(-len(head) % alignment))
        for dtype, n, size in tensors:
            filler.write(f, dtype, n)
            f.write(bytes(-size % alignment))


def build_npz(path, layers, dims, filler):
    """float16 arrays in an uncompressed .npz, written member by member."""
    import zipfile

    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
        for name, _, shape in llama_tensors(layers, dims):
            with z.open(name + ".npy", "w", force_zip64=True) as m:
                header = {"descr": "<f2", "fortran_order": False, "shape": shape}
                np.lib.format.write_array_header_1_0(m, header)
                filler.write(m, "F16", math.prod(shape))


def build(folder, layers, dims, shards, npz):
    """Build whatever `folder` lacks; returns {kind: input path}."""
    os.makedirs(folder, exist_ok=True)
    stamp_path = os.path.join(folder, "built.json")
    stamp = {"layers": layers, "shards": shards, **dims}
    if os.path.exists(stamp_path):
        with open(stamp_path) as f:
            if json.load(f) != stamp:
                sys.exit(f"{folder} holds checkpoints of other parameters; give another --dir")
    paths = {
        "hf": os.path.join(folder, "model"),
        "safetensors": os.path.join(folder, "model.safetensors"),
        "gguf": os.path.join(folder, "model-f16.gguf"),
        "npz": os.path.join(folder, "model-f16.npz"),
    }
    filler = Filler()
    steps = [
        ("hf", lambda p: build_hf(p, layers, dims, shards, filler)),
        (
            "safetensors",
            lambda p: _safetensors(
                p,
                [(n, "BF16", s) for n, _, s in llama_tensors(layers, dims)],
                filler,
                {"format": "pt"},
            ),
        ),
        ("gguf", lambda p: build_gguf(p, layers, dims, filler)),
    ]
    if npz:
        steps.append(("npz", lambda p: build_npz(p, layers, dims, filler)))
    for kind, make in steps:
        path = paths[kind]
        if os.path.exists(path):
            continue
        print(f"building {path} ...", flush=True)
        tmp = path + ".building"
        shutil.rmtree(tmp, ignore_errors=True) if os.path.isdir(tmp) else None
        if os.path.exists(tmp):
            os.unlink(tmp)
        make(tmp)
        os.rename(tmp, path)
    with open(stamp_path, "w") as f:
        json.dump(stamp, f)
    return {k: p for k, p in paths.items() if os.path.exists(p)}


# ----------------------------------------------------------------------------
# What is measured.


def files_under(path):
    """Every file of a file or folder, sorted."""
    if os.path.isfile(path):
        return [path]
    return sorted(os.path.join(root, n) for root, _, names in os.walk(path) for n in names)


def remove(path):
    if os.path.isdir(path):
        shutil.rmtree(path)
    elif os.path.exists(path):
        os.unlink(path)


def read_all(paths):
    buf = bytearray(PIECE)
    view = memoryview(buf)
    total = 0
    for path in paths:
        with open(path, "rb", buffering=0) as f:
            while got := f.readinto(view):
                total += got
    return total


def _sync_file_range():
    try:
        function = ctypes.CDLL(None, use_errno=True).sync_file_range
    except (OSError, AttributeError):
        return None
    function.argtypes = [ctypes.c_int, ctypes.c_int64, ctypes.c_int64, ctypes.c_uint]
    return function


SYNC_FILE_RANGE = _sync_file_range() if sys.platform.startswith("linux") else None
WRITEBACK = 64 << 20  # bytes between requests to start writing back (as int8q does)


def io_floor(inputs, sizes, out_dir, writeback=False):
    """Seconds to read every byte of `inputs`, then write files of `sizes`
    bytes into `out_dir` and fsync each: what any quantizer must do.  With
    `writeback`, the disk writes are started every WRITEBACK bytes
    (sync_file_range), so that the fsync finds little left to do."""
    data = memoryview(np.random.default_rng(1).integers(0, 256, PIECE, np.uint8).tobytes())
    names = [os.path.join(out_dir, f"floor-{i}") for i in range(len(sizes))]
    start = time.perf_counter()
    read_all(inputs)
    for name, size in zip(names, sizes):
        fd = os.open(name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            written = 0
            while size:
                n = os.write(fd, data[: min(size, PIECE)])
                size, written = size - n, written + n
                if writeback and SYNC_FILE_RANGE and written >= WRITEBACK:
                    SYNC_FILE_RANGE(fd, 0, 0, 2)  # SYNC_FILE_RANGE_WRITE
                    written = 0
            os.fsync(fd)
        finally:
            os.close(fd)
    seconds = time.perf_counter() - start
    for name in names:
        os.unlink(name)
    return seconds


TIME = "/usr/bin/time"  # GNU time: the child's own peak RSS


def run_cli(src, dst, extra, report, site=None):
    """(seconds, peak RSS bytes or None) of `int8q quantize` as a child process.

    The peak comes from GNU time, whose child starts small: a child of this
    process would inherit its peak (Linux carries ru_maxrss over fork and
    exec)."""
    src, dst, report = (os.path.abspath(p) for p in (src, dst, report))
    cmd = [sys.executable, "-m", "int8q", "quantize", src, "-o", dst, "--quiet", *extra]
    timed = os.path.exists(TIME)
    if timed:
        cmd = [TIME, "-f", "%M", "-o", report, *cmd]
    env = None if site is None else {**os.environ, "PYTHONPATH": site}
    start = time.perf_counter()
    # Run from the output's folder: `python -m` puts the working directory
    # first on sys.path, where a source checkout's int8q/ (without its
    # compiled core) would shadow the installed package.
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=os.path.dirname(dst))
    seconds = time.perf_counter() - start
    if proc.returncode:
        sys.exit(f"{' '.join(cmd)} failed ({proc.returncode}): {proc.stderr}")
    if not timed:
        return seconds, None
    with open(report) as f:
        return seconds, int(f.read().split()[-1]) * 1024  # KiB


def run_api(src, dst, extra):
    import int8q.io

    options = dict(zip(extra[::2], extra[1::2]))  # the command line's options
    block_size = options.get("--block-size")
    start = time.perf_counter()
    int8q.io.quantize_file(
        src,
        dst,
        scheme=options.get("--scheme"),
        block_size=None if block_size is None else int(block_size),
    )
    return time.perf_counter() - start


LLMC_SCRIPT = textwrap.dedent(
    """
    import json, sys, time
    try:
        from llmcompressor import model_free_ptq
    except Exception as exc:
        print(json.dumps({"skip": f"{type(exc).__name__}: {exc}"}))
        sys.exit(0)
    src, dst, scheme, workers = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    start = time.perf_counter()
    model_free_ptq(src, dst, scheme=scheme, ignore=["lm_head"], max_workers=workers, device="cpu")
    print(json.dumps({"seconds": time.perf_counter() - start}))
    """
)


def run_llmc(python, src, dst, scheme, workers):
    """(seconds of the call, seconds of the process) or (None, reason)."""
    start = time.perf_counter()
    proc = subprocess.run(
        [python, "-c", LLMC_SCRIPT, src, dst, scheme, str(workers)],
        capture_output=True,
        text=True,
    )
    wall = time.perf_counter() - start
    lines = proc.stdout.strip().splitlines()
    if proc.returncode or not lines:
        return None, f"failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}"
    result = json.loads(lines[-1])
    if "skip" in result:
        return None, result["skip"]
    return result["seconds"], wall


def ready(inputs, output):
    """Before a sample: no output, inputs in the page cache, nothing dirty."""
    remove(output)
    read_all(inputs)
    os.sync()
    time.sleep(0.005)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--dir",
        default=os.path.join(tempfile.gettempdir(), "int8q-checkpoint-bench"),
        help="where the checkpoints are built (and reused) and the outputs written",
    )
    parser.add_argument("--layers", type=int, default=LAYERS)
    parser.add_argument("--shards", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--npz", action="store_true", help="also build and run an .npz")
    parser.add_argument(
        "--cases", nargs="+", default=None, help="run only these (safetensors sharded hf-W8A16 ...)"
    )
    parser.add_argument("--no-api", action="store_true", help="the command line only")
    parser.add_argument("--llmc-python", help="an interpreter with llm-compressor installed")
    parser.add_argument("--llmc-repeats", type=int, default=2)
    parser.add_argument("--llmc-workers", type=int, default=2)
    parser.add_argument("--json", help="also write the figures to this file")
    parser.add_argument(
        "--baseline",
        metavar="DIR",
        help="a folder with another int8q build (pip install --target DIR): its command "
        "line is timed too, in the same interleaved rounds",
    )
    parser.add_argument(
        "--smoke", action="store_true", help="a 1-layer model of a few MiB, one repeat (tests)"
    )
    args = parser.parse_args(argv)
    dims = DIMS
    if args.smoke:
        dims, args.layers, args.repeats = SMOKE_DIMS, 1, 1

    import int8q

    inputs = build(args.dir, args.layers, dims, args.shards, args.npz)
    index = os.path.join(inputs["hf"], "model.safetensors.index.json")
    out = os.path.join(args.dir, "out")
    os.makedirs(out, exist_ok=True)
    cases = [
        ("safetensors", inputs["safetensors"], "q.safetensors", []),
        ("sharded", index, "q-sharded", []),
        ("hf-W8A16", inputs["hf"], "q-w8a16", ["--scheme", "W8A16"]),
        ("hf-W8A8", inputs["hf"], "q-w8a8", ["--scheme", "W8A8"]),
        # llm-compressor's W8A16 preset: groups of 128
        ("hf-W8A16-g128", inputs["hf"], "q-w8a16-g", ["--scheme", "W8A16", "--block-size", "128"]),
        ("gguf", inputs["gguf"], "q8_0.gguf", []),
    ]
    if "npz" in inputs:
        cases.append(("npz", inputs["npz"], "q.npz", []))
    if args.cases:
        cases = [c for c in cases if c[0] in args.cases]
    print(
        f"int8q {int8q.__version__} on {platform.machine()} ({_cpu()}), "
        f"{os.cpu_count()} CPUs, SIMD {_simd()}, "
        f"best of {args.repeats}; inputs warm in the page cache, outputs written and fsynced"
    )
    header = f"{'case':<12} {'input':>9} {'output':>9} {'floor s':>8} {'+wb s':>6}"
    header += f" {'CLI s':>6} {'xfloor':>6} {'x+wb':>5}"
    header += "" if args.no_api else f" {'API s':>6} {'xfloor':>6} {'x+wb':>5}"
    header += f" {'peak RSS':>9}"
    print(header)
    results = []
    for name, src, out_name, extra in cases:
        dst = os.path.join(out, out_name)
        remove(dst)
        in_files = files_under(src)
        if name == "sharded":
            in_files = [index] + sorted(
                os.path.join(inputs["hf"], n)
                for n in os.listdir(inputs["hf"])
                if n.endswith(".safetensors")
            )
        report = os.path.join(out, "time.txt")
        ready(in_files, dst)
        run_cli(src, dst, extra, report)  # warm-up run; gives the output's files
        sizes = [os.path.getsize(p) for p in files_under(dst)]
        floor, floor_wb, cli, api, rss = [], [], [], [], 0
        base, base_rss = [], 0
        for _ in range(args.repeats):
            ready(in_files, dst)
            floor.append(io_floor(in_files, sizes, out))
            ready(in_files, dst)
            floor_wb.append(io_floor(in_files, sizes, out, writeback=True))
            ready(in_files, dst)
            seconds, peak = run_cli(src, dst, extra, report)
            cli.append(seconds)
            rss = max(rss, peak or 0)
            if args.baseline:
                ready(in_files, dst)
                seconds, peak = run_cli(src, dst, extra, report, args.baseline)
                base.append(seconds)
                base_rss = max(base_rss, peak or 0)
            if not args.no_api:
                ready(in_files, dst)
                api.append(run_api(src, dst, extra))
        in_bytes = sum(os.path.getsize(p) for p in in_files)
        row = {
            "case": name,
            "input_bytes": in_bytes,
            "output_bytes": sum(sizes),
            "floor_s": floor,
            "floor_writeback_s": floor_wb,
            "cli_s": cli,
            "api_s": api,
            "peak_rss_bytes": rss,
            "baseline_cli_s": base,
            "baseline_peak_rss_bytes": base_rss,
        }
        results.append(row)
        best, best_wb = min(floor), min(floor_wb)
        line = (
            f"{name:<12} {in_bytes / 2**30:7.2f}Gi {sum(sizes) / 2**30:7.2f}Gi "
            f"{best:8.3f} {best_wb:6.3f} {min(cli):6.3f} {min(cli) / best:6.2f} "
            f"{min(cli) / best_wb:5.2f}"
        )
        if api:
            line += f" {min(api):6.3f} {min(api) / best:6.2f} {min(api) / best_wb:5.2f}"
        print(line + (f" {rss / 2**20:6.0f}MiB" if rss else "       ?"), flush=True)
        if base:
            print(
                f"{'  baseline':<12} CLI {min(base):.3f} s, {min(base) / best:.2f}x floor, "
                f"{min(base) / best_wb:.2f}x floor+wb, peak RSS {base_rss / 2**20:.0f} MiB; "
                f"this build {min(base) / min(cli):.2f}x faster",
                flush=True,
            )
        remove(dst)
        remove(report)
    runs = []  # llm-compressor: (seconds of the call, of its process)
    if args.llmc_python:
        src, dst = inputs["hf"], os.path.join(out, "llmc-w8a16")
        for _ in range(args.llmc_repeats):
            ready(files_under(src), dst)
            call, wall = run_llmc(args.llmc_python, src, dst, "W8A16", args.llmc_workers)
            if call is None:
                print(f"llm-compressor: skipped ({wall})")
                break
            runs.append((call, wall))
        if runs:
            hf = next((r for r in results if r["case"] == "hf-W8A16-g128"), None)
            best = min(runs)
            ratio = f", {best[0] / min(hf['floor_writeback_s']):.1f}x floor+wb" if hf else ""
            print(
                f"llm-compressor model_free_ptq W8A16, groups of 128 ({args.llmc_workers} "
                f"workers): {best[0]:.2f} s (process {best[1]:.2f} s){ratio}"
            )
        remove(dst)
    if args.json:
        machine = {
            "cpu": _cpu(),
            "cpus": os.cpu_count(),
            "simd": _simd(),
            "python": platform.python_version(),
            "numpy": np.__version__,
            "date": time.strftime("%Y-%m-%d"),
        }
        figures = {"int8q": int8q.__version__, "machine": machine, "results": results}
        figures["llm_compressor_w8a16_g128_s"] = [call for call, _ in runs]
        with open(args.json, "w") as f:
            json.dump(figures, f, indent=1)
    return results


def _cpu():
    try:
        with open("/proc/cpuinfo") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return names[0] if names else platform.processor() or "?"


def _simd():
    import contextlib
    import io

    import int8q

    text = io.StringIO()
    with contextlib.redirect_stdout(text):
        int8q.show_config()
    for line in text.getvalue().splitlines():
        if line.startswith("simd:"):
            return line.split(":", 1)[1].split("(")[0].strip()
    return "?"


if __name__ == "__main__":
    main()
