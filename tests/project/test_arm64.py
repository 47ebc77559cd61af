"""The C core built for arm64, where its hand loops are NEON
(src/levels/arm64_neon_f32.h), computes bit for bit what the x86-64 build
computes on every SIMD level this CPU has: tools/verify/check_arm64.sh builds both
and runs the arm64 one under qemu-aarch64.  Skipped without the cross
compiler and qemu (.ci/run installs them: gcc-aarch64-linux-gnu, qemu-user)
or outside a clone of the repository."""

import pathlib
import shutil
import subprocess

import pytest

SCRIPT = pathlib.Path(__file__).resolve().parents[2] / "tools" / "verify" / "check_arm64.sh"


@pytest.mark.skipif(
    not (
        SCRIPT.exists() and shutil.which("aarch64-linux-gnu-gcc") and shutil.which("qemu-aarch64")
    ),
    reason="needs tools/verify/check_arm64.sh, aarch64-linux-gnu-gcc and qemu-aarch64",
)
def test_arm64_build_matches_x86():
    run = subprocess.run(["bash", str(SCRIPT)], capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout + run.stderr
    assert "level 0: identical to arm64" in run.stdout
