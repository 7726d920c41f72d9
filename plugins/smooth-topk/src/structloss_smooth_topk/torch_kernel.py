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
``rho`` is the polynomial ``prod_R (1 + w_j t)`` truncated at degree k, multiplied out by a
balanced product tree (pairs of halves, then pairs of those: about 4 passes over the
classes in all, every term positive, rounding error growing with the tree's depth log2 n
rather than with n), after scaling ``w`` by ``1 / lambda`` with ``lambda = max(1, sum(w) /
k)`` so no coefficient can overflow.

The backward is the exact adjoint of that tree. ``dD/dx_j`` for ``j`` in R is ``w_j
dF/dw_j`` for the functional ``F = sum_m c_m rho_m`` with ``c_m = tau_{m-1} lambda^m /
[t^1]Q - tau_m lambda^m / [t^0]Q`` (each part at most ``2^k``: ``[t^1]Q`` and ``[t^0]Q``
contain the terms they divide, and ``rho_m >= 1`` once ``lambda > 1``). Going down the
tree, a child's coefficient gradient is its parent's, correlated with its sibling's
coefficients; at a leaf, ``dF/dw_j = sum_m c_m sigma_{m-1}(w without j)``, a sum of ``c_m``
times positive products. Nothing is divided by ``(1 + w_j t)`` (the unstable recursion);
the one subtraction, inside ``c``, separates two probabilities in [0, 1] (``P(j in a random
k-subset) - P(j in a random (k-1)-subset)``), and since a sum's rounding error is bounded
by the sum of its terms' magnitudes, the gradient keeps an absolute error of a few float32
ulps. Classes in ``T`` (k - 1 of them) get their gradient from ``k - 1`` leave-one-out
polynomials of degree k - 2.
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


def write(op: Any, out: Tensor, *args: Any) -> Tensor:
    """``op(*args, out=out)`` eagerly; under ``torch.compile`` (which takes no strided ``out=``)
    ``out.copy_(op(*args))``, which the compiler fuses into the same single pass."""
    if torch.compiler.is_compiling():
        return out.copy_(op(*args))
    return op(*args, out=out)


def padded_width(n: int) -> int:
    """A width >= n that halves evenly about log2(n) - 3 times (at most 1/8 more)."""
    block = 1 << max(0, n.bit_length() - 4)
    return -(-n // block) * block


def product_tree(w: Tensor, k: int) -> list[Tensor]:
    """Levels of the product tree of ``prod_j (1 + w_j t)`` truncated at degree ``k``.

    A level (B, d, P) holds P polynomials by their coefficients of ``t^1 .. t^d`` (the
    constant 1 left out): ``levels[0]`` is ``w`` (B, 1, N); each next level multiplies the
    first half of the previous one by its second half; the last (B, k, 1) is ``rho_1 ..
    rho_k``. A level of odd width gets a zero column (the polynomial 1) first.
    """
    levels = [w[:, None, :]]
    a = levels[0]
    while a.shape[2] > 1:
        if a.shape[2] % 2:
            a = levels[-1] = torch.cat([a, a.new_zeros(*a.shape[:2], 1)], 2)
        d, half = a.shape[1], a.shape[2] // 2
        e = min(2 * d, k)
        left, right = a[:, :, :half], a[:, :, half:]
        out = a.new_empty(a.shape[0], e, half)
        write(torch.add, out[:, :d], left, right)  # [t^m] for m <= d: l_m + r_m + sum l_i r_(m-i)
        if e > d:  # degrees above d start from l_(m-d) r_d
            write(torch.mul, out[:, d:], left[:, : e - d], right[:, d - 1 : d])
        for i in range(1, min(d, e - 1) + 1):
            hi = min(d - 1, e - i)
            if hi > 0:
                out[:, i : i + hi].addcmul_(left[:, i - 1 : i], right[:, :hi])
        levels.append(out)
        a = out
    return levels


def tree_adjoint(levels: list[Tensor], c: Tensor, out: Tensor) -> Tensor:
    """Write ``dF/dw`` (B, N) into ``out`` for ``F = sum_m c_m rho_m``, ``c`` (B, k).

    Goes down ``product_tree``'s levels: with a parent ``p = l r``, ``dF/dl_i = g_i +
    sum_j g_(i+j) r_j`` (and alike for ``r``), ``g`` the parent's coefficient gradient. Two
    buffers the size of the largest inner level hold the levels in between.
    """
    inner = [a.numel() for a in levels[1:-1]]
    buffers = c.new_empty(2, max(inner)) if inner else c.new_empty(2, 0)
    g = c[:, :, None]
    for step, a in enumerate(reversed(levels[:-1])):
        d, half, e = a.shape[1], a.shape[2] // 2, g.shape[1]
        g = g[:, :, :half]  # the gradient of a zero column is not needed
        left, right = a[:, :, :half], a[:, :, half:]
        grad = out[:, None] if a is levels[0] else buffers[step % 2, : a.numel()].view(a.shape)
        for part, sibling in ((grad[:, :, :half], right), (grad[:, :, half:], left)):
            hi = min(d, e - 1)
            write(torch.addcmul, part[:, :hi], g[:, :hi], g[:, 1 : 1 + hi], sibling[:, :1])
            if hi < d:
                part[:, hi:].copy_(g[:, hi:d])
            for j in range(2, hi + 1):
                span = min(d, e - j)
                part[:, :span].addcmul_(g[:, j : j + span], sibling[:, j - 1 : j])
        g = grad
    return out


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
    top_idx: Tensor  # (B, k) classes of the k largest non-target scores, descending
    log_v: Tensor  # (B, k - 1) log weights of T, <= 0
    log_lam: Tensor  # (B,) log of the scale lambda >= 1
    log_rho: Tensor  # (B, k + 1) log sigma_m(w) (unscaled), m = 0..k
    log_tau: Tensor  # (B, k) log sigma_i(v), i = 0..k-1
    log_num: Tensor  # (B,) log [t^1] Q
    log_den: Tensor  # (B,) log [t^0] Q


def top_k_others(s: Tensor, label: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The k largest scores of each row other than its label's, descending, and their classes.

    One ``topk(k + 1)`` of the scores, dropping the label where it is among them (no copy
    of the scores with the label masked).
    """
    values, classes = s.topk(k + 1, dim=1)
    others = (classes == label).to(torch.int8).argsort(dim=1, stable=True)[:, :k]
    others = others.sort(dim=1).values  # back in descending order of score
    return values.gather(1, others), classes.gather(1, others)


def forward_stats(
    s: Tensor, y: Tensor, k: int, tau: float, alpha: float
) -> tuple[Forward, list[Tensor]]:
    """Compute the loss of each row of ``s`` (B, n) against ``y`` (B,) and what backward needs.

    Args:
        s: scores in the compute dtype; ``1 <= k < n``.
        y: int64 labels in range.
        k, tau, alpha: the loss's options (validated by the caller).

    Returns:
        The per-row results and the levels of ``product_tree`` (``levels[0][:, 0, :n]`` is
        the scaled ``w``, 0 on T and y).
    """
    kt = k * tau
    label = y[:, None]
    n = s.shape[1]
    s_y = s.gather(1, label).squeeze(1)
    top_vals, top_idx = top_k_others(s, label, k)
    theta = top_vals[:, k - 1]
    # w_j = exp((s_j - theta) / kt) <= 1 in one buffer, in place; the only classes above
    # theta are T and y, set to 0 next; the padding columns are the polynomial 1
    padded = s.new_empty(s.shape[0], padded_width(n))
    padded[:, n:] = 0
    w = write(torch.sub, padded[:, :n], s, theta[:, None]).div_(kt).exp_()
    w.scatter_(1, top_idx[:, : k - 1], 0.0).scatter_(1, label, 0.0)
    lam = (w.sum(1) / k).clamp(min=1)
    w.div_(lam[:, None])
    levels = product_tree(padded, k)
    log_lam = lam.log()
    degrees = torch.arange(1, k + 1, device=s.device, dtype=s.dtype)
    log_rho = torch.cat([torch.zeros_like(lam[:, None]), levels[-1][:, :, 0].log()], 1)
    log_rho[:, 1:] += degrees * log_lam[:, None]
    log_v = (theta[:, None] - top_vals[:, : k - 1]) / kt
    log_tau = elementary_symmetric(log_v.exp(), k - 1).log()
    log_num = torch.logsumexp(log_tau + log_rho[:, 1:], 1)
    log_den = torch.logsumexp(log_tau + log_rho[:, :-1], 1)
    d = alpha / tau + (theta - s_y) / kt + log_num - log_den
    loss = tau * torch.logaddexp(d, torch.zeros_like(d))
    stats = Forward(loss, d, top_idx, log_v, log_lam, log_rho, log_tau, log_num, log_den)
    return stats, levels


def backward_direction(
    f: Forward, levels: list[Tensor], y: Tensor, k: int, n: int, scale: Tensor
) -> Tensor:
    """Return ``scale * dD / dx`` (B, n) for the rows of ``f``; ``x = s / (k tau)``.

    ``scale`` (B,) multiplies ``c`` (the gradient is linear in it), not the (B, n) result.
    """
    m = torch.arange(1, k + 1, device=y.device, dtype=f.d.dtype)
    # dD/dx_j = w_j dF/dw_j, F = sum_m c_m rho_m (m = 1..k; tau_k = 0): see the module
    # docstring for why one signed functional is as accurate as its two positive parts.
    log_tau_next = torch.cat([f.log_tau[:, 1:], torch.full_like(f.log_tau[:, :1], -math.inf)], 1)
    degree = m * f.log_lam[:, None]
    c = (f.log_tau + degree - f.log_num[:, None]).exp() - (
        log_tau_next + degree - f.log_den[:, None]
    ).exp()  # (B, k)
    leaves = levels[0][:, 0]
    grad = tree_adjoint(levels, c.mul_(scale[:, None]), torch.empty_like(leaves))
    direction = grad.mul_(leaves)[:, :n]
    if k >= 2:
        direction.scatter_(1, f.top_idx[:, : k - 1], _top_direction(f, k) * scale[:, None])
    direction.scatter_(1, y[:, None], -scale[:, None])
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
        f, levels = forward_stats(s, y, k, tau, alpha)
        ctx.save_for_backward(y, *f[1:], *levels)
        ctx.k, ctx.n, ctx.scores_dtype = k, s.shape[1], scores.dtype
        return f.loss

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx: Any, grad_loss: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        y, *saved = ctx.saved_tensors
        fields = len(Forward._fields) - 1
        f = Forward(saved[0].new_empty(0), *saved[:fields])
        scale = grad_loss.to(f.d.dtype) * torch.sigmoid(f.d) / ctx.k
        grad = backward_direction(f, saved[fields:], y, ctx.k, ctx.n, scale)
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
