"""Mapping class names to WordNet noun synsets.

A class (or the value the ``synsets`` option gives for it) is read as:

- an ImageNet id, ``"n02084071"``: ``n`` and the 8-digit offset of the synset in WordNet
  3.0's ``data.noun``;
- a synset name, ``"dog.n.01"``: lemma, ``n``, and the sense number of that lemma;
- otherwise a name: trimmed, lower-cased, runs of spaces turned into ``_``
  (``"Pickup Truck"`` -> ``pickup_truck``), then looked up as a noun lemma, as an irregular
  plural from ``noun.exc`` (``mice`` -> ``mouse``) and through WordNet's noun suffix rules
  (``boxes`` -> ``box``). An ambiguous name takes its first (most frequent) noun sense.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence

from structloss.errors import StructureError
from structloss_wordnet_tree.database import WordNet, normalize_lemma

__all__ = ["resolve", "resolve_classes", "suggest"]

_WNID = re.compile(r"^n(\d{8})$")
_NAMED = re.compile(r"^(?P<lemma>.+)\.n\.(?P<sense>\d+)$")


def resolve(db: WordNet, name: str) -> int | None:
    """Return the offset of the noun synset ``name`` denotes, or None if there is none.

    Args:
        db: the WordNet database.
        name: an ImageNet id, a synset name or a lemma (see the module docstring).

    Raises:
        StructureError: when ``name`` is a synset name of another part of speech.
    """
    text = name.strip()
    wnid = _WNID.match(text)
    if wnid is not None:
        return int(wnid[1]) if db.has_synset(int(wnid[1])) else None
    named = db.synset_by_name(text)
    if named is not None:
        return named
    lemma = normalize_lemma(text)
    if not lemma:
        return None
    for variant in dict.fromkeys((lemma, lemma.replace("-", "_"), lemma.replace("_", "-"))):
        forms = db.base_forms(variant)
        if forms:
            return db.lookup(forms[0])[0]
    return None


def resolve_classes(
    db: WordNet, classes: Sequence[str], synsets: Mapping[str, str] | None = None
) -> list[int]:
    """Return the synset offset of every class, in order.

    Args:
        db: the WordNet database.
        classes: class names in label order.
        synsets: ``{class: synset}`` overrides; a value is read like a class name
            (``"crane.n.05"``, ``"n02012849"`` or a lemma).

    Raises:
        StructureError: once, listing every class without a noun synset (with the closest
            noun lemmas) and every override that names none.
    """
    overrides = synsets or {}
    offsets: list[int] = []
    problems: list[str] = []
    example: str | None = None
    for name in classes:
        given = overrides.get(name)
        target = given if given is not None else name
        try:
            offset = resolve(db, target)
        except StructureError as exc:
            problems.append(f"  - {name!r}: {exc}")
            continue
        if offset is not None:
            offsets.append(offset)
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
    return offsets


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
