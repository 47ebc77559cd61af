"""Running the ``int8q`` command in tests: as a shell runs it, or in-process."""

import os
import shutil
import subprocess
import sys
import sysconfig

from checkpoints import listing

from int8q.cli import main


def cli_command():
    """The console script installed beside this interpreter (not another one on PATH)."""
    exe = shutil.which("int8q", path=sysconfig.get_path("scripts"))
    return [exe] if exe else [sys.executable, "-m", "int8q.cli"]


def run_cli(*args, cwd):
    """Run the installed command: the CompletedProcess, stdout and stderr as text."""
    return subprocess.run(
        cli_command() + [str(a) for a in args],
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


def check_cli(tmp_path, capsys, *args):
    """main(args) refuses: exit 2, one line on stderr, nothing written in `tmp_path`."""
    before = listing(tmp_path)
    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2 and out == "", (code, out, err)
    assert len(err.strip().splitlines()) == 1 and err.startswith("int8q: error: "), err
    assert listing(tmp_path) == before
