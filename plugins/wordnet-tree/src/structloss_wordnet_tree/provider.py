"""The ``wordnet-tree`` structure provider: a class hierarchy from WordNet's noun hypernyms.

The factory, :func:`build`, is what ``[structure] provider = "wordnet-tree"`` calls. It
imports the reader, the mapping and the tree builder only when called.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from structloss.errors import ConfigError, choice_list, closest
from structloss.specs import StructureContext
from structloss.structures import Hierarchy

if TYPE_CHECKING:
    from structloss_wordnet_tree.cache import CacheEntry
    from structloss_wordnet_tree.classlists import BuiltinList
    from structloss_wordnet_tree.database import WordNet
    from structloss_wordnet_tree.mapping import SenseChoice

__all__ = ["build", "build_from_wordnet"]


def build(
    context: StructureContext,
    *,
    synsets: Mapping[str, str] | str | None = None,
    hypernym_path: str = "longest",
    collapse: bool = True,
    wordnet_dir: str | os.PathLike[str] | None = None,
    cache: bool = True,
) -> Hierarchy:
    """Build the class tree from WordNet's noun hypernym graph.

    Args:
        context: the classes (required), in label order: names (``"maple"``,
            ``"pickup truck"``), synset names (``"dog.n.01"``) or ImageNet ids
            (``"n02084071"``).
        synsets: ``{class: synset}`` pinning the synset of some classes: a synset name
            (``"tiger.n.02"``), an ImageNet id (``"n02129604"``), a bare offset
            (``"02129604"``) or a lemma, e.g. ``{tiger = "tiger.n.02"}``; or the name of a
            built-in class list (``"cifar100"``) to apply the overrides it ships with to the
            classes it has. A built-in list's own overrides apply automatically when the
            classes are exactly that list; these are applied on top. A class mapped by a
            name with several noun senses takes the first (most frequent) one and is
            reported in one ``AmbiguousSenseWarning``, unless pinned here or in a built-in
            list.
        hypernym_path: which root-ward path each synset keeps where WordNet gives several:
            ``"longest"`` (default), ``"shortest"`` or ``"first"`` (the first hypernym
            listed). Ties go to the hypernym listed first.
        collapse: remove internal nodes that have a single child (never the root or a
            class leaf).
        wordnet_dir: the WordNet ``dict`` directory or nltk's ``wordnet.zip``, relative to
            the config's directory; default: ``WNSEARCHDIR``, nltk's data path, then
            ``/usr/share/wordnet``.
        cache: keep built trees on disk (``$STRUCTLOSS_CACHE_DIR/wordnet-tree`` or
            ``~/.cache/structloss/wordnet-tree``) and reuse them.

    Returns:
        A :class:`~structloss.Hierarchy` whose leaves are the classes, named as given, in
        label order; internal nodes are named like ``"dog.n.01"``. For the exact classes of a
        built-in list (``cifar100``, ``imagenet1k``) with the default options, the tree
        shipped with the plugin, which needs no WordNet installed.

    Raises:
        ConfigError: for a missing class list or a bad option, or ``synsets`` keys that are
            not classes.
        StructureError: listing every class without a noun synset (or whose ``synsets``
            value names none), listing classes that map to the same synset, or when no
            WordNet database is found (saying where it looked and how to install one).

    Warns:
        AmbiguousSenseWarning: once, listing every class mapped by a name with several noun
            senses (with the chosen synset, its definition and the other senses), also when
            the tree comes from the cache.
    """
    from structloss_wordnet_tree.classlists import matching_list
    from structloss_wordnet_tree.tree import PATH_POLICIES

    classes = _classes(context)
    _check_option("collapse", collapse, bool)
    _check_option("cache", cache, bool)
    if hypernym_path not in PATH_POLICIES:
        raise ConfigError(
            f"wordnet-tree option hypernym_path = {hypernym_path!r} is not a path policy"
            f"{closest(str(hypernym_path), PATH_POLICIES) or '.'} Choose one"
            f" of: {', '.join(PATH_POLICIES)}"
        )
    builtin = matching_list(classes)
    overrides = dict(builtin.synsets) if builtin is not None else {}
    overrides.update(_overrides(synsets, classes))
    reviewed = _reviewed(builtin, synsets, classes)
    directory = None
    if wordnet_dir is not None:
        _check_option("wordnet_dir", wordnet_dir, (str, os.PathLike))
        directory = Path(context.base_dir, Path(wordnet_dir).expanduser())
    default = hypernym_path == "longest" and collapse and directory is None
    if builtin is not None and default and overrides == dict(builtin.synsets):
        return builtin.tree()
    tree, ambiguous = _from_wordnet(classes, overrides, hypernym_path, collapse, directory, cache)
    from structloss_wordnet_tree.mapping import warn_ambiguous

    warn_ambiguous(ambiguous, reviewed=reviewed, stacklevel=2)
    return tree


def _reviewed(
    builtin: BuiltinList | None, synsets: Any, classes: tuple[str, ...]
) -> frozenset[str]:
    """The classes of a built-in list in use: their by-name senses were checked by hand."""
    from structloss_wordnet_tree.classlists import BUILTIN_LISTS

    names: set[str] = set()
    if builtin is not None:
        names.update(builtin.classes())
    if isinstance(synsets, str) and synsets in BUILTIN_LISTS:
        names.update(BUILTIN_LISTS[synsets].classes())
    return frozenset(names & set(classes))


def _from_wordnet(
    classes: tuple[str, ...],
    overrides: dict[str, str],
    policy: str,
    collapse: bool,
    directory: Path | None,
    cache: bool,
) -> tuple[Hierarchy, list[SenseChoice]]:
    from structloss_wordnet_tree.cache import CacheEntry, load_or_build_entry
    from structloss_wordnet_tree.locate import locate

    location = locate(directory)

    def make() -> CacheEntry:
        tree, ambiguous = _build(location.open(), classes, overrides, policy, collapse)
        return CacheEntry(tree, {"ambiguous": [c.to_json() for c in ambiguous]})

    if not cache:
        return _unpack(make())
    inputs = {
        "classes": list(classes),
        "synsets": overrides,
        "hypernym_path": policy,
        "collapse": collapse,
        "database": location.identity(),
    }
    entry = load_or_build_entry(inputs, make, classes=classes)[0]
    try:
        return _unpack(entry)
    except ValueError as exc:  # an entry with damaged notes: build again, without the cache
        from structloss_wordnet_tree.cache import cache_dir

        warnings.warn(
            f"wordnet-tree cache: ignoring an entry with unreadable notes ({exc}); building"
            f" the tree again. Delete {str(cache_dir())!r} to clear the cache",
            RuntimeWarning,
            stacklevel=4,
        )
        return _unpack(make())


def _unpack(entry: CacheEntry) -> tuple[Hierarchy, list[SenseChoice]]:
    """Return the tree and the ambiguous classes recorded with it.

    Raises:
        ValueError: when the recorded notes are malformed.
    """
    from structloss_wordnet_tree.mapping import SenseChoice

    found = entry.notes.get("ambiguous", [])
    if not isinstance(found, list):
        raise ValueError(f"the ambiguous classes are a {type(found).__name__}, not a list")
    return entry.tree, [SenseChoice.from_json(item) for item in found]


def _build(
    db: WordNet,
    classes: Sequence[str],
    synsets: Mapping[str, str] | None,
    policy: str,
    collapse: bool,
) -> tuple[Hierarchy, list[SenseChoice]]:
    from structloss_wordnet_tree.mapping import map_classes
    from structloss_wordnet_tree.tree import build_hierarchy

    mapped = map_classes(db, classes, synsets)
    tree = build_hierarchy(db, classes, mapped.offsets, policy=policy, collapse=collapse)
    return tree, list(mapped.ambiguous)


def build_from_wordnet(
    db: WordNet,
    classes: Sequence[str],
    synsets: Mapping[str, str] | None = None,
    *,
    hypernym_path: str = "longest",
    collapse: bool = True,
) -> Hierarchy:
    """Build the tree from an open database, without the cache or the shipped trees.

    Args:
        db: the database (see :func:`structloss_wordnet_tree.locate.open_wordnet`).
        classes: class names in label order.
        synsets: ``{class: synset}`` overrides.
        hypernym_path: ``"longest"``, ``"shortest"`` or ``"first"``.
        collapse: remove single-child internal nodes.

    Raises:
        StructureError: listing every class without a noun synset, or classes sharing one.

    Warns:
        AmbiguousSenseWarning: once, listing every class mapped by a name with several noun
            senses.
    """
    from structloss_wordnet_tree.mapping import warn_ambiguous

    tree, ambiguous = _build(db, classes, synsets, hypernym_path, collapse)
    warn_ambiguous(ambiguous, stacklevel=2)
    return tree


def _classes(context: StructureContext) -> tuple[str, ...]:
    if context.classes is None:
        raise ConfigError(
            "structure provider 'wordnet-tree' needs the classes: set `classes = [...]` (names,"
            ' synset names such as "dog.n.01", or ImageNet ids such as "n02084071") or a class'
            ' list such as classes = "cifar100"'
        )
    return tuple(context.classes)


def _overrides(synsets: Any, classes: tuple[str, ...]) -> dict[str, str]:
    from structloss_wordnet_tree.classlists import BUILTIN_LISTS

    if synsets is None:
        return {}
    if isinstance(synsets, str):
        if synsets not in BUILTIN_LISTS:
            raise ConfigError(
                f"wordnet-tree option synsets = {synsets!r} names no built-in class list"
                f"{closest(synsets, BUILTIN_LISTS) or '.'} Give a table"
                ' {class = "synset.n.01"} or one of: ' + choice_list(BUILTIN_LISTS)
            )
        table = BUILTIN_LISTS[synsets].synsets
        return {name: table[name] for name in classes if name in table}
    if not isinstance(synsets, Mapping):
        raise ConfigError(
            'wordnet-tree option synsets must be a table {class = "synset.n.01"} or the name'
            f" of a built-in class list, got {type(synsets).__name__}"
        )
    bad = [f"{k!r}: {v!r}" for k, v in synsets.items() if not isinstance(v, str) or not v]
    if bad:
        raise ConfigError(
            "wordnet-tree option synsets maps classes to synset names (strings); invalid:"
            f" {', '.join(bad)}"
        )
    known = set(classes)
    unknown = [k for k in synsets if k not in known]
    if unknown:
        hints = "; ".join(f"{k!r}{closest(str(k), classes)}" for k in unknown)
        raise ConfigError(
            f"wordnet-tree option synsets names classes that are not in the class list: {hints}."
            " Its keys must be class names exactly as listed in `classes`"
        )
    return dict(synsets)


def _check_option(name: str, value: Any, kind: type | tuple[type, ...]) -> None:
    if not isinstance(value, kind):
        wanted = kind.__name__ if isinstance(kind, type) else "a path"
        wanted = "true or false" if kind is bool else wanted
        raise ConfigError(
            f"wordnet-tree option {name} must be {wanted}, got {value!r} ({type(value).__name__})"
        )
