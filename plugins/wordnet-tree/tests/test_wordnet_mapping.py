"""Classes to synsets: names, plurals, synset names, ImageNet ids, overrides, errors,
ambiguous names and classes sharing a synset."""

from __future__ import annotations

import warnings

import pytest

from structloss.errors import StructureError
from structloss_wordnet_tree import AmbiguousSenseWarning
from structloss_wordnet_tree.database import WordNet
from structloss_wordnet_tree.mapping import (
    SenseChoice,
    map_classes,
    resolve,
    resolve_classes,
    suggest,
)
from structloss_wordnet_tree.provider import build_from_wordnet


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
    expected = [
        "'poodel': 'poodel' is not a noun lemma (closest noun lemmas: poodle",
        "'unicorn_horse'",
        "'crane' -> 'crane.n.07': 'crane' has 2 noun sense(s): crane.n.01, crane.n.02",
        "'cat' -> 'kitty': 'kitty' is not a noun lemma",
        "'run.v.01': 'run.v.01' names a synset with part of speech 'v'",
        "'n99999999': no noun synset at offset 99999999",
        'e.g. synsets = {poodel = "poodle.n.01"}',
    ]
    assert [part for part in expected if part not in message] == []
    assert "'dog'" not in message


def test_suggest_uses_spelling_and_words(tiny: WordNet) -> None:
    assert suggest(tiny, "domestic_dgo")[0] == "domestic_dog"
    assert suggest(tiny, "big_dog") == ["dog"]
    assert suggest(tiny, "qqq") == []
    assert suggest(tiny, "") == []


# -- ambiguous names, pinned senses, classes sharing a synset --------------------------------
def test_ambiguous_names_are_reported_once(two_mice: WordNet) -> None:
    with pytest.warns(AmbiguousSenseWarning) as record:
        build_from_wordnet(two_mice, ["cranes", "dog", "pointer"], {"pointer": "mouse"})
    assert len([w for w in record if w.category is AmbiguousSenseWarning]) == 1
    message = str(record[0].message)
    assert message.startswith("wordnet-tree: 2 class(es) are names with several WordNet noun")
    # a plural is as ambiguous as its lemma
    assert "- 'cranes' -> crane.n.01: a lifting machine" in message
    assert "other senses: crane.n.02: a long-legged wading bird" in message
    # so is a lemma given in `synsets`; the definition leaves out the examples
    assert "- 'pointer' -> 'mouse' -> mouse.n.01: a small rodent" in message
    assert "mouse.n.02: a pointing device\n" in message
    assert 'synsets = {cranes = "crane.n.02"}' in message
    assert "'dog'" not in message  # one noun sense: nothing to report


def test_map_classes_records_the_choice(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    mapped = map_classes(tiny, ["dog", "crane"])
    assert mapped.offsets == (tiny_offsets["dog"], tiny_offsets["crane_device"])
    assert mapped.ambiguous == (
        SenseChoice(
            name="crane",
            given="crane",
            chosen="crane.n.01",
            definition="a lifting machine",
            others=(("crane.n.02", "a long-legged wading bird"),),
        ),
    )
    assert SenseChoice.from_json(mapped.ambiguous[0].to_json()) == mapped.ambiguous[0]
    with pytest.raises(ValueError, match="not a sense choice"):
        SenseChoice.from_json({"name": "crane"})


@pytest.mark.parametrize("pin", ["crane.n.02", "Crane.n.2", "n{bird}", "{bird}"])
def test_pinned_senses_are_not_reported(
    tiny: WordNet, tiny_offsets: dict[str, int], pin: str
) -> None:
    value = pin.format(bird=f"{tiny_offsets['crane_bird']:08d}")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        mapped = map_classes(tiny, ["crane", "dog"], {"crane": value})
        build_from_wordnet(tiny, ["crane", "dog"], {"crane": value})
    assert mapped.offsets[0] == tiny_offsets["crane_bird"] and mapped.ambiguous == ()


@pytest.mark.parametrize(
    ("pin", "why"),
    [
        ("crane.n.07", "'crane' has 2 noun sense(s): crane.n.01, crane.n.02"),
        ("99999999", "no noun synset at offset 99999999"),
        ("n00000001", "no noun synset at offset 00000001"),
        ("kitty", "'kitty' is not a noun lemma"),
    ],
)
def test_a_bad_pin_names_the_class_and_the_value(tiny: WordNet, pin: str, why: str) -> None:
    with pytest.raises(StructureError) as info:
        map_classes(tiny, ["crane", "dog"], {"crane": pin})
    assert f"'crane' -> '{pin}': {why}" in str(info.value)


def test_classes_sharing_a_synset_are_one_error(
    tiny: WordNet, tiny_offsets: dict[str, int]
) -> None:
    classes = ["Cat", "dog", "cat", "poodle", "poodle dog", "crane"]
    with pytest.raises(StructureError) as info:
        map_classes(tiny, classes)
    message = str(info.value)
    assert message.startswith("wordnet-tree: 2 synset(s) are each the synset of several classes")
    assert "- 'Cat' and 'cat' -> cat.n.01 (a small domesticated feline)" in message
    assert "- 'poodle' and 'poodle dog' -> poodle.n.01" in message
    assert "`synsets` option" in message and "Remove the duplicate class" in message
    # pinning both to one synset is the same mistake
    bird = f"n{tiny_offsets['crane_bird']:08d}"
    with pytest.raises(StructureError, match=r"'crane' and 'heron' -> crane\.n\.02"):
        map_classes(tiny, ["crane", "heron"], {"crane": "crane.n.02", "heron": bird})
    # and pinning one of them apart resolves it
    assert len(set(map_classes(tiny, ["crane", "heron"], {"heron": bird}).offsets)) == 2


def test_duplicate_error_lists_the_other_senses(tiny: WordNet) -> None:
    with pytest.raises(StructureError) as info:
        map_classes(tiny, ["crane.n.01", "crane"])
    message = str(info.value)
    assert (
        "'crane.n.01' and 'crane' -> crane.n.01 (a lifting machine); other senses: crane.n.02"
        in message
    )
    assert 'e.g. synsets = {crane = "<lemma>.n.<sense>"}' in message
