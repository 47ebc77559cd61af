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

import int8q

DOCS = pathlib.Path(__file__).resolve().parent
ROOT = DOCS.parent
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
numpydoc_validation_exclude = {r"\.__init__$", r"\.__repr__$", r"\.__call__$"}
numpydoc_show_class_members = False
numpydoc_xref_param_type = False

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_type_aliases = {
    "ArrayLike": "numpy.typing.ArrayLike",
    "DTypeLike": "numpy.typing.DTypeLike",
}
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


def setup(app: object) -> None:
    app.connect("builder-inited", _write_bench_table)  # type: ignore[attr-defined]
