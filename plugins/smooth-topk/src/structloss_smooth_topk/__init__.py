"""The smooth top-k SVM loss for structloss (Berrada, Zisserman & Kumar, ICLR 2018).

Use it by name (``[loss] name = "smooth-topk"``, options ``k``, ``tau``, ``alpha``) or
directly::

    from structloss_smooth_topk import SmoothTopK
    loss = SmoothTopK(num_classes=1000, k=5, tau=0.3, alpha=1.0)
    value = loss(logits, target)

Backend ``auto`` runs the fused Triton kernels on CUDA tensors when triton is installed and
the torch kernel elsewhere; both are exact and stable in float32 for any scale of scores.
"""

from __future__ import annotations

from structloss_smooth_topk.backend import TritonBackend, default_compute_backend
from structloss_smooth_topk.loss import SmoothTopK, build_smooth_topk
from structloss_smooth_topk.torch_kernel import smooth_topk_torch

__version__ = "0.1.0"

__all__ = [
    "SmoothTopK",
    "TritonBackend",
    "__version__",
    "build_smooth_topk",
    "default_compute_backend",
    "smooth_topk_torch",
]
