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

import io
import json
import os
import shutil
import tempfile
import zipfile

import numpy as np
import pytest
from checkpoints import write_sharded
from file_seeds import SEEDS, gguf_seed, in_folder, metadata_seed, run_all
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mutations import mutated

import int8q.io
from int8q.io._containers import _registry

# Examples per parser: a few seconds in the suite; INT8Q_FUZZ_EXAMPLES=5000
# (say) for a longer local run.
MAX_EXAMPLES = int(os.environ.get("INT8Q_FUZZ_EXAMPLES", 60))
FUZZ = settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=False,
    suppress_health_check=list(HealthCheck),
)


@pytest.mark.parametrize("seed", sorted(SEEDS))
@FUZZ
@given(data=st.data())
def test_mutated_files(seed, data):
    suffix, raw = SEEDS[seed]
    in_folder("in" + suffix, data.draw(mutated(raw)), run_all)


@FUZZ
@given(data=st.data())
def test_mutated_int8q_metadata(data):
    """The metadata JSON inside a valid safetensors header."""
    header, body = metadata_seed()
    text = data.draw(mutated(header["__metadata__"]["int8q"].encode()))
    header = {**header, "__metadata__": {"int8q": text.decode("latin1")}}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    in_folder("in.safetensors", len(blob).to_bytes(8, "little") + blob + body, run_all)


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


@pytest.mark.skipif(
    "gguf" not in {c.NAME for c in _registry.CONTAINERS}, reason="no GGUF container in this version"
)
@FUZZ
@given(data=st.data())
def test_mutated_gguf(data):
    in_folder("in.gguf", data.draw(mutated(gguf_seed())), run_all)


def test_seeds_are_valid():
    # The properties above start from files int8q reads: a broken seed
    # would only ever test the first check.
    for suffix, raw in SEEDS.values():
        in_folder("in" + suffix, raw, lambda folder, path: int8q.io.inspect_file(path))
    assert zipfile.is_zipfile(io.BytesIO(SEEDS["npz compressed"][1]))
