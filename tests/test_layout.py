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
