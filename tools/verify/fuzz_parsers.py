"""Coverage-guided fuzzing of int8q's file parsers and codec with atheris.

The same targets, seeds and invariant as the suite's bounded mutation tests
(tests/io/test_fuzz_files.py, tests/addons/test_fuzz_codec.py): a documented error
(ValueError) or a correct result; never another exception, a crash, a hang,
a file left behind or an existing output damaged.  Any violation stops the
run with the input saved as crash-*/timeout-* (libFuzzer's files).

    pip install atheris ".[test]"
    python tools/verify/fuzz_parsers.py --target=npz corpus/npz -max_total_time=36000 -timeout=20

Targets: safetensors, metadata, index, npy, npz, codec, gguf (when int8q has
a GGUF container).  The corpus folder is seeded with valid files when
empty; any other libFuzzer flag (-jobs, -workers, -rss_limit_mb=2048, ...)
is passed through.  Reproduce a finding with ``python tools/verify/fuzz_parsers.py
--target=npz crash-<hash>``.
"""

import os
import sys

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "support"))

# Coverage of int8q only: instrumenting NumPy, zipfile or hypothesis would
# slow every run for nothing.
with atheris.instrument_imports(include=["int8q"]):
    import int8q.codec  # noqa: F401
    import int8q.io  # noqa: F401

import test_fuzz_codec as codec_tests  # noqa: E402
import test_fuzz_files as file_tests  # noqa: E402


def _metadata_file(data):
    """A valid safetensors file whose int8q metadata is `data`."""
    import json

    header, body = file_tests._metadata_seed()
    header = {**header, "__metadata__": {"int8q": data.decode("latin1")}}
    blob = json.dumps(header).encode()
    blob += b" " * (-len(blob) % 8)
    return len(blob).to_bytes(8, "little") + blob + body


def _index_check(data):
    import shutil
    import tempfile

    import numpy as np
    from checkpoints import write_sharded

    folder = tempfile.mkdtemp()
    try:
        index = write_sharded(
            os.path.join(folder, "in"),
            [{"a.weight": np.ones((2, 3), np.float32)}, {"b.weight": np.ones((3, 2))}],
        )
        with open(index, "wb") as f:
            f.write(data)
        file_tests.run_all(folder, os.path.dirname(index))
    finally:
        shutil.rmtree(folder)


def _file_target(suffix):
    return lambda data: file_tests._in_folder("in" + suffix, data, file_tests.run_all)


TARGETS = {
    "safetensors": (
        _file_target(".safetensors"),
        [file_tests.SEEDS["safetensors"][1], file_tests.SEEDS["safetensors quantized"][1]],
    ),
    "metadata": (
        lambda data: file_tests._in_folder(
            "in.safetensors", _metadata_file(data), file_tests.run_all
        ),
        [file_tests._metadata_seed()[0]["__metadata__"]["int8q"].encode()],
    ),
    "index": (
        _index_check,
        [
            b'{"metadata": {"total_size": 48}, "weight_map": '
            b'{"a.weight": "model-00001-of-00002.safetensors", '
            b'"b.weight": "model-00002-of-00002.safetensors"}}'
        ],
    ),
    "npy": (_file_target(".npy"), [file_tests.SEEDS["npy"][1], file_tests.SEEDS["npy fortran"][1]]),
    "npz": (
        _file_target(".npz"),
        [file_tests.SEEDS[k][1] for k in ("npz", "npz compressed", "npz quantized")],
    ),
    "codec": (codec_tests.check_decodes_or_value_error, codec_tests.SEEDS),
    "gguf": (_file_target(".gguf"), None),
}


def main():
    target = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--target=")), None)
    if target not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} --target={{{','.join(TARGETS)}}} [CORPUS] [-flags]")
    argv = [a for a in sys.argv if not a.startswith("--target=")]
    check, seeds = TARGETS[target]
    if seeds is None:
        seeds = [file_tests._gguf_seed()]
    corpus = next((a for a in argv[1:] if not a.startswith("-")), None)
    if corpus and not os.path.exists(corpus):
        os.makedirs(corpus)
    if corpus and os.path.isdir(corpus) and not os.listdir(corpus):
        for i, seed in enumerate(seeds):
            with open(os.path.join(corpus, f"seed-{i}"), "wb") as f:
                f.write(seed)
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
