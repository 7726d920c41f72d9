"""Class names to vectors: aliases, lower-casing and multi-word names.

A class name is looked up whole first (``"New_York"`` in word2vec's vocabulary), then as
its words: ``maple_tree``, ``pickup truck`` and ``sea-lion`` (when ``sea-lion`` itself is
unknown) become the mean of their words' vectors. Every lookup tries the text as written,
then (with ``lowercase``) in lower case. An alias replaces a class's name before lookup.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np

from structloss.errors import StructureError, closest
from structloss_embedding_similarity.vectors import WordVectors

__all__ = ["check_aliases", "class_vectors", "phrase_vector"]

_WORD_SPLIT = re.compile(r"[\s_]+")


def _lookup(word: str, vectors: WordVectors, lowercase: bool) -> np.ndarray | None:
    if word in vectors:
        return vectors[word]
    if lowercase and word.lower() in vectors:
        return vectors[word.lower()]
    return None


def phrase_vector(
    text: str, vectors: WordVectors, *, lowercase: bool = True
) -> tuple[np.ndarray | None, list[str]]:
    """Return the vector of ``text`` and the words that were not found.

    The whole text is tried first (as written, with spaces as ``_``, then lower-cased);
    otherwise it is split on whitespace and ``_`` (and a hyphenated word the vocabulary
    lacks on ``-``) and the word vectors are averaged (a plain mean of the raw vectors).

    Returns:
        ``(vector, [])`` on success, ``(None, missing_words)`` when any word is missing.
    """
    stripped = text.strip()
    for whole in dict.fromkeys((stripped, _WORD_SPLIT.sub("_", stripped))):
        found = _lookup(whole, vectors, lowercase)
        if found is not None:
            return found, []
    parts: list[np.ndarray] = []
    missing: list[str] = []
    for word in (w for w in _WORD_SPLIT.split(stripped) if w):
        found = _lookup(word, vectors, lowercase)
        if found is not None:
            parts.append(found)
            continue
        pieces = [p for p in word.split("-") if p]
        looked = [_lookup(p, vectors, lowercase) for p in pieces] if len(pieces) > 1 else []
        if looked and all(v is not None for v in looked):
            parts.extend(v for v in looked if v is not None)
        else:
            missing.append(word)
    if missing or not parts:
        return None, missing or [stripped]
    return np.mean(parts, axis=0), []


def check_aliases(aliases: Mapping[str, str], classes: Sequence[str]) -> dict[str, str]:
    """Validate ``aliases``: a mapping from class names to non-empty replacement texts.

    Raises:
        StructureError: for a key that is not a class (with the closest class) or a value
            that is not a non-empty string.
    """
    if not isinstance(aliases, Mapping):
        raise StructureError(
            'aliases must be a table of class = "word", e.g. aliases = {aquarium_fish ='
            f' "goldfish"}}, got {type(aliases).__name__}'
        )
    known = set(classes)
    unknown = [f"{key!r}{closest(str(key), classes)}" for key in aliases if key not in known]
    if unknown:
        raise StructureError(
            f"aliases name classes that do not exist: {'; '.join(unknown)}. Alias keys must"
            " be class names"
        )
    bad = [
        f"{key!r}: {value!r}"
        for key, value in aliases.items()
        if not isinstance(value, str) or not value.strip()
    ]
    if bad:
        raise StructureError(f"aliases must map to non-empty words; invalid: {', '.join(bad)}")
    return dict(aliases)


def class_vectors(
    classes: Sequence[str],
    vectors: WordVectors,
    *,
    aliases: Mapping[str, str] | None = None,
    lowercase: bool = True,
) -> np.ndarray:
    """Return the (classes, dim) matrix of class vectors, in label order.

    Args:
        classes: class names in label order.
        vectors: the word vectors.
        aliases: ``{class: text}`` looked up instead of the class name.
        lowercase: fall back to lower-case forms of words the vocabulary lacks.

    Raises:
        StructureError: one error listing every class that could not be embedded, with the
            words that were missing, and how to fix it.
    """
    names = check_aliases(aliases or {}, classes)
    rows: list[np.ndarray] = []
    failed: list[str] = []
    for name in classes:
        text = names.get(name, name)
        vector, missing = phrase_vector(text, vectors, lowercase=lowercase)
        if vector is None:
            via = f" (alias {text!r})" if name in names else ""
            failed.append(f"{name!r}{via}: missing {', '.join(map(repr, missing))}")
        else:
            rows.append(vector)
    if failed:
        raise StructureError(
            f"{len(failed)} of {len(classes)} classes are not in the vocabulary of"
            f" {vectors.source!r} ({len(vectors)} words): {'; '.join(failed)}. Add"
            ' aliases = {class = "known word"} to [structure], or use vectors with a larger'
            " vocabulary (or a larger limit)"
        )
    return np.stack(rows).astype(np.float64)
