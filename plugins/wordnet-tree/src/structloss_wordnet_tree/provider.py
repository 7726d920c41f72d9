"""The ``wordnet-tree`` structure provider: a class hierarchy from WordNet's noun hypernyms.

The factory, :func:`build`, is what ``[structure] provider = "wordnet-tree"`` calls. It
imports the reader, the mapping and the tree builder only when called.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from structloss.errors import ConfigError, choice_list, closest
from structloss.specs import StructureContext
from structloss.structures import Hierarchy

if TYPE_CHECKING:
    from structloss_wordnet_tree.database import WordNet

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
        synsets: ``{class: synset}`` choosing the synset of some classes (a synset name,
            an ImageNet id or a lemma), e.g. ``{crane = "crane.n.05"}``; or the name of a
            built-in class list (``"cifar100"``) to apply the overrides it ships with to the
            classes it has. A built-in list's own overrides apply automatically when the
            classes are exactly that list; these are applied on top.
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
        ConfigError: for a missing class list or a bad option.
        StructureError: listing every class without a noun synset, or when no WordNet
            database is found (saying where it looked and how to install one).
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
    directory = None
    if wordnet_dir is not None:
        _check_option("wordnet_dir", wordnet_dir, (str, os.PathLike))
        directory = Path(context.base_dir, Path(wordnet_dir).expanduser())
    default = hypernym_path == "longest" and collapse and directory is None
    if builtin is not None and default and overrides == dict(builtin.synsets):
        return builtin.tree()
    return _from_wordnet(classes, overrides, hypernym_path, collapse, directory, cache)


def _from_wordnet(
    classes: tuple[str, ...],
    overrides: dict[str, str],
    policy: str,
    collapse: bool,
    directory: Path | None,
    cache: bool,
) -> Hierarchy:
    from structloss_wordnet_tree.cache import load_or_build
    from structloss_wordnet_tree.locate import locate

    location = locate(directory)

    def make() -> Hierarchy:
        return build_from_wordnet(
            location.open(), classes, overrides, hypernym_path=policy, collapse=collapse
        )

    if not cache:
        return make()
    inputs = {
        "classes": list(classes),
        "synsets": overrides,
        "hypernym_path": policy,
        "collapse": collapse,
        "database": location.identity(),
    }
    return load_or_build(inputs, make, classes=classes)[0]


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
        StructureError: listing every class without a noun synset.
    """
    from structloss_wordnet_tree.mapping import resolve_classes
    from structloss_wordnet_tree.tree import build_hierarchy

    offsets = resolve_classes(db, classes, synsets)
    return build_hierarchy(db, classes, offsets, policy=hypernym_path, collapse=collapse)


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
