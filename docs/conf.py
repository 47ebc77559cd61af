"""Sphinx configuration for int8q's documentation (built from ``docs/``).

Build: ``pip install ".[docs]"`` then
``sphinx-build -W --keep-going -b html docs docs/_build/html``.
The API reference is generated from the installed package's docstrings, the
CLI reference from ``int8q.cli.build_parser()`` and the benchmark table from
``benchmarks/results/bench.json`` (by ``markdown()`` of
``benchmarks/bench.py``, the one home of that table's format).
"""

import importlib.util
import json
import pathlib
import re
import sys

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent

# `python -m sphinx` run in the checkout's root puts that folder first on
# sys.path, where int8q/ is the source folder without the compiled core: the
# site documents the installed package.
sys.path[:] = [p for p in sys.path if pathlib.Path(p or ".").resolve() != ROOT]

import int8q  # noqa: E402
from int8q import _typing as int8q_typing  # noqa: E402

GENERATED_BENCH_TABLE = DOCS / "_generated_bench_table.md"

project = "int8q"
author = "int8q contributors"
copyright = "int8q contributors"
release = int8q.__version__
version = release

extensions = [
    "myst_parser",
    "numpydoc",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinxarg.ext",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated_*"]
html_theme = "furo"
html_title = f"int8q {release}"
html_static_path: list[str] = []

myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

# Every public function has an Examples section: numpydoc's validation
# reports one that lacks it, and -W makes that an error.
numpydoc_validation_checks = {"EX01"}
# Attributes and properties are described in their class's docstring.
numpydoc_validation_exclude = {
    r"\.__init__$",
    r"\.__repr__$",
    r"\.codec_id$",
    r"\.Calibrator\.scale$",
    r"\.Calibrator\.zero_point$",
    r"\.Acceleration\.active$",
}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
# The public signatures are annotated with the named aliases of
# int8q/_typing.py (``from __future__ import annotations``): show the names,
# which the API reference explains, not their expansions.
autodoc_type_aliases = {name: name for name in int8q_typing.__all__}
autosummary_generate = False

nitpicky = False
linkcheck_ignore = [r"https://int8q\.readthedocs\.io/.*"]


def _write_bench_table(app: object) -> None:
    spec = importlib.util.spec_from_file_location("bench", ROOT / "benchmarks" / "bench.py")
    assert spec is not None and spec.loader is not None
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = json.loads((ROOT / "benchmarks" / "results" / "bench.json").read_text())
    GENERATED_BENCH_TABLE.write_text(bench.markdown(data) + "\n")


_FORWARD_REF = re.compile(r"TypeAliasForwardRef\('([^']+)'\)")


def _alias_names(
    app: object,
    what: str,
    name: str,
    obj: object,
    options: object,
    signature: str | None,
    return_annotation: str | None,
) -> tuple[str | None, str | None]:
    # Sphinx writes an alias inside a union (``ArrayLike | None``) as
    # TypeAliasForwardRef('ArrayLike'): keep the name alone.
    def clean(text: str | None) -> str | None:
        return None if text is None else _FORWARD_REF.sub(r"\1", text)

    return clean(signature), clean(return_annotation)


def setup(app: object) -> None:
    app.connect("builder-inited", _write_bench_table)  # type: ignore[attr-defined]
    app.connect("autodoc-process-signature", _alias_names)  # type: ignore[attr-defined]
