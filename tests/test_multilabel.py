"""Multi-label targets, the binary-cross-entropy baseline, and multi-label metrics."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from structloss import PluginHost, compose
from structloss.errors import InputError
from structloss.metrics import mean_average_precision, precision_at_k, recall_at_k
from structloss.targets import label_pairs, multi_hot

CLASSES = ["sky", "beach", "sea", "tree"]


def bce(**options):
    host = PluginHost(entry_points=[], env={})
    return compose(
        {"classes": CLASSES, "loss": {"name": "binary-cross-entropy", **options}}, host=host
    )


def test_multi_hot_from_label_sets_and_tensors():
    hot = multi_hot([[0, 2], [], [3, 3]], 4)
    assert hot.tolist() == [[1, 0, 1, 0], [0, 0, 0, 0], [0, 0, 0, 1]]
    same = multi_hot(torch.tensor([[True, False, True, False]]), 4, dtype=torch.float64)
    assert same.dtype == torch.float64 and same.tolist() == [[1, 0, 1, 0]]


@pytest.mark.parametrize(
    ("target", "match"),
    [
        (torch.tensor([0, 1]), r"got class indices of shape \(2,\).*single-label loss"),
        (torch.zeros(2, 3), r"shape \(batch, 4\), got \(2, 3\)"),
        (torch.full((2, 4), 2.0), r"values in \[0, 1\]"),
        ([[0, 7]], r"label set 0 holds class index 7, outside 0..3"),
        ([[0], "ab"], r"label set 1 is str"),
        ([[0.5]], r"label set 0 holds 0.5; labels are class indices"),
        ("sky", r"a \(batch, classes\) tensor or a list of label sets, got str"),
    ],
)
def test_multi_hot_errors(target, match):
    with pytest.raises(InputError, match=match):
        multi_hot(target, 4)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_bce_matches_torch(dtype, reduction):
    torch.manual_seed(0)
    logits = torch.randn(5, 4, dtype=dtype, requires_grad=True)
    sets = [[0, 1], [], [2], [0, 1, 2, 3], [3]]
    hot = multi_hot(sets, 4, dtype=dtype)
    ours = bce(reduction=reduction)(logits, sets)
    per_element = F.binary_cross_entropy_with_logits(logits, hot, reduction="none")
    expected = {
        "mean": per_element.mean(),
        "sum": per_element.mean(1).sum(),
        "none": per_element.mean(1),
    }[reduction]
    torch.testing.assert_close(ours, expected)
    (g1,) = torch.autograd.grad(ours.sum(), logits)
    (g2,) = torch.autograd.grad(expected.sum(), logits)
    torch.testing.assert_close(g1, g2)


def test_bce_pos_weight_and_gradcheck():
    logits = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    hot = torch.tensor([[1, 0, 0, 1], [0, 1, 0, 0], [1, 1, 1, 0]], dtype=torch.bool)
    loss = bce(pos_weight=[1.0, 2.0, 3.0, 4.0]).double()
    expected = F.binary_cross_entropy_with_logits(
        logits, hot.double(), pos_weight=torch.tensor([1.0, 2.0, 3.0, 4.0], dtype=torch.float64)
    )
    torch.testing.assert_close(loss(logits, hot), expected)
    assert torch.autograd.gradcheck(lambda z: loss(z, hot), (logits,))


def test_single_and_multi_label_targets_are_not_mixed():
    host = PluginHost(entry_points=[], env={})
    ce = compose({"classes": CLASSES, "loss": "cross-entropy"}, host=host)
    with pytest.raises(InputError, match=r"single-label loss but got a \(batch, classes\) target"):
        ce(torch.randn(2, 4), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(InputError, match="got class indices"):
        bce()(torch.randn(2, 4), torch.tensor([0, 1]))
    with pytest.raises(InputError, match="got 1 targets for a batch of 2"):
        bce()(torch.randn(2, 4), [[0]])


def test_label_pairs_reads_every_format():
    scipy_sparse = pytest.importorskip("scipy.sparse")
    dense = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 1]])
    expected = ([0, 0, 2, 2], [0, 2, 1, 3], 3)
    for labels in (dense, torch.from_numpy(dense), scipy_sparse.csr_matrix(dense)):
        rows, cols, count = label_pairs(labels, 4)
        assert (rows.tolist(), cols.tolist(), count) == expected
    rows, cols, count = label_pairs([[2, 0, 0], [], [3, 1]], 4)
    assert (rows.tolist(), cols.tolist(), count) == expected
    rows, cols, count = label_pairs(np.array([3, 0]), 4)
    assert (rows.tolist(), cols.tolist(), count) == ([0, 1], [3, 0], 2)
    with pytest.raises(InputError, match="columns for 4 classes"):
        label_pairs(scipy_sparse.csr_matrix(np.ones((2, 3))), 4)
    with pytest.raises(InputError, match=r"outside 0\.\.3"):
        label_pairs(np.array([4]), 4)


def test_precision_recall_at_k_by_hand():
    scores = torch.tensor([[0.9, 0.8, 0.1, 0.0], [0.1, 0.2, 0.3, 0.4]])
    target = torch.tensor([[1, 0, 1, 0], [0, 0, 0, 1]])
    # sample 0: top-2 = {0, 1}, one hit; sample 1: top-2 = {3, 2}, one hit
    assert precision_at_k(scores, target, 2) == pytest.approx((1 / 2 + 1 / 2) / 2)
    assert recall_at_k(scores, target, 2) == pytest.approx((1 / 2 + 1 / 1) / 2)
    assert precision_at_k(scores, target, 1) == pytest.approx((1 + 1) / 2)
    with pytest.raises(InputError, match=r"k must be in 1\.\.4"):
        precision_at_k(scores, target, 5)


def test_mean_average_precision_by_hand():
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.1, 0.9]])
    target = torch.tensor([[1, 0], [0, 1], [1, 0]])
    # class 0 ranks samples 0, 1, 2 with positives at ranks 1 and 3: AP = (1/1 + 2/3) / 2
    # class 1 ranks samples 2, 1, 0 with its positive at rank 2: AP = 1/2
    expected = ((1 + 2 / 3) / 2 + 1 / 2) / 2
    assert mean_average_precision(scores, target) == pytest.approx(expected)


def test_mean_average_precision_brute_force():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(30, 6))
    target = rng.random((30, 6)) < 0.3
    target[:, 5] = False  # a class without positives is left out
    aps = []
    for c in range(5):
        order = np.argsort(-scores[:, c], kind="stable")
        hits, precisions = 0, []
        for rank, i in enumerate(order, start=1):
            if target[i, c]:
                hits += 1
                precisions.append(hits / rank)
        aps.append(np.mean(precisions))
    ours = mean_average_precision(torch.from_numpy(scores), torch.from_numpy(target))
    assert ours == pytest.approx(float(np.mean(aps)))
