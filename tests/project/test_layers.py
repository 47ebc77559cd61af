"""Only the engine layer imports the compiled kernels (docs/design/architecture.md).

import-linter (`lint-imports`, run by CI) checks the other layer rules from
pyproject.toml, but the compiled int8q._kernels is not in its graph of the
source files, so this rule is checked here, on the installed package's
source: a new `from . import _kernels` outside the engine fails this test.
"""

import ast
import pathlib

import int8q

# The engine layer: the modules that drive the kernels.
ENGINE = {"_engine", "_affine", "_chunks", "_config", "_dtypes"}


def kernel_importers():
    root = pathlib.Path(int8q.__file__).parent
    found = set()
    for path in root.rglob("*.py"):
        module = ".".join(path.relative_to(root).with_suffix("").parts)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom):
                names = {a.name for a in node.names}
                target = node.module or ""
                if target.endswith("_kernels") or "_kernels" in names:
                    found.add(module)
            elif isinstance(node, ast.Import):
                if any(a.name.endswith("._kernels") for a in node.names):
                    found.add(module)
    return found


def test_only_the_engine_imports_the_kernels():
    importers = kernel_importers()
    assert importers, "the scan found no importer at all: it is broken"
    assert importers <= ENGINE, f"outside the engine layer: {sorted(importers - ENGINE)}"
