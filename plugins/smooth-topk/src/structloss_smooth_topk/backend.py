"""Backend ``triton`` and the kernels of op ``smooth-topk`` (torch and Triton).

Nothing here imports triton at module level: :class:`TritonBackend` imports it when asked
whether it can run on a machine with a CUDA device (or under ``TRITON_INTERPRET=1``), and
:func:`load_triton_kernel` when the kernel is first used.
"""

from __future__ import annotations

import os
from collections.abc import Callable

import torch

from structloss.backends import Backend, ComputeBackend, TorchBackend
from structloss.specs import KernelSpec

__all__ = [
    "OP",
    "TritonBackend",
    "default_compute_backend",
    "interpreting",
    "kernel_specs",
    "load_torch_kernel",
    "load_triton_kernel",
]

#: The op name both kernels implement.
OP = "smooth-topk"

_TRUE = {"1", "true", "yes", "on", "y"}


def interpreting() -> bool:
    """Whether ``TRITON_INTERPRET`` asks Triton to run kernels on the CPU (read as Triton does)."""
    return os.environ.get("TRITON_INTERPRET", "").strip().lower() in _TRUE


class TritonBackend(Backend):
    """Fused Triton kernels: available with a CUDA device and triton; runs on CUDA tensors.

    Under ``TRITON_INTERPRET=1`` (set before triton is imported) Triton runs kernels in a
    NumPy interpreter, and this backend then accepts tensors on any device; that mode is
    for testing only (it is very slow).
    """

    name = "triton"

    def __init__(self) -> None:
        self._reason: str | None = None
        self._checked = False

    def unavailable_reason(self) -> str | None:
        """Return why the Triton kernels cannot run here, or None.

        They cannot without a CUDA device (unless ``TRITON_INTERPRET=1``), nor when triton
        does not import. The device check comes first, so CPU-only machines never import
        triton.
        """
        if not self._checked:
            self._reason = _triton_problem()
            self._checked = True
        return self._reason

    def supports(self, device: torch.device) -> bool:
        """CUDA devices; any device while ``TRITON_INTERPRET=1``."""
        return interpreting() or torch.device(device).type == "cuda"

    def __getstate__(self) -> dict[str, object]:
        return {}  # re-check after unpickling, possibly on another machine

    def __setstate__(self, state: dict[str, object]) -> None:
        self._reason, self._checked = None, False


def _triton_problem() -> str | None:
    """Why triton cannot run kernels here, or None."""
    if not interpreting() and not torch.cuda.is_available():
        return (
            "it needs a CUDA device and none is visible (set TRITON_INTERPRET=1 before"
            " importing triton to run its kernels slowly on the CPU, for testing)"
        )
    try:
        import triton  # noqa: F401  (the import is the check)
    except Exception as exc:  # a broken install raises more than ImportError
        return (
            f"triton cannot be imported ({type(exc).__name__}: {exc}); install it with"
            " `pip install 'structloss-smooth-topk[triton]'`"
        )
    return None


def load_torch_kernel() -> Callable[..., torch.Tensor]:
    """Factory of kernel ``smooth-topk@torch``."""
    from structloss_smooth_topk.torch_kernel import smooth_topk_torch

    return smooth_topk_torch


def load_triton_kernel() -> Callable[..., torch.Tensor]:
    """Factory of kernel ``smooth-topk@triton``; imports triton."""
    from structloss_smooth_topk.triton_kernel import smooth_topk_triton

    return smooth_topk_triton


def kernel_specs() -> list[KernelSpec]:
    """The two kernels of op ``smooth-topk`` this plugin registers."""
    return [
        KernelSpec(
            op=OP,
            backend="torch",
            factory=load_torch_kernel,
            summary="exact O(k n) forward/backward in plain PyTorch (any device)",
        ),
        KernelSpec(
            op=OP,
            backend="triton",
            factory=load_triton_kernel,
            summary="fused forward/backward Triton kernels (CUDA)",
        ),
    ]


def default_compute_backend(name: str = "auto") -> ComputeBackend:
    """A :class:`ComputeBackend` with backends torch and triton and this plugin's kernels.

    What :class:`~structloss_smooth_topk.SmoothTopK` uses when built directly, without
    ``compose``. ``name`` is ``"auto"``, ``"torch"`` or ``"triton"``.

    Raises:
        BackendUnavailableError: when ``name`` is ``"triton"`` and triton cannot be imported.
    """
    backends: dict[str, Backend] = {"triton": TritonBackend(), "torch": TorchBackend()}
    kernels = {(spec.op, spec.backend): spec for spec in kernel_specs()}
    return ComputeBackend(name, backends, kernels)
