"""The built-in class lists, ``cifar100`` and ``imagenet1k``, and their shipped trees.

Each list ships with the plugin (``data/<name>_classes.txt``, label order) together with its
tree (``data/<name>_tree.json``), built from WordNet 3.0 with the default options by
``scripts/generate_builtin_trees.py``, so neither needs WordNet installed.

- ``cifar100``: CIFAR-100's 100 fine labels in label order (alphabetical, as the dataset's
  ``meta`` file lists them: ``apple``, ``aquarium_fish``, ..., ``worm``). Names that are not
  WordNet lemmas, or whose first noun sense is not the one pictured (``ray`` is first a beam
  of light, ``table`` a table of data), are mapped by :data:`CIFAR100_SYNSETS`.
- ``imagenet1k``: the 1000 ImageNet-1k (ILSVRC-2012) WordNet ids, sorted, which is the label
  order of the usual loaders (``n01440764``, the tench, is label 0).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from importlib.resources import files

import attrs

from structloss.structures import Hierarchy

__all__ = [
    "BUILTIN_LISTS",
    "CIFAR100_SYNSETS",
    "BuiltinList",
    "cifar100_classes",
    "imagenet1k_classes",
    "matching_list",
]

_PACKAGE = "structloss_wordnet_tree"

#: CIFAR-100 classes whose first noun sense is wrong, or that are not WordNet lemmas.
#: Senses that CIFAR-100's superclasses make unambiguous: fruit and vegetables are the
#: food senses (like ``apple.n.01``), scenes are land and water (``noun.object``), animals
#: are the animals rather than their fur or flesh.
CIFAR100_SYNSETS: Mapping[str, str] = {
    "aquarium_fish": "fish.n.01",  # not a lemma
    "beaver": "beaver.n.07",  # n.01: the fur
    "castle": "castle.n.02",  # n.01: palace
    "cloud": "cloud.n.02",  # n.01: any collection of particles
    "dolphin": "dolphin.n.02",  # n.01: the dolphinfish
    "flatfish": "flatfish.n.02",  # n.01: its flesh
    "forest": "forest.n.02",  # n.01: the trees (a group), not the land
    "girl": "female_child.n.01",  # n.01: a young woman; boy is male_child.n.01
    "leopard": "leopard.n.02",  # n.01: the pelt
    "lobster": "lobster.n.02",  # n.01: its flesh
    "maple_tree": "maple.n.02",  # not a lemma; maple.n.01 is the wood
    "mushroom": "mushroom.n.05",  # CIFAR files it under fruit and vegetables
    "otter": "otter.n.02",  # n.01: the fur
    "plate": "plate.n.04",  # n.01: home plate
    "raccoon": "raccoon.n.02",  # n.01: the fur
    "ray": "ray.n.07",  # n.01: a beam of light
    "seal": "seal.n.09",  # n.01: sealing wax
    "shrew": "shrew.n.02",  # n.01: a scolding woman
    "skunk": "skunk.n.04",  # n.01: a despicable person
    "sweet_pepper": "sweet_pepper.n.02",  # n.01: the plant
    "table": "table.n.02",  # n.01: a table of data
    "television": "television_receiver.n.01",  # n.01: broadcasting
    "tiger": "tiger.n.02",  # n.01: a fierce person
    "trout": "trout.n.02",  # n.01: its flesh
    "turtle": "turtle.n.02",  # n.01: a turtleneck
    "whale": "whale.n.02",  # n.01: a very large person
}


@attrs.frozen
class BuiltinList:
    """A class list that ships with the plugin, with its WordNet tree.

    Attributes:
        name: the name configs use (``classes = "cifar100"``).
        summary: one line for ``structloss plugins``.
        synsets: the synset overrides its tree was built with.
    """

    name: str
    summary: str
    synsets: Mapping[str, str] = attrs.field(factory=dict)

    def classes(self) -> tuple[str, ...]:
        """Return the class names in label order."""
        return _read_classes(self.name)

    def tree(self) -> Hierarchy:
        """Return the shipped tree (WordNet 3.0, default options)."""
        return _read_tree(self.name)


BUILTIN_LISTS: Mapping[str, BuiltinList] = {
    "cifar100": BuiltinList(
        "cifar100",
        "CIFAR-100's 100 fine labels in label order, with a WordNet tree",
        CIFAR100_SYNSETS,
    ),
    "imagenet1k": BuiltinList(
        "imagenet1k",
        "ImageNet-1k's 1000 WordNet ids in label order, with a WordNet tree",
    ),
}


def cifar100_classes() -> tuple[str, ...]:
    """Return CIFAR-100's fine labels in label order (``apple`` ... ``worm``)."""
    return BUILTIN_LISTS["cifar100"].classes()


def imagenet1k_classes() -> tuple[str, ...]:
    """Return ImageNet-1k's WordNet ids in label order (``n01440764`` ... ``n15075141``)."""
    return BUILTIN_LISTS["imagenet1k"].classes()


def matching_list(classes: Sequence[str]) -> BuiltinList | None:
    """Return the built-in list whose classes are exactly ``classes`` (same order), if any."""
    names = tuple(classes)
    for builtin in BUILTIN_LISTS.values():
        if names == builtin.classes():
            return builtin
    return None


@cache
def _read_classes(name: str) -> tuple[str, ...]:
    text = files(_PACKAGE).joinpath("data", f"{name}_classes.txt").read_text("utf-8")
    return tuple(line.strip() for line in text.splitlines() if line.strip())


@cache
def _read_tree(name: str) -> Hierarchy:
    text = files(_PACKAGE).joinpath("data", f"{name}_tree.json").read_text("utf-8")
    return Hierarchy.from_dict(json.loads(text), _read_classes(name))


def noun_leaf_classes() -> tuple[str, ...]:
    """Every WordNet noun synset that has no hyponym, as ImageNet-style ids (``n02084071``).

    The class list ``wordnet-noun-leaves`` (about 65,000 classes in WordNet 3.0): with
    ``[structure] provider = "wordnet-tree"`` it gives the tree of all of WordNet's nouns,
    built once and then read from the cache. Needs a WordNet database (found as the
    provider finds one).

    Raises:
        StructureError: when no WordNet database is found, saying where it looked.
    """
    from structloss_wordnet_tree.locate import open_wordnet

    return tuple(f"n{offset:08d}" for offset in open_wordnet().noun_leaves())
