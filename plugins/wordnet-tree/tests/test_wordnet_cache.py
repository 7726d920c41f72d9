"""The disk cache: hits, misses, keys, damaged entries, unwritable places, two processes."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from structloss import Hierarchy
from structloss.specs import StructureContext
from structloss_wordnet_tree import locate
from structloss_wordnet_tree.cache import (
    cache_dir,
    cache_key,
    current_umask,
    file_mode,
    load_or_build,
)
from structloss_wordnet_tree.provider import build

CLASSES = ("dog", "poodle", "cat")


def tree() -> Hierarchy:
    return Hierarchy.from_parents(CLASSES, {"dog": "a", "poodle": "a", "a": "r", "cat": "r"})


def test_miss_then_hit(tmp_path: Path) -> None:
    calls: list[int] = []

    def make() -> Hierarchy:
        calls.append(1)
        return tree()

    first, hit = load_or_build({"k": 1}, make, classes=CLASSES, directory=tmp_path)
    assert not hit
    second, hit = load_or_build({"k": 1}, make, classes=CLASSES, directory=tmp_path)
    assert hit and second == first and len(calls) == 1
    _, hit = load_or_build({"k": 2}, make, classes=CLASSES, directory=tmp_path)
    assert not hit and len(calls) == 2
    assert not list(tmp_path.glob("*.tmp"))


@pytest.fixture
def umask() -> Iterator[Callable[[int], int]]:
    """``umask(mask)`` sets the process umask; the old one is restored afterwards."""
    old = os.umask(0o022)
    os.umask(old)
    yield os.umask
    os.umask(old)


@pytest.mark.skipif(os.name != "posix", reason="file modes are POSIX")
@pytest.mark.parametrize(("mask", "mode"), [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_entries_get_the_mode_open_would_give(
    tmp_path: Path, umask: Callable[[int], int], mask: int, mode: int
) -> None:
    umask(mask)
    load_or_build({"k": mask}, tree, classes=CLASSES, directory=tmp_path)
    (entry,) = tmp_path.glob("*.json")
    (lock,) = tmp_path.glob("*.lock")
    plain = tmp_path / "plain"
    plain.write_text("x")  # what an ordinary open(..., "w") gives
    got = stat.S_IMODE(entry.stat().st_mode)
    assert got == mode == stat.S_IMODE(plain.stat().st_mode), (
        f"cache entry mode {got:#o} under umask {mask:#o}, expected {mode:#o}"
    )
    assert stat.S_IMODE(lock.stat().st_mode) == mode


@pytest.mark.skipif(os.name != "posix", reason="umasks are POSIX")
def test_umask_is_read_without_proc(
    umask: Callable[[int], int], monkeypatch: pytest.MonkeyPatch
) -> None:
    import builtins

    real_open = builtins.open

    def no_proc(file: object, *args: object, **kwargs: object) -> object:
        if str(file).startswith("/proc/"):
            raise FileNotFoundError(file)
        return real_open(file, *args, **kwargs)  # type: ignore[call-overload]

    umask(0o027)
    assert current_umask() == 0o027 and file_mode() == 0o640
    monkeypatch.setattr(builtins, "open", no_proc)
    assert current_umask() == 0o027 and file_mode() == 0o640
    assert os.umask(0o027) == 0o027  # the round trip restored it


def test_cache_dir_locations(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRUCTLOSS_CACHE_DIR", str(tmp_path))
    assert cache_dir() == tmp_path / "wordnet-tree"
    monkeypatch.delenv("STRUCTLOSS_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "structloss" / "wordnet-tree"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "structloss" / "wordnet-tree"


def test_keys_depend_on_every_input() -> None:
    base = {"classes": ["a"], "collapse": True}
    assert cache_key(base) == cache_key(dict(reversed(base.items())))
    assert cache_key(base) != cache_key({**base, "collapse": False})
    assert cache_key(base) != cache_key({**base, "classes": ["b"]})


def test_provider_reuses_the_cache(
    tiny_dir: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    context = StructureContext(classes=CLASSES)
    first = build(context, wordnet_dir=str(tiny_dir))
    entries = list((cache_root / "wordnet-tree").glob("*.json"))
    assert len(entries) == 1
    stored = json.loads(entries[0].read_text())
    assert stored["key"]["hypernym_path"] == "longest" and stored["classes"] == list(CLASSES)

    def no_reading(self: locate.Location) -> None:
        raise AssertionError("the cached tree should be used")

    monkeypatch.setattr(locate.Location, "open", no_reading)
    assert build(context, wordnet_dir=str(tiny_dir)) == first
    with pytest.raises(AssertionError, match="cached tree"):
        build(context, wordnet_dir=str(tiny_dir), collapse=False)


def test_database_changes_invalidate(tmp_path: Path, cache_root: Path) -> None:
    from structloss_wordnet_tree.testing import write_database

    write_database(tmp_path / "wn")
    context = StructureContext(classes=CLASSES)
    build(context, wordnet_dir=str(tmp_path / "wn"))
    data = tmp_path / "wn" / "data.noun"
    data.touch()
    info = data.stat()
    os.utime(data, ns=(info.st_atime_ns, info.st_mtime_ns + 10**9))
    build(context, wordnet_dir=str(tmp_path / "wn"))
    assert len(list((cache_root / "wordnet-tree").glob("*.json"))) == 2


def test_cache_false_writes_nothing(tiny_dir: Path, cache_root: Path) -> None:
    build(StructureContext(classes=CLASSES), wordnet_dir=str(tiny_dir), cache=False)
    assert not cache_root.exists()


def test_damaged_entry_is_rebuilt(tiny_dir: Path, cache_root: Path) -> None:
    context = StructureContext(classes=CLASSES)
    first = build(context, wordnet_dir=str(tiny_dir))
    (entry,) = (cache_root / "wordnet-tree").glob("*.json")
    entry.write_text('{"classes": ["dog"', encoding="utf-8")
    with pytest.warns(RuntimeWarning, match="ignoring the unreadable entry"):
        assert build(context, wordnet_dir=str(tiny_dir)) == first
    assert json.loads(entry.read_text())["classes"] == list(CLASSES)


def test_unusable_cache_directory_only_warns(
    tiny_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    monkeypatch.setenv("STRUCTLOSS_CACHE_DIR", str(blocker))
    with pytest.warns(RuntimeWarning, match="cannot use the cache directory"):
        result = build(StructureContext(classes=CLASSES), wordnet_dir=str(tiny_dir))
    assert result.classes == CLASSES


CHILD = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from structloss_wordnet_tree.cache import load_or_build
    from structloss_wordnet_tree.database import WordNet
    from structloss_wordnet_tree.provider import build_from_wordnet

    db_dir, folder, me = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3]
    classes = ["dog", "poodle", "cat"]

    def make():
        with open(folder / "builds.log", "a") as log:
            log.write(me + "\\n")
        time.sleep(1.0)  # long enough for the other process to find the lock taken
        return build_from_wordnet(WordNet.from_dir(db_dir), classes)

    (folder / f"ready-{me}").touch()
    while not (folder / "go").exists():
        time.sleep(0.01)
    tree, hit = load_or_build({"test": "two processes"}, make, classes=classes, directory=folder)
    print(json.dumps({"hit": hit, "parents": tree.to_parents()}))
    """
)


@pytest.mark.integration
def test_two_processes_build_one_key_once(tiny_dir: Path, tmp_path: Path) -> None:
    folder = tmp_path / "shared-cache"
    folder.mkdir()
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(tiny_dir), str(folder), name],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("one", "two")
    ]
    deadline = time.monotonic() + 120
    while not all((folder / f"ready-{n}").exists() for n in ("one", "two")):
        assert time.monotonic() < deadline, "the child processes did not start"
        assert all(c.poll() is None for c in children), [c.communicate() for c in children]
        time.sleep(0.02)
    (folder / "go").touch()
    results = []
    for child in children:
        out, err = child.communicate(timeout=120)
        assert child.returncode == 0, err
        results.append(json.loads(out.strip().splitlines()[-1]))
    assert sorted(r["hit"] for r in results) == [False, True]
    assert results[0]["parents"] == results[1]["parents"]
    assert len((folder / "builds.log").read_text().split()) == 1
    assert len(list(folder.glob("*.json"))) == 1 and not list(folder.glob("*.tmp"))
