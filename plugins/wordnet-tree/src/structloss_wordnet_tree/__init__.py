"""structloss-wordnet-tree: class hierarchies from the WordNet noun hypernym graph.

Configs use it by name::

    classes = "cifar100"               # or a list of names, synset names or ImageNet ids
    [structure]
    provider = "wordnet-tree"

The modules: :mod:`~structloss_wordnet_tree.provider` (the structure provider),
:mod:`~structloss_wordnet_tree.database` (the WordNet reader),
:mod:`~structloss_wordnet_tree.locate` (finding the database),
:mod:`~structloss_wordnet_tree.mapping` (classes to synsets),
:mod:`~structloss_wordnet_tree.tree` (synsets to a tree),
:mod:`~structloss_wordnet_tree.classlists` (cifar100, imagenet1k) and
:mod:`~structloss_wordnet_tree.cache` (the disk cache). Importing this package imports
none of them.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
