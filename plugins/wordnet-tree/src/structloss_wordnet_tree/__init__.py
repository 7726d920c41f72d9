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

__all__ = ["AmbiguousSenseWarning", "__version__"]


class AmbiguousSenseWarning(UserWarning):
    """Some classes were mapped by name to a word with several WordNet noun senses.

    Each such class took the word's first (most frequent) sense. One warning lists them all,
    with the chosen synset and its definition and the other senses; pin the sense you mean
    with the provider's ``synsets`` option (``synsets = {tiger = "tiger.n.02"}``), or silence
    it with ``warnings.filterwarnings("ignore", category=AmbiguousSenseWarning)``.

    It lives here rather than in :mod:`structloss.errors` because it is not an error, and
    here importing it costs nothing.
    """
