"""Class names to vectors: lower-casing, multi-word names, aliases, missing classes."""

from __future__ import annotations

import numpy as np
import pytest

from structloss.errors import StructureError
from structloss_embedding_similarity import WordVectors, class_vectors, phrase_vector


@pytest.fixture
def words(words_table) -> WordVectors:
    return WordVectors(
        index={w: i for i, w in enumerate(words_table)},
        vectors=np.array(list(words_table.values())),
        source="test",
    )


@pytest.fixture
def vec(words_table):
    """word -> its vector as an array."""
    return lambda word: np.array(words_table[word])


def test_single_words_and_lower_casing(words, vec):
    matrix = class_vectors(["cat", "Dog", "TRUCK"], words)
    np.testing.assert_array_equal(matrix, [vec("cat"), vec("dog"), vec("truck")])
    with pytest.raises(StructureError, match="'Dog'"):
        class_vectors(["Dog"], words, lowercase=False)


@pytest.mark.parametrize("name", ["maple_tree", "maple tree", "Maple  Tree", "maple-tree"])
def test_multi_word_names_average_their_words(words, name):
    # maple = (0, 1, 0, 0.3), tree = (0.1, 0.8, 0, 0.5): the mean, by hand
    expected = [0.05, 0.9, 0.0, 0.4]
    np.testing.assert_allclose(class_vectors([name], words)[0], expected)


def test_three_words_average(words, vec):
    expected = (vec("pickup") + vec("truck") + vec("sea")) / 3
    np.testing.assert_allclose(phrase_vector("pickup truck sea", words)[0], expected)


def test_whole_phrase_in_vocabulary_wins(words, vec):
    np.testing.assert_array_equal(class_vectors(["New York"], words)[0], vec("New_York"))


def test_aliases_replace_names(words, vec):
    matrix = class_vectors(
        ["aquarium_fish", "cat", "sea_lion"],
        words,
        aliases={"aquarium_fish": "goldfish", "sea_lion": "sea lion"},
    )
    np.testing.assert_array_equal(matrix[0], vec("goldfish"))
    np.testing.assert_allclose(matrix[2], (vec("sea") + vec("lion")) / 2)


def test_missing_classes_are_one_error_listing_all(words):
    classes = ["cat", "aquarium_fish", "zebra", "pickup_truck", "wombat_tree"]
    with pytest.raises(StructureError) as info:
        class_vectors(classes, words, aliases={"zebra": "zebroid"})
    message = str(info.value)
    assert message.startswith("3 of 5 classes are not in the vocabulary of 'test'")
    assert "'aquarium_fish': missing 'aquarium'" in message
    assert "'zebra' (alias 'zebroid'): missing 'zebroid'" in message
    assert "'wombat_tree': missing 'wombat'" in message
    assert "pickup_truck" not in message
    assert "aliases = {class" in message


def test_alias_keys_must_be_classes(words):
    with pytest.raises(StructureError, match="'catt'; did you mean 'cat'"):
        class_vectors(["cat", "dog"], words, aliases={"catt": "tiger"})
    with pytest.raises(StructureError, match="non-empty words"):
        class_vectors(["cat"], words, aliases={"cat": " "})
