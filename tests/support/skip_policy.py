"""In CI a skipped test is a failure, unless it is a skip CI expects.

`.ci/run` installs every peer the suite talks to (torch, transformers,
compressed-tensors, vLLM, llama.cpp, onnxruntime, dask, zarr, gguf, ...) and
sets INT8Q_REQUIRE_PEERS=1.  A test that then skips because its peer is
missing or broken would hide the very breakage CI is there to catch, so
conftest.py passes every test and collection report through `enforce`,
which turns such a skip into a failure that names the skip's reason.

EXPECTED holds the skips that depend on the machine rather than on what
.ci/run installs; each entry says why it may happen in CI.  Everywhere else
(a plain `pytest`, the wheel's suite in tools/release/check_dist.sh, a user's
machine without the peers) skips stay skips.
"""

import os
import re

ENV = "INT8Q_REQUIRE_PEERS"

# reason (a regular expression matched at the start of the skip's reason): why CI may see it
EXPECTED = {
    r"no CUDA device": "CI machines have no GPU; the meta device covers the same check",
    r"this filesystem has no O_TMPFILE": "the temporary folder's filesystem decides, not .ci/run",
    r"no O_TMPFILE here": "the temporary folder's filesystem decides, not .ci/run",
    r"cannot make (symbolic links|a link) here": "the filesystem decides, not .ci/run",
}


def required():
    """Whether skips other than EXPECTED fail (INT8Q_REQUIRE_PEERS=1)."""
    return os.environ.get(ENV) == "1"


def reason(report):
    """The reason text of a skipped test or collection report."""
    longrepr = report.longrepr
    text = longrepr[2] if isinstance(longrepr, tuple) and len(longrepr) == 3 else str(longrepr)
    return text.removeprefix("Skipped: ")


def expected(text):
    return any(re.match(pattern, text) for pattern in EXPECTED)


def enforce(report):
    """Turn an unexpected skip into a failure when INT8Q_REQUIRE_PEERS=1."""
    if not (required() and report.skipped) or hasattr(report, "wasxfail"):
        return
    text = reason(report)
    if expected(text):
        return
    report.outcome = "failed"
    report.longrepr = (
        f"skipped with {ENV}=1: {text}\n"
        ".ci/run installs this test's peer, so the skip means the peer is missing or "
        "broken; skips that depend on the machine are listed in tests/support/skip_policy.py"
    )
