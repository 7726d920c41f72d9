"""The two rooms: the library never imports the lab (only the CLI hands off to it)."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "core" / "structloss"
HAND_OFF = {"cli.py"}  # `structloss run/compare/structure` start the lab from here


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


def _library_modules() -> list[Path]:
    return sorted(
        p
        for p in PACKAGE.rglob("*.py")
        if "lab" not in p.relative_to(PACKAGE).parts and p.name != "__main__.py"
    )


def test_the_library_never_imports_the_lab():
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _library_modules()
        if path.relative_to(PACKAGE).as_posix() not in HAND_OFF
        for name in _imports(path)
        if name == "structloss.lab" or name.startswith("structloss.lab.")
    ]
    assert not offenders, offenders


def test_the_scan_reads_imports():
    assert "structloss.errors" in _imports(PACKAGE / "config.py")
    assert any(n.startswith("structloss.lab") for n in _imports(PACKAGE / "cli.py"))
    assert len(_library_modules()) > 15


def test_the_lab_needs_no_lab_extra_in_the_library():
    """rich and matplotlib are the lab's: no library module imports them."""
    heavy = ("rich", "matplotlib")
    offenders = [
        f"{path.relative_to(PACKAGE)} imports {name}"
        for path in _library_modules()
        for name in _imports(path)
        if name.split(".")[0] in heavy
    ]
    assert not offenders, offenders


def code_lines(path: Path) -> int:
    """Lines holding code: not blank, not only a comment, not a docstring."""
    import io
    import tokenize

    source = path.read_text(encoding="utf-8")
    docstrings: set[int] = set()
    for node in ast.walk(ast.parse(source)):
        body = getattr(node, "body", None)
        if (
            isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
            and body
            and isinstance(body[0], ast.Expr)
            and isinstance(body[0].value, ast.Constant)
            and isinstance(body[0].value.value, str)
        ):
            docstrings.update(range(body[0].lineno, (body[0].end_lineno or 0) + 1))
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT}
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type not in skip and token.type != tokenize.ENDMARKER:
            lines.update(range(token.start[0], token.end[0] + 1))
    return len(lines - docstrings)


def test_the_library_stays_a_small_contract():
    """The library (all but lab/, testing/, template/) holds at most 3,000 lines of code."""
    parts = ("lab", "testing", "template")
    files = [
        p
        for p in PACKAGE.rglob("*.py")
        if not set(p.relative_to(PACKAGE).parts) & set(parts) and p.stem not in parts
    ]
    total = sum(code_lines(p) for p in files)
    assert 1000 < total <= 3000, total


def test_code_lines_skip_docstrings_comments_and_blank_lines(tmp_path):
    sample = tmp_path / "m.py"
    sample.write_text(
        '"""Doc.\n\nMore."""\n\n# note\nx = 1  # one\n\n\ndef f():\n    """Doc."""\n    return x\n'
    )
    assert code_lines(sample) == 3
