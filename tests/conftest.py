"""Shared fixtures of the core tests."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest


def _pip_install(target: Path, *projects: Path) -> Path:
    """Install ``projects`` (no dependencies, offline) into the folder ``target``."""
    offline = ("--quiet", "--no-deps", "--no-index", "--no-build-isolation")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            *offline,
            "--target",
            str(target),
            *map(str, projects),
        ],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="session")
def pip_install() -> Callable[..., Path]:
    """``pip_install(target, *projects)``: install real distributions into a folder.

    Entry-point discovery is tested against real installed distributions, never by
    reloading modules; the folder goes on ``sys.path`` of a subprocess.
    """
    return _pip_install
