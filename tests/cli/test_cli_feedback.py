"""What the installed `int8q` command tells its user: a one-line summary on
success (-q: none; --json: the same data on stdout), `inspect` sorted with
human sizes and totals per dtype, and --skip patterns that match nothing
refused (docs/semantics.md §8)."""

import json
import re

import numpy as np
import pytest
from checkpoints import listing, write_safetensors
from cli import run_cli
from hf_folders import make_folder, tiny_tensors

import int8q.io

SUMMARY = re.compile(
    r"int8q: (?P<verb>quantized|dequantized) (?P<n>\d+) tensors?, kept (?P<kept>\d+); "
    r"(?P<a>[\d.]+) (?P<au>B|KiB|MiB|GiB) -> (?P<b>[\d.]+) (?P<bu>B|KiB|MiB|GiB) "
    r"\(ratio (?P<ratio>[\d.]+)\) in (?P<s>[\d.]+) s(, (?P<speed>[\d.]+) (B|KiB|MiB|GiB)/s)?"
)
UNITS = {"B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}


@pytest.fixture
def model(tmp_path):
    rng = np.random.default_rng(0)
    t = {
        "layers.0.w": rng.standard_normal((256, 512)).astype(np.float32),
        "layers.1.w": rng.standard_normal((256, 512)).astype(np.float32),
        "layers.0.bias": rng.standard_normal(256).astype(np.float32),
        "ids": np.arange(16, dtype=np.int64),
    }
    write_safetensors(tmp_path / "m.safetensors", t)
    return tmp_path / "m.safetensors"


def tensor_bytes(path):
    return sum(r["size"] for r in int8q.io.inspect_file(path))


def test_quantize_and_dequantize_print_one_summary_line(tmp_path, model):
    q = tmp_path / "q.safetensors"
    proc = run_cli("quantize", model, "-o", q, cwd=tmp_path)
    assert proc.returncode == 0 and proc.stdout == ""
    assert len(proc.stderr.splitlines()) == 1, proc.stderr
    m = SUMMARY.fullmatch(proc.stderr.strip())
    assert m, proc.stderr
    assert (m["verb"], m["n"], m["kept"]) == ("quantized", "2", "2")
    in_bytes, out_bytes = tensor_bytes(model), tensor_bytes(q)
    assert m["au"] == "MiB" and float(m["a"]) == round(in_bytes / 2**20, 1)
    assert m["bu"] == "KiB" and float(m["b"]) == round(out_bytes / 2**10, 1)
    assert float(m["ratio"]) == round(in_bytes / out_bytes, 2)
    proc = run_cli("dequantize", q, "-o", tmp_path / "b.safetensors", cwd=tmp_path)
    m = SUMMARY.fullmatch(proc.stderr.strip())
    assert proc.returncode == 0 and m, proc.stderr
    assert (m["verb"], m["n"], m["kept"]) == ("dequantized", "2", "2")


def test_quiet_silences_the_summary_and_json_gives_the_same_data(tmp_path, model):
    proc = run_cli("quantize", model, "-o", tmp_path / "q.safetensors", "-q", cwd=tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    proc = run_cli("quantize", model, "-o", tmp_path / "j.safetensors", "--json", cwd=tmp_path)
    assert proc.returncode == 0
    data = json.loads(proc.stdout)
    line = SUMMARY.fullmatch(proc.stderr.strip())
    assert line, proc.stderr
    assert data["command"] == "quantize"
    assert data["input"] == str(model) and data["output"] == str(tmp_path / "j.safetensors")
    assert (data["quantized"], data["kept"]) == (int(line["n"]), int(line["kept"])) == (2, 2)
    assert data["input_bytes"] == tensor_bytes(model)
    assert data["output_bytes"] == tensor_bytes(tmp_path / "j.safetensors")
    assert data["ratio"] == pytest.approx(data["input_bytes"] / data["output_bytes"], abs=1e-4)
    assert data["seconds"] > 0 and data["bytes_per_second"] > 0
    # machines only: -q --json prints the JSON and nothing on stderr
    proc = run_cli(
        "dequantize",
        tmp_path / "j.safetensors",
        "-o",
        tmp_path / "b.safetensors",
        "-q",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0 and proc.stderr == ""
    data = json.loads(proc.stdout)
    assert (data["command"], data["dequantized"], data["kept"]) == ("dequantize", 2, 2)


def test_summary_of_a_model_folder_counts_weights_not_companions(tmp_path):
    src = make_folder(tmp_path / "model", tiny_tensors(np.random.default_rng(0)))
    proc = run_cli("quantize", src, "-o", tmp_path / "q", "--json", "-q", cwd=tmp_path)
    data = json.loads(proc.stdout)
    # three Linear weights, each written as weight_packed + weight_scale + weight_shape
    assert (data["quantized"], data["kept"]) == (3, 6)  # embed, bias, 2 norms, lm_head, ids


def test_inspect_sorts_by_name_with_human_sizes_and_dtype_totals(tmp_path):
    t = {
        "layers.10.w_shape": np.arange(2, dtype=np.int64),
        "layers.10.w": np.ones((512, 1024), np.float32),
        "layers.2.w": np.ones((4, 4), np.float16),
        "a.bias": np.ones(3, np.float32),
    }
    write_safetensors(tmp_path / "m.safetensors", t)
    proc = run_cli("inspect", tmp_path / "m.safetensors", cwd=tmp_path)
    assert proc.returncode == 0 and proc.stderr == ""
    lines = proc.stdout.splitlines()
    assert [line.split()[0] for line in lines[1:5]] == [
        "a.bias",
        "layers.2.w",
        "layers.10.w",
        "layers.10.w_shape",
    ]
    assert lines[3].split()[-2:] == ["2.0", "MiB"] and lines[2].split()[-2:] == ["32", "B"]
    assert lines[5] == ""
    assert [line.split() for line in lines[6:]] == [
        ["F16:", "1", "tensor", "32", "B"],
        ["F32:", "2", "tensors", "2.0", "MiB"],
        ["I64:", "1", "tensor", "16", "B"],
        ["total:", "4", "tensors", "2.0", "MiB"],
    ]
    proc = run_cli("inspect", tmp_path / "m.safetensors", "--json", cwd=tmp_path)
    rows = json.loads(proc.stdout)
    assert [r["name"] for r in rows] == [line.split()[0] for line in lines[1:5]]
    assert rows[2]["size"] == 512 * 1024 * 4  # bytes for machines


@pytest.mark.parametrize("pattern", ["lm_head.*", "LAYERS.*", "layers.9.*"])
def test_skip_pattern_matching_nothing_is_an_error(tmp_path, model, pattern):
    before = listing(tmp_path)
    proc = run_cli(
        "quantize",
        model,
        "-o",
        tmp_path / "q.safetensors",
        "--skip",
        "layers.0.*",
        "--skip",
        pattern,
        cwd=tmp_path,
    )
    assert proc.returncode == 2 and proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1
    assert f"--skip {pattern!r} matches no tensor" in proc.stderr
    assert listing(tmp_path) == before


def test_skip_pattern_that_matches_is_used(tmp_path, model):
    proc = run_cli(
        "quantize",
        model,
        "-o",
        tmp_path / "q.safetensors",
        "--skip",
        "layers.1.*",
        "--json",
        cwd=tmp_path,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["quantized"] == 1
