"""structloss hooks of the ``smooth-topk`` plugin: loss, backend ``triton``, two kernels.

Imports no triton: the backend imports it when asked whether it can run, the Triton kernel
factory when the kernel is first used.
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import BackendSpec, LossSpec
from structloss_smooth_topk.backend import TritonBackend, kernel_specs
from structloss_smooth_topk.loss import build_smooth_topk

__all__ = ["structloss_backends", "structloss_kernels", "structloss_losses"]


structloss_losses = provides(
    LossSpec(
        "smooth-topk",
        build_smooth_topk,
        "smooth top-k SVM (Berrada et al. 2018): options k, tau, alpha",
    ),
)
#: ``auto`` prefers ``triton`` on CUDA tensors (priority 10)
structloss_backends = provides(
    BackendSpec(
        "triton", TritonBackend, "fused Triton GPU kernels (needs triton and a CUDA device)", 10
    ),
)
#: the kernels of op ``smooth-topk`` for backends ``torch`` and ``triton``
structloss_kernels = provides(*kernel_specs())
