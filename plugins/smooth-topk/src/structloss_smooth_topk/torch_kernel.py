"""The torch backend of op ``smooth-topk``: an exact, stable O(k n) forward and backward.

The loss of one row (scores ``s``, label ``y``, ``x = s / (k tau)``) is ``tau * softplus(D)``
with ``D = alpha / tau + log sigma_k - log sigma_{k-1} - x_y``, where ``sigma_m`` are the
elementary symmetric polynomials of ``exp(x_j)`` over ``j != y``. Computing
``log sigma_k - log sigma_{k-1}`` directly cancels catastrophically when the scores are
spread widely (both logs are sums of the k - 1 largest ``x``, up to 1e7 in float32 on the
accuracy grid). We split instead at ``theta``, the k-th largest ``x`` among ``j != y``:

* ``T`` holds the k - 1 larger classes, with weights ``v_j = exp(theta - x_j) <= 1``;
* ``R`` holds the others (not ``y``), with weights ``w_j = exp(x_j - theta) <= 1``.

Dividing both polynomials by ``prod_T exp(x_j)`` gives, with ``Q(t) = prod_T (1 + v_j / t)
prod_R (1 + w_j t)``::

    log sigma_k - log sigma_{k-1} = theta + log [t^1] Q - log [t^0] Q

``[t^1] Q = sum_i tau_i rho_{i+1} >= 1`` and ``[t^0] Q = sum_i tau_i rho_i >= 1``, where
``tau_i = sigma_i(v)`` and ``rho_m = sigma_m(w)`` are sums of positive terms of size at most
``C(n, m)``; nothing cancels and ``theta - x_y`` is one rounded difference of scores.
``rho`` comes from k prefix sums (``rho_m = sum_l w_l sigma_{m-1}(w_{<l})``), after scaling
``w`` by ``1 / lambda`` with ``lambda = max(1, sum(w) / k)`` so no coefficient can overflow.

The backward is the exact adjoint of those prefix sums. ``dD/dx_j`` for ``j`` in R is
``w_j dF/dw_j`` for the functional ``F = sum_m c_m rho_m`` with ``c_m = tau_{m-1} lambda^m /
[t^1]Q - tau_m lambda^m / [t^0]Q`` (each part at most ``2^k``: ``[t^1]Q`` and ``[t^0]Q``
contain the terms they divide, and ``rho_m >= 1`` once ``lambda > 1``). With
``E_u(j) = sigma_u(w_{<j})`` (exclusive prefix sums) and ``H_u(j) = c_{u+1} + sum_{l > j}
w_l H_{u+1}(l)`` (exclusive suffix sums), ``dF/dw_j = sum_u E_u(j) H_u(j)``. Nothing is
divided by ``(1 + w_j t)`` (the unstable recursion); the one subtraction, inside ``c``,
separates two probabilities in [0, 1] (``P(j in a random k-subset) - P(j in a random
(k-1)-subset)``), and since a sum's rounding error is bounded by the sum of its terms'
magnitudes, the gradient keeps an absolute error of a few float32 ulps. Classes in ``T``
(k - 1 of them) get their gradient from ``k - 1`` leave-one-out polynomials of degree k - 2.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

import torch
from torch import Tensor

__all__ = ["compute_dtype", "smooth_topk_torch"]


def compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """Return the dtype the kernels compute in: float64 stays, everything else is float32."""
    return torch.float64 if dtype == torch.float64 else torch.float32


def exclusive_prefix_sum(a: Tensor, out: Tensor | None = None) -> Tensor:
    """Return ``out[..., j] = sum_{l < j} a[..., l]`` (a shifted cumulative sum, no subtraction).

    Writes into ``out`` (a tensor shaped like ``a``) when given.
    """
    out = torch.empty_like(a) if out is None else out
    out[..., 0] = 0
    torch.cumsum(a[..., :-1], -1, out=out[..., 1:])
    return out


def prefix_polynomials(w: Tensor, k: int, *, keep: bool = True) -> tuple[list[Tensor], Tensor]:
    """``E_u(j) = sigma_u(w_{<j})`` for u = 1..k-1 and ``rho_m = sigma_m(w)`` for m = 0..k.

    ``E_u = exclusive_prefix_sum(w * E_{u-1})`` and ``rho_u = sum(w * E_{u-1})``, with
    ``E_0 = 1``: k prefix sums of positive terms.

    Returns:
        ``([E_1, ..., E_{k-1}], rho (B, k + 1))``; with ``keep=False`` no ``E`` (the forward
        pass needs only ``rho``), in two reused buffers.
    """
    prefixes: list[Tensor] = []
    rho = [torch.ones_like(w[:, 0])]
    term = w
    for m in range(1, k + 1):
        if m < k:
            prefix = exclusive_prefix_sum(term)
            rho.append(prefix[:, -1] + term[:, -1])  # the total, without another pass
            if keep:
                prefixes.append(prefix)
                term = w * prefix
            else:  # only rho is wanted: two buffers, reused
                term = prefix.mul_(w)
        else:
            rho.append(term.sum(1))
    return prefixes, torch.stack(rho, 1)


def elementary_symmetric(weights: Tensor, degree: int) -> Tensor:
    """Return ``sigma_0 .. sigma_degree`` of the last axis of ``weights`` (few entries).

    A sequential recurrence over the (at most k - 1) entries; every term is positive.
    """
    out = weights.new_zeros(*weights.shape[:-1], degree + 1)
    out[..., 0] = 1
    for r in range(weights.shape[-1]):
        w = weights[..., r : r + 1]
        out = torch.cat([out[..., :1], out[..., 1:] + w * out[..., :-1]], dim=-1)
    return out


class Forward(NamedTuple):
    """What the forward pass computes and the backward pass reuses (all per row)."""

    loss: Tensor  # (B,)
    d: Tensor  # (B,) the softplus argument D
    w: Tensor  # (B, n) scaled weights of R; 0 on T and y
    top_idx: Tensor  # (B, k) classes of the k largest non-target scores, descending
    log_v: Tensor  # (B, k - 1) log weights of T, <= 0
    log_lam: Tensor  # (B,) log of the scale lambda >= 1
    log_rho: Tensor  # (B, k + 1) log sigma_m(w) (unscaled), m = 0..k
    log_tau: Tensor  # (B, k) log sigma_i(v), i = 0..k-1
    log_num: Tensor  # (B,) log [t^1] Q
    log_den: Tensor  # (B,) log [t^0] Q


def forward_stats(s: Tensor, y: Tensor, k: int, tau: float, alpha: float) -> Forward:
    """Compute the loss of each row of ``s`` (B, n) against ``y`` (B,) and what backward needs.

    Args:
        s: scores in the compute dtype; ``1 <= k < n``.
        y: int64 labels in range.
        k, tau, alpha: the loss's options (validated by the caller).
    """
    kt = k * tau
    label = y[:, None]
    s_y = s.gather(1, label).squeeze(1)
    top_vals, top_idx = s.scatter(1, label, float("-inf")).topk(k, dim=1)
    theta = top_vals[:, k - 1]
    # one buffer, in place: w_j = exp(min(0, (s_j - theta) / kt)), 0 on T and y
    w = (s - theta[:, None]).div_(kt).clamp_(max=0).exp_()
    w.scatter_(1, top_idx[:, : k - 1], 0.0).scatter_(1, label, 0.0)
    lam = (w.sum(1) / k).clamp(min=1)
    w.div_(lam[:, None])
    _, rho = prefix_polynomials(w, k, keep=False)
    log_lam = lam.log()
    degrees = torch.arange(k + 1, device=s.device, dtype=s.dtype)
    log_rho = rho.log() + degrees * log_lam[:, None]
    log_v = (theta[:, None] - top_vals[:, : k - 1]) / kt
    log_tau = elementary_symmetric(log_v.exp(), k - 1).log()
    log_num = torch.logsumexp(log_tau + log_rho[:, 1:], 1)
    log_den = torch.logsumexp(log_tau + log_rho[:, :-1], 1)
    d = alpha / tau + (theta - s_y) / kt + log_num - log_den
    loss = tau * torch.logaddexp(d, torch.zeros_like(d))
    return Forward(loss, d, w, top_idx, log_v, log_lam, log_rho, log_tau, log_num, log_den)


def backward_direction(f: Forward, y: Tensor, k: int) -> Tensor:
    """Return ``dD / dx`` (B, n) for the rows of ``f``; ``x = s / (k tau)``."""
    w = f.w
    m = torch.arange(1, k + 1, device=w.device, dtype=w.dtype)
    # dD/dx_j = w_j dF/dw_j, F = sum_m c_m rho_m (m = 1..k; tau_k = 0): see the module
    # docstring for why one signed functional is as accurate as its two positive parts.
    log_tau_next = torch.cat([f.log_tau[:, 1:], torch.full_like(f.log_tau[:, :1], -math.inf)], 1)
    degree = m * f.log_lam[:, None]
    c = (f.log_tau + degree - f.log_num[:, None]).exp() - (
        log_tau_next + degree - f.log_den[:, None]
    ).exp()  # (B, k)
    prefixes, _ = prefix_polynomials(w, k)
    # H_u(j) = c_{u+1} + sum_{l > j} w_l H_{u+1}(l) are suffix sums: they run on the reversed
    # classes, where they are prefix sums. g = sum_u E_u H_u = dF/dw (reversed).
    w_rev = w.flip(1)
    h = c[:, k - 1 :].expand_as(w)
    g = h * prefixes[k - 2].flip(1) if k >= 2 else h.clone()
    buffers = (torch.empty_like(w), torch.empty_like(w))
    product = torch.empty_like(w)
    for u in range(k - 2, -1, -1):
        torch.mul(w_rev, h, out=product)
        h = exclusive_prefix_sum(product, out=buffers[u % 2]).add_(c[:, u : u + 1])
        if u == 0:
            g += h
        else:
            g.addcmul_(prefixes[u - 1].flip(1), h)
            prefixes[u - 1] = product  # drop E_(u-1): the list no longer holds it
    del prefixes, product
    direction = g.mul_(w_rev).flip(1)
    if k >= 2:
        direction.scatter_(1, f.top_idx[:, : k - 1], _top_direction(f, k))
    direction.scatter_(1, y[:, None], -1.0)
    return direction


def _top_direction(f: Forward, k: int) -> Tensor:
    """``dD / dx_j`` for the k - 1 classes of T, from leave-one-out polynomials of T."""
    v = f.log_v.exp()
    others = v[:, None, :].expand(-1, k - 1, -1) * (
        1 - torch.eye(k - 1, dtype=v.dtype, device=v.device)
    )
    log_a = f.log_v[:, :, None] + elementary_symmetric(others, k - 2).log()  # (B, k-1, k-1)
    to_num = (log_a + f.log_rho[:, None, 2:] - f.log_num[:, None, None]).exp().sum(-1)
    to_den = (log_a + f.log_rho[:, None, 1:k] - f.log_den[:, None, None]).exp().sum(-1)
    return to_den - to_num


class SmoothTopKFunction(torch.autograd.Function):
    """Autograd function of the per-sample smooth top-k loss (exact backward)."""

    @staticmethod
    def forward(  # type: ignore[override]
        ctx: Any, scores: Tensor, target: Tensor, k: int, tau: float, alpha: float
    ) -> Tensor:
        s = scores.detach().to(compute_dtype(scores.dtype))
        y = target.long()
        f = forward_stats(s, y, k, tau, alpha)
        ctx.save_for_backward(y, *f[1:])
        ctx.k = k
        ctx.scores_dtype = scores.dtype
        return f.loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        y, *saved = ctx.saved_tensors
        f = Forward(saved[0].new_empty(0), *saved)
        scale = grad_loss.to(f.d.dtype) * torch.sigmoid(f.d) / ctx.k
        grad = scale[:, None] * backward_direction(f, y, ctx.k)
        return grad.to(ctx.scores_dtype), None, None, None, None


def smooth_topk_torch(scores: Tensor, target: Tensor, k: int, tau: float, alpha: float) -> Tensor:
    """Return the per-sample smooth top-k loss (B,) of ``scores`` (B, n) against ``target``.

    The kernel of op ``smooth-topk`` on backend ``torch``; runs on any device. It computes in
    float32 (float64 for float64 scores) and returns the loss in that dtype; the gradient
    has the scores' dtype.

    Args:
        scores: (B, n) class scores.
        target: (B,) class indices, all in ``0..n-1`` (the objective replaces ignored ones).
        k: subset size, ``1 <= k < n``.
        tau: temperature, > 0.
        alpha: margin, >= 0.
    """
    if scores.shape[0] == 0:
        return scores.new_zeros(0, dtype=compute_dtype(scores.dtype)) + 0 * scores.sum()
    return SmoothTopKFunction.apply(scores, target, k, tau, alpha)
