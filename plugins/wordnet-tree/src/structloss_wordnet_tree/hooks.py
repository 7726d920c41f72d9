"""structloss hooks of the ``wordnet-tree`` plugin: provider ``wordnet-tree``, two class lists.

It yields the ``wordnet-tree`` structure provider and the ``cifar100`` and ``imagenet1k``
class lists. Importing it is cheap: the WordNet reader and the data files are loaded only
when a config asks for them.
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import ClassListSpec, StructureSpec
from structloss_wordnet_tree.classlists import BUILTIN_LISTS, noun_leaf_classes
from structloss_wordnet_tree.provider import build

__all__ = ["structloss_class_lists", "structloss_structures"]


structloss_structures = provides(
    StructureSpec(
        "wordnet-tree",
        build,
        "a class tree from WordNet's noun hypernyms (names, synsets or ImageNet ids)",
        kind="hierarchy",
    ),
)
#: ``cifar100`` and ``imagenet1k`` (shipped), ``wordnet-noun-leaves`` (read from WordNet)
structloss_class_lists = provides(
    *(ClassListSpec(b.name, b.classes, b.summary) for b in BUILTIN_LISTS.values()),
    ClassListSpec(
        "wordnet-noun-leaves",
        noun_leaf_classes,
        "every WordNet noun without a hyponym (about 65,000), as ImageNet-style ids",
    ),
)
