"""Structure provider ``ordinal``: S_ij = r ** |i - j| in label order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from structloss import Similarity
from structloss.errors import ConfigError, StructureError
from structloss.specs import StructureContext
from structloss_simloss import build_ordinal, ordinal_similarity


def test_values_decay_with_label_distance():
    similarity = ordinal_similarity(["0", "1", "2", "3"], r=0.5)
    assert isinstance(similarity, Similarity)
    expected = np.array(
        [
            [1.0, 0.5, 0.25, 0.125],
            [0.5, 1.0, 0.5, 0.25],
            [0.25, 0.5, 1.0, 0.5],
            [0.125, 0.25, 0.5, 1.0],
        ]
    )
    np.testing.assert_array_equal(similarity.matrix, expected)


def test_extremes():
    classes = ["a", "b", "c"]
    np.testing.assert_array_equal(ordinal_similarity(classes, 0.0).matrix, np.eye(3))
    np.testing.assert_array_equal(ordinal_similarity(classes, 1.0).matrix, np.ones((3, 3)))
    np.testing.assert_array_equal(ordinal_similarity(["only"], 0.3).matrix, [[1.0]])


@pytest.mark.parametrize("r", [-0.1, 1.5, math.nan, True, "0.5"])
def test_rejects_r_outside_unit_interval(r):
    with pytest.raises(StructureError, match=r"r in \[0, 1\]"):
        ordinal_similarity(["a", "b"], r)


def test_factory_uses_context_classes_in_order():
    similarity = build_ordinal(StructureContext(classes=("young", "adult", "old")), r=0.25)
    assert similarity.classes == ("young", "adult", "old")
    assert similarity.matrix[0, 2] == pytest.approx(0.0625)


def test_factory_needs_classes():
    with pytest.raises(ConfigError, match="natural order"):
        build_ordinal(StructureContext(classes=None))
