"""float32 accuracy of the torch kernel against float64 references over the accuracy grid.

Bar: loss error <= 1e-4 * max(|L|, tau), gradient max abs error <= 1e-4, never NaN or inf,
for n in {100, 1000, 10000}, tau in {1, 0.1, 0.01}, scores scaled by {1, 100, 1e4} and
shifted by {0, +1000}, k in {1, 2, 5}. The reference is a float64 sequential log-space
recursion over the classes (written independently of the kernel); rows of one n run through
it together.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from structloss_smooth_topk import smooth_topk_torch
from structloss_smooth_topk.reference import (
    brute_force_loss,
    grid_errors,
    recursive_loss_and_grad,
)

ROWS = {100: 16, 1000: 8, 10000: 3}


@pytest.mark.parametrize("n", sorted(ROWS))
def test_grid_meets_the_accuracy_bar(n):
    errors = grid_errors(smooth_topk_torch, n, ROWS[n])
    assert len(errors) == 54
    assert all(e.finite for e in errors)
    worst_loss = max(errors, key=lambda e: e.loss)
    worst_grad = max(errors, key=lambda e: e.grad)
    assert worst_loss.loss <= 1e-4, worst_loss
    assert worst_grad.grad <= 1e-4, worst_grad


def near_ties(n: int, k: int, scale: float, tau: float, alpha: float) -> torch.Tensor:
    """Rows where D is near 0 although the scores are large: s_y = s_[k] + k alpha + O(tau)."""
    generator = torch.Generator().manual_seed(k)
    scores = (torch.randn(8, n, generator=generator, dtype=torch.float64) * scale).float()
    kth = scores[:, 1:].topk(k, dim=1).values[:, k - 1]
    offsets = torch.linspace(-3, 3, 8, dtype=torch.float64) * tau * k
    scores[:, 0] = (kth.double() + k * alpha + offsets).float()
    scores[:4, 1] = kth[:4]  # ties with the k-th score
    return scores


@pytest.mark.parametrize("k", [1, 2, 5])
@pytest.mark.parametrize(("scale", "tau"), [(1e4, 0.01), (100.0, 0.01), (1.0, 1.0)])
def test_near_ties_with_large_scores(k, scale, tau):
    alpha = 1.0
    scores = (near_ties(300, k, scale, tau, alpha) + 1000.0).requires_grad_()
    target = torch.zeros(8, dtype=torch.long)
    loss = smooth_topk_torch(scores, target, k, tau, alpha)
    (grad,) = torch.autograd.grad(loss.sum(), scores)
    want_loss, want_grad = recursive_loss_and_grad(scores.detach(), target, k, tau, alpha)
    bar = 1e-4 * np.maximum(np.abs(want_loss), tau)
    assert (np.abs(loss.detach().double().numpy() - want_loss) <= bar).all()
    assert np.abs(grad.double().numpy() - want_grad).max() <= 1e-4


def test_recursive_reference_matches_brute_force():
    generator = torch.Generator().manual_seed(3)
    scores = torch.randn(6, 8, generator=generator, dtype=torch.float64) * 4
    target = torch.randint(8, (6,), generator=generator)
    for k in range(1, 8):
        s = scores.clone().requires_grad_()
        want = brute_force_loss(s, target, k, 0.3, 0.9)
        (want_grad,) = torch.autograd.grad(want.sum(), s)
        loss, grad = recursive_loss_and_grad(scores, target, k, 0.3, 0.9)
        np.testing.assert_allclose(loss, want.detach().numpy(), rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(grad, want_grad.numpy(), rtol=0, atol=1e-12)
