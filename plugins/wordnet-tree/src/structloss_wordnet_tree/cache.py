"""A disk cache of built trees, safe when several processes build the same tree at once.

Each tree is one JSON file (``Hierarchy.to_json``, the key's inputs under ``"key"`` and
what building it had to report, such as the ambiguous class names, under ``"notes"``) named by a hash of everything the tree depends on: the classes, the options and the
database's identity (path, sizes and modification times of its files). Writers hold a
per-key file lock, write a temporary file in the same directory and ``os.replace`` it into
place, so a reader sees either no file or a complete one, and concurrent builders of one key
build it once. The directory is ``$STRUCTLOSS_CACHE_DIR/wordnet-tree`` when that variable is
set, else ``$XDG_CACHE_HOME/structloss/wordnet-tree``, else
``~/.cache/structloss/wordnet-tree``. Delete it at any time to clear the cache.

Entries and lock files get the mode an ordinary ``open(path, "w")`` would give them,
``0o666 & ~umask`` (``mkstemp`` alone would leave ``0o600``), so a cache directory shared by
a team (``umask 002`` and a group-owned directory) works for all of its members.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
import threading
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from structloss.errors import StructureError
from structloss.structures import Hierarchy

__all__ = [
    "CACHE_FORMAT",
    "LOCK_TIMEOUT",
    "CacheEntry",
    "cache_dir",
    "cache_key",
    "current_umask",
    "file_mode",
    "load_or_build",
    "load_or_build_entry",
]

#: Bumped whenever the tree-building rules change, so old entries are not reused.
#: 2: entries carry ``"notes"`` (the ambiguous class names, warned again on every hit), and
#: classes sharing a synset became an error.
CACHE_FORMAT = 2

#: Seconds to wait for another process building the same tree before building it anyway.
LOCK_TIMEOUT = 300.0


def cache_dir() -> Path:
    """Return the cache directory (see the module docstring); it may not exist yet."""
    root = os.environ.get("STRUCTLOSS_CACHE_DIR")
    if root:
        return Path(root).expanduser() / "wordnet-tree"
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "structloss" / "wordnet-tree"


def cache_key(inputs: Mapping[str, Any]) -> str:
    """Return the hex digest naming the cache entry for ``inputs`` (JSON-serialisable)."""
    text = json.dumps({"format": CACHE_FORMAT, **inputs}, sort_keys=True, ensure_ascii=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


@attrs.frozen
class CacheEntry:
    """A cached tree and the notes stored with it.

    Attributes:
        tree: the tree.
        notes: JSON-serialisable facts about how it was built that a cache hit must report
            again (the provider stores ``{"ambiguous": [...]}``).
    """

    tree: Hierarchy
    notes: Mapping[str, Any] = attrs.field(factory=dict)


def load_or_build(
    inputs: Mapping[str, Any],
    build: Callable[[], Hierarchy],
    *,
    classes: Sequence[str],
    directory: Path | None = None,
) -> tuple[Hierarchy, bool]:
    """Return the cached tree for ``inputs``, building and storing it on a miss.

    Args:
        inputs: everything the tree depends on (hashed by :func:`cache_key`).
        build: makes the tree on a miss; called at most once, under the key's lock.
        classes: the classes the tree must have; an entry with others counts as a miss.
        directory: the cache directory (default :func:`cache_dir`).

    Returns:
        The tree, and whether it came from the cache.

    A cache that cannot be written (read-only disk, lock timeout) only warns: the tree is
    built and returned uncached.
    """
    entry, hit = load_or_build_entry(
        inputs, lambda: CacheEntry(build()), classes=classes, directory=directory
    )
    return entry.tree, hit


def load_or_build_entry(
    inputs: Mapping[str, Any],
    build: Callable[[], CacheEntry],
    *,
    classes: Sequence[str],
    directory: Path | None = None,
) -> tuple[CacheEntry, bool]:
    """Like :func:`load_or_build`, for a tree stored with notes (see :class:`CacheEntry`)."""
    folder = directory if directory is not None else cache_dir()
    key = cache_key(inputs)
    path = folder / f"{key}.json"
    expected = tuple(classes)
    found = _read(path, expected)
    if found is not None:
        return found, True
    from filelock import FileLock, Timeout

    try:
        folder.mkdir(parents=True, exist_ok=True)
        lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT, mode=file_mode())
        lock.acquire()
    except Timeout:
        _warn(f"waited {LOCK_TIMEOUT:g} s for another process building {path.name}")
        return build(), False
    except OSError as exc:
        _warn(f"cannot use the cache directory {str(folder)!r}: {exc}")
        return build(), False
    try:
        found = _read(path, expected)  # another process may have built it meanwhile
        if found is not None:
            return found, True
        entry = build()
        try:
            _write(path, entry, inputs)
        except OSError as exc:
            _warn(f"cannot write {str(path)!r}: {exc}")
        return entry, False
    finally:
        lock.release()


def _read(path: Path, classes: tuple[str, ...]) -> CacheEntry | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tree = Hierarchy.from_dict(data, classes)
        notes = data.get("notes", {})
        if not isinstance(notes, dict):
            raise ValueError(f"its notes are a {type(notes).__name__}, not an object")
    except (FileNotFoundError, NotADirectoryError):
        return None
    except (OSError, ValueError, StructureError) as exc:
        warnings.warn(
            f"wordnet-tree cache: ignoring the unreadable entry {str(path)!r} ({exc});"
            " building the tree again",
            RuntimeWarning,
            stacklevel=4,
        )
        return None
    return CacheEntry(tree, notes) if tree.classes == classes else None


def _write(path: Path, entry: CacheEntry, inputs: Mapping[str, Any]) -> None:
    tree = entry.tree
    document = {
        "classes": list(tree.classes),
        "parents": tree.to_parents(),
        "key": inputs,
        "notes": dict(entry.notes),
    }
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        if hasattr(os, "fchmod"):  # POSIX; on Windows mkstemp's file is already shareable
            os.fchmod(fd, file_mode())
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(name, path)  # atomic: readers see the old state or the whole file
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


_UMASK_LINE = re.compile(rb"^Umask:\s*([0-7]+)\s*$", re.MULTILINE)
_umask_lock = threading.Lock()


def file_mode() -> int:
    """Return the mode ``open(path, "w")`` gives a new file: ``0o666 & ~umask``."""
    return 0o666 & ~current_umask()


def current_umask() -> int:
    """Return the process's umask without changing it where the OS allows.

    Linux reports it in ``/proc/self/status``; elsewhere it is read by setting and restoring
    it (``os.umask``), under a lock. That round trip is the only way POSIX offers, and a
    file another thread creates in between would get the temporary mask ``0o077``: strict,
    never too permissive.
    """
    try:
        with open("/proc/self/status", "rb") as status:
            found = _UMASK_LINE.search(status.read())
    except OSError:
        found = None
    if found is not None:
        return int(found[1], 8)
    with _umask_lock:
        mask = os.umask(0o077)
        os.umask(mask)
    return mask


def _warn(message: str) -> None:
    warnings.warn(
        f"wordnet-tree cache: {message}; building without it. Set STRUCTLOSS_CACHE_DIR to a"
        " writable directory, or pass cache = false",
        RuntimeWarning,
        stacklevel=4,
    )
