import io
import pathlib

import pytest

import int8q

SOURCE_PACKAGE = pathlib.Path(__file__).resolve().parents[1] / "int8q"


def pytest_report_header(config):
    return [f"int8q from {pathlib.Path(int8q.__file__).parent}",
            int8q.show_config(file=io.StringIO()).replace("\n", "; ")]


def pytest_configure(config):
    # The tests must exercise the installed, compiled package: importing the
    # source folder would test uncompiled files (and fail on _kernels).
    installed = pathlib.Path(int8q.__file__).resolve().parent
    if installed == SOURCE_PACKAGE:
        raise pytest.UsageError(
            "int8q was imported from the source tree; install it (pip install .) "
            "and run pytest with --import-mode=importlib (see README)")


@pytest.fixture(params=int8q.available_simd())
def simd(request):
    """Run a test once on every SIMD level this machine supports."""
    before = int8q.get_simd()
    int8q.set_simd(request.param)
    yield request.param
    int8q.set_simd(before)


@pytest.fixture
def threads():
    """Set the thread count inside a test and restore it afterwards."""
    before = int8q.get_num_threads()
    yield int8q.set_num_threads
    int8q.set_num_threads(before)
