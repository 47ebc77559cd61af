"""`int8q compare ORIGINAL QUANTIZED`, run as a user runs it.

Every figure is checked against a NumPy computation made here from the
files as the test (or the peer that wrote them) reads them: q and scale
read byte by byte (tests/checkpoints.py), compressed-tensors' own
unpacking, gguf-py's own Q8_0 dequantization.  Quantized folders in
llm-compressor's layout are made by compressed-tensors itself.
"""

import json
import math
import os
import struct
import subprocess
import sys

import numpy as np
import pytest
from checkpoints import (
    read_header,
    read_safetensors,
    sample_tensors,
    write_safetensors,
    write_sharded,
)
from cli import run_cli

import int8q.io

MISSING = object()


# ---- the reference: the definitions of docs/semantics.md §8, whole-array NumPy ----


def expected_row(x, xhat, q):
    x = np.asarray(x, np.float64).ravel()
    h = np.asarray(xhat, np.float64).ravel()
    q = np.asarray(q).astype(np.int64).ravel()
    e = x - h
    signal, noise, power = float(x @ x), float(e @ e), float(h @ h)
    if noise == 0:
        sqnr = math.inf
    else:
        sqnr = 10 * math.log10(signal / noise) if signal else -math.inf
    if signal and power:
        cosine = float(x @ h) / math.sqrt(signal * power)
    else:
        cosine = 1.0 if signal == power else 0.0
    n = max(x.size, 1)
    return {
        "sqnr_db": sqnr,
        "cosine": cosine,
        "max_abs_error": float(np.abs(e).max()) if e.size else 0.0,
        "saturated": int(np.count_nonzero(np.abs(q) >= 127)) / n,
        "zero": int(np.count_nonzero(q == 0)) / n,
    }


def close(a, b):
    if a is None or b is None:  # JSON's null for inf
        return a is None and (b is None or not math.isfinite(b))
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12)


def check_rows(rows, want):
    """`rows` (JSON from the CLI) against {name: (x, xhat, q)}."""
    assert [r["name"] for r in rows] == sorted(want, key=natural)
    for r in rows:
        x, xhat, q = want[r["name"]]
        assert r["shape"] == list(x.shape), r["name"]
        for key, value in expected_row(x, xhat, q).items():
            assert close(r[key], value), (r["name"], key, r[key], value)


def natural(name):
    import re

    return [(0, int(p)) if p.isdigit() else (1, p) for p in re.split(r"(\d+)", name) if p]


def compare_json(original, quantized, tmp_path, *extra):
    proc = run_cli("compare", original, quantized, "--json", *extra, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    return json.loads(proc.stdout)


def unblock(scale, n, block):
    return np.repeat(scale, block, axis=-1)[..., :n]


def int8q_pairs(original, quantized_tensors, meta):
    """{name: (x, q * scale, q)} from a file int8q wrote, read without int8q;
    `meta` the int8q metadata JSON text."""
    meta = json.loads(meta)
    out = {}
    for name, e in meta["tensors"].items():
        q, scale = quantized_tensors[name], quantized_tensors[e["scale"]].astype(np.float32)
        if e["scheme"] == "per_block":
            scale = unblock(scale, q.shape[-1], e["block_size"])
        out[name] = (original[name], q.astype(np.float32) * scale, q)
    return out


# ---- int8q's own containers ----


@pytest.mark.parametrize("options", [[], ["--per-tensor"], ["--block-size", "4"]], ids=str)
def test_safetensors_file(tmp_path, options):
    tensors = sample_tensors(np.random.default_rng(0))
    tensors["layers.10.w.weight"] = tensors.pop("layer.0.dense.weight")
    tensors["layers.2.w.weight"] = np.random.default_rng(1).standard_normal((3, 8), np.float32)
    write_safetensors(tmp_path / "m.safetensors", tensors, {"format": "pt"})
    assert (
        run_cli(
            "quantize", "m.safetensors", "-o", "q.safetensors", *options, cwd=tmp_path
        ).returncode
        == 0
    )
    report = compare_json("m.safetensors", "q.safetensors", tmp_path)
    q_tensors, metadata = read_safetensors(tmp_path / "q.safetensors")
    want = int8q_pairs(tensors, q_tensors, metadata["int8q"])
    assert len(want) >= 9
    check_rows(report["tensors"], want)
    names = [r["name"] for r in report["tensors"]]
    assert names.index("layers.2.w.weight") < names.index("layers.10.w.weight")
    zero = next(r for r in report["tensors"] if r["name"] == "zero_rows.weight")
    assert zero["sqnr_db"] is None and zero["cosine"] == 1.0 and zero["zero"] == 1.0
    summary = report["summary"]
    finite = [expected_row(*v)["sqnr_db"] for v in want.values()]
    finite = [s for s in finite if math.isfinite(s)]
    assert summary["tensors"] == len(want)
    assert close(summary["mean_sqnr_db"], sum(finite) / len(finite))
    assert close(summary["min_sqnr_db"], min(finite))
    x = np.concatenate([np.asarray(v[0], np.float64).ravel() for v in want.values()])
    h = np.concatenate([np.asarray(v[1], np.float64).ravel() for v in want.values()])
    assert close(summary["overall_sqnr_db"], 10 * math.log10((x @ x) / ((x - h) @ (x - h))))
    ranked = sorted(want, key=lambda n: expected_row(*want[n])["sqnr_db"])
    assert summary["worst"] == ranked[:5]


def test_table_and_skip_suggestion_that_quantize_takes(tmp_path):
    """The text report lists every tensor and the summary; the suggested
    --skip, given to quantize, keeps exactly the low tensor in float."""
    rng = np.random.default_rng(2)
    good = rng.standard_normal((16, 64)).astype(np.float32)
    bad = rng.standard_normal((256, 256)).astype(np.float32)
    bad[3, 7] = 300.0  # one outlier: a per-tensor step of 2.4 standard deviations
    tensors = {"blk.0.good.weight": good, "blk.0.bad[1].weight": bad}
    write_safetensors(tmp_path / "m.safetensors", tensors)
    proc = run_cli("quantize", "m.safetensors", "-o", "q.safetensors", "--per-tensor", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    proc = run_cli("compare", "m.safetensors", "q.safetensors", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:4] == ["name", "shape", "dtype", "SQNR"]
    assert lines[1].startswith("blk.0.bad[1].weight") and lines[2].startswith("blk.0.good.weight")
    want_bad = expected_row(bad, *reference_dequant(bad))
    assert want_bad["sqnr_db"] < 10
    assert lines[1].split()[1:4] == ["256x256", "float32", f"{want_bad['sqnr_db']:.2f}"]
    assert "2 quantized tensors" in proc.stdout
    last = lines[-1]
    assert "1 below 30 dB" in last
    skip = last.split("quantize with: ")[1]
    assert skip == "--skip 'blk.0.bad[[]1].weight'"
    # the pattern as a shell passes it
    pattern = skip.split(" ", 1)[1].strip("'")
    proc = run_cli(
        "quantize",
        "m.safetensors",
        "-o",
        "q2.safetensors",
        "--per-tensor",
        "--skip",
        pattern,
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    header, _ = read_header(tmp_path / "q2.safetensors")
    assert header["blk.0.bad[1].weight"]["dtype"] == "F32"
    assert header["blk.0.good.weight"]["dtype"] == "I8"
    # a lower threshold: nothing to skip
    proc = run_cli("compare", "m.safetensors", "q.safetensors", "--min-sqnr", "-5", cwd=tmp_path)
    assert proc.stdout.splitlines()[-1] == "no tensor below -5 dB"


def reference_dequant(x):
    """(q * scale, q) per tensor, from int8q.reference (the plain NumPy definition)."""
    from int8q import reference

    q, scale = reference.quantize(x)
    return q.astype(np.float32) * scale, q


def test_sharded_folder(tmp_path):
    rng = np.random.default_rng(3)
    shards = [
        {"model.layers.0.a.weight": rng.standard_normal((8, 12)).astype(np.float32)},
        {
            "model.layers.1.a.weight": rng.standard_normal((4, 12)).astype(np.float16),
            "model.norm.weight": np.ones(12, np.float32),
        },
    ]
    write_sharded(tmp_path / "m", shards)
    assert run_cli("quantize", "m", "-o", "q", cwd=tmp_path).returncode == 0
    report = compare_json("m", "q", tmp_path)
    want = {}
    for i, shard in enumerate(shards, 1):
        name = f"model-{i:05d}-of-00002.safetensors"
        q_tensors, metadata = read_safetensors(tmp_path / "q" / name)
        want.update(int8q_pairs(shard, q_tensors, metadata["int8q"]))
    assert set(want) == {"model.layers.0.a.weight", "model.layers.1.a.weight"}
    check_rows(report["tensors"], want)
    # its index given instead of the folder
    index = tmp_path / "m" / "model.safetensors.index.json"
    assert compare_json(index, "q", tmp_path) == report


def test_npz_and_npy(tmp_path):
    rng = np.random.default_rng(4)
    arrays = {"a": rng.standard_normal((5, 9)), "b": rng.standard_normal((3, 40), np.float32)}
    np.savez(tmp_path / "m.npz", **arrays)
    assert (
        run_cli("quantize", "m.npz", "-o", "q.npz", "--block-size", "8", cwd=tmp_path).returncode
        == 0
    )
    with np.load(tmp_path / "q.npz") as z:
        stored = {k: z[k] for k in z.files}
    want = int8q_pairs(arrays, stored, str(stored["__int8q__"]))
    check_rows(compare_json("m.npz", "q.npz", tmp_path)["tensors"], want)

    np.save(tmp_path / "x.npy", arrays["b"])
    assert run_cli("quantize", "x.npy", "-o", "x_q.npz", cwd=tmp_path).returncode == 0
    with np.load(tmp_path / "x_q.npz") as z:
        q, scale = z["q"], z["scale"]
    want = {"q": (arrays["b"], q.astype(np.float32) * scale, q)}
    check_rows(compare_json("x.npy", "x_q.npz", tmp_path)["tensors"], want)


# ---- compressed-tensors folders: int8q's and llm-compressor's ----

HIDDEN, MLP, LAYERS = 128, 256, 2


def llama_tensors(rng, dtype=np.float32):
    """The tensors of a tiny Llama-like model (float)."""
    t = {"model.embed_tokens.weight": rng.standard_normal((50, HIDDEN))}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        for proj, shape in [
            ("self_attn.q_proj", (HIDDEN, HIDDEN)),
            ("self_attn.k_proj", (32, HIDDEN)),
            ("mlp.up_proj", (MLP, HIDDEN)),
            ("mlp.down_proj", (HIDDEN, MLP)),
        ]:
            t[p + proj + ".weight"] = rng.standard_normal(shape) * 0.05
        t[p + "input_layernorm.weight"] = np.ones(HIDDEN)
    t["model.norm.weight"] = np.ones(HIDDEN)
    t["lm_head.weight"] = rng.standard_normal((50, HIDDEN))
    return {k: v.astype(dtype) for k, v in t.items()}


def write_model_folder(folder, tensors):
    os.makedirs(folder)
    write_safetensors(os.path.join(folder, "model.safetensors"), tensors, {"format": "pt"})
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "dtype": "float32"}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)


def compressed_pairs(original, folder, unpack):
    """{module.weight: (x, q * scale, q)} of a compressed-tensors folder, read
    without int8q; `unpack(packed, shape)` unpacks a pack-quantized weight."""
    tensors, _ = read_safetensors(os.path.join(folder, "model.safetensors"))
    out = {}
    for name in tensors:
        module, _, leaf = name.rpartition(".")
        if leaf not in ("weight", "weight_packed") or module + ".weight_scale" not in tensors:
            continue
        if leaf == "weight_packed":
            q = unpack(tensors[name], tuple(tensors[module + ".weight_shape"]))
        else:
            q = tensors[name]
        scale = tensors[module + ".weight_scale"].astype(np.float32)
        if scale.shape[-1] not in (1, q.shape[-1]) and scale.size > 1:  # per group
            scale = unblock(scale, q.shape[-1], -(-q.shape[-1] // scale.shape[-1]))
        out[module + ".weight"] = (original[module + ".weight"], q.astype(np.float32) * scale, q)
    return out


def int8q_unpack(packed, shape):
    """compressed-tensors' pack-quantized layout for 8 bits, from its definition:
    the bytes of the int32 words, offset by 128."""
    rows, cols = shape
    raw = np.ascontiguousarray(packed).astype("<i4").view(np.uint8)
    return (raw[:, :cols].astype(np.int16) - 128).astype(np.int8)


@pytest.mark.parametrize(
    "options", [["--scheme", "W8A16"], ["--scheme", "W8A8"], ["--block-size", "16"]], ids=str
)
def test_int8q_model_folder(tmp_path, options):
    tensors = llama_tensors(np.random.default_rng(5))
    write_model_folder(tmp_path / "m", tensors)
    proc = run_cli("quantize", "m", "-o", "q", *options, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    want = compressed_pairs(tensors, tmp_path / "q", int8q_unpack)
    assert len(want) == 4 * LAYERS  # the linear layers; not embeddings, norms or lm_head
    check_rows(compare_json("m", "q", tmp_path)["tensors"], want)


def make_llm_compressor_folder(folder, tensors, preset):
    """A model folder as llm-compressor's oneshot saves it: compressed-tensors'
    own preset scheme, observer-style min/max scales, compress_model and
    update_config (a plain torch module stands in for the transformers model)."""
    torch = pytest.importorskip("torch")
    ct_quant = pytest.importorskip("compressed_tensors.quantization")
    from compressed_tensors.compressors import ModelCompressor
    from compressed_tensors.quantization.utils import calculate_qparams, is_module_quantized

    model = torch.nn.Module()
    for name, value in tensors.items():
        *path, leaf = name.split(".")
        parent = model
        for part in path:
            if not hasattr(parent, part):
                linear = part == path[-1] and (part.endswith("_proj") or part == "lm_head")
                child = torch.nn.Linear(1, 1, bias=False) if linear else torch.nn.Module()
                parent.add_module(part, child)
            parent = getattr(parent, part)
        if isinstance(parent, torch.nn.Linear):
            parent.weight = torch.nn.Parameter(torch.from_numpy(value.copy()), requires_grad=False)
            parent.in_features, parent.out_features = value.shape[1], value.shape[0]
        else:
            parent.register_buffer(leaf, torch.from_numpy(value.copy()))
    config = ct_quant.QuantizationConfig(
        config_groups={"group_0": ct_quant.preset_name_to_scheme(preset, ["Linear"])},
        ignore=["lm_head"],
    )
    ct_quant.apply_quantization_config(model, config)
    with torch.no_grad():
        for module in model.modules():
            if is_module_quantized(module):
                w, args = module.weight, module.quantization_scheme.weights
                if args.strategy == "group":
                    g = w.reshape(w.shape[0], -1, args.group_size)
                    lo, hi = g.amin(dim=2), g.amax(dim=2)
                else:
                    lo, hi = w.amin(dim=1, keepdim=True), w.amax(dim=1, keepdim=True)
                scale, zero_point = calculate_qparams(lo, hi, args)
                module.weight_scale.copy_(scale)
                if hasattr(module, "weight_zero_point"):
                    module.weight_zero_point.copy_(zero_point)
    compressor = ModelCompressor.from_pretrained_model(model)
    compressor.compress_model(model)
    from safetensors.torch import save_file

    os.makedirs(folder)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    state = {k: v for k, v in state.items() if not k.endswith("weight_zero_point")}
    save_file(state, os.path.join(folder, "model.safetensors"), {"format": "pt"})
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump({"architectures": ["LlamaForCausalLM"], "dtype": "float32"}, f)
    compressor.update_config(str(folder))


@pytest.mark.parametrize("preset", ["W8A16", "W8A8"])
def test_llm_compressor_folder(tmp_path, preset):
    tensors = llama_tensors(np.random.default_rng(6))
    write_model_folder(tmp_path / "m", tensors)
    make_llm_compressor_folder(tmp_path / "lc", tensors, preset)
    import torch
    from compressed_tensors.compressors.pack_quantized.helpers import unpack_from_int32

    def unpack(packed, shape):
        return unpack_from_int32(torch.from_numpy(packed.copy()), 8, torch.Size(shape)).numpy()

    want = compressed_pairs(tensors, tmp_path / "lc", unpack)
    assert len(want) == 4 * LAYERS
    report = compare_json("m", "lc", tmp_path)
    check_rows(report["tensors"], want)
    assert all(r["sqnr_db"] > 30 for r in report["tensors"])


# ---- GGUF: Q8_0 against its F16 / F32 source ----


@pytest.mark.parametrize("source", ["F16", "F32"])
def test_gguf_q8_0(tmp_path, source):
    gguf = pytest.importorskip("gguf")
    from gguf_files import TENSORS, write_gguf

    T = gguf.GGMLQuantizationType
    tensors = [
        (n, s, T[source] if t != T.I32 else t, target) for n, s, t, target in TENSORS[:5]
    ] + [(n, s, T[source], target) for n, s, _, target in TENSORS if n == "output.weight"]
    write_gguf(tmp_path / "m.gguf", tensors)
    assert run_cli("quantize", "m.gguf", "-o", "q.gguf", cwd=tmp_path).returncode == 0
    src, out = gguf.GGUFReader(tmp_path / "m.gguf"), gguf.GGUFReader(tmp_path / "q.gguf")
    originals = {t.name: t for t in src.tensors}
    want = {}
    for t in out.tensors:
        if t.tensor_type != T.Q8_0:
            continue
        shape = tuple(int(d) for d in reversed(t.shape))
        x = np.asarray(originals[t.name].data).reshape(shape)
        xhat = gguf.quants.dequantize(t.data, T.Q8_0).reshape(shape)
        raw = np.asarray(t.data).reshape(-1, 34)
        q = raw[:, 2:].copy().view(np.int8).reshape(shape)
        want[t.name] = (x, xhat, q)
    assert len(want) == 4
    check_rows(compare_json("m.gguf", "q.gguf", tmp_path)["tensors"], want)


# ---- the plot ----


def test_plot(tmp_path):
    pytest.importorskip("matplotlib")
    tensors = llama_tensors(np.random.default_rng(7))
    write_safetensors(tmp_path / "m.safetensors", tensors)
    assert run_cli("quantize", "m.safetensors", "-o", "q.safetensors", cwd=tmp_path).returncode == 0
    proc = run_cli("compare", "m.safetensors", "q.safetensors", "--plot", "sqnr.png", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    png = (tmp_path / "sqnr.png").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", png[16:24])
    assert width > 600 and height > 300
    # an image matplotlib cannot write: refused before any work, nothing written
    proc = run_cli("compare", "m.safetensors", "q.safetensors", "--plot", "s.xyz", cwd=tmp_path)
    assert proc.returncode == 2 and proc.stderr.count("\n") == 1
    assert "--plot s.xyz" in proc.stderr and not (tmp_path / "s.xyz").exists()


def test_plot_without_matplotlib(tmp_path):
    tensors = {"a.weight": np.ones((2, 4), np.float32)}
    write_safetensors(tmp_path / "m.safetensors", tensors)
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    script = (
        "import sys; sys.modules['matplotlib'] = None\n"
        "from int8q.cli import main\n"
        "sys.exit(main(['compare', 'm.safetensors', 'q.safetensors', '--plot', 'p.png']))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=tmp_path
    )
    assert proc.returncode == 2
    assert proc.stderr == ("int8q: error: --plot needs matplotlib: pip install 'int8q[plot]'\n")
    assert proc.stdout == "" and not (tmp_path / "p.png").exists()


# ---- mistakes: one line, exit 2 ----


def test_mistakes(tmp_path):
    rng = np.random.default_rng(8)
    tensors = {"a.weight": rng.standard_normal((4, 8)).astype(np.float32)}
    write_safetensors(tmp_path / "m.safetensors", tensors)
    write_safetensors(tmp_path / "other.safetensors", {"b.weight": tensors["a.weight"]})
    write_safetensors(tmp_path / "wide.safetensors", {"a.weight": np.ones((4, 9), np.float32)})
    np.savez(tmp_path / "m.npz", **tensors)
    write_safetensors(tmp_path / "b.safetensors", {"b": np.ones(4, np.float32)})  # 1-D: kept
    assert (
        run_cli("quantize", "b.safetensors", "-o", "qb.safetensors", cwd=tmp_path).returncode == 0
    )
    assert run_cli("quantize", "m.safetensors", "-o", "q.safetensors", cwd=tmp_path).returncode == 0
    for args, message in [
        (["other.safetensors", "q.safetensors"], "has no tensor 'a.weight'"),
        (["wide.safetensors", "q.safetensors"], "shape (4, 9) in the original but (4, 8)"),
        (["q.safetensors", "q.safetensors"], "quantized; give the float checkpoint"),
        (["m.safetensors", "m.safetensors"], "not quantized by int8q"),
        (["m.safetensors", "missing.safetensors"], "no such file"),
        (["m.npz", "m.safetensors"], "m.safetensors: not quantized by int8q"),
        (["b.safetensors", "qb.safetensors"], "qb.safetensors: holds no quantized tensor"),
    ]:
        proc = run_cli("compare", *args, cwd=tmp_path)
        assert proc.returncode == 2, (args, proc.stderr)
        assert proc.stderr.startswith("int8q: error: ") and proc.stderr.count("\n") == 1
        assert message in proc.stderr, (args, proc.stderr)
        assert proc.stdout == ""


def test_api_matches_the_command(tmp_path):
    tensors = llama_tensors(np.random.default_rng(9))
    write_safetensors(tmp_path / "m.safetensors", tensors)
    int8q.io.quantize_file(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    rows = int8q.io.compare_files(tmp_path / "m.safetensors", tmp_path / "q.safetensors")
    report = compare_json("m.safetensors", "q.safetensors", tmp_path)
    assert [r["name"] for r in rows] == [r["name"] for r in report["tensors"]]
    for row, printed in zip(rows, report["tensors"]):
        assert {**row, "shape": list(row["shape"])} == printed


def test_quantize_report(tmp_path):
    """quantize --report FILE writes what compare --json prints."""
    tensors = llama_tensors(np.random.default_rng(10))
    write_model_folder(tmp_path / "m", tensors)
    proc = run_cli("quantize", "m", "-o", "q", "--report", "r.json", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads((tmp_path / "r.json").read_text()) == compare_json("m", "q", tmp_path)
    proc = run_cli("quantize", "m", "-o", "q2", "--report", "no/r.json", cwd=tmp_path)
    assert proc.returncode == 2 and "no such directory for the report" in proc.stderr
    assert not (tmp_path / "q2").exists()


def test_peak_error_is_the_largest_over_every_chunk(monkeypatch):
    """A tensor read in several pieces: the largest error may lie in any of
    them, not only the last."""
    from int8q.io import _compare

    monkeypatch.setattr(_compare, "CHUNK", 4)
    x = np.zeros(12, np.float32)
    values = np.zeros(12, np.float32)
    values[1], values[9] = 1.0, 0.25  # the peak in the first piece, a smaller error in the last
    row = _compare.measure("w", x, np.zeros(12, np.int8), values)
    assert row["max_abs_error"] == 1.0
