"""Built-in backend ``torch``."""

from __future__ import annotations

from collections.abc import Iterable

from structloss.backends import TorchBackend
from structloss.hookspecs import hookimpl
from structloss.specs import BackendSpec


@hookimpl
def structloss_backends() -> Iterable[BackendSpec]:
    yield BackendSpec(
        name="torch",
        factory=TorchBackend,
        summary="plain PyTorch operations, on every device",
        priority=0,
    )
