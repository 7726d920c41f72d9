"""The hierarchy output: agglomerative clustering of class vectors."""

from __future__ import annotations

import numpy as np
import pytest

from structloss import Hierarchy, LabelEmbedding
from structloss.errors import ConfigError, StructureError
from structloss_embedding_similarity import LINKAGE_METHODS, cluster_hierarchy

CLASSES = ("cat", "car", "dog", "truck", "maple")


def embedding(seed: int = 0) -> LabelEmbedding:
    """cat ~ dog and car ~ truck (near-identical vectors), maple apart."""
    rng = np.random.default_rng(seed)
    animal, vehicle, plant = rng.normal(size=(3, 8))
    noise = rng.normal(scale=1e-3, size=(5, 8))
    rows = np.array([animal, vehicle, animal, vehicle, plant]) + noise
    return LabelEmbedding.from_matrix(CLASSES, rows)


@pytest.mark.parametrize("method", LINKAGE_METHODS)
def test_leaves_are_the_classes_and_neighbours_are_siblings(method):
    tree = cluster_hierarchy(embedding(), method=method)
    assert isinstance(tree, Hierarchy)
    assert tree.classes == CLASSES
    assert tree.parent("cat") == tree.parent("dog")
    assert tree.parent("car") == tree.parent("truck")
    assert tree.parent("cat") != tree.parent("car")
    assert tree.root == "cluster-0"
    assert all(node.startswith("cluster-") for node in tree.nodes[len(CLASSES) :])
    assert tree.num_nodes == 2 * len(CLASSES) - 1  # binary without collapse


def test_names_are_breadth_first_and_deterministic():
    first, second = cluster_hierarchy(embedding(1)), cluster_hierarchy(embedding(1))
    assert first.to_parents() == second.to_parents()
    depths = [first.depths[first.index(f"cluster-{k}")] for k in range(len(CLASSES) - 1)]
    assert depths == sorted(depths)


def test_collapse_fuses_near_ties_into_one_parent():
    vectors = np.array([[1.0, 0.0], [1.0, 1e-6], [1.0, -1e-6], [0.0, 1.0]])
    tree = cluster_hierarchy(
        LabelEmbedding.from_matrix(["a", "b", "c", "d"], vectors), collapse=1e-6
    )
    assert tree.children(tree.parent("a")) == ("a", "b", "c")
    assert tree.parent("d") == tree.root


def test_prefix_and_clash_with_class_names():
    tree = cluster_hierarchy(embedding(), prefix="node")
    assert tree.root == "node0"
    clashing = LabelEmbedding.from_matrix(["cluster-0", "b"], [[1.0, 0.0], [0.0, 1.0]])
    with pytest.raises(StructureError, match="set another prefix"):
        cluster_hierarchy(clashing)


def test_single_class():
    tree = cluster_hierarchy(LabelEmbedding.from_matrix(["only"], [[1.0, 2.0]]))
    assert tree.classes == ("only",) and tree.parent("only") == "cluster-0"


def test_bad_options():
    with pytest.raises(ConfigError, match="did you mean 'average'"):
        cluster_hierarchy(embedding(), method="averag")
    with pytest.raises(ConfigError, match="collapse"):
        cluster_hierarchy(embedding(), collapse=-1.0)


def test_deep_chain_does_not_recurse():
    # single linkage on points along a line gives a chain of depth n - 1
    n = 1500
    angles = np.linspace(0.0, 1.5, n) ** 2
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    names = [f"c{i}" for i in range(n)]
    tree = cluster_hierarchy(LabelEmbedding.from_matrix(names, vectors), method="single")
    assert tree.classes == tuple(names)
