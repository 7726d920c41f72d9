"""Loss ``pmi-embedding`` against hand-computed cosines, gradcheck, scores and decoding."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from structloss import LabelEmbedding
from structloss.errors import InputError
from structloss.metrics import mean_average_precision, precision_at_k
from structloss.testing import fit
from structloss_pmi_embedding import PMIEmbeddingLoss

# three labels in two dimensions: e0 = (1, 0), e1 = (0, 1), e2 = (1, 1) / sqrt(2)
TINY = LabelEmbedding.from_matrix(["a", "b", "c"], [[2.0, 0.0], [0.0, 3.0], [1.0, 1.0]])


def test_head_has_dim_outputs_and_the_embedding_is_a_unit_buffer():
    loss = PMIEmbeddingLoss(TINY)
    assert loss.multilabel and loss.output_size == 2 and loss.num_classes == 3
    head = loss.head(7)
    assert isinstance(head, nn.Linear) and (head.in_features, head.out_features) == (7, 2)
    assert "embedding" in dict(loss.named_buffers())
    torch.testing.assert_close(loss.embedding.norm(dim=1), torch.ones(3))
    assert loss.to(torch.float64).embedding.dtype == torch.float64
    assert "dim=2" in repr(loss)


def test_value_against_hand_computed_cosines():
    loss = PMIEmbeddingLoss(TINY, reduction="none")
    outputs = torch.tensor([[1.0, 0.0], [3.0, 4.0], [0.0, -2.0], [5.0, 5.0]])
    target = [[0], [0, 1], [2], [0, 1, 2]]
    # targets: e0; (e0 + e1)/|.| = (1, 1)/sqrt2; e2 = (1, 1)/sqrt2; (1+1/r2, 1+1/r2) -> diag
    r2 = math.sqrt(2.0)
    expected = torch.tensor([1 - 1.0, 1 - (3 + 4) / (5 * r2), 1 - (-2 / r2) / 2, 1 - 1.0])
    torch.testing.assert_close(loss(outputs, target), expected)
    mean = PMIEmbeddingLoss(TINY)(outputs, target)
    torch.testing.assert_close(mean, expected.mean())
    total = PMIEmbeddingLoss(TINY, reduction="sum")(outputs, target)
    torch.testing.assert_close(total, expected.sum())


def test_multi_hot_and_label_sets_agree():
    loss = PMIEmbeddingLoss(TINY, reduction="none")
    outputs = torch.randn(4, 2)
    sets = [[0], [1, 2], [], [0, 1, 2]]
    hot = torch.tensor([[1, 0, 0], [0, 1, 1], [0, 0, 0], [1, 1, 1]])
    for target in (hot, hot.bool(), hot.float()):
        torch.testing.assert_close(loss(outputs, target), loss(outputs, sets))


def test_soft_targets_weight_the_label_vectors():
    loss = PMIEmbeddingLoss(TINY, reduction="none")
    outputs = torch.tensor([[1.0, 0.5]])
    soft = torch.tensor([[1.0, 0.5, 0.0]])  # e0 + 0.5 e1 = (1, 0.5): same direction
    torch.testing.assert_close(loss(outputs, soft), torch.zeros(1), atol=1e-6, rtol=0)


def test_samples_without_labels_are_left_out():
    outputs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    target = [[1], []]
    per_sample = PMIEmbeddingLoss(TINY, reduction="none")(outputs, target)
    torch.testing.assert_close(per_sample, torch.tensor([1.0, 0.0]))
    torch.testing.assert_close(PMIEmbeddingLoss(TINY)(outputs, target), torch.tensor(1.0))
    nothing = PMIEmbeddingLoss(TINY)(outputs, [[], []])
    assert nothing.item() == 0.0


def test_zero_outputs_give_finite_values_and_gradients():
    loss = PMIEmbeddingLoss(TINY)
    outputs = torch.zeros(3, 2, requires_grad=True)
    value = loss(outputs, [[0], [1, 2], []])
    value.backward()
    assert value.item() == pytest.approx(1.0)
    assert torch.isfinite(outputs.grad).all()
    assert torch.isfinite(loss.scores(torch.zeros(2, 2))).all()


def test_gradcheck_float64():
    rng = np.random.default_rng(0)
    embedding = LabelEmbedding.from_matrix([f"l{i}" for i in range(6)], rng.normal(size=(6, 4)))
    loss = PMIEmbeddingLoss(embedding).double()
    outputs = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    target = torch.tensor(
        [
            [1, 0, 1, 0, 0, 0],
            [0, 1, 0, 0, 0, 1],
            [1, 1, 1, 0, 0, 0],
            [0, 0, 0, 0, 0, 0],
            [0, 0, 0, 1, 0, 0],
        ]
    )
    assert torch.autograd.gradcheck(lambda o: loss(o, target), (outputs,))
    none = PMIEmbeddingLoss(embedding, reduction="none").double()
    assert torch.autograd.gradcheck(lambda o: none(o, target), (outputs,))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 100.0))
def test_loss_is_scale_invariant_and_bounded(seed, scale):
    generator = torch.Generator().manual_seed(seed)
    rows = torch.randn(8, 5, generator=generator, dtype=torch.float64)
    embedding = LabelEmbedding.from_matrix([str(i) for i in range(8)], rows.numpy())
    loss = PMIEmbeddingLoss(embedding, reduction="none").double()
    outputs = torch.randn(4, 5, generator=generator, dtype=torch.float64)
    target = torch.rand(4, 8, generator=generator) < 0.4
    value = loss(outputs, target)
    torch.testing.assert_close(loss(outputs * scale, target), value)
    assert ((value >= -1e-12) & (value <= 2 + 1e-12)).all()
    hot = target.double()
    expected = 1 - F.cosine_similarity(outputs, hot @ loss.embedding, dim=1)
    has_labels = target.any(dim=1)
    torch.testing.assert_close(value[has_labels], expected[has_labels])


def test_scores_are_cosines_and_a_perfect_output_ranks_its_labels_first():
    # in 64 dimensions random label vectors are nearly orthogonal, so a sum of a few of them
    # is closer to each member than to any other label
    rng = np.random.default_rng(3)
    embedding = LabelEmbedding.from_matrix([f"l{i}" for i in range(20)], rng.normal(size=(20, 64)))
    loss = PMIEmbeddingLoss(embedding)
    target = torch.zeros(4, 20, dtype=torch.bool)
    target[0, [1, 5]] = True
    target[1, [7]] = True
    target[2, [0, 3, 19]] = True
    target[3, [11, 12]] = True
    perfect = loss.targets(target.float())  # the target directions themselves
    scores = loss.scores(perfect)
    assert scores.shape == (4, 20)
    assert scores.abs().max() <= 1 + 1e-6
    assert loss(perfect, target).item() == pytest.approx(0.0, abs=1e-6)
    for row, labels in enumerate(target):
        count = int(labels.sum())
        top = set(scores[row].topk(count).indices.tolist())
        assert top == set(labels.nonzero().flatten().tolist())
    assert precision_at_k(scores, target, k=1) == 1.0
    assert mean_average_precision(scores, target) > 0.5


def test_decode_top_k_and_threshold():
    loss = PMIEmbeddingLoss(TINY)
    outputs = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    top = loss.decode(outputs, k=2)
    assert top.dtype == torch.bool and top.sum(1).tolist() == [2, 2]
    assert top[0].tolist() == [True, False, True]
    expected = [[True, False, False], [False, True, False]]
    assert loss.decode(outputs, threshold=0.9).tolist() == expected
    for bad in ({}, {"k": 1, "threshold": 0.5}, {"k": 4}, {"threshold": 2.0}):
        with pytest.raises(InputError):
            loss.decode(outputs, **bad)


def test_single_label_target_is_rejected():
    loss = PMIEmbeddingLoss(TINY)
    with pytest.raises(InputError, match="class indices of shape"):
        loss(torch.zeros(2, 2), torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("outputs", "target", "match"),
    [
        (torch.zeros(2, 3), [[0], [1]], r"outputs of shape \(batch, 2\)"),
        (torch.zeros(2, 2, dtype=torch.long), [[0], [1]], "floating-point"),
        (torch.zeros(2, 2), [[0], [3]], "outside 0..2"),
        (torch.zeros(2, 2), torch.zeros(2, 4), r"\(batch, 3\)"),
        (torch.zeros(2, 2), torch.full((2, 3), 2.0), r"in \[0, 1\]"),
        (torch.zeros(3, 2), [[0], [1]], "2 targets for a batch of 3"),
    ],
)
def test_bad_inputs(outputs, target, match):
    with pytest.raises(InputError, match=match):
        PMIEmbeddingLoss(TINY)(outputs, target)


def test_bad_constructor_arguments():
    with pytest.raises(InputError, match="LabelEmbedding"):
        PMIEmbeddingLoss(np.eye(3))  # type: ignore[arg-type]
    with pytest.raises(InputError, match="eps"):
        PMIEmbeddingLoss(TINY, eps=0.0)
    with pytest.raises(InputError, match="reduction"):
        PMIEmbeddingLoss(TINY, reduction="avg")
    with pytest.raises(InputError, match=r"shape \(batch, 2\)"):
        PMIEmbeddingLoss(TINY).scores(torch.zeros(1, 3))


def test_trains_a_linear_model():
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    embedding = LabelEmbedding.from_matrix([f"l{i}" for i in range(10)], rng.normal(size=(10, 6)))
    loss = PMIEmbeddingLoss(embedding)
    x = torch.randn(64, 8)
    target = torch.rand(64, 10) < 0.25
    first, last = fit(loss, loss.head(8), x, target, steps=100, lr=0.05)
    assert last < first / 2
