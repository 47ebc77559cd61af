"""Valid files of every format int8q.io reads, as bytes (the seeds of the
mutation fuzzing), and `run_all`, which holds the parsers' invariant on one
file (docs/safety.md): a documented error (ValueError, of which FormatError
is one) or a correct result; never another exception, a crash, a hang, a
file left behind, or an existing output damaged."""

import contextlib
import io
import json
import os
import shutil
import signal
import tempfile
import threading

import numpy as np
import pytest
from checkpoints import listing, write_safetensors

import int8q.io

HANG_S = 60  # one example's three runs on tiny files; generous for a loaded CI machine
SENTINEL = b"an existing output that a failed run must leave alone"


def _file_bytes(write):
    """The bytes of a file written by `write(path)` in a scratch folder."""
    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, "f")
        write(path)
        with open(path, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(folder)


def _tensors():
    rng = np.random.default_rng(0)
    return {
        "w": rng.standard_normal((4, 8)).astype(np.float32),
        "h": rng.standard_normal((3, 5)).astype(np.float16),
        "b": rng.standard_normal(4).astype(np.float32),
        "ids": np.arange(3, dtype=np.int64),
    }


def _quantized(suffix, write_input):
    """The bytes of int8q's output for an input written by `write_input`."""
    folder = tempfile.mkdtemp()
    try:
        src = os.path.join(folder, "in" + suffix)
        write_input(src)
        dst = os.path.join(folder, "out" + (".npz" if suffix == ".npy" else suffix))
        int8q.io.quantize_file(src, dst, block_size=4 if suffix == ".npz" else None)
        with open(dst, "rb") as f:
            return f.read()
    finally:
        shutil.rmtree(folder)


def _save(array):
    def write(path):
        with open(path, "wb") as f:
            np.save(f, array)

    return write


def _savez(compressed):
    def write(path):
        with open(path, "wb") as f:
            (np.savez_compressed if compressed else np.savez)(f, **_tensors())

    return write


SEEDS = {
    "safetensors": (
        ".safetensors",
        _file_bytes(lambda p: write_safetensors(p, _tensors(), {"format": "pt"})),
    ),
    "safetensors quantized": (
        ".safetensors",
        _quantized(".safetensors", lambda p: write_safetensors(p, _tensors())),
    ),
    "npy": (".npy", _file_bytes(_save(_tensors()["w"]))),
    "npy fortran": (".npy", _file_bytes(_save(np.asfortranarray(_tensors()["w"])))),
    "npz": (".npz", _file_bytes(_savez(False))),
    "npz compressed": (".npz", _file_bytes(_savez(True))),
    "npz quantized": (".npz", _quantized(".npz", _savez(False))),
}


@contextlib.contextmanager
def no_hang(seconds=HANG_S):
    """A TimeoutError (not a ValueError: the invariant fails) after `seconds`."""
    if (
        not hasattr(signal, "setitimer")
        or threading.current_thread() is not threading.main_thread()
    ):
        yield
        return

    def hang(signum, frame):
        raise TimeoutError(f"no result after {seconds} s")

    previous = signal.signal(signal.SIGALRM, hang)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_all(folder, path):
    """inspect, quantize and dequantize `path`, checking the invariant."""
    with no_hang():
        _run_all(folder, path)


def _run_all(folder, path):
    suffix = os.path.splitext(path)[1]
    out_suffix = ".npz" if suffix == ".npy" else suffix
    for verb, out in (
        ("inspect", None),
        ("quantize", "q" + out_suffix),
        ("dequantize", "d" + out_suffix),
    ):
        out = None if out is None else os.path.join(folder, out)
        if out is not None and not os.path.isdir(path):
            with open(out, "wb") as f:
                f.write(SENTINEL)
        before = listing(folder)
        try:
            if verb == "inspect":
                rows = int8q.io.inspect_file(path)
                assert all(set(r) >= {"name", "shape", "size"} for r in rows)
            elif verb == "quantize":
                int8q.io.quantize_file(path, out)
            else:
                int8q.io.dequantize_file(path, out)
        except ValueError:  # FormatError, NaN/inf in a tensor, ...
            assert listing(folder) == before, verb
            if out is not None and os.path.isfile(out):
                with open(out, "rb") as f:
                    assert f.read() == SENTINEL, f"{verb} damaged the existing output"
        else:
            new = [p for p in listing(folder) if p not in before]
            assert all(p.split(os.sep)[0] == os.path.basename(out or "") for p in new), new
            if out is not None:
                int8q.io.inspect_file(out)  # what int8q writes, int8q reads


def in_folder(name, data, check):
    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        check(folder, path)
    finally:
        shutil.rmtree(folder)


def metadata_seed():
    raw = SEEDS["safetensors quantized"][1]
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    return header, raw[8 + n :]


def gguf_seed():
    gguf = pytest.importorskip("gguf")
    buf = io.BytesIO()
    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, "m.gguf")
        w = gguf.GGUFWriter(path, "llama")
        w.add_uint32("llama.block_count", 1)
        w.add_tensor("blk.0.attn_q.weight", np.ones((4, 64), np.float32))
        w.add_tensor("output_norm.weight", np.ones(64, np.float32))
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
        with open(path, "rb") as f:
            buf.write(f.read())
    finally:
        shutil.rmtree(folder)
    return buf.getvalue()
