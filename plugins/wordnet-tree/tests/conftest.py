"""Fixtures: the shared isolated host ``plugin_host``, the tiny WordNet (also with a second
"mouse"), an isolated cache, no WordNet at all."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

import structloss_wordnet_tree.hooks
from structloss.testing.fixtures import plugin_host_fixture
from structloss_wordnet_tree import locate
from structloss_wordnet_tree.database import WordNet
from structloss_wordnet_tree.testing import TINY, Spec, write_database

plugin_host = plugin_host_fixture(structloss_wordnet_tree.hooks)

#: The tiny database and a second noun sense of "mouse" (appended: earlier offsets stay).
TWO_MICE: Spec = (
    *TINY,
    ("mouse_device", ("mouse",), (("@", "device"),), 'a pointing device; "click the mouse"'),
)


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the tiny database (index.noun, data.noun, noun.exc)."""
    directory = tmp_path_factory.mktemp("tinywordnet")
    write_database(directory)
    return directory


@pytest.fixture(scope="session")
def tiny_offsets(tiny_dir: Path) -> dict[str, int]:
    """``{key: offset}`` of the tiny database's synsets."""
    return write_database(tiny_dir)


@pytest.fixture
def tiny(tiny_dir: Path) -> WordNet:
    """The tiny database, freshly read."""
    return WordNet.from_dir(tiny_dir)


@pytest.fixture(scope="session")
def two_mice_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A directory holding the tiny database with two noun senses of "mouse"."""
    directory = tmp_path_factory.mktemp("twomice")
    write_database(directory, TWO_MICE)
    return directory


@pytest.fixture
def two_mice(two_mice_dir: Path) -> WordNet:
    """The tiny database with two noun senses of "mouse" (rodent first, then device)."""
    return WordNet.from_dir(two_mice_dir)


@pytest.fixture(autouse=True)
def cache_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own cache directory: nothing touches ~/.cache."""
    root = tmp_path / "cache-root"
    monkeypatch.setenv("STRUCTLOSS_CACHE_DIR", str(root))
    return root


@pytest.fixture
def no_wordnet(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Point every place the plugin searches at an empty directory."""
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.delenv("WNSEARCHDIR", raising=False)
    monkeypatch.setenv("NLTK_DATA", str(empty))
    monkeypatch.setattr(locate, "nltk_data_path", lambda: [empty])
    monkeypatch.setattr(locate, "DEBIAN_DIR", empty / "wordnet")
    yield empty
