"""Slow float64 references for the smooth top-k loss, written independently of the kernels.

* :func:`brute_force_loss`: the definition itself, a log-sum-exp over all k-subsets
  (``itertools.combinations``); differentiable with autograd. For small n only.
* :func:`recursive_loss_and_grad`: the sequential log-space recursion
  ``log sigma_m <- logaddexp(log sigma_m, x_j + log sigma_{m-1})`` over the classes, and the
  gradient ``sigmoid(D) / k * (pi_k(j) - pi_{k-1}(j))`` with
  ``pi_m(j) = e_j sigma_{m-1}(without j) / sigma_m`` from prefix and suffix recursions.
  NumPy, vectorised over rows, O(n k) Python steps: fine for n up to ~1e5.
* :func:`hard_topk_loss`: the tau -> 0 limit, ``max(0, alpha + (s_[k] - s_y) / k)`` with
  ``s_[k]`` the k-th largest score among the classes other than ``y``.

They exist to validate the fast kernels: :func:`grid_errors` measures a kernel against
:func:`recursive_loss_and_grad` over the accuracy grid (used by the tests and by
``benchmarks/smooth_topk_accuracy.py``).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import Tensor

__all__ = [
    "GRID_KS",
    "GRID_SCALES",
    "GRID_SHIFTS",
    "GRID_TAUS",
    "GridError",
    "brute_force_loss",
    "grid_errors",
    "hard_topk_loss",
    "recursive_loss_and_grad",
]

#: The accuracy grid: temperatures, score scales, score shifts and subset sizes.
GRID_TAUS = (1.0, 0.1, 0.01)
GRID_SCALES = (1.0, 100.0, 1e4)
GRID_SHIFTS = (0.0, 1000.0)
GRID_KS = (1, 2, 5)


def brute_force_loss(scores: Tensor, target: Tensor, k: int, tau: float, alpha: float) -> Tensor:
    """The smooth top-k loss of each row by enumerating all k-subsets (float64, autograd).

    ``L = tau log sum_{|A|=k} exp((alpha [y not in A] + mean_A s) / tau)
    - tau log sum_{|A|=k, y in A} exp(mean_A s / tau)``.

    Args:
        scores: (B, n) scores; converted to float64 (gradients flow back to ``scores``).
        target: (B,) labels.
        k, tau, alpha: the loss's options.

    Returns:
        (B,) float64 losses.
    """
    s = scores.double()
    n = s.shape[1]
    subsets = torch.tensor(list(itertools.combinations(range(n), k)), device=s.device)
    means = s[:, subsets].mean(-1)  # (B, subsets)
    contains = (subsets[None, :, :] == target[:, None, None]).any(-1)  # (B, subsets)
    margin = (~contains).to(s.dtype) * float(alpha)
    inside = torch.where(contains, means, float("-inf"))
    all_terms = torch.logsumexp((margin + means) / tau, 1)
    return tau * (all_terms - torch.logsumexp(inside / tau, 1))


def hard_topk_loss(scores: Tensor, target: Tensor, k: int, alpha: float) -> Tensor:
    """The tau -> 0 limit of the loss: ``max(0, alpha + (s_[k] - s_y) / k)`` per row.

    With ``tau -> 0`` each log-sum-exp becomes a max: the first over all k-subsets of
    ``alpha [y not in A] + mean_A s``, which is the larger of ``alpha + (top-k sum of s_{-y}) / k``
    and ``(s_y + top-(k-1) sum of s_{-y}) / k``; the second is the latter. Their difference is
    ``max(0, alpha + (s_[k] - s_y) / k)``, ``s_[k]`` the k-th largest score other than ``s_y``.
    """
    s = scores.double()
    others = s.scatter(1, target[:, None], float("-inf"))
    kth = others.topk(k, dim=1).values[:, k - 1]
    s_y = s.gather(1, target[:, None]).squeeze(1)
    return (alpha + (kth - s_y) / k).clamp(min=0)


def _log_esp_prefixes(x: np.ndarray, degree: int) -> np.ndarray:
    """``out[j, r, m] = log sigma_m(exp(x[r, :j]))`` for j = 0..n, m = 0..degree."""
    rows, n = x.shape
    out = np.full((n + 1, rows, degree + 1), -np.inf)
    out[:, :, 0] = 0.0
    for j in range(n):
        out[j + 1, :, 1:] = np.logaddexp(out[j, :, 1:], x[:, j : j + 1] + out[j, :, :-1])
    return out


def recursive_loss_and_grad(
    scores: np.ndarray | Tensor,
    target: np.ndarray | Tensor | Sequence[int],
    k: int | Sequence[int],
    tau: float | Sequence[float],
    alpha: float | Sequence[float],
) -> tuple[np.ndarray, np.ndarray]:
    """The loss and its gradient by float64 sequential log-space recursions over the classes.

    ``k``, ``tau`` and ``alpha`` may be given per row, so that rows of several settings run
    in one sweep.

    Args:
        scores: (B, n) scores (any float dtype; computed in float64).
        target: (B,) labels.
        k, tau, alpha: the options, scalars or one per row.

    Returns:
        ``(loss (B,), grad (B, n))`` as float64 arrays.
    """
    s = torch.as_tensor(scores).detach().double().cpu().numpy()
    y = torch.as_tensor(target).long().cpu().numpy()
    rows, n = s.shape
    ks = np.broadcast_to(np.asarray(k, dtype=np.int64), (rows,))
    taus = np.broadcast_to(np.asarray(tau, dtype=np.float64), (rows,))
    alphas = np.broadcast_to(np.asarray(alpha, dtype=np.float64), (rows,))
    index = np.arange(rows)
    x = s / (ks * taus)[:, None]
    x = x - x.max(1, keepdims=True)  # exact shift invariance of D; keeps exp finite
    x_y = x[index, y].copy()
    x[index, y] = -np.inf  # sigma over j != y
    kmax = int(ks.max())
    prefix = _log_esp_prefixes(x, kmax)  # (n + 1, B, kmax + 1)
    total = prefix[n]
    log_k = total[index, ks]
    log_k1 = total[index, ks - 1]
    d = alphas / taus + log_k - log_k1 - x_y
    loss = taus * np.logaddexp(0.0, d)
    # pi_m(j) = exp(x_j + log sigma_{m-1}(without j) - log sigma_m), from prefix * suffix
    grad_d = np.zeros((rows, n))
    suffix = np.full((rows, kmax + 1), -np.inf)
    suffix[:, 0] = 0.0
    # without[:, m] = log sum_{a + b = m} prefix_a * suffix_b, as one reduction over a
    degree = np.arange(kmax + 1)
    other = degree[:, None] - degree[None, :]  # (m, a) -> b = m - a
    usable = other >= 0
    other = np.where(usable, other, 0)
    for j in range(n - 1, -1, -1):
        pairs = prefix[j][:, None, :] + np.where(usable, suffix[:, other], -np.inf)
        without = np.logaddexp.reduce(pairs, axis=2)
        pi_k = np.exp(x[:, j] + without[index, ks - 1] - log_k)
        pi_k1 = np.exp(x[:, j] + without[index, ks - 2] - log_k1) if kmax >= 2 else 0.0
        pi_k1 = np.where(ks >= 2, pi_k1, 0.0)
        grad_d[:, j] = pi_k - pi_k1
        suffix[:, 1:] = np.logaddexp(suffix[:, 1:], x[:, j : j + 1] + suffix[:, :-1])
    grad_d[index, y] = -1.0
    sig = 0.5 * (1.0 + np.tanh(0.5 * d))  # sigmoid without overflow
    return loss, grad_d * (sig / ks)[:, None]


class GridError(NamedTuple):
    """The error of a kernel on one grid setting (max over its rows)."""

    n: int
    tau: float
    scale: float
    shift: float
    k: int
    loss: float  #: max |L - L_ref| / max(|L_ref|, tau)
    grad: float  #: max |dL/ds - dL_ref/ds|
    finite: bool  #: no NaN or inf in loss and gradient


def grid_errors(
    kernel: Callable[..., Tensor],
    n: int,
    rows: int,
    *,
    alpha: float = 1.0,
    seed: int = 0,
    device: str | torch.device = "cpu",
) -> list[GridError]:
    """Measure ``kernel`` (float32) against the float64 recursion over the accuracy grid.

    Scores are ``randn(rows, n) * scale + shift`` for every (tau, scale, shift, k) of the
    grid; all settings go through the reference in one sweep.

    Args:
        kernel: ``kernel(scores, target, k, tau, alpha) -> (rows,) losses``, differentiable.
        n: number of classes.
        rows: rows per setting.
        alpha: the margin.
        seed: seeds the scores and labels.
        device: where the kernel runs.
    """
    generator = torch.Generator().manual_seed(seed + n)
    base = torch.randn(rows, n, generator=generator)
    target = torch.randint(n, (rows,), generator=generator)
    settings = list(itertools.product(GRID_TAUS, GRID_SCALES, GRID_SHIFTS, GRID_KS))
    results, batches = [], []
    for tau, scale, shift, k in settings:
        scores = base * scale + shift
        leaf = scores.to(device).requires_grad_()
        loss = kernel(leaf, target.to(device), k, tau, alpha)
        (grad,) = torch.autograd.grad(loss.sum(), leaf)
        results.append((loss.detach().double().cpu().numpy(), grad.double().cpu().numpy()))
        batches.append(scores)
    ks = np.repeat([s[3] for s in settings], rows)
    taus = np.repeat([s[0] for s in settings], rows)
    want_loss, want_grad = recursive_loss_and_grad(
        torch.cat(batches), target.repeat(len(settings)), ks, taus, alpha
    )
    errors = []
    for i, ((tau, scale, shift, k), (loss, grad)) in enumerate(zip(settings, results, strict=True)):
        part = slice(i * rows, (i + 1) * rows)
        finite = bool(np.isfinite(loss).all() and np.isfinite(grad).all())
        relative = np.abs(loss - want_loss[part]) / np.maximum(np.abs(want_loss[part]), tau)
        errors.append(
            GridError(
                n,
                tau,
                scale,
                shift,
                k,
                float(relative.max()),
                float(np.abs(grad - want_grad[part]).max()),
                finite,
            )
        )
    return errors
