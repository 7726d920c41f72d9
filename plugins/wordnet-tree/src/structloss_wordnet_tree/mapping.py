"""Mapping class names to WordNet noun synsets.

A class (or the value the ``synsets`` option gives for it) is read as:

- an ImageNet id, ``"n02084071"``: ``n`` and the 8-digit offset of the synset in WordNet
  3.0's ``data.noun``;
- a synset name, ``"dog.n.01"``: lemma, ``n``, and the sense number of that lemma;
- otherwise a name: trimmed, lower-cased, runs of spaces turned into ``_``
  (``"Pickup Truck"`` -> ``pickup_truck``), then looked up as a noun lemma, as an irregular
  plural from ``noun.exc`` (``mice`` -> ``mouse``) and through WordNet's noun suffix rules
  (``boxes`` -> ``box``). An ambiguous name takes its first noun sense, the most frequent
  one (``index.noun`` lists a lemma's synsets by their counts in the sense-tagged corpora,
  as nltk's ``synsets()`` does): ``tiger`` is ``tiger.n.01``, a fierce person, not the cat.

A value of the ``synsets`` option may also be a bare offset, ``"02129604"``.

Every class mapped by name whose word has several noun senses is reported in one
:class:`~structloss_wordnet_tree.AmbiguousSenseWarning` (see :func:`warn_ambiguous`), and two
classes that map to one synset are an error: they would be indistinguishable leaves.
"""

from __future__ import annotations

import difflib
import re
import warnings
from collections.abc import Collection, Mapping, Sequence
from typing import Any

import attrs

from structloss.errors import StructureError
from structloss_wordnet_tree import AmbiguousSenseWarning
from structloss_wordnet_tree.database import WordNet, normalize_lemma

__all__ = [
    "ClassMapping",
    "SenseChoice",
    "ambiguity_message",
    "map_classes",
    "resolve",
    "resolve_classes",
    "suggest",
    "warn_ambiguous",
]

_WNID = re.compile(r"^n(\d{8})$")
_OFFSET = re.compile(r"^\d{8}$")
_SHOWN_SENSES = 4  # other senses listed per class in the warning
_SHORT = 70  # characters of an other sense's definition in the warning


@attrs.frozen
class SenseChoice:
    """A class mapped by name to a word with several noun senses; it took the first.

    Attributes:
        name: the class.
        given: what was looked up: the class, or its ``synsets`` value (a lemma).
        chosen: the synset taken, like ``"tiger.n.01"``.
        definition: the chosen synset's definition (its gloss without the examples).
        others: ``(synset name, definition)`` of every other noun sense of the word, and of
            its other base forms (``tigers`` is also a plural of ``tiger``).
    """

    name: str
    given: str
    chosen: str
    definition: str
    others: tuple[tuple[str, str], ...]

    def to_json(self) -> dict[str, Any]:
        """Return a JSON-serialisable dict (what the disk cache stores)."""
        return {
            "name": self.name,
            "given": self.given,
            "chosen": self.chosen,
            "definition": self.definition,
            "others": [list(pair) for pair in self.others],
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SenseChoice:
        """Rebuild a choice from :meth:`to_json`'s dict.

        Raises:
            ValueError: when ``data`` is not such a dict.
        """
        try:
            others = tuple((str(a), str(b)) for a, b in data["others"])
            return cls(
                name=str(data["name"]),
                given=str(data["given"]),
                chosen=str(data["chosen"]),
                definition=str(data["definition"]),
                others=others,
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"not a sense choice: {data!r} ({exc})") from None


@attrs.frozen
class ClassMapping:
    """The synsets of the classes, and which of them were ambiguous names.

    Attributes:
        offsets: the synset offset of every class, in label order.
        ambiguous: the classes that took the first of several noun senses, in label order.
    """

    offsets: tuple[int, ...]
    ambiguous: tuple[SenseChoice, ...]


_NAMED = re.compile(r"^(?P<lemma>.+)\.n\.(?P<sense>\d+)$")


def resolve(db: WordNet, name: str) -> int | None:
    """Return the offset of the noun synset ``name`` denotes, or None if there is none.

    Args:
        db: the WordNet database.
        name: an ImageNet id, a synset name or a lemma (see the module docstring).

    Raises:
        StructureError: when ``name`` is a synset name of another part of speech.
    """
    found = _resolve(db, name)
    return found[0] if found is not None else None


def _resolve(db: WordNet, name: str) -> tuple[int, tuple[int, ...]] | None:
    """Return the offset ``name`` denotes and, when it was found by name, every noun synset
    the name could denote (the chosen one first; empty for ids and synset names)."""
    text = name.strip()
    wnid = _WNID.match(text)
    if wnid is not None:
        return (int(wnid[1]), ()) if db.has_synset(int(wnid[1])) else None
    named = db.synset_by_name(text)
    if named is not None:
        return named, ()
    lemma = normalize_lemma(text)
    if not lemma:
        return None
    variants = dict.fromkeys((lemma, lemma.replace("-", "_"), lemma.replace("_", "-")))
    forms = [form for variant in variants for form in db.base_forms(variant)]
    if not forms:
        return None
    senses = tuple(dict.fromkeys(o for form in dict.fromkeys(forms) for o in db.lookup(form)))
    return senses[0], senses


def resolve_classes(
    db: WordNet, classes: Sequence[str], synsets: Mapping[str, str] | None = None
) -> list[int]:
    """Return the synset offset of every class, in order (see :func:`map_classes`).

    Raises:
        StructureError: as :func:`map_classes` does.
    """
    return list(map_classes(db, classes, synsets).offsets)


def map_classes(
    db: WordNet, classes: Sequence[str], synsets: Mapping[str, str] | None = None
) -> ClassMapping:
    """Map every class to its noun synset, noting the classes whose name was ambiguous.

    Args:
        db: the WordNet database.
        classes: class names in label order.
        synsets: ``{class: synset}`` overrides; a value is a synset name (``"crane.n.05"``),
            an ImageNet id (``"n02012849"``), a bare offset (``"02012849"``) or a lemma.

    Returns:
        The offsets, and a :class:`SenseChoice` for every class whose name (or lemma
        override) has several noun senses. Nothing is warned here: see
        :func:`warn_ambiguous`.

    Raises:
        StructureError: once, listing every class without a noun synset (with the closest
            noun lemmas) and every override that names none; or, when all resolve, once
            listing every group of classes that map to the same synset.
    """
    overrides = synsets or {}
    offsets: list[int] = []
    ambiguous: list[SenseChoice] = []
    problems: list[str] = []
    example: str | None = None
    for name in classes:
        given = overrides.get(name)
        target = given if given is not None else name
        if given is not None and _OFFSET.match(given.strip()):
            target = "n" + given.strip()
        try:
            found = _resolve(db, target)
        except StructureError as exc:
            problems.append(f"  - {name!r}: {exc}")
            continue
        if found is not None:
            offsets.append(found[0])
            if len(found[1]) > 1:
                ambiguous.append(_choice(db, name, target, found[1]))
            continue
        why, close = _why_not(db, target)
        shown = f"{name!r} -> {given!r}" if given is not None else repr(name)
        problems.append(f"  - {shown}: {why}")
        if example is None and close:
            example = f'{_toml_key(name)} = "{db.synset_name(db.lookup(close[0])[0])}"'
    if problems:
        fix = (
            "Map each to a synset with the `synsets` option, as a synset name ('dog.n.01'),"
            " an ImageNet id ('n02084071') or a noun lemma"
        )
        if example is not None:
            fix += f", e.g. synsets = {{{example}}}"
        raise StructureError(
            f"wordnet-tree: {len(problems)} class(es) have no WordNet noun synset:\n"
            + "\n".join(problems)
            + f"\n{fix}."
        )
    _check_distinct(db, classes, offsets, ambiguous)
    return ClassMapping(tuple(offsets), tuple(ambiguous))


def _definition(db: WordNet, offset: int) -> str:
    """The gloss of a synset without its quoted examples."""
    gloss = db.synset(offset).gloss
    return gloss.split('; "', 1)[0].strip() or gloss


def _choice(db: WordNet, name: str, given: str, senses: tuple[int, ...]) -> SenseChoice:
    chosen, *others = senses
    return SenseChoice(
        name=name,
        given=given,
        chosen=db.synset_name(chosen),
        definition=_definition(db, chosen),
        others=tuple((db.synset_name(o), _definition(db, o)) for o in others),
    )


def _check_distinct(
    db: WordNet, classes: Sequence[str], offsets: Sequence[int], ambiguous: Sequence[SenseChoice]
) -> None:
    """Raise StructureError listing every synset that several classes map to."""
    groups: dict[int, list[str]] = {}
    for name, offset in zip(classes, offsets, strict=True):
        groups.setdefault(offset, []).append(name)
    shared = {offset: names for offset, names in groups.items() if len(names) > 1}
    if not shared:
        return
    senses = {c.name: [n for n, _ in c.others] for c in ambiguous}
    lines = []
    for offset, names in shared.items():
        line = f"  - {' and '.join(map(repr, names))} -> {db.synset_name(offset)}"
        line += f" ({_shorten(_definition(db, offset))})"
        others = list(dict.fromkeys(n for name in names for n in senses.get(name, ())))
        if others:
            more = ", ..." if len(others) > _SHOWN_SENSES else ""
            line += f"; other senses: {', '.join(others[:_SHOWN_SENSES])}{more}"
        lines.append(line)
    last = next(iter(shared.values()))[-1]
    raise StructureError(
        f"wordnet-tree: {len(shared)} synset(s) are each the synset of several classes, which"
        " would be indistinguishable leaves:\n"
        + "\n".join(lines)
        + "\nRemove the duplicate class, or give each class its own synset with the"
        f' `synsets` option, e.g. synsets = {{{_toml_key(last)} = "<lemma>.n.<sense>"}}.'
    )


def ambiguity_message(choices: Sequence[SenseChoice]) -> str:
    """Return the text of the :class:`~structloss_wordnet_tree.AmbiguousSenseWarning`.

    One line per class: the chosen synset and its definition, then its other senses (the
    first few, their definitions shortened), and how to pin one with ``synsets``.
    """
    lines = []
    for c in choices:
        shown = f"{c.name!r}" if c.given == c.name else f"{c.name!r} -> {c.given!r}"
        others = "; ".join(f"{n}: {_shorten(d)}" for n, d in c.others[:_SHOWN_SENSES])
        more = len(c.others) - _SHOWN_SENSES
        others += f"; and {more} more" if more > 0 else ""
        lines.append(f"  - {shown} -> {c.chosen}: {c.definition}\n      other senses: {others}")
    first = choices[0]
    example = f'{_toml_key(first.name)} = "{first.others[0][0]}"' if first.others else ""
    return (
        f"wordnet-tree: {len(choices)} class(es) are names with several WordNet noun senses"
        " and took the first (most frequent) one, which may not be the one you mean:\n"
        + "\n".join(lines)
        + "\nPin a sense with the `synsets` option (a synset name, an ImageNet id or an"
        f" offset), e.g. synsets = {{{example}}}; or filter AmbiguousSenseWarning to silence"
        " this."
    )


def warn_ambiguous(
    choices: Sequence[SenseChoice], *, reviewed: Collection[str] = (), stacklevel: int = 2
) -> None:
    """Emit one :class:`~structloss_wordnet_tree.AmbiguousSenseWarning` for ``choices``.

    Args:
        choices: the ambiguous classes (see :func:`map_classes`); nothing is warned if none.
        reviewed: classes whose by-name sense is known to be right (a built-in class list's),
            left out.
        stacklevel: passed to :func:`warnings.warn`, counted from the caller.
    """
    kept = [c for c in choices if c.name not in reviewed]
    if kept:
        warnings.warn(ambiguity_message(kept), AmbiguousSenseWarning, stacklevel=stacklevel + 1)


def _shorten(text: str) -> str:
    return text if len(text) <= _SHORT else text[: _SHORT - 3].rstrip() + "..."


def _why_not(db: WordNet, name: str) -> tuple[str, list[str]]:
    """Explain why ``name`` resolves to no synset; also return close lemmas."""
    text = name.strip().lower()
    if _WNID.match(text):
        return f"no noun synset at offset {text[1:]} of data.noun in {db.source}", []
    named = _NAMED.match(text)
    if named is not None and db.lookup(named["lemma"]):
        senses = db.lookup(named["lemma"])
        shown = ", ".join(db.synset_name(o) for o in senses[:8])
        more = ", ..." if len(senses) > 8 else ""
        return f"{named['lemma']!r} has {len(senses)} noun sense(s): {shown}{more}", []
    lemma = named["lemma"] if named is not None else text
    close = suggest(db, lemma)
    hint = f" (closest noun lemmas: {', '.join(close)})" if close else ""
    return f"{lemma!r} is not a noun lemma{hint}", close


def _toml_key(name: str) -> str:
    return name if re.fullmatch(r"[A-Za-z0-9_-]+", name) else f'"{name}"'


def suggest(db: WordNet, name: str, limit: int = 4) -> list[str]:
    """Return up to ``limit`` noun lemmas close to ``name``: its words, then by spelling.

    Compares against lemmas that start with the same letter or contain one of the words
    of ``name``, so a miss costs a fraction of a second rather than a scan of all
    117,798 lemmas per class.
    """
    lemma = normalize_lemma(name)
    if not lemma:
        return []
    words = [w for w in re.split(r"[_\-]+", lemma) if len(w) >= 3]
    pool = [
        candidate
        for candidate in db.lemmas
        if candidate[:1] == lemma[:1] or any(w in candidate for w in words)
    ]
    whole_words = [w for w in words if w != lemma and db.lookup(w)]
    close = difflib.get_close_matches(lemma, pool, n=limit, cutoff=0.75)
    return list(dict.fromkeys([*whole_words, *close]))[:limit]
