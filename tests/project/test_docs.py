"""The examples in the README and in the docstrings run and print what they say."""

import doctest
import pathlib

import pytest

import int8q
from int8q import _api, _seed, ggml, io

README = pathlib.Path(__file__).resolve().parents[2] / "README.md"


@pytest.mark.skipif(not README.exists(), reason="README not shipped with this copy")
def test_readme_examples():
    result = doctest.testfile(
        str(README), module_relative=False, optionflags=doctest.NORMALIZE_WHITESPACE
    )
    assert result.failed == 0


@pytest.mark.parametrize("module", [int8q, _api, _seed, ggml, io])
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert module is int8q or result.attempted > 0
