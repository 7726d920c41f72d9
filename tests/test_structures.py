"""Tests for structloss.structures: hierarchies, similarities, embeddings and conversions."""

from __future__ import annotations

import json
import math
import pickle
import re
from typing import ClassVar

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from structloss.errors import IncompatibleStructureError, StructlossError, StructureError
from structloss.structures import (
    Hierarchy,
    LabelEmbedding,
    LabelStructure,
    MatrixStructure,
    Similarity,
    check_classes,
)
from structloss.testing import assert_mentions

# ---------------------------------------------------------------------------------------
# Hand-built trees
# ---------------------------------------------------------------------------------------

# A balanced 5-class, 3-level tree:
#
#   root
#   ├── animal: cat, dog
#   └── vehicle: car, bus, bike
THREE_LEVEL_PARENTS = {
    "cat": "animal",
    "dog": "animal",
    "car": "vehicle",
    "bus": "vehicle",
    "bike": "vehicle",
    "animal": "root",
    "vehicle": "root",
}
THREE_LEVEL_CLASSES = ("cat", "dog", "car", "bus", "bike")

# An unbalanced 6-class tree where LCA heights differ from (max depth - LCA depth):
#
#   root                      depth 0, height 4
#   ├── x                     depth 1, height 1   (max depth - depth would say 3)
#   │   ├── a                 depth 2
#   │   └── b                 depth 2
#   └── y                     depth 1, height 3
#       ├── c                 depth 2
#       └── z                 depth 2, height 2
#           ├── d             depth 3
#           └── w             depth 3, height 1
#               ├── e         depth 4
#               └── f         depth 4
UNBALANCED_PARENTS = {
    "a": "x",
    "b": "x",
    "c": "y",
    "d": "z",
    "e": "w",
    "f": "w",
    "x": "root",
    "y": "root",
    "z": "y",
    "w": "z",
}
UNBALANCED_CLASSES = ("a", "b", "c", "d", "e", "f")


@pytest.fixture
def three_level() -> Hierarchy:
    return Hierarchy.from_parents(THREE_LEVEL_CLASSES, THREE_LEVEL_PARENTS)


@pytest.fixture
def unbalanced() -> Hierarchy:
    return Hierarchy.from_parents(UNBALANCED_CLASSES, UNBALANCED_PARENTS)


# ---------------------------------------------------------------------------------------
# Hierarchy: construction and layout
# ---------------------------------------------------------------------------------------


class TestHierarchyLayout:
    def test_three_level_nodes_classes_first_then_breadth_first(self, three_level):
        assert three_level.classes == THREE_LEVEL_CLASSES
        assert three_level.nodes == (*THREE_LEVEL_CLASSES, "root", "animal", "vehicle")
        assert three_level.parents == (6, 6, 7, 7, 7, -1, 5, 5)
        assert three_level.num_classes == 5
        assert three_level.num_nodes == 8
        assert three_level.root == "root"
        assert three_level.root_index == 5
        assert three_level.kind == "hierarchy"

    def test_unbalanced_layout(self, unbalanced):
        assert unbalanced.nodes == (*UNBALANCED_CLASSES, "root", "x", "y", "z", "w")
        assert unbalanced.parents == (7, 7, 8, 9, 10, 10, -1, 6, 6, 8, 9)
        assert unbalanced.root == "root"

    def test_index(self, unbalanced):
        assert unbalanced.index("a") == 0
        assert unbalanced.index("f") == 5
        assert unbalanced.index("root") == 6
        assert unbalanced.index("w") == 10

    def test_index_unknown_name_suggests(self, three_level):
        with pytest.raises(StructureError, match=r"no node named 'animl'.*did you mean 'animal'"):
            three_level.index("animl")

    def test_parent(self, unbalanced):
        assert unbalanced.parent("a") == "x"
        assert unbalanced.parent("e") == "w"
        assert unbalanced.parent("w") == "z"
        assert unbalanced.parent("x") == "root"
        assert unbalanced.parent("root") is None

    def test_children(self, unbalanced):
        assert unbalanced.children("root") == ("x", "y")
        assert unbalanced.children("x") == ("a", "b")
        assert unbalanced.children("y") == ("c", "z")
        assert unbalanced.children("z") == ("d", "w")
        assert unbalanced.children("w") == ("e", "f")
        assert unbalanced.children("a") == ()

    def test_path(self, unbalanced):
        assert unbalanced.path("root") == ("root",)
        assert unbalanced.path("a") == ("root", "x", "a")
        assert unbalanced.path("c") == ("root", "y", "c")
        assert unbalanced.path("e") == ("root", "y", "z", "w", "e")
        assert unbalanced.path("w") == ("root", "y", "z", "w")

    def test_path_unknown_node(self, unbalanced):
        with pytest.raises(StructureError, match="no node named 'nope'"):
            unbalanced.path("nope")

    def test_depths(self, unbalanced):
        # nodes: a b c d e f root x y z w
        np.testing.assert_array_equal(unbalanced.depths, [2, 2, 2, 3, 4, 4, 0, 1, 1, 2, 3])

    def test_heights(self, unbalanced):
        # nodes: a b c d e f root x y z w
        np.testing.assert_array_equal(unbalanced.heights, [0, 0, 0, 0, 0, 0, 4, 1, 3, 2, 1])
        # x is shallow and low: its height (1) is not max_depth - depth (3)
        x = unbalanced.index("x")
        assert unbalanced.heights[x] != unbalanced.depths.max() - unbalanced.depths[x]

    def test_three_level_depths_heights(self, three_level):
        np.testing.assert_array_equal(three_level.depths, [2, 2, 2, 2, 2, 0, 1, 1])
        np.testing.assert_array_equal(three_level.heights, [0, 0, 0, 0, 0, 2, 1, 1])

    def test_unary_chain_is_allowed(self):
        h = Hierarchy.from_parents(["a", "b"], {"a": "m", "m": "r", "b": "r"})
        assert h.nodes == ("a", "b", "r", "m")
        np.testing.assert_array_equal(h.depths, [2, 1, 0, 1])
        np.testing.assert_array_equal(h.heights, [0, 0, 2, 1])
        np.testing.assert_array_equal(h.distance_matrix(), [[0, 3], [3, 0]])

    def test_classes_none_takes_leaves_in_order_of_appearance(self):
        h = Hierarchy.from_parents(None, {"m": "r", "q": "m", "p": "r", "o": "m"})
        assert h.classes == ("q", "p", "o")

    def test_explicit_classes_reorder_labels(self):
        h = Hierarchy.from_parents(["bike", "cat", "bus", "dog", "car"], THREE_LEVEL_PARENTS)
        assert h.classes == ("bike", "cat", "bus", "dog", "car")
        assert h.nodes[:5] == h.classes
        np.testing.assert_array_equal(
            h.distance_matrix(), _table("0 4 2 4 2; 4 0 4 2 4; 2 4 0 4 2; 4 2 4 0 4; 2 4 2 4 0")
        )

    def test_flat(self):
        h = Hierarchy.flat(["a", "b", "c"])
        assert h.nodes == ("a", "b", "c", "root")
        assert h.parents == (3, 3, 3, -1)
        assert h.to_parents() == {"a": "root", "b": "root", "c": "root"}
        np.testing.assert_array_equal(h.distance_matrix(), [[0, 2, 2], [2, 0, 2], [2, 2, 0]])

    def test_flat_custom_root(self):
        h = Hierarchy.flat(["a", "b"], root="top")
        assert h.root == "top"
        assert h.parent("a") == "top"

    def test_flat_root_clashing_with_class(self):
        with pytest.raises(
            StructureError, match=r"'root' \(parent of 'root'\)|cycle: root -> root"
        ):
            Hierarchy.flat(["a", "root"])

    def test_equality_and_hash(self, three_level):
        again = Hierarchy.from_parents(THREE_LEVEL_CLASSES, dict(THREE_LEVEL_PARENTS))
        assert again == three_level
        assert hash(again) == hash(three_level)
        reordered = Hierarchy.from_parents(list(reversed(THREE_LEVEL_CLASSES)), THREE_LEVEL_PARENTS)
        assert reordered != three_level

    def test_is_frozen(self, three_level):
        with pytest.raises(AttributeError):
            three_level.classes = ("x",)  # type: ignore[misc]

    def test_direct_construction_consistent(self, three_level):
        again = Hierarchy(
            classes=three_level.classes, nodes=three_level.nodes, parents=three_level.parents
        )
        assert again == three_level

    def test_direct_construction_classes_not_first(self):
        with pytest.raises(StructureError, match="inconsistent"):
            Hierarchy(classes=("a", "b"), nodes=("r", "a", "b"), parents=(-1, 0, 0))

    def test_direct_construction_wrong_parent_count(self):
        with pytest.raises(StructureError, match="inconsistent"):
            Hierarchy(classes=("a", "b"), nodes=("a", "b", "r"), parents=(2, 2))

    def test_direct_construction_root_not_after_classes(self):
        # a valid tree, but the root is not the first internal node: root_index would
        # name 'x' as the root and every depth would be wrong
        with pytest.raises(StructureError, match="inconsistent"):
            Hierarchy(classes=("a", "b"), nodes=("a", "b", "x", "r"), parents=(2, 2, 3, -1))

    def test_direct_construction_invalid_tree(self):
        with pytest.raises(StructureError, match="cycle"):
            Hierarchy(classes=("a",), nodes=("a", "x", "y"), parents=(1, 2, 1))


# ---------------------------------------------------------------------------------------
# Hierarchy: matrices and pairwise queries
# ---------------------------------------------------------------------------------------


def _table(rows: str) -> list[list[int]]:
    """A matrix written row by row: numbers apart by spaces, rows by semicolons."""
    return [[int(v) for v in row.split()] for row in rows.split(";")]


UNBALANCED_DISTANCES = _table(
    "0 2 4 5 6 6; 2 0 4 5 6 6; 4 4 0 3 4 4; 5 5 3 0 3 3; 6 6 4 3 0 2; 6 6 4 3 2 0"
)
UNBALANCED_LCA_HEIGHTS = _table(
    "0 1 4 4 4 4; 1 0 4 4 4 4; 4 4 0 3 3 3; 4 4 3 0 2 2; 4 4 3 2 0 1; 4 4 3 2 1 0"
)
# node indices: a0 b1 c2 d3 e4 f5 root6 x7 y8 z9 w10
UNBALANCED_LCAS = _table(
    "0 7 6 6 6 6; 7 1 6 6 6 6; 6 6 2 8 8 8; 6 6 8 3 9 9; 6 6 8 9 4 10; 6 6 8 9 10 5"
)


class TestHierarchyMatrices:
    def test_three_level_distance_matrix(self, three_level):
        np.testing.assert_array_equal(
            three_level.distance_matrix(),
            [
                [0, 2, 4, 4, 4],
                [2, 0, 4, 4, 4],
                [4, 4, 0, 2, 2],
                [4, 4, 2, 0, 2],
                [4, 4, 2, 2, 0],
            ],
        )

    def test_three_level_path_matrix(self, three_level):
        # columns: cat dog car bus bike root animal vehicle
        expected = [
            [1, 0, 0, 0, 0, 1, 1, 0],
            [0, 1, 0, 0, 0, 1, 1, 0],
            [0, 0, 1, 0, 0, 1, 0, 1],
            [0, 0, 0, 1, 0, 1, 0, 1],
            [0, 0, 0, 0, 1, 1, 0, 1],
        ]
        pm = three_level.path_matrix()
        assert pm.dtype == np.float32
        assert pm.shape == (5, 8)
        np.testing.assert_array_equal(pm, expected)
        pm64 = three_level.path_matrix(dtype=np.float64)
        assert pm64.dtype == np.float64
        np.testing.assert_array_equal(pm64, expected)

    def test_unbalanced_path_matrix(self, unbalanced):
        # columns: a b c d e f root x y z w
        expected = [
            [1, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0],
            [0, 1, 0, 0, 0, 0, 1, 1, 0, 0, 0],
            [0, 0, 1, 0, 0, 0, 1, 0, 1, 0, 0],
            [0, 0, 0, 1, 0, 0, 1, 0, 1, 1, 0],
            [0, 0, 0, 0, 1, 0, 1, 0, 1, 1, 1],
            [0, 0, 0, 0, 0, 1, 1, 0, 1, 1, 1],
        ]
        np.testing.assert_array_equal(unbalanced.path_matrix(dtype=bool), np.array(expected, bool))

    def test_path_matrix_is_a_copy(self, three_level):
        pm = three_level.path_matrix()
        pm[:] = 7
        np.testing.assert_array_equal(three_level.path_matrix()[0], [1, 0, 0, 0, 0, 1, 1, 0])

    def test_unbalanced_distance_matrix(self, unbalanced):
        np.testing.assert_array_equal(unbalanced.distance_matrix(), UNBALANCED_DISTANCES)

    def test_unbalanced_lca_matrix(self, unbalanced):
        np.testing.assert_array_equal(unbalanced.lca_matrix(), UNBALANCED_LCAS)

    def test_unbalanced_lca_height_matrix(self, unbalanced):
        np.testing.assert_array_equal(unbalanced.lca_height_matrix(), UNBALANCED_LCA_HEIGHTS)
        # depth-based heights (max depth - LCA depth) differ, e.g. for the pair (a, b)
        depth_based = unbalanced.depths.max() - unbalanced.depths[unbalanced.lca_matrix()]
        assert depth_based[0, 1] == 3
        assert unbalanced.lca_height_matrix()[0, 1] == 1

    @pytest.mark.parametrize(
        ("a", "b", "lca", "height", "distance"),
        [
            ("a", "b", "x", 1, 2),
            ("a", "c", "root", 4, 4),
            ("b", "f", "root", 4, 6),
            ("c", "d", "y", 3, 3),
            ("d", "e", "z", 2, 3),
            ("e", "f", "w", 1, 2),
            ("e", "e", "e", 0, 0),
            # internal nodes too
            ("x", "w", "root", 4, 4),
            ("z", "e", "z", 2, 2),
            ("root", "f", "root", 4, 4),
            ("w", "w", "w", 1, 0),
        ],
    )
    def test_pairwise_queries(self, unbalanced, a, b, lca, height, distance):
        assert unbalanced.lca(a, b) == lca
        assert unbalanced.lca(b, a) == lca
        assert unbalanced.lca_height(a, b) == height
        assert isinstance(unbalanced.lca_height(a, b), int)
        assert unbalanced.distance(a, b) == distance
        assert unbalanced.distance(b, a) == distance
        assert isinstance(unbalanced.distance(a, b), int)

    def test_lca_unknown_node(self, unbalanced):
        with pytest.raises(StructureError, match="no node named 'q'"):
            unbalanced.lca("a", "q")

    def test_single_class(self):
        h = Hierarchy.flat(["only"])
        np.testing.assert_array_equal(h.distance_matrix(), [[0]])
        np.testing.assert_array_equal(h.lca_matrix(), [[0]])
        np.testing.assert_array_equal(h.lca_height_matrix(), [[0]])
        np.testing.assert_array_equal(h.to_similarity().matrix, [[1.0]])


# ---------------------------------------------------------------------------------------
# Hierarchy -> Similarity
# ---------------------------------------------------------------------------------------


class TestHierarchyToSimilarity:
    def test_wu_palmer_three_level(self, three_level):
        sim = three_level.to_similarity("wu-palmer")
        assert isinstance(sim, Similarity)
        assert sim.classes == THREE_LEVEL_CLASSES
        np.testing.assert_allclose(
            sim.matrix,
            [
                [1.0, 0.5, 0.0, 0.0, 0.0],
                [0.5, 1.0, 0.0, 0.0, 0.0],
                [0.0, 0.0, 1.0, 0.5, 0.5],
                [0.0, 0.0, 0.5, 1.0, 0.5],
                [0.0, 0.0, 0.5, 0.5, 1.0],
            ],
        )

    def test_wu_palmer_is_default(self, unbalanced):
        assert unbalanced.to_similarity() == unbalanced.to_similarity("exponential", 0.5)

    def test_wu_palmer_unbalanced(self, unbalanced):
        # 2 depth(lca) / (depth_i + depth_j); depths a2 b2 c2 d3 e4 f4
        expected = [
            [1, 2 / 4, 0, 0, 0, 0],
            [2 / 4, 1, 0, 0, 0, 0],
            [0, 0, 1, 2 / 5, 2 / 6, 2 / 6],
            [0, 0, 2 / 5, 1, 4 / 7, 4 / 7],
            [0, 0, 2 / 6, 4 / 7, 1, 6 / 8],
            [0, 0, 2 / 6, 4 / 7, 6 / 8, 1],
        ]
        np.testing.assert_allclose(unbalanced.to_similarity("wu-palmer").matrix, expected)

    def test_exponential_three_level(self, three_level):
        sim = three_level.to_similarity("exponential", decay=0.5)
        np.testing.assert_allclose(
            sim.matrix,
            [
                [1.0, 0.25, 0.0625, 0.0625, 0.0625],
                [0.25, 1.0, 0.0625, 0.0625, 0.0625],
                [0.0625, 0.0625, 1.0, 0.25, 0.25],
                [0.0625, 0.0625, 0.25, 1.0, 0.25],
                [0.0625, 0.0625, 0.25, 0.25, 1.0],
            ],
        )

    def test_exponential_default_decay_is_half(self, unbalanced):
        sim = unbalanced.to_similarity("exponential")
        np.testing.assert_allclose(sim.matrix, 0.5 ** np.array(UNBALANCED_DISTANCES, float))

    def test_exponential_decay_zero_is_identity(self, unbalanced):
        sim = unbalanced.to_similarity("exponential", decay=0)
        np.testing.assert_array_equal(sim.matrix, np.eye(6))

    def test_exponential_decay_one_is_all_ones(self, unbalanced):
        sim = unbalanced.to_similarity("exponential", decay=1.0)
        np.testing.assert_array_equal(sim.matrix, np.ones((6, 6)))

    def test_flat_wu_palmer_is_identity(self):
        sim = Hierarchy.flat(["a", "b", "c", "d"]).to_similarity("wu-palmer")
        assert sim == Similarity.identity(["a", "b", "c", "d"])

    def test_unknown_rule_suggests(self, three_level):
        with pytest.raises(
            StructureError,
            match=r"unknown hierarchy-to-similarity rule 'wu_palmer'.*did you mean 'wu-palmer'",
        ):
            three_level.to_similarity("wu_palmer")

    def test_unknown_rule_lists_choices(self, three_level):
        with pytest.raises(StructureError, match=r"'cosine'.*exponential, wu-palmer"):
            three_level.to_similarity("cosine")

    @pytest.mark.parametrize("decay", [-0.1, 1.5, float("nan"), float("inf")])
    def test_decay_out_of_range(self, three_level, decay):
        with pytest.raises(StructureError, match=rf"decay must be in \[0, 1\], got {decay!r}"):
            three_level.to_similarity("exponential", decay=decay)


# ---------------------------------------------------------------------------------------
# Hierarchy: validation errors
# ---------------------------------------------------------------------------------------


class TestHierarchyValidation:
    def test_cycle(self):
        with pytest.raises(StructureError, match=r"cycle: .*x -> .*y"):
            Hierarchy.from_parents(["a"], {"a": "x", "x": "y", "y": "x"})

    def test_cycle_message_is_closed(self):
        with pytest.raises(StructureError, match=r"cycle: (x -> y -> x|y -> x -> y)"):
            Hierarchy.from_parents(["a"], {"a": "x", "x": "y", "y": "x"})

    def test_self_parent(self):
        with pytest.raises(StructureError, match="cycle: m -> m"):
            Hierarchy.from_parents(["a"], {"a": "m", "m": "m"})

    def test_self_parent_class(self):
        with pytest.raises(StructureError, match="cycle: a -> a"):
            Hierarchy.from_parents(["a"], {"a": "a"})

    def test_cycle_disconnected_from_root(self):
        # the tree a, b under r is fine; p <-> q float beside it
        with pytest.raises(StructureError, match=r"cycle: (p -> q -> p|q -> p -> q)"):
            Hierarchy.from_parents(["a", "b"], {"a": "r", "b": "r", "p": "q", "q": "p"})

    def test_long_cycle_names_every_node(self):
        parents = {"a": "n1", "n1": "n2", "n2": "n3", "n3": "n1"}
        with pytest.raises(StructureError, match="cycle") as info:
            Hierarchy.from_parents(["a"], parents)
        for node in ("n1", "n2", "n3"):
            assert node in str(info.value)
        assert "a ->" not in str(info.value)  # 'a' leads into the cycle but is not on it

    def test_no_root(self):
        # every node has a parent, so there is no root (and necessarily a cycle)
        with pytest.raises(StructureError, match=r"cycle: (x -> y -> x|y -> x -> y)"):
            Hierarchy.from_parents(["a", "b"], {"a": "x", "b": "y", "x": "y", "y": "x"})

    def test_several_roots(self):
        with pytest.raises(StructureError, match=r"exactly one root.*found 'r1', 'r2'"):
            Hierarchy.from_parents(["a", "b"], {"a": "r1", "b": "r2"})

    def test_three_roots(self):
        with pytest.raises(StructureError, match="found 'p', 'q', 's'"):
            Hierarchy.from_parents(["a", "b", "c"], {"a": "q", "b": "p", "c": "s"})

    def test_empty_parents(self):
        with pytest.raises(StructureError, match=r"exactly one root.*found none"):
            Hierarchy.from_parents(["a"], {})

    def test_class_missing_with_suggestion(self):
        with pytest.raises(
            StructureError,
            match=r"classes missing from the hierarchy: 'dgo'; did you mean 'dog'\?",
        ):
            Hierarchy.from_parents(["cat", "dgo"], {"cat": "r", "dog": "r"})

    def test_class_missing_without_suggestion(self):
        with pytest.raises(StructureError, match="missing from the hierarchy: 'zebra'") as info:
            Hierarchy.from_parents(["cat", "dog", "zebra"], {"cat": "r", "dog": "r"})
        assert "did you mean" not in str(info.value)

    def test_several_classes_missing(self):
        with pytest.raises(StructureError, match=r"'cta'; did you mean 'cat'.*'zzz'"):
            Hierarchy.from_parents(["cta", "zzz"], {"cat": "r", "dog": "r"})

    def test_class_is_internal_node(self):
        with pytest.raises(
            StructureError, match=r"classes must be leaves.*'animal' \(parent of 'cat'\)"
        ):
            Hierarchy.from_parents(
                ["cat", "dog", "animal"], {"cat": "animal", "dog": "r", "animal": "r"}
            )

    def test_class_is_root(self):
        with pytest.raises(StructureError, match=r"'r' \(parent of 'a'\)"):
            Hierarchy.from_parents(["a", "r"], {"a": "r"})

    def test_leaf_not_a_class(self):
        with pytest.raises(StructureError, match="leaves that are not classes: 'dog'"):
            Hierarchy.from_parents(["cat"], {"cat": "r", "dog": "r"})

    def test_several_leaves_not_classes(self):
        with pytest.raises(StructureError, match="not classes: 'bus', 'car'"):
            Hierarchy.from_parents(["cat", "dog", "bike"], THREE_LEVEL_PARENTS)

    def test_duplicate_class(self):
        with pytest.raises(StructureError, match="duplicate class names in classes: 'a'"):
            Hierarchy.from_parents(["a", "b", "a"], {"a": "r", "b": "r"})

    def test_empty_class_list(self):
        with pytest.raises(StructureError, match="classes is empty"):
            Hierarchy.from_parents([], {"a": "r"})

    def test_single_string_as_classes(self):
        with pytest.raises(StructureError, match="single string 'ab'"):
            Hierarchy.from_parents("ab", {"a": "r", "b": "r"})

    def test_flat_single_string(self):
        with pytest.raises(StructureError, match="single string 'abc'"):
            Hierarchy.flat("abc")

    def test_parents_not_a_mapping(self):
        with pytest.raises(StructureError, match=r"parents must be a mapping.*got list"):
            Hierarchy.from_parents(["a"], [("a", "r")])  # type: ignore[arg-type]

    @pytest.mark.parametrize(
        ("parents", "culprit"),
        [
            ({"a": ""}, "'a': ''"),
            ({"a": 3}, "'a': 3"),
            ({"": "r"}, "'': 'r'"),
            ({7: "r"}, "7: 'r'"),
        ],
    )
    def test_parent_entries_must_be_strings(self, parents, culprit):
        with pytest.raises(StructureError, match=re.escape(culprit)):
            Hierarchy.from_parents(["a"], parents)

    def test_errors_are_structloss_and_value_errors(self):
        with pytest.raises(StructlossError):
            Hierarchy.from_parents(["a"], {"a": "a"})
        with pytest.raises(ValueError):
            Hierarchy.from_parents(["a"], {"a": "a"})


# ---------------------------------------------------------------------------------------
# Hierarchy: JSON and pickle
# ---------------------------------------------------------------------------------------


class TestHierarchySerialisation:
    def test_to_parents(self, unbalanced):
        assert unbalanced.to_parents() == UNBALANCED_PARENTS
        # ordered like nodes: classes first
        assert list(unbalanced.to_parents())[:6] == list(UNBALANCED_CLASSES)

    def test_to_nested(self, three_level):
        assert three_level.to_nested() == {
            "name": "root",
            "children": [
                {"name": "animal", "children": [{"name": "cat"}, {"name": "dog"}]},
                {
                    "name": "vehicle",
                    "children": [{"name": "car"}, {"name": "bus"}, {"name": "bike"}],
                },
            ],
        }

    @pytest.mark.parametrize("nested", [False, True])
    def test_json_text_round_trip(self, unbalanced, nested):
        text = unbalanced.to_json(nested=nested)
        data = json.loads(text)
        assert data["classes"] == list(UNBALANCED_CLASSES)
        assert ("name" in data) is nested
        assert ("parents" in data) is not nested
        again = Hierarchy.from_json(text)
        assert again == unbalanced
        np.testing.assert_array_equal(again.distance_matrix(), UNBALANCED_DISTANCES)

    @pytest.mark.parametrize("nested", [False, True])
    def test_json_compact_round_trip(self, three_level, nested):
        text = three_level.to_json(nested=nested, indent=None)
        assert "\n" not in text
        assert Hierarchy.from_json(text) == three_level

    @pytest.mark.parametrize("nested", [False, True])
    @pytest.mark.parametrize("as_str", [False, True])
    def test_json_file_round_trip(self, tmp_path, unbalanced, nested, as_str):
        path = tmp_path / "tree.json"
        path.write_text(unbalanced.to_json(nested=nested), encoding="utf-8")
        source = str(path) if as_str else path
        assert Hierarchy.from_json(source) == unbalanced

    def test_json_text_with_leading_whitespace(self, three_level):
        assert Hierarchy.from_json("\n  " + three_level.to_json()) == three_level

    def test_from_json_parents_form_without_classes(self):
        h = Hierarchy.from_json('{"parents": {"b": "m", "a": "m", "m": "r", "c": "r"}}')
        assert h.classes == ("b", "a", "c")
        assert h.nodes == ("b", "a", "c", "r", "m")

    def test_from_json_nested_form_without_classes(self):
        text = json.dumps(
            {
                "name": "r",
                "children": [
                    {"name": "m", "children": [{"name": "b"}, {"name": "a"}]},
                    {"name": "c", "children": []},
                ],
            }
        )
        h = Hierarchy.from_json(text)
        assert h.classes == ("b", "a", "c")  # document order
        assert h.to_parents() == {"b": "m", "a": "m", "c": "r", "m": "r"}

    def test_classes_in_document_fix_order(self):
        text = json.dumps({"classes": ["c", "a", "b"], "parents": {"a": "r", "b": "r", "c": "r"}})
        assert Hierarchy.from_json(text).classes == ("c", "a", "b")

    @pytest.mark.parametrize("nested", [False, True])
    def test_explicit_classes_override_document(self, three_level, nested):
        order = ["bus", "dog", "bike", "cat", "car"]
        h = Hierarchy.from_json(three_level.to_json(nested=nested), classes=order)
        assert h.classes == tuple(order)
        assert h.to_parents() == THREE_LEVEL_PARENTS
        np.testing.assert_array_equal(
            h.distance_matrix(), _table("0 4 2 4 2; 4 0 4 2 4; 2 4 0 4 2; 4 2 4 0 4; 2 4 2 4 0")
        )

    def test_from_dict(self):
        h = Hierarchy.from_dict({"parents": THREE_LEVEL_PARENTS}, classes=THREE_LEVEL_CLASSES)
        assert h == Hierarchy.from_parents(THREE_LEVEL_CLASSES, THREE_LEVEL_PARENTS)

    def test_from_dict_not_a_mapping(self):
        with pytest.raises(StructureError, match="must be a JSON object, got list"):
            Hierarchy.from_dict([1, 2])  # type: ignore[arg-type]

    def test_from_json_list_document(self):
        with pytest.raises(StructureError, match="must be a JSON object, got list"):
            Hierarchy.from_json('["a", "b"]')

    def test_json_without_parents_or_name(self):
        with pytest.raises(
            StructureError,
            match=r"needs a 'parents' map or a nested tree.*found keys: classes, tree",
        ):
            Hierarchy.from_json('{"tree": {}, "classes": ["a"]}')

    def test_json_empty_object(self):
        with pytest.raises(StructureError, match="'parents' map or a nested tree"):
            Hierarchy.from_json("{}")

    def test_missing_file(self, tmp_path):
        missing = tmp_path / "nope.json"
        with pytest.raises(StructureError, match=r"hierarchy file not found: .*nope\.json"):
            Hierarchy.from_json(missing)
        with pytest.raises(StructureError, match=r"hierarchy file not found: .*nope\.json"):
            Hierarchy.from_json(str(missing))

    def test_unreadable_path(self, tmp_path):
        with pytest.raises(StructureError, match=r"cannot read hierarchy file"):
            Hierarchy.from_json(tmp_path)

    def test_invalid_json_text(self):
        with pytest.raises(StructureError, match="invalid JSON in hierarchy text"):
            Hierarchy.from_json('{"parents": {"a": "r",}}')

    @pytest.mark.parametrize("as_str", [False, True])
    def test_invalid_json_file(self, tmp_path, as_str):
        path = tmp_path / "broken.json"
        path.write_text('{"parents": ', encoding="utf-8")
        source = str(path) if as_str else path
        with pytest.raises(StructureError, match=r"invalid JSON in hierarchy file .*broken\.json"):
            Hierarchy.from_json(source)

    def test_explicit_classes_subset_of_leaves(self, three_level):
        with pytest.raises(StructureError, match="leaves that are not classes: 'bike'"):
            Hierarchy.from_json(three_level.to_json(), classes=["cat", "dog", "car", "bus"])

    def test_explicit_classes_superset_of_leaves(self, three_level):
        with pytest.raises(StructureError, match="missing from the hierarchy: 'cow'"):
            Hierarchy.from_json(
                three_level.to_json(nested=True), classes=[*THREE_LEVEL_CLASSES, "cow"]
            )

    def test_document_classes_differ_from_leaves(self):
        text = json.dumps({"classes": ["a"], "parents": {"a": "r", "b": "r"}})
        with pytest.raises(StructureError, match="leaves that are not classes: 'b'"):
            Hierarchy.from_json(text)

    def test_nested_duplicate_node(self):
        tree = {
            "name": "r",
            "children": [{"name": "a"}, {"name": "m", "children": [{"name": "a"}]}],
        }
        with pytest.raises(StructureError, match="node 'a' appears twice"):
            Hierarchy.from_dict(tree)

    def test_nested_node_without_name(self):
        tree = {"name": "r", "children": [{"name": "a"}, {"label": "b"}]}
        with pytest.raises(StructureError, match=r"needs a string \"name\": \{'label': 'b'\}"):
            Hierarchy.from_dict(tree)

    def test_nested_cycle_through_root_name(self):
        tree = {"name": "r", "children": [{"name": "m", "children": [{"name": "r"}]}]}
        with pytest.raises(StructureError, match="cycle"):
            Hierarchy.from_dict(tree)

    def test_pickle_round_trip(self, unbalanced):
        # touch cached properties first so they are (or are not) part of the state
        _ = unbalanced.depths, unbalanced.heights, unbalanced.lca_matrix()
        again = pickle.loads(pickle.dumps(unbalanced))
        assert again == unbalanced
        np.testing.assert_array_equal(again.distance_matrix(), UNBALANCED_DISTANCES)
        np.testing.assert_array_equal(again.lca_height_matrix(), UNBALANCED_LCA_HEIGHTS)
        assert not again.depths.flags.writeable
        assert not again.heights.flags.writeable

    def test_pickle_fresh(self, three_level):
        again = pickle.loads(pickle.dumps(three_level))
        assert again == three_level
        np.testing.assert_array_equal(again.depths, three_level.depths)


# ---------------------------------------------------------------------------------------
# Read-only arrays
# ---------------------------------------------------------------------------------------


class TestReadOnly:
    def test_depths_heights_read_only(self, unbalanced):
        for array in (unbalanced.depths, unbalanced.heights):
            assert not array.flags.writeable
            with pytest.raises(ValueError, match="read-only"):
                array[0] = 99

    def test_similarity_matrix_read_only(self, three_level):
        sim = three_level.to_similarity()
        assert not sim.matrix.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            sim.matrix[0, 1] = 0.9

    def test_similarity_copies_input(self):
        source = np.eye(2)
        sim = Similarity.from_matrix(["a", "b"], source)
        source[0, 1] = 0.5
        assert sim.matrix[0, 1] == 0.0
        assert source.flags.writeable  # the caller's array is left alone

    def test_embedding_matrix_read_only(self):
        emb = LabelEmbedding.from_matrix(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
        assert not emb.matrix.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            emb.matrix[0, 0] = 2.0

    def test_read_only_after_pickle(self):
        sim = Similarity.from_matrix(["a", "b"], [[1.0, 0.3], [0.2, 1.0]])
        emb = LabelEmbedding.from_matrix(["a", "b"], [[1.0, 0.0], [0.0, 1.0]])
        for structure in (sim, emb):
            again = pickle.loads(pickle.dumps(structure))
            assert again == structure
            assert not again.matrix.flags.writeable


# ---------------------------------------------------------------------------------------
# Similarity
# ---------------------------------------------------------------------------------------


class TestSimilarity:
    def test_from_matrix(self):
        sim = Similarity.from_matrix(["a", "b"], [[1, 0.25], [0.75, 1]])
        assert sim.kind == "similarity"
        assert sim.classes == ("a", "b")
        assert sim.num_classes == 2
        assert sim.matrix.dtype == np.float64
        np.testing.assert_array_equal(sim.matrix, [[1.0, 0.25], [0.75, 1.0]])  # asymmetric ok

    def test_identity(self):
        sim = Similarity.identity(["a", "b", "c"])
        np.testing.assert_array_equal(sim.matrix, np.eye(3))
        assert sim.classes == ("a", "b", "c")

    def test_boundaries_allowed(self):
        sim = Similarity.from_matrix(["a", "b"], [[1.0, 0.0], [1.0, 1.0]])
        assert sim.matrix.min() == 0.0

    def test_equality(self):
        a = Similarity.from_matrix(["a", "b"], [[1, 0.5], [0.5, 1]])
        assert a == Similarity.from_matrix(("a", "b"), np.array([[1, 0.5], [0.5, 1]]))
        assert a != Similarity.from_matrix(["a", "b"], [[1, 0.4], [0.5, 1]])
        assert a != Similarity.from_matrix(["b", "a"], [[1, 0.5], [0.5, 1]])
        assert a != Similarity.identity(["a", "b"])
        assert (a == "not a similarity") is False
        assert a != LabelEmbedding.from_matrix(["a", "b"], [[1, 0.5], [0.5, 1]])

    def test_unhashable(self):
        with pytest.raises(TypeError):
            hash(Similarity.identity(["a"]))

    def test_pickle_round_trip(self):
        sim = Similarity.from_matrix(["a", "b", "c"], [[1, 0.1, 0.2], [0.3, 1, 0.4], [0, 0, 1]])
        assert pickle.loads(pickle.dumps(sim)) == sim

    @pytest.mark.parametrize(
        ("matrix", "shape"),
        [
            (np.eye(2), r"\(2, 2\)"),
            (np.eye(4), r"\(4, 4\)"),
            (np.ones((3, 2)), r"\(3, 2\)"),
        ],
    )
    def test_wrong_size(self, matrix, shape):
        with pytest.raises(
            StructureError, match=rf"must be 3 x 3 for 3 classes, got shape {shape}"
        ):
            Similarity.from_matrix(["a", "b", "c"], matrix)

    def test_not_two_dimensional(self):
        with pytest.raises(
            StructureError, match=r"similarity matrix must be 2-D, got shape \(3,\)"
        ):
            Similarity.from_matrix(["a", "b", "c"], [1.0, 1.0, 1.0])

    def test_not_numeric(self):
        with pytest.raises(StructureError, match="similarity matrix must be a numeric matrix"):
            Similarity.from_matrix(["a", "b"], [["x", "y"], ["z", "w"]])

    def test_ragged(self):
        with pytest.raises(StructureError, match="similarity matrix must be a numeric matrix"):
            Similarity.from_matrix(["a", "b"], [[1.0], [0.0, 1.0]])

    @pytest.mark.parametrize(
        ("value", "shown"), [(-0.25, "from -0.25 to 1"), (1.5, "from 0 to 1.5")]
    )
    def test_values_outside_unit_interval(self, value, shown):
        with pytest.raises(StructureError, match=rf"must lie in \[0, 1\]; found values {shown}"):
            Similarity.from_matrix(["a", "b"], [[1.0, value], [0.0, 1.0]])

    def test_non_unit_diagonal(self):
        with pytest.raises(StructureError, match=r"itself must be 1.*differs for 'b'$"):
            Similarity.from_matrix(["a", "b"], [[1.0, 0.0], [0.0, 0.9]])

    def test_non_unit_diagonal_several(self):
        with pytest.raises(StructureError, match="differs for 'a', 'c'"):
            Similarity.from_matrix(["a", "b", "c"], np.diag([0.5, 1.0, 0.0]))

    @pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
    def test_non_finite(self, bad):
        matrix = np.eye(3)
        matrix[1, 2] = bad
        with pytest.raises(
            StructureError, match=r"similarity matrix has a non-finite value at \[1, 2\]"
        ):
            Similarity.from_matrix(["a", "b", "c"], matrix)

    def test_bad_classes(self):
        with pytest.raises(StructureError, match="duplicate class names in classes: 'a'"):
            Similarity.from_matrix(["a", "a"], np.eye(2))
        with pytest.raises(StructureError, match="single string 'ab'"):
            Similarity.from_matrix("ab", np.eye(2))
        with pytest.raises(StructureError, match="classes is empty"):
            Similarity.identity([])

    def test_convert_to_itself(self):
        sim = Similarity.identity(["a", "b"])
        assert sim.convert("similarity") is sim

    def test_convert_to_itself_with_options(self):
        with pytest.raises(
            IncompatibleStructureError, match=r"options \['rule'\] given.*similarity"
        ):
            Similarity.identity(["a"]).convert("similarity", rule="wu-palmer")

    def test_convert_to_hierarchy(self):
        with pytest.raises(
            IncompatibleStructureError, match="a similarity cannot be converted to a hierarchy"
        ):
            Similarity.identity(["a", "b"]).convert("hierarchy")

    def test_convert_to_embedding(self):
        with pytest.raises(
            IncompatibleStructureError, match="a similarity cannot be converted to an embedding"
        ):
            Similarity.identity(["a", "b"]).convert("embedding")


# ---------------------------------------------------------------------------------------
# LabelEmbedding
# ---------------------------------------------------------------------------------------

R = 1 / math.sqrt(2)  # cos 45°


class TestLabelEmbedding:
    MATRIX = ((1.0, 0.0), (1.0, 1.0), (0.0, 2.0), (-3.0, 0.0))
    CLASSES = ("a", "b", "c", "d")
    # cosines: a.b = R, a.c = 0, a.d = -1, b.c = R, b.d = -R, c.d = 0

    @pytest.fixture
    def emb(self) -> LabelEmbedding:
        return LabelEmbedding.from_matrix(self.CLASSES, self.MATRIX)

    def test_basic(self, emb):
        assert emb.kind == "embedding"
        assert emb.classes == self.CLASSES
        assert emb.num_classes == 4
        assert emb.dim == 2
        np.testing.assert_array_equal(emb.matrix, self.MATRIX)

    def test_normalized(self, emb):
        np.testing.assert_allclose(emb.normalized(), [[1, 0], [R, R], [0, 1], [-1, 0]])

    def test_similarity_default_bound_zero(self, emb):
        sim = emb.to_similarity()
        assert sim.classes == self.CLASSES
        np.testing.assert_allclose(
            sim.matrix,
            [
                [1, R, 0, 0],
                [R, 1, R, 0],
                [0, R, 1, 0],
                [0, 0, 0, 1],
            ],
        )

    def test_similarity_positive_bound(self, emb):
        # (R - 0.5) / 0.5 = 2R - 1
        s = 2 * R - 1
        np.testing.assert_allclose(
            emb.to_similarity(lower_bound=0.5).matrix,
            [
                [1, s, 0, 0],
                [s, 1, s, 0],
                [0, s, 1, 0],
                [0, 0, 0, 1],
            ],
        )

    def test_similarity_bound_minus_one(self, emb):
        # (cos + 1) / 2
        np.testing.assert_allclose(
            emb.to_similarity(lower_bound=-1).matrix,
            [
                [1, (R + 1) / 2, 0.5, 0],
                [(R + 1) / 2, 1, (R + 1) / 2, (1 - R) / 2],
                [0.5, (R + 1) / 2, 1, 0.5],
                [0, (1 - R) / 2, 0.5, 1],
            ],
        )

    def test_similarity_diagonal_is_exactly_one(self):
        # rows whose self-cosine is not exactly 1.0 in floating point
        emb = LabelEmbedding.from_matrix(["a", "b"], [[0.1, 0.2, 0.3], [1e-3, 7.0, -2.2]])
        sim = emb.to_similarity(0.3)
        assert np.all(np.diag(sim.matrix) == 1.0)

    def test_parallel_rows(self):
        emb = LabelEmbedding.from_matrix(["a", "b"], [[1.0, 2.0], [3.0, 6.0]])
        np.testing.assert_allclose(emb.to_similarity(0.9).matrix, np.ones((2, 2)))

    def test_convert(self, emb):
        assert emb.convert("similarity", lower_bound=0.5) == emb.to_similarity(0.5)
        assert emb.convert("similarity") == emb.to_similarity()
        assert emb.convert("embedding") is emb

    def test_convert_to_hierarchy(self, emb):
        with pytest.raises(
            IncompatibleStructureError, match=r"an embedding cannot be converted to a hierarchy"
        ):
            emb.convert("hierarchy")

    @pytest.mark.parametrize("bound", [1, 1.0, 1.5, -1.0001, float("nan"), float("inf")])
    def test_bad_lower_bound(self, emb, bound):
        with pytest.raises(
            StructureError, match=rf"lower_bound must be in \[-1, 1\), got {re.escape(repr(bound))}"
        ):
            emb.to_similarity(lower_bound=bound)

    def test_a_dense_similarity_over_the_limit_is_refused_with_the_sparse_form(
        self, emb, monkeypatch
    ):
        n = emb.num_classes
        monkeypatch.setattr(Hierarchy, "DENSE_LIMIT", 8 * n * n - 1)
        with pytest.raises(StructureError) as error:
            emb.to_similarity(lower_bound=0.5)
        assert_mentions(error.value, f"{n:,} classes", "GiB", "DENSE_LIMIT", "simloss-neighbours")
        monkeypatch.setattr(Hierarchy, "DENSE_LIMIT", 8 * n * n)  # exactly at the limit: built
        assert emb.to_similarity(lower_bound=0.5).matrix.shape == (n, n)

    def test_zero_row(self):
        with pytest.raises(StructureError, match=r"all-zero embedding.*: 'b'$"):
            LabelEmbedding.from_matrix(["a", "b", "c"], [[1, 0], [0, 0], [0, 1]])

    def test_several_zero_rows(self):
        with pytest.raises(StructureError, match=r"all-zero embedding.*'a', 'c'"):
            LabelEmbedding.from_matrix(["a", "b", "c"], [[0, 0], [1, 0], [0.0, -0.0]])

    @pytest.mark.parametrize("rows", [2, 4])
    def test_wrong_row_count(self, rows):
        with pytest.raises(
            StructureError, match=rf"must have 3 rows \(one per class\).*got shape \({rows}, 2\)"
        ):
            LabelEmbedding.from_matrix(["a", "b", "c"], np.ones((rows, 2)))

    def test_zero_columns(self):
        with pytest.raises(StructureError, match=r"at least one column, got shape \(2, 0\)"):
            LabelEmbedding.from_matrix(["a", "b"], np.ones((2, 0)))

    def test_not_two_dimensional(self):
        with pytest.raises(StructureError, match="embedding matrix must be 2-D"):
            LabelEmbedding.from_matrix(["a", "b"], [1.0, 2.0])

    @pytest.mark.parametrize("bad", [float("nan"), float("inf")])
    def test_non_finite(self, bad):
        with pytest.raises(
            StructureError, match=r"embedding matrix has a non-finite value at \[0, 1\]"
        ):
            LabelEmbedding.from_matrix(["a", "b"], [[1.0, bad], [0.0, 1.0]])

    def test_equality(self, emb):
        assert emb == LabelEmbedding.from_matrix(list(self.CLASSES), np.array(self.MATRIX))
        assert emb != LabelEmbedding.from_matrix(self.CLASSES, np.array(self.MATRIX) * 2)

    def test_pickle_round_trip(self, emb):
        again = pickle.loads(pickle.dumps(emb))
        assert again == emb
        assert again.to_similarity(0.2) == emb.to_similarity(0.2)


# ---------------------------------------------------------------------------------------
# What Similarity and LabelEmbedding share (MatrixStructure)
# ---------------------------------------------------------------------------------------

EYE2 = ((1.0, 0.0), (0.0, 1.0))


@pytest.mark.parametrize("cls", [Similarity, LabelEmbedding])
class TestMatrixStructure:
    def test_from_matrix_returns_the_subclass(self, cls):
        built = cls.from_matrix(["a", "b"], EYE2)
        assert type(built) is cls
        assert isinstance(built, MatrixStructure)
        assert isinstance(built, LabelStructure)
        assert cls(classes=["a", "b"], matrix=EYE2) == built

    def test_matrix_is_a_read_only_float64_copy(self, cls):
        source = np.eye(2, dtype=np.float32)
        built = cls.from_matrix(["a", "b"], source)
        assert built.matrix.dtype == np.float64
        assert not built.matrix.flags.writeable
        source[0, 1] = 0.5
        assert built.matrix[0, 1] == 0.0

    def test_classes_are_checked(self, cls):
        with pytest.raises(StructureError, match="duplicate class names in classes: 'a'"):
            cls.from_matrix(["a", "a"], EYE2)

    def test_errors_name_the_kind(self, cls):
        with pytest.raises(StructureError, match=rf"^{cls.kind} matrix must be a numeric matrix"):
            cls.from_matrix(["a", "b"], [["x", "y"], ["z", "w"]])

    def test_equal_only_to_the_same_kind(self, cls):
        other = LabelEmbedding if cls is Similarity else Similarity
        built = cls.from_matrix(["a", "b"], EYE2)
        assert built != other.from_matrix(["a", "b"], EYE2)
        assert built != cls.from_matrix(["b", "a"], EYE2)
        assert built != "not a structure"

    def test_unhashable(self, cls):
        with pytest.raises(TypeError):
            hash(cls.from_matrix(["a", "b"], EYE2))

    def test_frozen(self, cls):
        built = cls.from_matrix(["a", "b"], EYE2)
        with pytest.raises(AttributeError):
            built.classes = ("x", "y")  # type: ignore[misc]

    def test_pickle_revalidates(self, cls):
        built = cls.from_matrix(["a", "b"], EYE2)
        again = pickle.loads(pickle.dumps(built))
        assert type(again) is cls
        assert again == built
        assert not again.matrix.flags.writeable

    def test_repr_names_the_subclass(self, cls):
        assert repr(cls.from_matrix(["a", "b"], EYE2)).startswith(f"{cls.__name__}(classes=")


def test_the_package_re_exports_its_modules_names():
    from structloss.structures import base, hierarchy, matrices

    assert Hierarchy is hierarchy.Hierarchy
    assert (Similarity, LabelEmbedding) == (matrices.Similarity, matrices.LabelEmbedding)
    assert (LabelStructure, check_classes) == (base.LabelStructure, base.check_classes)


# ---------------------------------------------------------------------------------------
# LabelStructure.convert on hierarchies
# ---------------------------------------------------------------------------------------


class TestConvert:
    def test_hierarchy_to_similarity(self, unbalanced):
        assert unbalanced.convert("similarity") == unbalanced.to_similarity()
        assert unbalanced.convert("similarity", rule="exponential", decay=0.25) == (
            unbalanced.to_similarity("exponential", decay=0.25)
        )

    def test_hierarchy_to_itself(self, unbalanced):
        assert unbalanced.convert("hierarchy") is unbalanced

    def test_hierarchy_to_itself_with_options(self, unbalanced):
        with pytest.raises(IncompatibleStructureError, match=r"\['decay', 'rule'\].*hierarchy"):
            unbalanced.convert("hierarchy", rule="x", decay=1)

    def test_hierarchy_to_embedding(self, unbalanced):
        with pytest.raises(
            IncompatibleStructureError, match="a hierarchy cannot be converted to an embedding"
        ):
            unbalanced.convert("embedding")

    def test_unknown_kind(self, unbalanced):
        with pytest.raises(IncompatibleStructureError, match="cannot be converted to a graph"):
            unbalanced.convert("graph")

    def test_bad_conversion_option_is_a_structure_error(self, unbalanced):
        with pytest.raises(StructureError, match="unknown hierarchy-to-similarity rule 'bogus'"):
            unbalanced.convert("similarity", rule="bogus")

    def test_all_are_label_structures(self, unbalanced):
        emb = LabelEmbedding.from_matrix(["a"], [[1.0]])
        for structure in (unbalanced, Similarity.identity(["a"]), emb):
            assert isinstance(structure, LabelStructure)


# ---------------------------------------------------------------------------------------
# check_classes
# ---------------------------------------------------------------------------------------


class TestCheckClasses:
    def test_returns_tuple(self):
        assert check_classes(["a", "b"]) == ("a", "b")
        assert check_classes(iter(["x"])) == ("x",)
        assert check_classes(("q", "p")) == ("q", "p")

    def test_single_string(self):
        with pytest.raises(
            StructureError, match="must be a list of names, got the single string 'abc'"
        ):
            check_classes("abc")

    def test_empty(self):
        with pytest.raises(StructureError, match="labels is empty"):
            check_classes([], what="labels")

    def test_duplicates_named_once_and_sorted(self):
        with pytest.raises(
            StructureError, match=r"duplicate class names in classes: 'a', 'b'; each"
        ):
            check_classes(["b", "a", "b", "c", "a", "b"])

    @pytest.mark.parametrize(
        ("names", "culprit"),
        [(["a", ""], "''"), (["a", None], "None"), (["a", 3, ""], "3, ''")],
    )
    def test_invalid_entries(self, names, culprit):
        with pytest.raises(StructureError, match=f"must be non-empty strings; invalid: {culprit}$"):
            check_classes(names)

    def test_what_is_used(self):
        with pytest.raises(StructureError, match="duplicate class names in my classes"):
            check_classes(["a", "a"], what="my classes")


# ---------------------------------------------------------------------------------------
# Property tests on random trees
# ---------------------------------------------------------------------------------------


@st.composite
def random_trees(draw: st.DrawFn, max_nodes: int = 14) -> Hierarchy:
    """A random tree: node i > 0 hangs under a random earlier node; leaves are classes."""
    n = draw(st.integers(min_value=2, max_value=max_nodes))
    parent_of = [draw(st.integers(min_value=0, max_value=i - 1)) for i in range(1, n)]
    names = [f"n{i}" for i in range(n)]
    parents = {names[i]: names[p] for i, p in enumerate(parent_of, start=1)}
    # shuffle the mapping's insertion order and the label order
    items = draw(st.permutations(list(parents.items())))
    inner = set(parent_of)
    leaves = [names[i] for i in range(n) if i not in inner]
    classes = draw(st.permutations(leaves))
    return Hierarchy.from_parents(classes, dict(items))


def brute_distance(h: Hierarchy, a: str, b: str) -> int:
    pa, pb = h.path(a), h.path(b)
    common = 0
    while common < min(len(pa), len(pb)) and pa[common] == pb[common]:
        common += 1
    return len(pa) + len(pb) - 2 * common


PROPERTY = settings(max_examples=50, deadline=None)


class TestProperties:
    @PROPERTY
    @given(random_trees(), st.booleans())
    def test_json_round_trip(self, h, nested):
        assert Hierarchy.from_json(h.to_json(nested=nested)) == h
        assert Hierarchy.from_parents(h.classes, h.to_parents()) == h

    @PROPERTY
    @given(random_trees())
    def test_pickle_round_trip(self, h):
        assert pickle.loads(pickle.dumps(h)) == h

    @PROPERTY
    @given(random_trees())
    def test_distance_matrix(self, h):
        d = h.distance_matrix()
        n = h.num_classes
        assert d.shape == (n, n)
        np.testing.assert_array_equal(d, d.T)
        np.testing.assert_array_equal(np.diag(d), np.zeros(n))
        brute = [[brute_distance(h, a, b) for b in h.classes] for a in h.classes]
        np.testing.assert_array_equal(d, brute)
        for i, a in enumerate(h.classes):
            for j, b in enumerate(h.classes):
                assert h.distance(a, b) == d[i, j]

    @PROPERTY
    @given(random_trees())
    def test_lca_matrix_agrees_with_lca(self, h):
        lcas = h.lca_matrix()
        heights = h.lca_height_matrix()
        for i, a in enumerate(h.classes):
            for j, b in enumerate(h.classes):
                assert h.nodes[lcas[i, j]] == h.lca(a, b)
                assert heights[i, j] == h.lca_height(a, b)
        np.testing.assert_array_equal(np.diag(lcas), np.arange(h.num_classes))

    @PROPERTY
    @given(random_trees())
    def test_path_matrix(self, h):
        pm = h.path_matrix()
        np.testing.assert_array_equal(pm.sum(axis=1), h.depths[: h.num_classes] + 1)
        for c, name in enumerate(h.classes):
            on_path = {h.nodes[v] for v in np.flatnonzero(pm[c])}
            assert on_path == set(h.path(name))

    @PROPERTY
    @given(random_trees())
    def test_depths_and_heights(self, h):
        for i, name in enumerate(h.nodes):
            assert h.depths[i] == len(h.path(name)) - 1
            kids = h.children(name)
            if kids:
                assert h.heights[i] == 1 + max(h.heights[h.index(k)] for k in kids)
            else:
                assert h.heights[i] == 0
                assert i < h.num_classes  # every leaf is a class
        assert h.parents[h.root_index] == -1
        assert h.nodes[: h.num_classes] == h.classes

    @PROPERTY
    @given(random_trees())
    def test_wu_palmer(self, h):
        s = h.to_similarity("wu-palmer").matrix
        assert s.min() >= 0.0
        assert s.max() <= 1.0
        np.testing.assert_array_equal(np.diag(s), np.ones(h.num_classes))
        np.testing.assert_allclose(s, s.T)
        depths = h.depths
        for i, a in enumerate(h.classes):
            for j, b in enumerate(h.classes):
                if i != j:
                    top = depths[h.index(h.lca(a, b))]
                    assert s[i, j] == pytest.approx(2 * top / (depths[i] + depths[j]))

    @PROPERTY
    @given(st.lists(st.text(min_size=1, max_size=4), min_size=1, max_size=8, unique=True))
    def test_flat_wu_palmer_is_identity(self, classes):
        if "root" in classes:
            classes = [c for c in classes if c != "root"] or ["a"]
        h = Hierarchy.flat(classes)
        assert h.to_similarity("wu-palmer") == Similarity.identity(classes)

    @PROPERTY
    @given(random_trees(), st.floats(min_value=0.0, max_value=1.0))
    def test_exponential(self, h, decay):
        s = h.to_similarity("exponential", decay=decay).matrix
        expected = np.power(decay, h.distance_matrix().astype(float))
        np.fill_diagonal(expected, 1.0)
        np.testing.assert_allclose(s, expected)
        assert h.to_similarity("exponential", decay=0.0) == Similarity.identity(h.classes)

    @PROPERTY
    @given(
        st.integers(min_value=1, max_value=6).flatmap(
            lambda n: st.tuples(
                st.just(n),
                st.lists(
                    st.lists(st.integers(-5, 5), min_size=3, max_size=3).filter(any),
                    min_size=n,
                    max_size=n,
                ),
            )
        ),
        st.floats(min_value=-1.0, max_value=0.99),
    )
    def test_embedding_similarity_brute_force(self, sized, bound):
        n, rows = sized
        classes = [f"c{i}" for i in range(n)]
        emb = LabelEmbedding.from_matrix(classes, rows)
        s = emb.to_similarity(lower_bound=bound).matrix
        vectors = np.array(rows, dtype=float)
        for i in range(n):
            for j in range(n):
                if i == j:
                    assert s[i, j] == 1.0
                    continue
                u, v = vectors[i], vectors[j]
                cos = float(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v))
                expected = max(0.0, (cos - bound) / (1.0 - bound))
                assert s[i, j] == pytest.approx(min(expected, 1.0), abs=1e-9)


class TestNamedDistances:
    """``Hierarchy.class_distances``: the three published definitions, by brute force."""

    # unbalanced: a and b sit at depth 3 under x, y; e and f at depth 2 under z
    PARENTS: ClassVar[dict[str, str]] = {
        "a": "x", "b": "x", "x": "y", "c": "y", "y": "root", "e": "z", "f": "z", "z": "root",
    }  # fmt: skip
    CLASSES: ClassVar[list[str]] = ["a", "b", "c", "e", "f"]

    def tree(self):
        return Hierarchy.from_parents(self.CLASSES, self.PARENTS)

    def brute(self, tree, distance):
        height = max(len(tree.path(c)) - 1 for c in tree.classes)
        n = tree.num_classes
        out = np.zeros((n, n), dtype=np.int64)
        for i, p in enumerate(tree.classes):
            for j, q in enumerate(tree.classes):
                lca = tree.lca(p, q)
                if distance == "lca-height":
                    out[i, j] = tree.lca_height(p, q)
                elif distance == "edges":
                    out[i, j] = len(tree.path(p)) + len(tree.path(q)) - 2 * len(tree.path(lca))
                else:
                    out[i, j] = 0 if p == q else height - (len(tree.path(lca)) - 1)
        return out

    @pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
    def test_matches_brute_force(self, distance):
        tree = self.tree()
        np.testing.assert_array_equal(tree.class_distances(distance), self.brute(tree, distance))

    def test_bertinetto_differs_from_lca_height_on_an_unbalanced_tree(self):
        tree = self.tree()
        e, f = 3, 4  # siblings under z, whose subtree is shallower than the tree
        assert tree.class_distances("lca-height")[e, f] == 1  # z has height 1
        assert tree.class_distances("bertinetto")[e, f] == 2  # tree height 3 - depth(z) 1
        assert tree.class_distances("edges")[e, f] == 2
        assert tree.class_distances("bertinetto")[0, 1] == 1 == tree.class_distances()[0, 1]
        assert (np.diag(tree.class_distances("bertinetto")) == 0).all()

    def test_they_agree_on_a_balanced_tree(self):
        parents = {"a": "x", "b": "x", "c": "y", "d": "y", "x": "root", "y": "root"}
        tree = Hierarchy.from_parents(["a", "b", "c", "d"], parents)
        np.testing.assert_array_equal(
            tree.class_distances("bertinetto"), tree.class_distances("lca-height")
        )

    def test_unknown_distance(self):
        from structloss.errors import ConfigError

        with pytest.raises(ConfigError, match=r"unknown distance 'edge'; did you mean 'edges'"):
            self.tree().class_distances("edge")


# ---------------------------------------------------------------------------------------
# Tree tables from ancestor paths (no nodes x nodes matrix)
# ---------------------------------------------------------------------------------------


def brute_pair(h: Hierarchy, t: str, c: str, distance: str) -> int:
    """A target-to-class distance from name-based path queries only."""
    pt, pc = h.path(t), h.path(c)
    if pc[: len(pt)] == pt:
        return 0  # the class is below (or is) the target
    common = 0
    while common < min(len(pt), len(pc)) and pt[common] == pc[common]:
        common += 1
    if distance == "edges":
        return len(pt) + len(pc) - 2 * common
    if distance == "bertinetto":
        return int(h.depths.max()) - (common - 1)
    return int(h.heights[h.index(pt[common - 1])])


class TestAncestorTables:
    @PROPERTY
    @given(random_trees(max_nodes=16))
    def test_ancestors_are_root_paths_padded_with_the_node(self, h):
        for v, name in enumerate(h.nodes):
            path = [h.index(n) for n in h.path(name)]
            row = h.ancestors[v].tolist()
            assert row[: len(path)] == path and set(row[len(path) :]) <= {v}
        assert not h.ancestors.flags.writeable

    @PROPERTY
    @given(random_trees(max_nodes=16), st.sampled_from(["lca-height", "bertinetto", "edges"]))
    def test_pair_distances_match_name_based_paths(self, h, distance):
        t = np.arange(h.num_nodes)[:, None]
        c = np.arange(h.num_classes)[None, :]
        table = h.pair_distances(t, c, distance)
        want = [[brute_pair(h, a, b, distance) for b in h.classes] for a in h.nodes]
        assert table.tolist() == want
        assert h.target_distances(distance).tolist() == want
        lca = h.lca_indices(t, c)
        for a, b in ((0, 0), (h.num_nodes - 1, h.num_classes - 1)):
            assert h.nodes[lca[a, b]] == h.lca(h.nodes[a], h.classes[b])

    @PROPERTY
    @given(random_trees(max_nodes=16))
    def test_path_matrix_marks_each_class_path(self, h):
        matrix = h.path_matrix(np.int64)
        for c, name in enumerate(h.classes):
            assert set(np.flatnonzero(matrix[c]).tolist()) == {h.index(n) for n in h.path(name)}

    def test_dense_tables_over_the_limit_are_a_clear_error(self, monkeypatch):
        parents = {f"c{i}": f"g{i % 50}" for i in range(1000)} | {
            f"g{j}": "root" for j in range(50)
        }
        h = Hierarchy.from_parents([f"c{i}" for i in range(1000)], parents)
        monkeypatch.setattr(Hierarchy, "DENSE_LIMIT", 1_000_000)
        with pytest.raises(StructureError) as caught:
            h.class_distances("edges")
        assert_mentions(
            caught.value, "1,000 x 1,000", "GiB", "DENSE_LIMIT", "Hierarchy.pair_distances"
        )
        with pytest.raises(StructureError, match="lca_indices"):
            h.lca_matrix()
        with pytest.raises(StructureError, match=r"Hierarchy\.ancestors"):
            h.path_matrix()
        # the per-pair forms still work at any size
        assert h.pair_distances(0, 1, "edges") == 4 and h.pair_distances(0, 50, "edges") == 2

    def test_pair_indices_out_of_range(self):
        h = Hierarchy.from_parents(["a", "b"], {"a": "r", "b": "r"})
        with pytest.raises(StructureError, match=r"node indices must be in 0\.\.2"):
            h.pair_distances(0, 3)
