"""A small reader of the noun part of a WordNet database (the ``wndb`` file format).

Only three files are read: ``index.noun`` (lemma -> synset offsets, sorted by lemma),
``data.noun`` (one synset per line, found by its byte offset) and, when present,
``noun.exc`` (irregular plurals). Nothing is parsed up front: a synset line is parsed the
first time it is asked for, and lemmas are found by binary search in the sorted index, so
building a tree over a thousand classes touches a few thousand lines of the 82,115 synsets.

The format (see ``wndb(5WN)``)::

    data.noun:  offset lex_filenum ss_type w_cnt(hex) [word lex_id(hex)]... p_cnt(3 digits)
                [pointer_symbol offset pos source/target]... | gloss
    index.noun: lemma pos synset_cnt p_cnt [pointer_symbol]... sense_cnt tagsense_cnt
                synset_offset...

Both files start with a licence header whose lines begin with two spaces.
"""

from __future__ import annotations

import hashlib
import re
import zipfile
from functools import cached_property
from pathlib import Path

import attrs

from structloss.errors import StructureError

__all__ = ["NOUN_SUFFIXES", "Synset", "WordNet", "normalize_lemma"]

#: WordNet's detachment rules for nouns (``morph(7WN)``): inflected suffix -> base suffix.
NOUN_SUFFIXES: tuple[tuple[str, str], ...] = (
    ("s", ""),
    ("ses", "s"),
    ("xes", "x"),
    ("zes", "z"),
    ("ches", "ch"),
    ("shes", "sh"),
    ("men", "man"),
    ("ies", "y"),
)

_HYPERNYM_SYMBOLS = frozenset({b"@", b"@i"})
_SYNSET_NAME = re.compile(r"^(?P<lemma>.+)\.(?P<pos>[a-z])\.(?P<sense>\d+)$")
_SPACES = re.compile(r"\s+")


def normalize_lemma(name: str) -> str:
    """Return ``name`` the way WordNet's index spells lemmas: lower case, ``_`` for spaces.

    >>> normalize_lemma("  Pickup Truck ")
    'pickup_truck'
    """
    return _SPACES.sub("_", name.strip()).lower()


@attrs.frozen
class Synset:
    """One noun synset as read from ``data.noun``.

    Attributes:
        offset: byte offset of its line in ``data.noun`` (its identity in WordNet 3.0 is
            ``wnid``, the ImageNet id).
        lex_filenum: the lexicographer file number (3 = ``noun.Tops``, 5 = ``noun.animal``).
        lemmas: its words as written in the file (case kept), the first one names it.
        hypernyms: offsets of its hypernyms (``@``) and instance hypernyms (``@i``), in the
            order the file lists them.
        gloss: its definition and examples.
    """

    offset: int
    lex_filenum: int
    lemmas: tuple[str, ...]
    hypernyms: tuple[int, ...]
    gloss: str

    @property
    def wnid(self) -> str:
        """The ImageNet-style id: ``"n"`` and the 8-digit offset, e.g. ``"n02084071"``."""
        return f"n{self.offset:08d}"


class WordNet:
    """The noun part of one WordNet database, held in memory and parsed on demand.

    Build it with :meth:`from_dir` or :meth:`from_zip` (or :func:`locate.open_wordnet`,
    which finds the database). All lookups raise :class:`StructureError` for a malformed
    database, naming the file and the offending offset or lemma.
    """

    def __init__(self, *, index: bytes, data: bytes, exceptions: bytes, source: str) -> None:
        """Wrap the raw bytes of ``index.noun``, ``data.noun`` and ``noun.exc``.

        Args:
            index: contents of ``index.noun``.
            data: contents of ``data.noun``.
            exceptions: contents of ``noun.exc`` (may be empty).
            source: where the files came from, for messages.
        """
        self.source = source
        self._index = index
        self._data = data
        self._exceptions = exceptions
        self._index_start = _header_end(index)
        self._synsets: dict[int, Synset] = {}
        self._lookups: dict[str, tuple[int, ...]] = {}

    # -- opening --------------------------------------------------------------------------
    @classmethod
    def from_dir(cls, directory: str | Path) -> WordNet:
        """Read the database in ``directory`` (holding ``index.noun`` and ``data.noun``).

        Raises:
            StructureError: when a required file is missing or unreadable.
        """
        root = Path(directory)

        def read(name: str, *, required: bool = True) -> bytes:
            try:
                return (root / name).read_bytes()
            except FileNotFoundError:
                if not required:
                    return b""
                raise StructureError(
                    f"the WordNet directory {str(root)!r} has no {name}; point `wordnet_dir` at"
                    " a WordNet 'dict' directory (holding index.noun and data.noun)"
                ) from None
            except OSError as exc:
                raise StructureError(f"cannot read {str(root / name)!r}: {exc}") from None

        return cls(
            index=read("index.noun"),
            data=read("data.noun"),
            exceptions=read("noun.exc", required=False),
            source=str(root),
        )

    @classmethod
    def from_zip(cls, archive: str | Path) -> WordNet:
        """Read the database from a zip archive such as nltk's ``corpora/wordnet.zip``.

        The files may sit at the top of the archive or in one folder (``wordnet/``).

        Raises:
            StructureError: when the archive is unreadable or holds no ``index.noun``.
        """
        try:
            with zipfile.ZipFile(archive) as zf:
                names = zf.namelist()
                prefix = _zip_prefix(names)
                if prefix is None:
                    raise StructureError(
                        f"the zip archive {str(archive)!r} holds no index.noun and data.noun;"
                        " it is not a WordNet database (nltk's wordnet.zip is)"
                    )

                def read(name: str) -> bytes:
                    member = prefix + name
                    return zf.read(member) if member in names else b""

                return cls(
                    index=read("index.noun"),
                    data=read("data.noun"),
                    exceptions=read("noun.exc"),
                    source=str(archive),
                )
        except (OSError, zipfile.BadZipFile) as exc:
            raise StructureError(
                f"cannot read the WordNet archive {str(archive)!r}: {exc}"
            ) from None

    @cached_property
    def version(self) -> str | None:
        """The WordNet version named in ``data.noun``'s licence header (``"3.0"``), if any."""
        match = re.search(rb"WordNet (\d+\.\d+)", self._data[: _header_end(self._data)])
        return match[1].decode("ascii") if match else None

    def digest(self) -> str:
        """Return the SHA-256 of ``data.noun``, to record which database built a tree."""
        return hashlib.sha256(self._data).hexdigest()

    # -- synsets --------------------------------------------------------------------------
    def has_synset(self, offset: int) -> bool:
        """Return whether a synset line starts at byte ``offset`` of ``data.noun``."""
        if offset in self._synsets:
            return True
        if offset <= 0 or offset + 9 > len(self._data) or self._data[offset - 1] != 0x0A:
            return False
        return self._data[offset : offset + 9] == b"%08d " % offset

    def noun_leaves(self) -> tuple[int, ...]:
        """Offsets of every noun synset that is no synset's hypernym (the leaves), in file order.

        Reads every synset once (about 82,000 in WordNet 3.0; 65,000 of them leaves).
        """
        data, offsets = self._data, []
        start = 0
        while start < len(data):
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            if data[start : start + 1].isdigit():  # licence lines start with spaces
                offsets.append(start)
            start = end + 1
        inner = {h for offset in offsets for h in self.synset(offset).hypernyms}
        return tuple(o for o in offsets if o not in inner)

    def synset(self, offset: int) -> Synset:
        """Return the synset at byte ``offset`` of ``data.noun``.

        Raises:
            StructureError: when no synset line starts there, or the line is malformed.
        """
        found = self._synsets.get(offset)
        if found is None:
            if not self.has_synset(offset):
                raise StructureError(
                    f"no noun synset at offset {offset:08d} of data.noun in {self.source}"
                    " (ImageNet ids are WordNet 3.0 offsets: is this WordNet 3.0?)"
                )
            end = self._data.find(b"\n", offset)
            line = self._data[offset : end if end >= 0 else len(self._data)]
            found = self._synsets[offset] = self._parse(offset, line)
        return found

    def _parse(self, offset: int, line: bytes) -> Synset:
        head, _, gloss = line.partition(b"|")
        fields = head.split()
        try:
            words = int(fields[3], 16)
            at = 4 + 2 * words
            lemmas = tuple(w.decode("utf-8") for w in fields[4:at:2])
            count = int(fields[at])
            pointers = fields[at + 1 : at + 1 + 4 * count]
            if len(pointers) != 4 * count or len(lemmas) != words or not words:
                raise ValueError("the word or pointer count does not match the fields")
            hypernyms = tuple(
                int(pointers[i + 1])
                for i in range(0, len(pointers), 4)
                if pointers[i] in _HYPERNYM_SYMBOLS and pointers[i + 2] == b"n"
            )
            return Synset(
                offset=offset,
                lex_filenum=int(fields[1]),
                lemmas=lemmas,
                hypernyms=tuple(dict.fromkeys(hypernyms)),
                gloss=gloss.decode("utf-8", "replace").strip(),
            )
        except (IndexError, ValueError, UnicodeDecodeError) as exc:
            raise StructureError(
                f"malformed data.noun line at offset {offset:08d} in {self.source}: {exc}."
                " Reinstall the WordNet database"
            ) from None

    # -- lemmas ---------------------------------------------------------------------------
    def lookup(self, lemma: str) -> tuple[int, ...]:
        """Return the offsets of the noun synsets of ``lemma`` in sense order (may be empty).

        ``lemma`` is matched exactly as the index spells it (see :func:`normalize_lemma`).
        """
        found = self._lookups.get(lemma)
        if found is None:
            line = self._index_line(lemma.encode("utf-8"))
            found = self._lookups[lemma] = () if line is None else self._offsets(lemma, line)
        return found

    def _offsets(self, lemma: str, line: bytes) -> tuple[int, ...]:
        fields = line.split()
        try:
            count = int(fields[2])
            offsets = tuple(int(f) for f in fields[len(fields) - count :])
            if count < 1 or len(fields) < 6 + count:
                raise ValueError("too few fields")
        except (IndexError, ValueError) as exc:
            raise StructureError(
                f"malformed index.noun entry for {lemma!r} in {self.source}: {exc}."
                " Reinstall the WordNet database"
            ) from None
        return offsets

    def _index_line(self, key: bytes) -> bytes | None:
        # the index is sorted by lemma (byte order), so bisect on line starts
        data, lo, hi = self._index, self._index_start, len(self._index)
        while lo < hi:
            start = data.rfind(b"\n", 0, (lo + hi) // 2) + 1
            start = max(start, lo)
            end = data.find(b"\n", start)
            end = len(data) if end < 0 else end
            space = data.find(b" ", start, end)
            found = data[start : space if space >= 0 else end]
            if found == key:
                return data[start:end]
            if found < key:
                lo = end + 1
            else:
                hi = start
        return None

    def base_forms(self, word: str) -> list[str]:
        """Return the lemmas in the index that ``word`` may be an inflection of.

        Tries the word itself, then ``noun.exc`` (``mice`` -> ``mouse``), then WordNet's
        noun suffix rules (``boxes`` -> ``box``), keeping those with a noun synset.
        """
        forms = [word, *self._irregular.get(word, ())]
        forms += [word[: -len(old)] + new for old, new in NOUN_SUFFIXES if word.endswith(old)]
        return [f for f in dict.fromkeys(forms) if f and self.lookup(f)]

    @cached_property
    def _irregular(self) -> dict[str, tuple[str, ...]]:
        table: dict[str, tuple[str, ...]] = {}
        for line in self._exceptions.decode("utf-8", "replace").splitlines():
            words = line.split()
            if len(words) >= 2:
                table[words[0]] = tuple(words[1:])
        return table

    @cached_property
    def lemmas(self) -> tuple[str, ...]:
        """Every noun lemma in the index, sorted (parsed on first use)."""
        body = self._index[self._index_start :].decode("utf-8", "replace")
        return tuple(line.split(" ", 1)[0] for line in body.splitlines() if line)

    # -- names ----------------------------------------------------------------------------
    def synset_name(self, offset: int) -> str:
        """Return nltk's name for a synset: first lemma, ``n``, 2-digit sense (``dog.n.01``).

        Raises:
            StructureError: when the index does not list the synset under its first lemma.
        """
        lemma = self.synset(offset).lemmas[0].lower()
        senses = self.lookup(lemma)
        if offset not in senses:
            raise StructureError(
                f"index.noun in {self.source} does not list synset {offset:08d} under its"
                f" first lemma {lemma!r}; the database is inconsistent, reinstall it"
            )
        return f"{lemma}.n.{senses.index(offset) + 1:02d}"

    def synset_by_name(self, name: str) -> int | None:
        """Return the offset of the noun synset named like ``"dog.n.01"``, or None.

        Raises:
            StructureError: when ``name`` names a synset of another part of speech.
        """
        match = _SYNSET_NAME.match(name.strip().lower())
        if match is None:
            return None
        if match["pos"] != "n":
            raise StructureError(
                f"{name!r} names a synset with part of speech {match['pos']!r}; wordnet-tree"
                " only maps classes to noun synsets ('<lemma>.n.<sense>')"
            )
        senses = self.lookup(match["lemma"])
        sense = int(match["sense"])
        return senses[sense - 1] if 1 <= sense <= len(senses) else None


def _zip_prefix(names: list[str]) -> str | None:
    """Return the folder (``""`` or ``"wordnet/"``) holding the noun files of an archive."""
    for name in names:
        if name.endswith("index.noun") and name.rsplit("/", 1)[-1] == "index.noun":
            prefix = name[: -len("index.noun")]
            if prefix + "data.noun" in names:
                return prefix
    return None


def _header_end(index: bytes) -> int:
    """Return the byte position of the first index line after the licence header."""
    position = 0
    while index.startswith(b" ", position):
        newline = index.find(b"\n", position)
        if newline < 0:
            return len(index)
        position = newline + 1
    return position
