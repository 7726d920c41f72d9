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
from structloss_smooth_topk.torch_kernel import padded_width, product_tree, tree_adjoint

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


def sequential_polynomial(w: torch.Tensor, k: int) -> torch.Tensor:
    """``sigma_1 .. sigma_k`` of each row of ``w``, one class at a time (the textbook recursion)."""
    sigma = [torch.ones(w.shape[0], dtype=w.dtype)] + [torch.zeros(w.shape[0], dtype=w.dtype)] * k
    for j in range(w.shape[1]):
        sigma = [sigma[0]] + [sigma[m] + w[:, j] * sigma[m - 1] for m in range(1, k + 1)]
    return torch.stack(sigma[1:], 1)


# widths that pad (odd, just above a power of two) or not, and k from 1 up to n - 1
TREE_CASES = [(2, 1), (3, 2), (5, 4), (7, 3), (16, 5), (17, 16), (33, 5), (100, 2), (1000, 7)]


@pytest.mark.parametrize(("n", "k"), TREE_CASES)
def test_product_tree_and_its_adjoint_match_the_sequential_recursion(n, k):
    generator = torch.Generator().manual_seed(n + k)
    w = torch.rand(3, n, generator=generator, dtype=torch.float64)
    padded = torch.zeros(3, padded_width(n), dtype=torch.float64)
    padded[:, :n] = w
    levels = product_tree(padded, k)
    want = sequential_polynomial(w, k)
    torch.testing.assert_close(levels[-1][:, :, 0], want, rtol=1e-13, atol=0)
    # the adjoint is the gradient of sum_m c_m sigma_m, signed c as in the backward pass
    c = torch.randn(3, k, generator=generator, dtype=torch.float64)
    leaf = w.clone().requires_grad_()
    (want_grad,) = torch.autograd.grad((sequential_polynomial(leaf, k) * c).sum(), leaf)
    grad = tree_adjoint(levels, c, torch.empty(3, levels[0].shape[2], dtype=torch.float64))
    torch.testing.assert_close(grad[:, :n], want_grad, rtol=1e-12, atol=1e-12)
