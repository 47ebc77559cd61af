"""Running int8q as a process the tests can interrupt, kill, and inspect."""

import os
import subprocess
import sys
import time

import pytest
from cli import cli_command

posix_only = pytest.mark.skipif(
    os.name != "posix" or not os.path.isdir("/proc/self/fd"), reason="signals and /proc/PID/fd"
)


def start_and_catch_writing(args, out_dir):
    """Start the CLI; return it once it has an output file open in `out_dir`."""
    proc = subprocess.Popen(
        cli_command() + [str(a) for a in args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            fds = os.listdir(f"/proc/{proc.pid}/fd")
        except OSError:
            fds = []
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{proc.pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(str(out_dir) + os.sep):
                return proc
        time.sleep(0.001)
    proc.kill()
    pytest.fail(f"never saw the output open (exit {proc.wait()})")


def tmpfile_supported(folder):
    try:
        os.close(os.open(folder, os.O_TMPFILE | os.O_RDWR, 0o600))
    except (AttributeError, OSError):
        return False
    return True


def dead_pid():
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
