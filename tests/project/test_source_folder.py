"""`import int8q` from a checkout's root explains itself.

After `pip install .`, Python run in the checkout's root finds the source
folder int8q/ (no compiled core) before the installed package.  The import
must then say so and what to do, not fail on a partially initialized module.
The source folder is copied without any compiled file, so the test means the
same whether or not someone built the core in place.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
SOURCE = ROOT / "int8q"

pytestmark = pytest.mark.skipif(
    not (SOURCE / "__init__.py").exists(), reason="the source folder is not in this copy"
)


def import_from(folder):
    """`python -c "import int8q"` run in `folder`, with nothing else on the path."""
    shutil.copytree(SOURCE, folder / "int8q", ignore=shutil.ignore_patterns("*.so", "*.pyd"))
    return subprocess.run(
        [sys.executable, "-c", "import int8q"],
        cwd=folder,
        capture_output=True,
        text=True,
        env={k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONSAFEPATH")},
    )


def test_checkout_root(tmp_path):
    shutil.copy(ROOT / "setup.py", tmp_path)
    proc = import_from(tmp_path)
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: int8q was imported from its source folder"), last
    assert "pip install ." in last and "from another folder" in last
    assert "circular import" not in proc.stderr


def test_incomplete_installation(tmp_path):
    proc = import_from(tmp_path)  # a package folder without the compiled core, no setup.py
    assert proc.returncode == 1
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: int8q's compiled core (int8q._kernels) is missing"), last
    assert "reinstall" in last
