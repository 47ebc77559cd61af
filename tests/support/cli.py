"""Running the ``int8q`` command in tests: as a shell runs it, or in-process."""

import os
import shutil
import subprocess
import sys
import sysconfig

from int8q.cli import main


def run_cli(*args, cwd):
    """The console script installed beside this interpreter (not another one on PATH)."""
    exe = shutil.which("int8q", path=sysconfig.get_path("scripts"))
    cmd = [exe] if exe else [sys.executable, "-m", "int8q.cli"]
    return subprocess.run(
        cmd + [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**os.environ, "PYTHONWARNINGS": "error"},
    )


def run(capsys, *args):
    """main() in-process: (exit status, stdout, stderr); argparse's exits included."""
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err
