"""structloss hooks of the ``smooth-topk`` plugin: loss, backend ``triton``, two kernels.

Imports no triton: the backend imports it when asked whether it can run, the Triton kernel
factory when the kernel is first used.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import BackendSpec, KernelSpec, LossSpec
from structloss_smooth_topk.backend import TritonBackend, kernel_specs
from structloss_smooth_topk.loss import build_smooth_topk

__all__ = ["structloss_backends", "structloss_kernels", "structloss_losses"]


@hookimpl
def structloss_losses() -> Iterable[LossSpec]:
    """Yield loss ``smooth-topk`` (needs no structure)."""
    yield LossSpec(
        name="smooth-topk",
        factory=build_smooth_topk,
        summary="smooth top-k SVM (Berrada et al. 2018): options k, tau, alpha",
    )


@hookimpl
def structloss_backends() -> Iterable[BackendSpec]:
    """Yield backend ``triton``; ``auto`` prefers it on CUDA tensors (priority 10)."""
    yield BackendSpec(
        name="triton",
        factory=TritonBackend,
        summary="fused Triton GPU kernels (needs triton and a CUDA device)",
        priority=10,
    )


@hookimpl
def structloss_kernels() -> Iterable[KernelSpec]:
    """Yield the kernels of op ``smooth-topk`` for backends ``torch`` and ``triton``."""
    yield from kernel_specs()
