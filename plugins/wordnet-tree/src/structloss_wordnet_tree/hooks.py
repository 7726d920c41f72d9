"""structloss hooks of the ``wordnet-tree`` plugin: provider ``wordnet-tree``, two class lists.

It yields the ``wordnet-tree`` structure provider and the ``cifar100`` and ``imagenet1k``
class lists. Importing it is cheap: the WordNet reader and the data files are loaded only
when a config asks for them.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import ClassListSpec, StructureSpec
from structloss_wordnet_tree.classlists import BUILTIN_LISTS
from structloss_wordnet_tree.provider import build

__all__ = ["structloss_class_lists", "structloss_structures"]


@hookimpl
def structloss_structures() -> Iterable[StructureSpec]:
    """Yield the ``wordnet-tree`` provider."""
    yield StructureSpec(
        name="wordnet-tree",
        factory=build,
        summary="a class tree from WordNet's noun hypernyms (names, synsets or ImageNet ids)",
        kind="hierarchy",
    )


@hookimpl
def structloss_class_lists() -> Iterable[ClassListSpec]:
    """Yield the built-in class lists ``cifar100`` and ``imagenet1k``."""
    for builtin in BUILTIN_LISTS.values():
        yield ClassListSpec(name=builtin.name, factory=builtin.classes, summary=builtin.summary)
