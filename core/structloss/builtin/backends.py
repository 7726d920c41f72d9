"""Built-in backend ``torch``."""

from __future__ import annotations

from structloss.backends import TorchBackend
from structloss.hookspecs import provides
from structloss.specs import BackendSpec

structloss_backends = provides(
    BackendSpec("torch", TorchBackend, "plain PyTorch operations, on every device", priority=0),
)
