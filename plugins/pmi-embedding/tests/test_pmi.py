"""Co-occurrence counts and the PMI matrix against a brute-force dense computation."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import sparse

from structloss.errors import ConfigError, InputError, StructureError
from structloss_pmi_embedding import cooccurrence, pmi_matrix


def brute_force_pmi(
    hot: np.ndarray,
    *,
    positive: bool = True,
    smoothing: float = 1.0,
    min_count: int = 1,
    diagonal: str = "self",
) -> np.ndarray:
    """Dense PMI straight from the definition, entry by entry."""
    hot = hot.astype(np.float64)
    n_samples, n = hot.shape
    joint = hot.T @ hot
    counts = np.diag(joint).copy()
    total = counts.sum()
    smoothed = counts**smoothing * total / (counts**smoothing).sum()
    out = np.zeros((n, n))
    for i in range(n):
        for j in range(n):
            if joint[i, j] == 0:
                continue
            if i == j and diagonal == "zero":
                continue
            if i != j and joint[i, j] < min_count:
                continue
            p_ij = joint[i, j] / n_samples
            value = np.log(p_ij / ((smoothed[i] / n_samples) * (smoothed[j] / n_samples)))
            out[i, j] = max(value, 0.0) if positive else value
    return out


OPTIONS = [
    {},
    {"positive": False},
    {"smoothing": 0.75},
    {"min_count": 3},
    {"diagonal": "zero"},
    {"positive": False, "smoothing": 0.5, "min_count": 2, "diagonal": "zero"},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_pmi_equals_brute_force(labels, options):
    matrix = pmi_matrix(cooccurrence(labels, labels.shape[1]), **options)
    expected = brute_force_pmi(labels, **options)
    np.testing.assert_allclose(matrix.toarray(), expected, rtol=1e-12, atol=1e-12)
    assert matrix.dtype == np.float64 and not np.any(matrix.data == 0)
    np.testing.assert_allclose(matrix.toarray(), matrix.toarray().T)


@settings(max_examples=40, deadline=None)
@given(
    hot=arrays(bool, st.tuples(st.integers(1, 30), st.integers(2, 7))),
    positive=st.booleans(),
    smoothing=st.sampled_from([1.0, 0.75, 0.3]),
    diagonal=st.sampled_from(["self", "zero"]),
)
def test_pmi_property(hot, positive, smoothing, diagonal):
    if not hot.any():
        with pytest.raises(StructureError, match="no label"):
            pmi_matrix(cooccurrence(hot, hot.shape[1]))
        return
    options = {"positive": positive, "smoothing": smoothing, "diagonal": diagonal}
    matrix = pmi_matrix(cooccurrence(hot, hot.shape[1]), **options)
    np.testing.assert_allclose(matrix.toarray(), brute_force_pmi(hot, **options), atol=1e-10)


def test_known_values():
    # 4 samples: {0, 1}, {0, 1}, {2}, {} -> C0 = C1 = 2, C01 = 2, N = 4
    hot = np.array([[1, 1, 0], [1, 1, 0], [0, 0, 1], [0, 0, 0]])
    matrix = pmi_matrix(cooccurrence(hot, 3), positive=False).toarray()
    assert matrix[0, 1] == pytest.approx(np.log(2 * 4 / (2 * 2)))  # log 2
    assert matrix[0, 0] == pytest.approx(np.log(4 / 2))  # self-information
    assert matrix[2, 2] == pytest.approx(np.log(4))
    assert matrix[0, 2] == 0.0  # never co-occur: left out


def test_label_formats_give_the_same_counts(labels):
    n = labels.shape[1]
    sets = [np.flatnonzero(row).tolist() for row in labels]
    formats = [
        labels,
        labels.astype(np.float32),
        torch.from_numpy(labels),
        sparse.csr_matrix(labels),
        sparse.coo_array(labels.astype(np.int8)),
        sets,
        [tuple(s) + tuple(s) for s in sets],  # duplicates within a set count once
    ]
    reference = cooccurrence(labels, n)
    for labels_format in formats:
        counts = cooccurrence(labels_format, n)
        assert counts.num_samples == labels.shape[0]
        assert (counts.counts != reference.counts).nnz == 0
    np.testing.assert_array_equal(reference.label_counts, labels.sum(0))


def test_one_label_per_sample_has_only_a_diagonal():
    counts = cooccurrence(np.array([0, 1, 1, 2]), 3)
    assert counts.counts.nnz == 3
    np.testing.assert_array_equal(counts.label_counts, [1, 2, 1])


def test_labels_outside_the_class_list():
    with pytest.raises(InputError, match=r"outside 0\.\.2"):
        cooccurrence([[0, 1], [3]], 3)
    with pytest.raises(InputError, match="columns"):
        cooccurrence(sparse.csr_matrix(np.ones((2, 4))), 3)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"smoothing": 0.0}, "smoothing"),
        ({"smoothing": 1.5}, "smoothing"),
        ({"min_count": 0}, "min_count"),
        ({"diagonal": "one"}, "diagonal"),
        ({"positive": "yes"}, "positive"),
    ],
)
def test_bad_options(labels, options, match):
    with pytest.raises(ConfigError, match=match):
        pmi_matrix(cooccurrence(labels, labels.shape[1]), **options)


def test_no_samples():
    with pytest.raises(StructureError, match="no label"):
        pmi_matrix(cooccurrence([], 3))
