"""Finding the database: option, WNSEARCHDIR, nltk's data path, Debian; and the error."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from structloss.errors import StructureError
from structloss_wordnet_tree import locate
from structloss_wordnet_tree.testing import write_database, write_zip


def _nltk_entry(root: Path, *, zipped: bool = False) -> Path:
    corpora = root / "corpora"
    corpora.mkdir(parents=True)
    if zipped:
        write_zip(corpora / "wordnet.zip")
    else:
        write_database(corpora / "wordnet")
    return root


def test_option_comes_first(
    tiny_dir: Path, tmp_path: Path, no_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = tmp_path / "other"
    write_database(other)
    monkeypatch.setenv("WNSEARCHDIR", str(other))
    found = locate.locate(tiny_dir)
    assert (found.path, found.archive, found.how) == (tiny_dir, False, "the wordnet_dir option")


def test_option_may_be_a_zip(tmp_path: Path, no_wordnet: Path) -> None:
    write_zip(tmp_path / "wordnet.zip")
    found = locate.locate(tmp_path / "wordnet.zip")
    assert found.archive
    assert found.open().lookup("dog")


def test_wnsearchdir_before_nltk_and_debian(
    tiny_dir: Path, tmp_path: Path, no_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    nltk_root = _nltk_entry(tmp_path / "nltk")
    monkeypatch.setattr(locate, "nltk_data_path", lambda: [nltk_root])
    monkeypatch.setattr(locate, "DEBIAN_DIR", tiny_dir)
    monkeypatch.setenv("WNSEARCHDIR", str(tiny_dir))
    assert locate.locate().how == "WNSEARCHDIR"
    monkeypatch.delenv("WNSEARCHDIR")
    found = locate.locate()
    assert (found.how, found.path) == ("nltk's data path", nltk_root / "corpora" / "wordnet")
    monkeypatch.setattr(locate, "nltk_data_path", lambda: [no_wordnet])
    assert locate.locate().how == "Debian's wordnet-base"


def test_nltk_prefers_a_directory_anywhere_to_a_zip(
    tmp_path: Path, no_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    zipped = _nltk_entry(tmp_path / "first", zipped=True)
    unzipped = _nltk_entry(tmp_path / "second")
    monkeypatch.setattr(locate, "nltk_data_path", lambda: [zipped, unzipped])
    assert locate.locate().path == unzipped / "corpora" / "wordnet"
    monkeypatch.setattr(locate, "nltk_data_path", lambda: [zipped])
    found = locate.locate()
    assert found.archive and found.path == zipped / "corpora" / "wordnet.zip"


def test_nltk_data_variable_is_honoured(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "nltk.data", raising=False)
    monkeypatch.setenv("NLTK_DATA", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    paths = locate.nltk_data_path()
    assert paths[:2] == [tmp_path / "a", tmp_path / "b"]
    assert Path(sys.prefix, "share", "nltk_data") in paths


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nltk") is None, reason="nltk is not installed")
def test_nltk_data_path_matches_nltk(tmp_path: Path) -> None:
    env = {**os.environ, "NLTK_DATA": f"{tmp_path / 'x'}{os.pathsep}~/y", "HOME": str(tmp_path)}
    code = (
        "import json, nltk.data; from structloss_wordnet_tree.locate import nltk_data_path;"
        "import sys; ours = [str(p) for p in nltk_data_path()]; del sys.modules['nltk.data'];"
        "computed = [str(p) for p in nltk_data_path()];"
        "print(json.dumps([list(map(str, nltk.data.path)), ours, computed]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    real, ours, computed = json.loads(out.stdout.strip().splitlines()[-1])
    assert ours == real
    assert computed == real  # the list built without importing nltk is nltk's own


def test_explicit_locations_that_hold_nothing_are_errors(
    tmp_path: Path, no_wordnet: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(StructureError, match=r"wordnet_dir = .* holds no WordNet database"):
        locate.locate(tmp_path / "nowhere")
    monkeypatch.setenv("WNSEARCHDIR", str(tmp_path))
    with pytest.raises(StructureError, match=r"WNSEARCHDIR = .* holds no WordNet database"):
        locate.locate()


def test_nothing_found_names_every_way(no_wordnet: Path) -> None:
    with pytest.raises(StructureError) as info:
        locate.locate()
    message = str(info.value)
    for needle in (
        "wordnet_dir",
        "WNSEARCHDIR",
        "corpora/wordnet.zip",
        "NLTK_DATA",
        "/usr/share/wordnet",
        "apt-get install wordnet-base",
        "nltk.download('wordnet')",
        str(no_wordnet / "corpora" / "wordnet"),
        "cifar100",
    ):
        assert needle in message, needle


def test_identity_follows_the_files(tmp_path: Path) -> None:
    write_database(tmp_path / "db")
    found = locate.locate(tmp_path / "db")
    before = found.identity()
    assert before == found.identity()
    data = tmp_path / "db" / "data.noun"
    stat = data.stat()
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert found.identity() != before


def test_open_reuses_the_read_database(tiny_dir: Path) -> None:
    found = locate.locate(tiny_dir)
    assert found.open() is found.open() is locate.open_wordnet(tiny_dir)
