"""Quantizing a checkpoint holds a few tensors in memory, not the whole file:
one at a time when the pipeline is off, and at most the pipeline's budget
and the largest tensor when it is on (int8q/io/_support/_pipeline.py).

Each measurement runs in a fresh interpreter and reads its own peak resident
set size (VmHWM in /proc/self/status, which counts memory-mapped file pages
too; ru_maxrss would not do: Linux carries it over from the forking parent,
here pytest); the same interpreter doing nothing but the imports is the
baseline.  The checkpoint is written tensor by tensor so the test itself
stays small.
"""

import json
import os
import struct
import subprocess
import sys

import numpy as np
import pytest

pytestmark = pytest.mark.skipif(
    not os.path.exists("/proc/self/status"), reason="reads peak RSS from Linux's /proc"
)

MiB = 1 << 20
ROWS, COLS = 1024, 2048  # 8 MiB float32 per tensor
TENSORS = 24  # 192 MiB in all

PEAK = """
import int8q.io
from int8q.io._support import _pipeline
{setup}
{call}
with open("/proc/self/status") as f:
    print([int(line.split()[1]) * 1024 for line in f if line.startswith("VmHWM:")][0])
"""


def write_big(path):
    """TENSORS weights and as many biases, streamed to disk."""
    one = np.random.default_rng(0).standard_normal((ROWS, COLS)).astype(np.float32)
    bias = np.ones(ROWS, np.float32)
    header, position = {"__metadata__": {"format": "pt"}}, 0
    for i in range(TENSORS):
        for name, a in ((f"layer.{i}.weight", one), (f"layer.{i}.bias", bias)):
            header[name] = {
                "dtype": "F32",
                "shape": list(a.shape),
                "data_offsets": [position, position + a.nbytes],
            }
            position += a.nbytes
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for i in range(TENSORS):
            f.write((one * (i + 1)).tobytes())
            f.write(bias.tobytes())
    return one.nbytes


def peak_rss(call, cwd, setup=""):
    # cwd: never the repository root, where `import int8q` would find the source folder
    out = subprocess.run(
        [sys.executable, "-c", PEAK.format(call=call, setup=setup)],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(out.stdout.split()[-1])


# Converting slower than reading: without its budget, the pipeline would
# read the whole file ahead.
SLOW_CONVERSION = """
import time
from int8q.io._policy import _convention
def slowly(convert):
    return lambda *args: (time.sleep(0.02), convert(*args))[1]
_convention.quantize = slowly(_convention.quantize)
_convention.dequantize = slowly(_convention.dequantize)
"""
BUDGET = 24 * MiB  # the pipeline's, here: 3 tensors, an eighth of the file


@pytest.mark.parametrize("pipelined", [False, True], ids=["one-at-a-time", "pipelined"])
def test_peak_memory_is_bounded_by_the_largest_tensor(tmp_path, pipelined):
    src, q, back = (tmp_path / n for n in ("m.safetensors", "q.safetensors", "b.safetensors"))
    largest = write_big(src)
    setup = SLOW_CONVERSION + f"_pipeline.BUDGET = {BUDGET}" if pipelined else ""
    setup = setup or "_pipeline.THREADED = False"
    base = peak_rss("pass", tmp_path, setup)
    quantize = peak_rss(f"int8q.io.quantize_file({str(src)!r}, {str(q)!r})", tmp_path, setup)
    dequantize = peak_rss(f"int8q.io.dequantize_file({str(q)!r}, {str(back)!r})", tmp_path, setup)
    quantize, dequantize = quantize - base, dequantize - base
    assert os.path.getsize(q) < os.path.getsize(src) / 3 < os.path.getsize(back)
    # The input tensor, its int8 copy, the scales; for dequantize the float
    # output (and, pipelined, what the budget lets be read ahead and written
    # behind).  Far below the 192 MiB the file holds.
    bound = 4 * largest + (BUDGET if pipelined else 0)
    assert quantize < bound, (quantize / MiB, largest / MiB)
    assert dequantize < bound, (dequantize / MiB, largest / MiB)
