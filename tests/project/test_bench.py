"""A smoke run of the benchmark suite: it runs and writes its JSON.

Speed is never asserted here: the suite itself reports ratios.
"""

import json
import pathlib
import runpy
import sys

import pytest

BENCH = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "bench.py"


@pytest.mark.skipif(not BENCH.exists(), reason="benchmarks/ not in this copy")
def test_quick_benchmark_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        sys,
        "argv",
        ["bench.py", "--quick", "--no-plot", "--min-time", "0.001", "--out", str(tmp_path)],
    )
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(str(BENCH), run_name="__main__")
    assert exit_info.value.code == 0
    data = json.loads((tmp_path / "bench.json").read_text())
    cases = {row["case"] for row in data["results"]}
    assert {"per-tensor", "qdq", "per-block-32", "q8_0", "per-row", "dict"} <= cases
    for row in data["results"]:
        assert row["gelem_per_s"]["int8q"] > 0
    assert "per-tensor" in capsys.readouterr().out
