import importlib.util
import io
import pathlib

import pytest
import skip_policy

# int8q is imported lazily: under `python -m pytest` from the repository root
# the source folder shadows the installed package, and importing it would
# fail (no compiled _kernels) before the check below could explain why.
SOURCE_PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "int8q"


def pytest_configure(config):
    # The tests must exercise the installed, compiled package: importing the
    # source folder would test uncompiled files (and fail on _kernels).
    spec = importlib.util.find_spec("int8q")
    if spec is None:
        raise pytest.UsageError(
            "int8q is not installed; run pip install . first (see CONTRIBUTING.md)"
        )
    if pathlib.Path(spec.origin).resolve().parent == SOURCE_PACKAGE:
        raise pytest.UsageError(
            "int8q would be imported from the source tree; install it (pip install .) "
            "and run plain `pytest` (not `python -m pytest`) from the repository root, "
            "or run from another directory (see CONTRIBUTING.md)"
        )


def pytest_report_header(config):
    import int8q

    config_text = io.StringIO()
    int8q.show_config(file=config_text)
    return [
        f"int8q from {pathlib.Path(int8q.__file__).parent}",
        config_text.getvalue().rstrip("\n").replace("\n", "; "),
    ]


def pytest_generate_tests(metafunc):
    # The `simd` fixture runs a test once on every SIMD level this machine has.
    if "simd" in metafunc.fixturenames:
        import int8q

        metafunc.parametrize("simd", int8q.available_simd(), indirect=True)


@pytest.fixture
def simd(request):
    """Run a test once on every SIMD level this machine supports."""
    import int8q

    before = int8q.get_simd()
    int8q.set_simd(request.param)
    yield request.param
    int8q.set_simd(before)


@pytest.fixture
def threads():
    """Set the thread count inside a test and restore it afterwards."""
    import int8q

    before = int8q.get_num_threads()
    yield int8q.set_num_threads
    int8q.set_num_threads(before)


@pytest.fixture(scope="session")
def tiny_llama_folder(tmp_path_factory):
    """The tiny random Llama folder of tests/support/tiny_llama.py, built once a session."""
    for peer in ("sentencepiece", "transformers"):
        pytest.importorskip(peer)
    import tiny_llama

    return tiny_llama.build(tmp_path_factory.mktemp("tiny-llama"))


# In CI (INT8Q_REQUIRE_PEERS=1) a skip is a failure unless it depends on the
# machine: tests/support/skip_policy.py.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    skip_policy.enforce(outcome.get_result())


@pytest.hookimpl(hookwrapper=True)
def pytest_make_collect_report(collector):
    outcome = yield
    skip_policy.enforce(outcome.get_result())
