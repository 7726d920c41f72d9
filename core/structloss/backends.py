"""Compute backends and the per-device kernel dispatch that losses use.

A *backend* (``torch``, ``triton``, ...) says whether it can run and on which devices. A
*kernel* implements one op on one backend. A loss asks its :class:`ComputeBackend` for
``kernel(op, device)`` at call time, so ``auto`` can pick a GPU kernel for CUDA tensors and the
torch reference elsewhere, and a module moved with ``.to()`` keeps working.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import torch

from structloss.errors import BackendUnavailableError, choice_list
from structloss.specs import KernelSpec

__all__ = ["Backend", "ComputeBackend", "TorchBackend"]


class Backend:
    """A compute backend. Subclass it and yield a ``BackendSpec`` whose factory returns it."""

    name: str = "backend"

    def unavailable_reason(self) -> str | None:
        """Return why this backend cannot run here (missing package, ...), or None."""
        return None

    def supports(self, device: torch.device) -> bool:
        """Return whether kernels of this backend run on tensors on ``device``."""
        return True


class TorchBackend(Backend):
    """Plain PyTorch operations: runs wherever torch runs."""

    name = "torch"


class ComputeBackend:
    """The backend a config resolved to, with its kernels; dispatches ops per device.

    Args:
        requested: the configured name (``"auto"`` or a backend name).
        backends: the candidate backends, name -> instance, tried from first to last under
            ``auto`` (the host orders them by priority).
        kernels: ``(op, backend) -> KernelSpec`` for every registered kernel, or the error
            to raise when that kernel is used (two plugins provide it).
    """

    def __init__(
        self,
        requested: str,
        backends: Mapping[str, Backend],
        kernels: Mapping[tuple[str, str], KernelSpec | Exception],
    ) -> None:
        self.name = requested
        self._backends = dict(backends)
        self._kernels = dict(kernels)
        self._loaded: dict[tuple[str, str], Callable[..., Any]] = {}
        if requested != "auto":
            reason = self._backends[requested].unavailable_reason()
            if reason is not None:
                raise BackendUnavailableError(
                    f"backend {requested!r} cannot run here: {reason}. Use backend 'auto' or"
                    " 'torch', or install what it needs"
                )

    def __repr__(self) -> str:
        return f"ComputeBackend({self.name!r}, backends={sorted(self._backends)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (ComputeBackend, (self.name, self._backends, self._kernels))

    def ops(self) -> list[str]:
        """Return the ops that have at least one kernel."""
        return sorted({op for op, _ in self._kernels})

    def select(self, op: str, device: torch.device | str) -> str:
        """Return the name of the backend whose kernel runs ``op`` on ``device``.

        Raises:
            BackendUnavailableError: when no kernel for ``op`` can run there.
        """
        device = torch.device(device)
        candidates = [b for (o, b) in self._kernels if o == op]
        if not candidates:
            raise BackendUnavailableError(
                f"no kernel implements op {op!r}; ops with kernels: {choice_list(self.ops())}."
                " Install the plugin that provides it"
            )
        if self.name != "auto":
            if self.name not in candidates:
                raise BackendUnavailableError(
                    f"backend {self.name!r} has no kernel for op {op!r}; backends that do:"
                    f" {choice_list(candidates)}"
                )
            if not self._backends[self.name].supports(device):
                raise BackendUnavailableError(
                    f"backend {self.name!r} cannot run op {op!r} on {device.type} tensors;"
                    " move the tensors or use backend 'auto'"
                )
            return self.name
        for name, backend in self._backends.items():
            if (
                name in candidates
                and backend.unavailable_reason() is None
                and backend.supports(device)
            ):
                return name
        raise BackendUnavailableError(
            f"no available backend runs op {op!r} on {device.type} tensors; kernels exist for:"
            f" {choice_list(candidates)}"
        )

    def kernel(self, op: str, device: torch.device | str) -> Callable[..., Any]:
        """Return the implementation of ``op`` for tensors on ``device`` (loaded once)."""
        key = (op, self.select(op, device))
        if key not in self._loaded:
            spec = self._kernels[key]
            if isinstance(spec, Exception):
                raise spec
            self._loaded[key] = spec.factory()
        return self._loaded[key]
