"""With INT8Q_REQUIRE_PEERS=1 (set by .ci/run) a skip fails unless the machine explains it.

The suite's own conftest.py runs over a few throwaway tests in a separate
pytest process: a peer that is not installed (at collection and inside a
test), a skip that skip_policy.EXPECTED lists, and a passing test.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import skip_policy

TESTS = pathlib.Path(__file__).resolve().parents[1]

MISSING_PEER = """
import pytest

def test_inside():
    pytest.importorskip("int8q_no_such_peer")

def test_machine():
    pytest.skip("this filesystem has no O_TMPFILE")

def test_plain():
    pass
"""

MISSING_AT_COLLECTION = """
import pytest

pytest.importorskip("int8q_no_such_peer")

def test_never_run():
    pass
"""


def run(tmp_path, source, require):
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_it.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != skip_policy.ENV}
    if require:
        env[skip_policy.ENV] = "1"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rs",
         "--rootdir", str(tmp_path), "-c", os.devnull, "--import-mode=importlib",
         "-o", f"pythonpath={TESTS / 'support'}", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, env=env,
    )  # fmt: skip
    return proc.returncode, proc.stdout


def test_skips_stay_skips_outside_ci(tmp_path):
    code, out = run(tmp_path, MISSING_PEER, require=False)
    assert code == 0 and "1 passed, 2 skipped" in out, out


def test_missing_peer_fails_in_ci(tmp_path):
    code, out = run(tmp_path, MISSING_PEER, require=True)
    assert code == 1 and "1 failed, 1 passed, 1 skipped" in out, out
    assert "skipped with INT8Q_REQUIRE_PEERS=1: could not import 'int8q_no_such_peer'" in out
    assert "SKIPPED" in out and "this filesystem has no O_TMPFILE" in out


def test_missing_peer_at_collection_fails_in_ci(tmp_path):
    code, out = run(tmp_path, MISSING_AT_COLLECTION, require=True)
    assert code != 0 and "1 error" in out, out
    assert "skipped with INT8Q_REQUIRE_PEERS=1: could not import 'int8q_no_such_peer'" in out


def test_expected_reasons_are_explained():
    assert skip_policy.EXPECTED and all(why for why in skip_policy.EXPECTED.values())
