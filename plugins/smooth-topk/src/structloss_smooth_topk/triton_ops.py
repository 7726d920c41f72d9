"""The Triton kernels as torch custom ops, so ``torch.compile`` sees them as single ops.

``structloss_smooth_topk::forward`` returns the per-sample loss and what the backward
kernel reads; ``structloss_smooth_topk::backward`` returns ``dL/dscores``. Each has a fake
(meta) implementation giving its outputs' shapes, and the forward op's autograd formula
calls the backward op, so a compiled model with the smooth top-k loss on a GPU keeps one
graph (Dynamo traces the ops as opaque calls, without graph breaks).

This module imports no triton: the ops' implementations call the kernel launchers of
:mod:`structloss_smooth_topk.triton_kernel` as currently imported (tests import that module
afresh to switch Triton's interpreter on or off; the ops stay registered once).
"""

from __future__ import annotations

import importlib
from typing import Any

import torch
from torch import Tensor

__all__ = ["launch_shape", "smooth_topk_backward", "smooth_topk_forward"]

_KERNELS = "structloss_smooth_topk.triton_kernel"
_STATS = 8  # per-row floats passed from forward to backward (the kernels' _STATS)


def _kernels() -> Any:
    return importlib.import_module(_KERNELS)


def launch_shape(n: int, k: int, block: int | None) -> tuple[int, int, int, int]:
    """``(KP, BLOCK, NCHUNK, num_warps)`` of the kernels for ``n`` classes and subset size k.

    ``KP`` is the power of two above k (the kernels' per-row vectors), ``BLOCK`` the classes
    per chunk (a power of two, 16..1024, chosen from n and k when None). Plain integers, so
    the fake implementations need no triton.
    """
    kp = 1 << k.bit_length()  # the next power of two >= k + 1
    if block is None:
        block = max(16, min(1024, 8192 // kp, 1 << max(0, (n - 1).bit_length())))
    return kp, block, -(-n // block), 8 if block >= 1024 else 4


@torch.library.custom_op("structloss_smooth_topk::forward", mutates_args=())
def smooth_topk_forward(
    scores: Tensor, target: Tensor, k: int, tau: float, alpha: float, block: int | None
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """(loss, stats, top_v, top_i, log_rho, log_tau, carry) of the forward kernel."""
    return tuple(_kernels().launch_forward(scores, target, k, tau, alpha, block))  # type: ignore[return-value]


@smooth_topk_forward.register_fake
def _(scores: Tensor, target: Tensor, k: int, tau: float, alpha: float, block: int | None) -> Any:
    rows, n = scores.shape
    kp, _, chunks, _ = launch_shape(n, k, block)

    def empty(*shape: int, dtype: torch.dtype = torch.float32) -> Tensor:
        return scores.new_empty(shape, dtype=dtype)

    return (
        empty(rows),
        empty(rows, _STATS),
        empty(rows, kp),
        empty(rows, kp, dtype=torch.int32),
        empty(rows, kp),
        empty(rows, kp),
        empty(rows, chunks, kp),
    )


@torch.library.custom_op("structloss_smooth_topk::backward", mutates_args=())
def smooth_topk_backward(
    scores: Tensor,
    target: Tensor,
    grad_loss: Tensor,
    stats: Tensor,
    top_v: Tensor,
    top_i: Tensor,
    log_rho: Tensor,
    log_tau: Tensor,
    carry: Tensor,
    k: int,
    tau: float,
    block: int | None,
) -> Tensor:
    """``dL/dscores`` (the scores' shape and dtype) from the forward kernel's outputs."""
    saved = (stats, top_v, top_i, log_rho, log_tau, carry)
    return _kernels().launch_backward(scores, target, grad_loss, saved, k, tau, block)


@smooth_topk_backward.register_fake
def _(scores: Tensor, *args: Any) -> Tensor:
    return torch.empty_like(scores, memory_format=torch.contiguous_format)


def _setup_context(ctx: Any, inputs: tuple[Any, ...], output: tuple[Tensor, ...]) -> None:
    scores, target, k, tau, _alpha, block = inputs
    ctx.save_for_backward(scores, target, *output[1:])
    ctx.k, ctx.tau, ctx.block = k, tau, block


def _backward(ctx: Any, grad_loss: Tensor, *_unused: Any) -> tuple[Tensor | None, ...]:
    scores, target, *saved = ctx.saved_tensors
    grad = smooth_topk_backward(scores, target, grad_loss, *saved, ctx.k, ctx.tau, ctx.block)
    return grad, None, None, None, None, None


smooth_topk_forward.register_autograd(_backward, setup_context=_setup_context)
