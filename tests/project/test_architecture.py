"""The code map holds: each rule of docs/design/architecture.md's "One home
per rule" table is spelled only in the files that row names.

Each row names its home files (in backticks: `int8q/...`, `src/...`) and,
in an HTML comment, the spellings that make the rule (a definition, a
constant, a literal): ``<!-- spelling: `Q8_0_BLOCK =` `def is_real(` -->``.
Every spelling must occur in the code of int8q/ and src/ (comments and
docstrings left out), and only in that row's files.  Spelling a rule, or
one of its constants, a second time elsewhere fails here.

Also: int8q/reference.py, the oracle, imports nothing of int8q.
"""

import ast
import io
import pathlib
import re
import tokenize

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "design" / "architecture.md"
SOURCES = ("int8q", "src")
SUFFIXES = {".py", ".pyi", ".pyx", ".h", ".c", ".def"}
GENERATED = {"src/python/_kernels.c"}  # written by Cython from _kernels.pyx

if not (ROOT / "int8q").is_dir() or not PAGE.is_file():
    pytest.skip("needs the source checkout", allow_module_level=True)


def rows():
    """[(rule, home files, spellings)] of the table."""
    text = PAGE.read_text(encoding="utf-8")
    section = text.split("## One home per rule", 1)[1].split("\n## ", 1)[0]
    found = []
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith(("| rule ", "|---")):
            continue
        body, _, comment = line.partition("<!--")
        homes = set(re.findall(r"`((?:int8q|src)/[\w./]+)`", body))
        spellings = []
        if comment:
            match = re.match(r"\s*spelling:(.*?)-->", comment)
            assert match, f"unreadable spelling comment: {line}"
            spellings = re.findall(r"`([^`]+)`", match.group(1))
        rule = body.strip("| ").split(" | ")[0]
        found.append((rule, homes, spellings))
    return found


def _python_code(text):
    """`text` with its comments and docstrings blanked (lines kept)."""
    lines = text.splitlines(keepends=True)
    spans = []
    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(text).readline))
    except (tokenize.TokenError, SyntaxError, IndentationError):
        return re.sub(r"#[^\n]*", "", text)
    previous = tokenize.NEWLINE
    for i, tok in enumerate(tokens):
        following = tokens[i + 1].type if i + 1 < len(tokens) else tokenize.ENDMARKER
        if tok.type == tokenize.COMMENT:
            spans.append((tok.start, tok.end))
        elif (
            tok.type == tokenize.STRING
            and previous in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.NL)
            and following in (tokenize.NEWLINE, tokenize.ENDMARKER)
        ):
            spans.append((tok.start, tok.end))
        if tok.type not in (tokenize.COMMENT, tokenize.NL):
            previous = tok.type
    for (r0, c0), (r1, c1) in reversed(spans):
        if r0 == r1:
            line = lines[r0 - 1]
            lines[r0 - 1] = line[:c0] + " " * (c1 - c0) + line[c1:]
        else:
            lines[r0 - 1] = lines[r0 - 1][:c0] + "\n"
            for r in range(r0, r1 - 1):
                lines[r] = "\n"
            lines[r1 - 1] = " " * c1 + lines[r1 - 1][c1:]
    return "".join(lines)


def _c_code(text):
    """`text` without its /* */ and // comments (string literals kept)."""
    pattern = r'"(?:\\.|[^"\\])*"|/\*.*?\*/|//[^\n]*'
    return re.sub(pattern, lambda m: m.group(0) if m.group(0)[0] == '"' else " ", text, flags=re.S)


def code_files():
    """{path relative to the checkout: its code without comments or docstrings}."""
    files = {}
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            rel = path.relative_to(ROOT).as_posix()
            if path.suffix not in SUFFIXES or rel in GENERATED or not path.is_file():
                continue
            text = path.read_text(encoding="utf-8")
            files[rel] = (
                _python_code(text) if path.suffix in {".py", ".pyi", ".pyx"} else _c_code(text)
            )
    return files


def spelled(code, spelling):
    """Whether `spelling` occurs in `code` as a whole: not inside a longer
    name, and an assignment (ending with ``=``) not part of ``==``."""
    pattern = (r"(?<![\w.])" if spelling[0].isalnum() or spelling[0] == "_" else "") + re.escape(
        spelling
    )
    if spelling.endswith("="):
        pattern += "(?!=)"
    return re.search(pattern, code) is not None


TABLE = rows()
CODE = code_files()


def test_the_table_is_read():
    assert len(TABLE) >= 15, TABLE
    assert sum(bool(spellings) for _, _, spellings in TABLE) >= 12
    assert len(CODE) > 50 and "int8q/reference.py" in CODE and "src/core/rules.h" in CODE


@pytest.mark.parametrize(("rule", "homes", "spellings"), TABLE, ids=[r for r, _, _ in TABLE])
def test_each_rule_lives_in_its_home(rule, homes, spellings):
    assert homes, f"{rule!r} names no home file"
    missing = sorted(h for h in homes if not (ROOT / h).exists())
    assert not missing, f"{rule!r}: its home {missing} does not exist"
    for spelling in spellings:
        where = sorted(f for f, code in CODE.items() if spelled(code, spelling))
        assert where, f"{rule!r}: {spelling!r} is spelled nowhere (renamed? update the table)"
        elsewhere = [f for f in where if f not in homes]
        assert not elsewhere, (
            f"{rule!r}: {spelling!r} is spelled outside its home {sorted(homes)}, in "
            f"{elsewhere}: import it from its home instead"
        )


def test_the_scan_sees_code_but_not_comments_or_docstrings():
    sample = 'def f():\n    """X = 1"""\n    return 2  # Y = 3\nZ = "W = 4"\n'
    code = _python_code(sample)
    assert not spelled(code, "X =") and not spelled(code, "Y =")
    assert spelled(code, "Z =") and spelled(code, "W =")
    c = _c_code('/* A = 1 */ int b = 2; // C = 3\nconst char *s = "D = 4";\n')
    assert not spelled(c, "A =") and not spelled(c, "C =") and spelled(c, "D =")
    assert not spelled("x == 1", "x =") and not spelled("MY_Q8_0_BLOCK = 1", "Q8_0_BLOCK =")


def test_the_reference_imports_nothing_of_int8q():
    tree = ast.parse((ROOT / "int8q" / "reference.py").read_text(encoding="utf-8"))
    imported = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").split(".")[0] == "int8q":
                imported.append(ast.unparse(node))
        elif isinstance(node, ast.Import):
            imported += [a.name for a in node.names if a.name.split(".")[0] == "int8q"]
    assert not imported, f"int8q/reference.py imports {imported}"
