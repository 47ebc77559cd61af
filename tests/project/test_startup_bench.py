"""A smoke run of the start-up benchmark: it runs every case and writes its JSON.

Speed is never asserted here: the benchmark itself reports the times.
"""

import json
import pathlib
import runpy
import sys

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "benchmarks" / "startup.py"


@pytest.mark.skipif(not SCRIPT.exists(), reason="benchmarks/ not in this copy")
def test_startup_benchmark_runs(tmp_path, monkeypatch, capsys):
    out = tmp_path / "startup.json"
    monkeypatch.setattr(sys, "argv", ["startup.py", "--repeats", "1", "--json", str(out)])
    runpy.run_path(str(SCRIPT), run_name="__main__")
    rows = json.loads(out.read_text())["results"]
    assert [row["case"] for row in rows] == [
        "python",
        "import numpy",
        "import int8q",
        "import int8q.io",
        "int8q --help",
    ]
    for row in rows:
        assert row["build"] == "this" and len(row["wall_s"]) == 1 and row["wall_s"][0] > 0
    assert "import int8q.io" in capsys.readouterr().out
