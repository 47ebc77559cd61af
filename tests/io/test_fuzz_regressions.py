"""Replays what the coverage-guided fuzzer (tools/verify/fuzz_parsers.py, run by
.ci/run) starts from and what it found: the golden files each target reads
and the findings kept as tests/golden/fuzz/TARGET/NAME, each through its
target's invariant check (tests/support/fuzz_targets.py)."""

import os

import pytest
from fuzz_targets import FINDINGS, TARGETS, findings, golden_seeds


@pytest.mark.parametrize("target", sorted(TARGETS))
def test_golden_files_and_kept_findings_keep_the_invariant(target):
    check, seeds, _ = TARGETS[target]
    cases = [(f"golden file {i}", data) for i, data in enumerate(golden_seeds(target))]
    if target in ("index", "gguf", "onnx"):  # no golden files of these formats
        cases += [(f"seed {i}", data) for i, data in enumerate(seeds())]
    cases += findings(target)
    assert cases, target
    for where, data in cases:
        try:
            check(data)
        except BaseException as exc:
            raise AssertionError(f"{target}: {where}: {exc!r}") from exc


def test_findings_are_filed_under_a_target():
    if os.path.isdir(FINDINGS):
        assert set(os.listdir(FINDINGS)) <= set(TARGETS), os.listdir(FINDINGS)
