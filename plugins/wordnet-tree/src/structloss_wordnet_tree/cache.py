"""A disk cache of built trees, safe when several processes build the same tree at once.

Each tree is one JSON file (``Hierarchy.to_json`` plus the key's inputs under ``"key"``)
named by a hash of everything the tree depends on: the classes, the options and the
database's identity (path, sizes and modification times of its files). Writers hold a
per-key file lock, write a temporary file in the same directory and ``os.replace`` it into
place, so a reader sees either no file or a complete one, and concurrent builders of one key
build it once. The directory is ``$STRUCTLOSS_CACHE_DIR/wordnet-tree`` when that variable is
set, else ``$XDG_CACHE_HOME/structloss/wordnet-tree``, else
``~/.cache/structloss/wordnet-tree``. Delete it at any time to clear the cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from structloss.errors import StructureError
from structloss.structures import Hierarchy

__all__ = ["CACHE_FORMAT", "LOCK_TIMEOUT", "cache_dir", "cache_key", "load_or_build"]

#: Bumped whenever the tree-building rules change, so old entries are not reused.
CACHE_FORMAT = 1

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
        lock = FileLock(str(path) + ".lock", timeout=LOCK_TIMEOUT)
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
        tree = build()
        try:
            _write(path, tree, inputs)
        except OSError as exc:
            _warn(f"cannot write {str(path)!r}: {exc}")
        return tree, False
    finally:
        lock.release()


def _read(path: Path, classes: tuple[str, ...]) -> Hierarchy | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        tree = Hierarchy.from_dict(data, classes)
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
    return tree if tree.classes == classes else None


def _write(path: Path, tree: Hierarchy, inputs: Mapping[str, Any]) -> None:
    document = {"classes": list(tree.classes), "parents": tree.to_parents(), "key": inputs}
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle)
        os.replace(name, path)  # atomic: readers see the old state or the whole file
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise


def _warn(message: str) -> None:
    warnings.warn(
        f"wordnet-tree cache: {message}; building without it. Set STRUCTLOSS_CACHE_DIR to a"
        " writable directory, or pass cache = false",
        RuntimeWarning,
        stacklevel=4,
    )
