"""A smoke run of the end-to-end checkpoint benchmark: it builds its
checkpoints, runs every case and writes its JSON.

Speed is never asserted here: the benchmark itself reports ratios.
"""

import json
import pathlib
import runpy
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "checkpoint.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this copy")
def test_checkpoint_benchmark_runs(tmp_path, monkeypatch, capsys):
    out = tmp_path / "figures.json"
    argv = ["checkpoint.py", "--smoke", "--npz", "--dir", str(tmp_path / "d"), "--json", str(out)]
    monkeypatch.setattr(sys, "argv", argv)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    cases = {row["case"]: row for row in json.loads(out.read_text())["results"]}
    assert set(cases) == {
        "safetensors",
        "sharded",
        "hf-W8A16",
        "hf-W8A8",
        "hf-W8A16-g128",
        "gguf",
        "npz",
    }
    for row in cases.values():
        assert row["floor_s"] and row["cli_s"] and row["api_s"] and row["output_bytes"] > 0
    printed = capsys.readouterr().out
    assert "floor s" in printed and "hf-W8A16" in printed
