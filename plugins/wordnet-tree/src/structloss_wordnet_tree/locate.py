"""Finding the WordNet database on this machine.

The first of these that is set or exists wins:

1. the provider's ``wordnet_dir`` option: a WordNet ``dict`` directory (holding
   ``index.noun`` and ``data.noun``) or a zip archive such as nltk's ``wordnet.zip``;
2. the ``WNSEARCHDIR`` environment variable (WordNet's own), a ``dict`` directory;
3. nltk's data path: ``corpora/wordnet/`` under each of its entries, then
   ``corpora/wordnet.zip`` under each (nltk's own order). The entries are ``nltk.data.path``
   when nltk has been imported, else the list nltk would build: the ``NLTK_DATA`` entries,
   ``~/nltk_data``, ``<sys.prefix>/nltk_data``, ``<sys.prefix>/share/nltk_data``,
   ``<sys.prefix>/lib/nltk_data``, ``/usr/share/nltk_data``, ``/usr/local/share/nltk_data``,
   ``/usr/lib/nltk_data``, ``/usr/local/lib/nltk_data``. nltk itself is never imported here:
   importing it takes seconds, longer than building a tree from the cache;
4. Debian's ``wordnet-base`` package: ``/usr/share/wordnet``.

An explicit choice (1 or 2) that holds no database is an error rather than skipped, so a
typo never silently selects another WordNet.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from pathlib import Path

import attrs

from structloss.errors import StructureError
from structloss_wordnet_tree.database import WordNet

__all__ = ["DEBIAN_DIR", "Location", "locate", "nltk_data_path", "open_wordnet"]

#: Where Debian's and Ubuntu's ``wordnet-base`` package installs the database.
DEBIAN_DIR = Path("/usr/share/wordnet")

_FILES = ("index.noun", "data.noun", "noun.exc")


@attrs.frozen
class Location:
    """Where a WordNet database was found.

    Attributes:
        path: the ``dict`` directory, or the zip archive.
        archive: True for a zip archive.
        how: which rule found it, for messages (``"WNSEARCHDIR"``, ...).
    """

    path: Path
    archive: bool
    how: str

    def identity(self) -> str:
        """Return a string that changes when the database files change (path, size, mtime)."""
        files = [self.path] if self.archive else [self.path / name for name in _FILES]
        parts = [str(self.path.resolve())]
        for file in files:
            try:
                stat = file.stat()
            except OSError:
                continue
            parts.append(f"{file.name}:{stat.st_size}:{stat.st_mtime_ns}")
        return "|".join(parts)

    def open(self) -> WordNet:
        """Read the database (reused within a process while its files are unchanged)."""
        return _open(self.path, self.archive, self.identity())


@lru_cache(maxsize=2)
def _open(path: Path, archive: bool, identity: str) -> WordNet:
    return WordNet.from_zip(path) if archive else WordNet.from_dir(path)


def _as_location(path: Path, how: str) -> Location | None:
    if path.is_dir() and (path / "index.noun").is_file() and (path / "data.noun").is_file():
        return Location(path, archive=False, how=how)
    if path.is_file() and path.suffix == ".zip":
        return Location(path, archive=True, how=how)
    return None


def nltk_data_path() -> list[Path]:
    """Return the directories nltk searches for data, in its order.

    ``nltk.data.path`` itself when nltk is already imported (so additions made by the
    program count), else the list nltk builds at import time, without importing nltk.
    """
    module = sys.modules.get("nltk.data")
    if module is not None and isinstance(getattr(module, "path", None), list):
        return [Path(os.path.expanduser(str(p))) for p in module.path]
    entries = [os.path.expanduser(d) for d in os.environ.get("NLTK_DATA", "").split(os.pathsep)]
    paths = [d for d in entries if d]
    if "APPENGINE_RUNTIME" not in os.environ and os.path.expanduser("~/") != "~/":
        paths.append(os.path.expanduser("~/nltk_data"))
    paths += [os.path.join(sys.prefix, *parts) for parts in _PREFIX_PARTS]
    if os.name == "nt":
        paths += [
            os.path.join(os.environ.get("APPDATA", "C:\\"), "nltk_data"),
            r"C:\nltk_data",
            r"D:\nltk_data",
            r"E:\nltk_data",
        ]
    else:
        paths += [
            "/usr/share/nltk_data",
            "/usr/local/share/nltk_data",
            "/usr/lib/nltk_data",
            "/usr/local/lib/nltk_data",
        ]
    return [Path(p) for p in paths]


_PREFIX_PARTS = (("nltk_data",), ("share", "nltk_data"), ("lib", "nltk_data"))


def locate(wordnet_dir: str | Path | None = None) -> Location:
    """Find the WordNet database by the rules in this module's docstring.

    Args:
        wordnet_dir: an explicit ``dict`` directory or zip archive; None to search.

    Raises:
        StructureError: when an explicit location holds no database, or none is found;
            the message lists every place tried and how to install WordNet.
    """
    if wordnet_dir is not None:
        path = Path(wordnet_dir).expanduser()
        found = _as_location(path, "the wordnet_dir option")
        if found is None:
            raise StructureError(
                f"wordnet_dir = {str(path)!r} holds no WordNet database: give a directory"
                " holding index.noun and data.noun (such as /usr/share/wordnet), or nltk's"
                " wordnet.zip"
            )
        return found
    env = os.environ.get("WNSEARCHDIR")
    if env:
        found = _as_location(Path(env).expanduser(), "WNSEARCHDIR")
        if found is None:
            raise StructureError(
                f"WNSEARCHDIR = {env!r} holds no WordNet database (index.noun and data.noun);"
                " fix or unset the variable"
            )
        return found
    tried = []
    nltk_dirs = nltk_data_path()
    for name in ("wordnet", "wordnet.zip"):
        for entry in nltk_dirs:
            candidate = entry / "corpora" / name
            tried.append(str(candidate))
            found = _as_location(candidate, "nltk's data path")
            if found is not None:
                return found
    found = _as_location(DEBIAN_DIR, "Debian's wordnet-base")
    if found is not None:
        return found
    raise StructureError(_missing_message([*tried, str(DEBIAN_DIR)]))


def _missing_message(tried: list[str]) -> str:
    """Return the error text for a WordNet database that cannot be found."""
    places = "\n".join(f"  - {place}" for place in tried)
    return (
        "no WordNet database found. wordnet-tree looks, in this order, at: the `wordnet_dir`"
        " option; the WNSEARCHDIR environment variable; corpora/wordnet and"
        " corpora/wordnet.zip under nltk's data path (NLTK_DATA and nltk's defaults); and"
        f" Debian's /usr/share/wordnet. Tried:\n{places}\n"
        "Install it with one of: `apt-get install wordnet-base` (Debian, Ubuntu);"
        " `pip install nltk && python -c \"import nltk; nltk.download('wordnet')\"`;"
        " or download WordNet 3.0 and set WNSEARCHDIR (or `wordnet_dir`) to its dict"
        " directory. The built-in class lists (cifar100, imagenet1k) need no WordNet with"
        " the default options."
    )


def open_wordnet(wordnet_dir: str | Path | None = None) -> WordNet:
    """Find (see :func:`locate`) and read the WordNet database."""
    return locate(wordnet_dir).open()
