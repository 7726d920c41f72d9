"""Provider ``pmi-embedding``: unit rows, every label format alike, and every error."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import sparse

from structloss import LabelEmbedding, Similarity, StructureContext
from structloss.errors import ConfigError, InputError, StructureError
from structloss_pmi_embedding import (
    build_pmi_embedding,
    cooccurrence,
    pmi_embedding,
    pmi_matrix,
    svd_embedding,
)


def test_rows_are_unit_norm_and_follow_the_svd(labels, classes):
    embedding = pmi_embedding(labels, classes, dim=5)
    assert isinstance(embedding, LabelEmbedding)
    assert embedding.classes == tuple(classes) and embedding.dim == 5
    np.testing.assert_allclose(np.linalg.norm(embedding.matrix, axis=1), 1.0, atol=1e-12)
    raw = svd_embedding(pmi_matrix(cooccurrence(labels, 12)), 5, solver="dense")
    np.testing.assert_allclose(embedding.matrix * np.linalg.norm(raw, axis=1)[:, None], raw)


def test_cooccurring_labels_get_similar_vectors(labels, classes):
    # the fixture's topics are classes 0-3, 4-7 and 8-11
    unit = pmi_embedding(labels, classes, dim=3).matrix
    cosine = unit @ unit.T
    same = cosine[0, 1:4].mean()
    other = cosine[0, 4:].mean()
    assert same > other + 0.3


def test_every_label_format_gives_the_same_embedding(labels, classes):
    sets = [np.flatnonzero(row).tolist() for row in labels]
    formats = [
        labels.astype(np.float64),
        torch.from_numpy(labels).int(),
        sparse.csr_matrix(labels),
        sparse.csc_array(labels),
        sets,
    ]
    reference = pmi_embedding(labels, classes, dim=4)
    for labels_format in formats:
        assert pmi_embedding(labels_format, classes, dim=4) == reference


@pytest.mark.parametrize("solver", ["randomized", "arpack"])
def test_large_solvers_match_dense(labels, classes, solver):
    dense = pmi_embedding(labels, classes, dim=3, solver="dense").matrix
    other = pmi_embedding(labels, classes, dim=3, solver=solver, n_iter=10).matrix
    np.testing.assert_allclose(other, dense, atol=1e-5)


def test_converts_to_a_similarity_for_single_label_losses(labels, classes):
    similarity = pmi_embedding(labels, classes, dim=4).to_similarity(lower_bound=0.2)
    assert isinstance(similarity, Similarity)
    np.testing.assert_allclose(np.diag(similarity.matrix), 1.0)


def test_unseen_class_is_an_error_by_default(labels, classes):
    labels = labels.copy()
    labels[:, 5] = False
    with pytest.raises(StructureError, match=r"1 class\(es\) never occur.*'c05'.*unseen"):
        pmi_embedding(labels, classes, dim=4)


def test_unseen_class_gets_a_random_direction(labels, classes):
    labels = labels.copy()
    labels[:, 5] = False
    embedding = pmi_embedding(labels, classes, dim=4, unseen="random", seed=7)
    np.testing.assert_allclose(np.linalg.norm(embedding.matrix, axis=1), 1.0)
    again = pmi_embedding(labels, classes, dim=4, unseen="random", seed=7)
    assert embedding == again
    kept = np.delete(np.arange(12), 5)
    seen_only = pmi_embedding(labels[:, kept], [classes[i] for i in kept], dim=4)
    np.testing.assert_allclose(embedding.matrix[kept], seen_only.matrix, atol=1e-10)


def test_label_in_every_sample_has_no_direction(labels, classes):
    labels = labels.copy()
    labels[:, 0] = True  # PMI with anything is 0, self-information log(N / N) = 0
    with pytest.raises(StructureError, match=r"all-zero vector.*'c00'"):
        pmi_embedding(labels, classes, dim=4)
    embedding = pmi_embedding(labels, classes, dim=4, unseen="random")
    np.testing.assert_allclose(np.linalg.norm(embedding.matrix, axis=1), 1.0)


def test_zero_diagonal_leaves_an_isolated_label_empty(classes):
    sets = [[i, i + 1] for i in range(10)] + [[11]]  # class 11 only ever occurs alone
    with pytest.raises(StructureError, match=r"all-zero vector.*'c11'"):
        pmi_embedding(sets, classes, dim=3, diagonal="zero", positive=False)
    with pytest.raises(StructureError, match=r"all-zero vector.*'c11'.*larger dim"):
        pmi_embedding(sets, classes, dim=3, diagonal="self", positive=False)
    assert pmi_embedding(sets, classes, dim=10, diagonal="self", positive=False).dim == 10


def test_labels_outside_the_class_list(classes):
    with pytest.raises(InputError, match=r"outside 0\.\.11"):
        pmi_embedding([[0, 1], [1, 12]], classes, dim=3)
    with pytest.raises(InputError, match="columns"):
        pmi_embedding(sparse.csr_matrix(np.ones((3, 13))), classes, dim=3)


@pytest.mark.parametrize("data", [[], [[], []], np.zeros((5, 12), dtype=bool)])
def test_data_without_labels(classes, data):
    with pytest.raises(StructureError, match="no label at all"):
        pmi_embedding(data, classes, dim=3)


def test_one_label_per_sample_has_no_cooccurrence(classes):
    with pytest.raises(StructureError, match="no two labels ever occur in one sample"):
        pmi_embedding(np.arange(24) % 12, classes, dim=3)


@pytest.mark.parametrize("dim", [12, 13, 0, 1.5])
def test_dim_must_be_below_the_number_of_classes(labels, classes, dim):
    with pytest.raises(ConfigError, match="fewer than the 12 classes"):
        pmi_embedding(labels, classes, dim=dim)


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"unseen": "zero"}, "unseen"),
        ({"smoothing": 2.0}, "smoothing"),
        ({"solver": "eig"}, "solver"),
        ({"min_count": 0}, "min_count"),
    ],
)
def test_bad_options_fail_before_any_work(classes, options, match):
    with pytest.raises(ConfigError, match=match):
        pmi_embedding(None, classes, dim=3, **options)


def test_factory_needs_labels(classes):
    with pytest.raises(ConfigError, match=r"pass them as compose\(config, labels="):
        build_pmi_embedding(StructureContext(classes=tuple(classes)), dim=3)


def test_factory_needs_classes(labels):
    with pytest.raises(ConfigError, match="class names"):
        build_pmi_embedding(StructureContext(labels=labels), dim=3)
