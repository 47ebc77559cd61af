"""Coverage-guided fuzzing of int8q's file parsers and codec with atheris.

The same targets, seeds and invariant as the suite's bounded mutation tests
(tests/io/test_fuzz_files.py, tests/addons/test_fuzz_codec.py): a documented error
(ValueError) or a correct result; never another exception, a crash, a hang,
a file left behind or an existing output damaged.  Any violation stops the
run with the input saved as crash-*/timeout-* (libFuzzer's files).

    pip install atheris ".[test]"
    python tools/verify/fuzz_parsers.py --target=npz corpus/npz -max_total_time=36000 -timeout=20

Targets: safetensors, metadata, index, npy, npz, codec, gguf, onnx (when int8q has
a GGUF container).  The corpus folder is seeded with valid files when
empty; ``--golden`` adds the files of tests/golden that the target reads
(the format's golden files, and tests/golden/fuzz/TARGET/, the findings
kept as regression files).  Any other libFuzzer flag (-jobs, -workers,
-rss_limit_mb=2048, ...) is passed through.  Reproduce a finding with
``python tools/verify/fuzz_parsers.py --target=npz crash-<hash>``; keep it as
tests/golden/fuzz/TARGET/NAME, which tests/io/test_fuzz_regressions.py replays.

.ci/run runs every target for a bounded time with ``--golden``.
"""

import os
import sys

import atheris

HERE = os.path.dirname(os.path.abspath(__file__))
TESTS = os.path.join(HERE, "..", "..", "tests")
# The targets (tests/support/fuzz_targets.py) reuse the checks of the fuzz
# tests in tests/io and tests/addons.
for folder in ("support", "io", "addons"):
    sys.path.insert(0, os.path.join(TESTS, folder))

# Coverage of int8q only: instrumenting NumPy, zipfile or hypothesis would
# slow every run for nothing.
with atheris.instrument_imports(include=["int8q"]):
    import int8q.codec  # noqa: F401
    import int8q.io  # noqa: F401

import fuzz_targets  # noqa: E402  (tests/support/fuzz_targets.py: the targets and their seeds)


def main():
    target = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--target=")), None)
    if target not in fuzz_targets.TARGETS:
        targets = ",".join(fuzz_targets.TARGETS)
        sys.exit(f"usage: {sys.argv[0]} --target={{{targets}}} [--golden] [CORPUS] [-flags]")
    golden = "--golden" in sys.argv
    argv = [a for a in sys.argv if not a.startswith("--target=") and a != "--golden"]
    check, seeds, _ = fuzz_targets.TARGETS[target]
    corpus = next((a for a in argv[1:] if not a.startswith("-")), None)
    if corpus and not os.path.exists(corpus):
        os.makedirs(corpus)
    if corpus and os.path.isdir(corpus) and not os.listdir(corpus):
        for i, seed in enumerate(seeds()):
            with open(os.path.join(corpus, f"seed-{i}"), "wb") as f:
                f.write(seed)
    if corpus and os.path.isdir(corpus) and golden:
        kept = [data for _, data in fuzz_targets.findings(target)]
        for i, seed in enumerate(fuzz_targets.golden_seeds(target) + kept):
            with open(os.path.join(corpus, f"golden-{i}"), "wb") as f:
                f.write(seed)
    atheris.Setup(argv, check)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
