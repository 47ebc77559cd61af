"""Property-based mutation fuzzing of every file parser of int8q.io.

Each case starts from a valid file, damages it with a few fuzzer edits
(tests/mutations.py) and runs inspect, quantize and dequantize on it.  The
invariant (docs/safety.md): a documented error (ValueError, of which
FormatError is one) or a correct result; never another exception, a crash,
a hang, a file left behind, or an existing output damaged.  A run that
succeeds must have written a file int8q reads back.

Bounded to a few seconds (MAX_EXAMPLES per parser); the coverage-guided
harness tools/verify/fuzz_parsers.py runs the same targets for hours.
"""

import contextlib
import io
import json
import os
import shutil
import signal
import tempfile
import threading
import zipfile

import numpy as np
import pytest
from checkpoints import listing, write_safetensors, write_sharded
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated

import int8q.io
from int8q.io._containers import _registry

# Examples per parser: a few seconds in the suite; INT8Q_FUZZ_EXAMPLES=5000
# (say) for a longer local run.
MAX_EXAMPLES = int(os.environ.get("INT8Q_FUZZ_EXAMPLES", 60))
HANG_S = 60  # one example's three runs on tiny files; generous for a loaded CI machine
SENTINEL = b"an existing output that a failed run must leave alone"
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)


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


def _in_folder(name, data, check):
    folder = tempfile.mkdtemp()
    try:
        path = os.path.join(folder, name)
        with open(path, "wb") as f:
            f.write(data)
        check(folder, path)
    finally:
        shutil.rmtree(folder)


@pytest.mark.parametrize("seed", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_mutated_files(seed, data):
    suffix, raw = SEEDS[seed]
    _in_folder("in" + suffix, data.draw(mutated(raw)), run_all)


def _metadata_seed():
    raw = SEEDS["safetensors quantized"][1]
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    return header, raw[8 + n :]


@FUZZ
@given(data=st.data())
def test_mutated_int8q_metadata(data):
    """The metadata JSON inside a valid safetensors header."""
    header, body = _metadata_seed()
    text = data.draw(mutated(header["__metadata__"]["int8q"].encode()))
    header = {**header, "__metadata__": {"int8q": text.decode("latin1")}}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    _in_folder("in.safetensors", len(blob).to_bytes(8, "little") + blob + body, run_all)


@FUZZ
@given(data=st.data())
def test_mutated_shard_index(data):
    folder = tempfile.mkdtemp()
    try:
        index = write_sharded(
            os.path.join(folder, "in"),
            [{"a.weight": np.ones((2, 3), np.float32)}, {"b.weight": np.ones((3, 2))}],
        )
        with open(index, "rb") as f:
            text = f.read()
        with open(index, "wb") as f:
            f.write(data.draw(mutated(text)))
        run_all(folder, os.path.dirname(index))
    finally:
        shutil.rmtree(folder)


def _gguf_seed():
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


@pytest.mark.skipif(
    "gguf" not in {c.NAME for c in _registry.CONTAINERS}, reason="no GGUF container in this version"
)
@FUZZ
@given(data=st.data())
def test_mutated_gguf(data):
    _in_folder("in.gguf", data.draw(mutated(_gguf_seed())), run_all)


def test_seeds_are_valid():
    # The properties above start from files int8q reads: a broken seed
    # would only ever test the first check.
    for suffix, raw in SEEDS.values():
        _in_folder("in" + suffix, raw, lambda folder, path: int8q.io.inspect_file(path))
    assert zipfile.is_zipfile(io.BytesIO(SEEDS["npz compressed"][1]))
