"""The tree loss's richer targets: internal-node targets and probability targets.

References come from the tree's parent map (which classes sit below a node) and the
definitions, in float64: a node's loss is ``-log`` of the softmax mass below it, a
probability target's is ``-sum_c q_c log p_c``.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from structloss.errors import InputError
from structloss.structures import Hierarchy
from structloss.testing import fit, mixup_target
from structloss_tree_loss import TreeLoss


def classes_below(tree: Hierarchy, node: int) -> list[int]:
    out = []
    for c in range(tree.num_classes):
        v = c
        while v >= 0 and v != node:
            v = tree.parents[v]
        if v == node:
            out.append(c)
    return out


def test_a_node_target_is_minus_log_the_mass_below_it(irregular: Hierarchy) -> None:
    inner = [
        v for v in range(irregular.num_classes, irregular.num_nodes) if v != irregular.root_index
    ]
    target = torch.tensor([*inner, 0, 3])
    z = torch.randn(len(target), irregular.num_classes, dtype=torch.float64) * 2
    got = TreeLoss(irregular, reduction="none")(z, target)
    want = []
    for row, t in zip(z.tolist(), target.tolist(), strict=True):
        total = sum(math.exp(v) for v in row)
        want.append(-math.log(sum(math.exp(row[c]) for c in classes_below(irregular, t)) / total))
    torch.testing.assert_close(got, torch.tensor(want, dtype=torch.float64))
    z.requires_grad_()
    assert torch.autograd.gradcheck(lambda x: TreeLoss(irregular)(x, target), (z,))


def test_a_trained_head_learns_from_coarse_labels(irregular: Hierarchy) -> None:
    """Through the head: labels known only at a node move mass below that node."""
    torch.manual_seed(0)
    loss = TreeLoss(irregular)
    head = loss.head(4)
    node = next(
        v for v in range(irregular.num_classes, irregular.num_nodes) if v != irregular.root_index
    )
    x, target = torch.randn(32, 4), torch.full((32,), node)
    below = classes_below(irregular, node)
    before = torch.softmax(head(x), 1)[:, below].sum(1).mean()
    fit(loss, head, x, target, steps=30, lr=0.5, optimizer=torch.optim.SGD)
    after = torch.softmax(head(x), 1)[:, below].sum(1).mean()
    assert after > before + 0.2


@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_probability_targets_are_cross_entropy_on_the_logits(
    irregular: Hierarchy, smoothing: float
) -> None:
    c = irregular.num_classes
    y = torch.arange(8) % c
    q = mixup_target(y, c, lam=0.6, smoothing=0.1, dtype=torch.float64)
    z = torch.randn(8, c, dtype=torch.float64)
    loss = TreeLoss(irregular, label_smoothing=smoothing)
    torch.testing.assert_close(loss(z, q), F.cross_entropy(z, q, label_smoothing=smoothing))
    with pytest.raises(InputError, match="sums to"):
        loss(z, q * 2)
