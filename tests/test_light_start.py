"""A light start: ``structloss --version``/``--help`` and plugin loading pay for no torch.

The heavy modules are imported inside commands and factories; these tests watch the import
graph in a fresh interpreter (``python -X importtime``) so a stray top-level import fails.
"""

from __future__ import annotations

import subprocess
import sys
from importlib import metadata

import pytest

import structloss

HEAVY = ("torch", "numpy", "rich", "matplotlib")


def imported_modules(*args: str, code: str | None = None) -> tuple[set[str], str]:
    """Run ``python -X importtime`` (``-m structloss ARGS`` or ``-c CODE``) in a fresh process.

    Returns:
        The names of every module it imported, and its stdout.
    """
    command = [sys.executable, "-X", "importtime"]
    command += ["-c", code] if code is not None else ["-m", "structloss", *args]
    done = subprocess.run(command, capture_output=True, text=True, check=True)
    names = {
        line.rsplit("|", 1)[-1].strip()
        for line in done.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, done.stdout


def heavy(names: set[str]) -> list[str]:
    """The heavy packages (and their submodules) among ``names``."""
    return sorted(n for n in names if n.split(".")[0] in HEAVY)


@pytest.mark.integration
@pytest.mark.parametrize("flag", ["--version", "--help"])
def test_cli_flags_import_nothing_heavy(flag: str) -> None:
    names, out = imported_modules(flag)
    assert "structloss.cli" in names  # the importtime output is what we think it is
    assert heavy(names) == [], f"structloss {flag} imported {heavy(names)}"
    assert out.strip()


@pytest.mark.integration
def test_version_flag_prints_the_distribution_version() -> None:
    _, out = imported_modules("--version")
    assert out.strip() == f"structloss {metadata.version('structloss')}"


@pytest.mark.integration
@pytest.mark.parametrize(
    "statement",
    [
        "import structloss",
        "from structloss import hookimpl",
        "from structloss import LossSpec, StructureSpec, hookimpl",
        "import structloss.hookspecs, structloss.specs, structloss.registry, structloss.errors",
        "from structloss.plugins import PluginHost; PluginHost(builtins=False, entry_points=[])",
    ],
)
def test_what_plugins_import_at_load_time_is_light(statement: str) -> None:
    names, _ = imported_modules(code=statement)
    assert heavy(names) == [], f"{statement!r} imported {heavy(names)}"


@pytest.mark.integration
def test_a_public_name_imports_its_module_on_first_use() -> None:
    code = (
        "import sys, structloss\n"
        "assert 'torch' not in sys.modules\n"
        "assert callable(structloss.compose)\n"
        "print('torch' in sys.modules)\n"
    )
    _, out = imported_modules(code=code)
    assert out.strip() == "True"


def test_every_public_name_resolves() -> None:
    for name in structloss.__all__:
        assert getattr(structloss, name) is not None, name
    from structloss.config import compose
    from structloss.structures import Hierarchy

    assert structloss.compose is compose
    assert structloss.Hierarchy is Hierarchy


def test_dir_lists_the_public_names() -> None:
    assert set(structloss.__all__) <= set(dir(structloss))


def test_unknown_attribute_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        _ = structloss.nope  # type: ignore[attr-defined]
    assert not hasattr(structloss, "nope")


def test_version_comes_from_the_package_metadata() -> None:
    assert structloss.__version__ == metadata.version("structloss")


def test_version_without_metadata_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    def missing(name: str) -> str:
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "version", missing)
    assert structloss._version() == "0+unknown"
