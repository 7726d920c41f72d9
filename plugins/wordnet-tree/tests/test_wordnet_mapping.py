"""Classes to synsets: names, plurals, synset names, ImageNet ids, overrides, errors."""

from __future__ import annotations

import pytest

from structloss.errors import StructureError
from structloss_wordnet_tree.database import WordNet
from structloss_wordnet_tree.mapping import resolve, resolve_classes, suggest


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("dog", "dog"),
        ("Domestic Dog", "dog"),  # case and spaces
        ("  domestic_dog ", "dog"),
        ("Canis familiaris", "dog"),
        ("dogs", "dog"),  # suffix rule
        ("mice", "mouse"),  # noun.exc
        ("Laika", "laika"),
        ("t-shirt", "tshirt"),
        ("t_shirt", "tshirt"),  # underscore for hyphen
        ("crane", "crane_device"),  # ambiguous: the first sense
        ("crane.n.02", "crane_bird"),
        ("dog.n.01", "dog"),
    ],
)
def test_resolve(tiny: WordNet, tiny_offsets: dict[str, int], name: str, key: str) -> None:
    assert resolve(tiny, name) == tiny_offsets[key]


def test_resolve_imagenet_ids(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert resolve(tiny, f"n{tiny_offsets['poodle']:08d}") == tiny_offsets["poodle"]
    assert resolve(tiny, f"n{tiny_offsets['poodle'] + 1:08d}") is None
    assert resolve(tiny, "unicorn") is None
    assert resolve(tiny, "   ") is None


def test_overrides_win(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    classes = ["crane", "dog", "heron"]
    overrides = {"crane": "crane.n.02", "heron": "bird", "dog": f"n{tiny_offsets['poodle']:08d}"}
    assert resolve_classes(tiny, classes, overrides) == [
        tiny_offsets["crane_bird"],
        tiny_offsets["poodle"],
        tiny_offsets["bird"],
    ]


def test_every_unknown_class_in_one_error(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    classes = ["dog", "poodel", "unicorn_horse", "crane", "cat", "run.v.01", "n99999999"]
    overrides = {"crane": "crane.n.07", "cat": "kitty"}
    with pytest.raises(StructureError) as info:
        resolve_classes(tiny, classes, overrides)
    message = str(info.value)
    assert message.startswith("wordnet-tree: 6 class(es) have no WordNet noun synset")
    assert "'poodel': 'poodel' is not a noun lemma (closest noun lemmas: poodle" in message
    assert "'unicorn_horse'" in message
    assert "'crane' -> 'crane.n.07': 'crane' has 2 noun sense(s): crane.n.01, crane.n.02" in message
    assert "'cat' -> 'kitty': 'kitty' is not a noun lemma" in message
    assert "'run.v.01': 'run.v.01' names a synset with part of speech 'v'" in message
    assert "'n99999999': no noun synset at offset 99999999" in message
    assert 'e.g. synsets = {poodel = "poodle.n.01"}' in message
    assert "'dog'" not in message


def test_suggest_uses_spelling_and_words(tiny: WordNet) -> None:
    assert suggest(tiny, "domestic_dgo")[0] == "domestic_dog"
    assert suggest(tiny, "big_dog") == ["dog"]
    assert suggest(tiny, "qqq") == []
    assert suggest(tiny, "") == []
