"""The Triton backend of op ``smooth-topk``: one fused forward and one fused backward kernel.

The algorithm is the torch backend's (see :mod:`structloss_smooth_topk.torch_kernel`), one
program per row, streaming the row in chunks of ``BLOCK`` classes:

* forward: pass 1 keeps the running top-k (values and classes) of the scores other than the
  target; pass 2 sums ``w_j = exp(x_j - theta)`` over ``R`` for the scale ``lambda``; pass 3
  runs the k prefix sums of ``E_u(j) = sigma_u(w_{<j})`` chunk by chunk (exclusive scans
  inside a chunk, carries between chunks), saving each chunk's incoming carries. Each pass
  reads the row once. The epilogue combines ``rho`` and ``tau`` in log space.
* backward: one pass over the chunks from last to first: the chunk's ``E_u`` are rebuilt
  from the saved carries, the suffix sums ``H_u`` run as reverse exclusive scans with
  carries, and ``dL/ds`` is written once.

Exclusive scans use the subtraction-free combine ``(e1, t1) o (e2, t2) = (t1 + e2, t1 + t2)``
on pairs ``(0, a_j)``; with ``reverse=True`` (flip, scan, flip) it gives exclusive suffix sums.

This module imports triton at the top: import it only where triton is wanted (the kernel
factory does). Set ``TRITON_INTERPRET=1`` before importing triton to run it on the CPU.
"""

from __future__ import annotations

import torch
import triton
import triton.language as tl
from torch import Tensor

from structloss_smooth_topk.torch_kernel import smooth_topk_torch
from structloss_smooth_topk.triton_ops import launch_shape

__all__ = ["MAX_K", "smooth_topk_triton"]

#: The largest k the Triton kernels take (they unroll loops over k); larger k runs the
#: torch kernel, which is exact as well.
MAX_K = 16
_STATS = tl.constexpr(8)  # per-row floats passed from forward to backward


@triton.jit
def _exclusive_combine(e1, t1, e2, t2):
    return t1 + e2, t1 + t2


@triton.jit
def _exclusive_scan(a, AXIS: tl.constexpr, REVERSE: tl.constexpr):
    """Sums of the elements strictly before (after, with REVERSE) each one along AXIS."""
    excl, _ = tl.associative_scan((tl.zeros_like(a), a), AXIS, _exclusive_combine, reverse=REVERSE)
    return excl


@triton.jit
def _pick(vec, kk, i):
    """Entry ``i`` of a small vector (as a scalar)."""
    return tl.sum(tl.where(kk == i, vec, 0.0), 0)


@triton.jit
def _shift(vec, kk, d: tl.constexpr, fill: tl.constexpr):
    """``out[i] = vec[i - d]`` (``fill`` where out of range) for a small vector ``>= fill``."""
    hit = kk[None, :] == kk[:, None] - d
    return tl.max(tl.where(hit, vec[None, :], fill), 1)


@triton.jit
def _log1p(x):
    """``log(1 + x)`` for ``x >= 0``, accurate for small ``x`` too."""
    return tl.where(x < 1e-3, x * (1.0 - x * (0.5 - x / 3.0)), tl.log(1.0 + x))


@triton.jit
def _weights(row_ptr, offs, n, y, theta, top_i, kk, k_tau, lam, K: tl.constexpr):
    """Scaled weights ``exp(x_j - theta) / lambda`` of R on a chunk; 0 on T, y and padding."""
    s = tl.load(row_ptr + offs, mask=offs < n, other=0.0).to(tl.float32)
    in_top = tl.max(((offs[:, None] == top_i[None, :]) & (kk[None, :] < K - 1)).to(tl.int32), 1)
    keep = (offs < n) & (offs != y) & (in_top == 0)
    return tl.where(keep, tl.exp(tl.minimum((s - theta) / k_tau, 0.0)), 0.0) / lam


@triton.jit
def _smooth_topk_forward(
    S, stride_s, Y, LOSS, STATS, TOPV, TOPI, LOGRHO, LOGTAU, CARRY,
    n, k_tau, tau, alpha_over_tau,
    K: tl.constexpr, KP: tl.constexpr, BLOCK: tl.constexpr, NCHUNK: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    row_ptr = S + row * stride_s
    y = tl.load(Y + row).to(tl.int32)
    s_y = tl.load(row_ptr + y).to(tl.float32)
    cols = tl.arange(0, BLOCK)
    kk = tl.arange(0, KP)
    big = 2147483647
    # pass 1: the K largest scores other than y (ties: smallest class first)
    top_v = tl.full([KP], float("-inf"), tl.float32)
    top_i = tl.full([KP], big, tl.int32)
    for start in range(0, n, BLOCK):
        offs = start + cols
        valid = (offs < n) & (offs != y)
        v = tl.load(row_ptr + offs, mask=valid, other=float("-inf")).to(tl.float32)
        v = tl.where(valid, v, float("-inf"))
        idx = tl.where(valid, offs, big)
        new_v = tl.full([KP], float("-inf"), tl.float32)
        new_i = tl.full([KP], big, tl.int32)
        for r in tl.static_range(K):
            best = tl.maximum(tl.max(v, 0), tl.max(top_v, 0))
            pick = tl.minimum(
                tl.min(tl.where(v == best, idx, big), 0),
                tl.min(tl.where(top_v == best, top_i, big), 0),
            )
            new_v = tl.where(kk == r, best, new_v)
            new_i = tl.where(kk == r, pick, new_i)
            v = tl.where(idx == pick, float("-inf"), v)
            idx = tl.where(idx == pick, big, idx)
            top_v = tl.where(top_i == pick, float("-inf"), top_v)
            top_i = tl.where(top_i == pick, big, top_i)
        top_v = new_v
        top_i = new_i
    theta = _pick(top_v, kk, K - 1)
    # pass 2: the scale lambda = max(1, sum_R w / K)
    total = 0.0
    for start in range(0, n, BLOCK):
        w = _weights(row_ptr, start + cols, n, y, theta, top_i, kk, k_tau, 1.0, K)
        total += tl.sum(w, 0)
    lam = tl.maximum(total / K, 1.0)
    # pass 3: rho_m = sigma_m(w / lambda), m = 0..K, by prefix sums with carries per chunk
    carry = tl.where(kk == 0, 1.0, 0.0)
    for start in range(0, n, BLOCK):
        tl.store(CARRY + (row * NCHUNK + start // BLOCK) * KP + kk, carry)
        w = _weights(row_ptr, start + cols, n, y, theta, top_i, kk, k_tau, lam, K)
        e = tl.full([BLOCK], 1.0, tl.float32)
        added = tl.zeros([KP], tl.float32)
        for u in tl.static_range(1, K + 1):
            a = w * e
            added = tl.where(kk == u, tl.sum(a, 0), added)
            if u < K:
                e = _pick(carry, kk, u) + _exclusive_scan(a, 0, False)
        carry = carry + added
    # epilogue: tau_i = sigma_i(v) over T, then [t^1]Q and [t^0]Q in log space
    log_lam = tl.log(lam)
    log_v = tl.where(kk < K - 1, (theta - top_v) / k_tau, float("-inf"))
    v_top = tl.exp(log_v)
    taus = tl.where(kk == 0, 1.0, 0.0)
    for r in tl.static_range(K - 1):
        taus = taus + _pick(v_top, kk, r) * _shift(taus, kk, 1, 0.0)
    log_rho = tl.log(carry) + kk.to(tl.float32) * log_lam
    log_tau = tl.log(taus)
    num_terms = log_tau + _shift(log_rho, kk, -1, float("-inf"))
    den_terms = log_tau + log_rho
    num_max = tl.max(num_terms, 0)
    den_max = tl.max(den_terms, 0)
    log_num = num_max + tl.log(tl.sum(tl.exp(num_terms - num_max), 0))
    log_den = den_max + tl.log(tl.sum(tl.exp(den_terms - den_max), 0))
    d = alpha_over_tau + (theta - s_y) / k_tau + log_num - log_den
    loss = tau * (tl.maximum(d, 0.0) + _log1p(tl.exp(-tl.abs(d))))
    tl.store(LOSS + row, loss)
    stats = tl.arange(0, _STATS)
    values = tl.where(stats == 0, theta, 0.0)
    values = tl.where(stats == 1, log_lam, values)
    values = tl.where(stats == 2, log_num, values)
    values = tl.where(stats == 3, log_den, values)
    values = tl.where(stats == 4, d, values)
    tl.store(STATS + row * _STATS + stats, values)
    tl.store(TOPV + row * KP + kk, top_v)
    tl.store(TOPI + row * KP + kk, top_i)
    tl.store(LOGRHO + row * KP + kk, log_rho)
    tl.store(LOGTAU + row * KP + kk, log_tau)


@triton.jit
def _top_direction(top_v, theta, log_rho, log_num, log_den, kk, k_tau, K: tl.constexpr):
    """``dD/dx_j`` for the K - 1 classes of T (entry r of the result), from leave-one-out
    polynomials ``sigma_i(v without r)``."""
    log_v = tl.where(kk < K - 1, (theta - top_v) / k_tau, float("-inf"))
    v_top = tl.exp(log_v)
    rho_1 = _shift(log_rho, kk, -1, float("-inf"))
    rho_2 = _shift(log_rho, kk, -2, float("-inf"))
    out = tl.zeros_like(v_top)
    for r in tl.static_range(K - 1):
        poly = tl.where(kk == 0, 1.0, 0.0)
        for q in tl.static_range(K - 1):
            if q != r:
                poly = poly + _pick(v_top, kk, q) * _shift(poly, kk, 1, 0.0)
        log_a = _pick(log_v, kk, r) + tl.log(poly)
        to_num = tl.sum(tl.exp(log_a + rho_2 - log_num), 0)
        to_den = tl.sum(tl.exp(log_a + rho_1 - log_den), 0)
        out = tl.where(kk == r, to_den - to_num, out)
    return out


@triton.jit
def _smooth_topk_backward(
    S, stride_s, Y, GOUT, GRAD, stride_g, STATS, TOPV, TOPI, LOGRHO, LOGTAU, CARRY,
    n, k_tau,
    K: tl.constexpr, KP: tl.constexpr, BLOCK: tl.constexpr, NCHUNK: tl.constexpr,
):  # fmt: skip
    row = tl.program_id(0).to(tl.int64)
    row_ptr = S + row * stride_s
    grad_ptr = GRAD + row * stride_g
    y = tl.load(Y + row).to(tl.int32)
    cols = tl.arange(0, BLOCK)
    kk = tl.arange(0, KP)
    theta = tl.load(STATS + row * _STATS + 0)
    log_lam = tl.load(STATS + row * _STATS + 1)
    log_num = tl.load(STATS + row * _STATS + 2)
    log_den = tl.load(STATS + row * _STATS + 3)
    d = tl.load(STATS + row * _STATS + 4)
    top_v = tl.load(TOPV + row * KP + kk)
    top_i = tl.load(TOPI + row * KP + kk)
    log_rho = tl.load(LOGRHO + row * KP + kk)
    log_tau = tl.load(LOGTAU + row * KP + kk)
    tail = tl.exp(-tl.abs(d))
    sig = tl.where(d >= 0, 1.0 / (1.0 + tail), tail / (1.0 + tail))
    scale = tl.load(GOUT + row).to(tl.float32) * sig / K
    lam = tl.exp(log_lam)
    # dD/dx_j = w_j dF/dw_j for F = sum_m c_m rho_m, c_{u+1} = tau_u lambda^(u+1) / [t^1]Q
    # - tau_{u+1} lambda^(u+1) / [t^0]Q (entry u = 0..K-1; each part at most 2^K); see the
    # torch kernel for why one signed functional keeps the absolute error of two.
    deg = (kk + 1).to(tl.float32) * log_lam
    c_num = tl.where(kk < K, tl.exp(log_tau + deg - log_num), 0.0)
    tau_next = _shift(log_tau, kk, -1, float("-inf"))
    c_den = tl.where(kk < K - 1, tl.exp(tau_next + deg - log_den), 0.0)
    h_carry = c_num - c_den  # H_u at the end of the chunks still to come
    top_dir = _top_direction(top_v, theta, log_rho, log_num, log_den, kk, k_tau, K)
    for step in range(0, NCHUNK):
        chunk = NCHUNK - 1 - step
        offs = chunk * BLOCK + cols
        w = _weights(row_ptr, offs, n, y, theta, top_i, kk, k_tau, lam, K)
        # E_u on this chunk from the carries saved by the forward pass: (KP, BLOCK)
        carry = tl.load(CARRY + (row * NCHUNK + chunk) * KP + kk)
        prefixes = tl.where(kk[:, None] == 0, 1.0, tl.zeros([KP, BLOCK], tl.float32))
        prefix = tl.full([BLOCK], 1.0, tl.float32)
        for u in tl.static_range(1, K):
            prefix = _pick(carry, kk, u) + _exclusive_scan(w * prefix, 0, False)
            prefixes = tl.where(kk[:, None] == u, prefix[None, :], prefixes)
        # H_u, u = K-1 .. 0, as reverse exclusive scans; g = sum_u E_u H_u = dF/dw
        h = tl.zeros([BLOCK], tl.float32) + _pick(h_carry, kk, K - 1)
        g = tl.sum(tl.where(kk[:, None] == K - 1, prefixes, 0.0), 0) * h
        added = tl.zeros([KP], tl.float32)
        for step_u in tl.static_range(K - 1):
            u = K - 2 - step_u
            a = w * h
            added = tl.where(kk == u, tl.sum(a, 0), added)
            h = _pick(h_carry, kk, u) + _exclusive_scan(a, 0, True)
            g += tl.sum(tl.where(kk[:, None] == u, prefixes, 0.0), 0) * h
        h_carry = h_carry + added
        direction = w * g
        match = (offs[:, None] == top_i[None, :]) & (kk[None, :] < K - 1)
        from_top = tl.sum(tl.where(match, top_dir[None, :], 0.0), 1)
        in_top = tl.max(match.to(tl.int32), 1) > 0
        direction = tl.where(in_top, from_top, direction)
        direction = tl.where(offs == y, -1.0, direction)
        grad = scale * direction
        tl.store(grad_ptr + offs, grad.to(GRAD.dtype.element_ty), mask=offs < n)


def launch_forward(
    scores: Tensor, target: Tensor, k: int, tau: float, alpha: float, block: int | None
) -> tuple[Tensor, ...]:
    """Run the forward kernel: the loss and what the backward kernel reads."""
    s = scores if scores.stride(1) == 1 else scores.contiguous()
    y = target.contiguous()
    rows, n = s.shape
    kp, block, chunks, num_warps = launch_shape(n, k, block)
    device = s.device
    loss = torch.empty(rows, device=device, dtype=torch.float32)
    stats = torch.empty(rows, _STATS.value, device=device, dtype=torch.float32)
    top_v = torch.empty(rows, kp, device=device, dtype=torch.float32)
    top_i = torch.empty(rows, kp, device=device, dtype=torch.int32)
    log_rho = torch.empty(rows, kp, device=device, dtype=torch.float32)
    log_tau = torch.empty(rows, kp, device=device, dtype=torch.float32)
    carry = torch.empty(rows, chunks, kp, device=device, dtype=torch.float32)
    if rows:
        _smooth_topk_forward[(rows,)](
            s, s.stride(0), y, loss, stats, top_v, top_i, log_rho, log_tau, carry,
            n, k * tau, tau, alpha / tau,
            K=k, KP=kp, BLOCK=block, NCHUNK=chunks, num_warps=num_warps,
        )  # fmt: skip
    return loss, stats, top_v, top_i, log_rho, log_tau, carry


def launch_backward(
    scores: Tensor,
    target: Tensor,
    grad_loss: Tensor,
    saved: tuple[Tensor, ...],
    k: int,
    tau: float,
    block: int | None,
) -> Tensor:
    """Run the backward kernel: ``dL/dscores`` in the scores' dtype."""
    s = scores if scores.stride(1) == 1 else scores.contiguous()
    y = target.contiguous()
    stats, top_v, top_i, log_rho, log_tau, carry = saved
    rows, n = s.shape
    kp, block, chunks, num_warps = launch_shape(n, k, block)
    grad = torch.empty(rows, n, device=s.device, dtype=scores.dtype)
    if rows:
        _smooth_topk_backward[(rows,)](
            s, s.stride(0), y, grad_loss.contiguous(), grad, grad.stride(0), stats,
            top_v, top_i, log_rho, log_tau, carry, n, k * tau,
            K=k, KP=kp, BLOCK=block, NCHUNK=chunks, num_warps=num_warps,
        )  # fmt: skip
    return grad


def smooth_topk_triton(
    scores: Tensor,
    target: Tensor,
    k: int,
    tau: float,
    alpha: float,
    *,
    block: int | None = None,
) -> Tensor:
    """Return the per-sample smooth top-k loss (B,) with the fused Triton kernels.

    The kernel of op ``smooth-topk`` on backend ``triton``. It computes in float32 (half
    and bfloat16 scores are read as float32; the gradient has the scores' dtype). float64
    scores, and ``k > MAX_K``, run the torch kernel instead, which is exact as well.

    Args:
        scores: (B, n) class scores on a CUDA device (or any device under
            ``TRITON_INTERPRET=1``).
        target: (B,) class indices, all in ``0..n-1``.
        k: subset size, ``1 <= k < n``.
        tau: temperature, > 0.
        alpha: margin, >= 0.
        block: classes per chunk (a power of two >= 16); chosen from n and k when None.

    The kernels run as the torch custom ops ``structloss_smooth_topk::forward`` and
    ``::backward`` (:mod:`structloss_smooth_topk.triton_ops`), so ``torch.compile`` keeps a
    model with this loss in one graph.
    """
    if scores.dtype == torch.float64 or k > MAX_K:
        return smooth_topk_torch(scores, target, k, tau, alpha)
    from structloss_smooth_topk.triton_ops import smooth_topk_forward

    return smooth_topk_forward(scores, target, k, tau, alpha, block)[0]
