"""structloss: classification losses that know the structure of the label space.

Compose a loss by name from a config and use it like ``nn.CrossEntropyLoss``::

    import structloss
    loss = structloss.compose({"classes": ["cat", "dog", "truck"],
                               "loss": {"name": "cross-entropy"}})
    head = loss.head(512)                 # the output layer the loss expects
    value = loss(head(features), target)

The public names load on first use (PEP 562), so ``import structloss``, ``structloss
--help`` and plugins importing :data:`hookimpl` do not pay for torch.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from structloss.backends import Backend, ComputeBackend
    from structloss.config import Config, build_structure, compose
    from structloss.errors import StructlossError
    from structloss.hookspecs import hookimpl, provides
    from structloss.objective import Objective
    from structloss.plugins import PluginHost, default_host
    from structloss.specs import (
        BackendSpec,
        ClassListSpec,
        KernelSpec,
        LossContext,
        LossSpec,
        StructureContext,
        StructureSpec,
    )
    from structloss.structures import Hierarchy, LabelEmbedding, LabelStructure, Similarity

    __version__: str

__all__ = [
    "Backend",
    "BackendSpec",
    "ClassListSpec",
    "ComputeBackend",
    "Config",
    "Hierarchy",
    "KernelSpec",
    "LabelEmbedding",
    "LabelStructure",
    "LossContext",
    "LossSpec",
    "Objective",
    "PluginHost",
    "Similarity",
    "StructlossError",
    "StructureContext",
    "StructureSpec",
    "__version__",
    "build_structure",
    "compose",
    "default_host",
    "hookimpl",
    "provides",
]

_SOURCES: dict[str, str] = {
    "Backend": "structloss.backends",
    "ComputeBackend": "structloss.backends",
    "Config": "structloss.config",
    "build_structure": "structloss.config",
    "compose": "structloss.config",
    "StructlossError": "structloss.errors",
    "hookimpl": "structloss.hookspecs",
    "provides": "structloss.hookspecs",
    "Objective": "structloss.objective",
    "PluginHost": "structloss.plugins",
    "default_host": "structloss.plugins",
    "BackendSpec": "structloss.specs",
    "ClassListSpec": "structloss.specs",
    "KernelSpec": "structloss.specs",
    "LossContext": "structloss.specs",
    "LossSpec": "structloss.specs",
    "StructureContext": "structloss.specs",
    "StructureSpec": "structloss.specs",
    "Hierarchy": "structloss.structures",
    "LabelEmbedding": "structloss.structures",
    "LabelStructure": "structloss.structures",
    "Similarity": "structloss.structures",
}
"""Public name -> the module that defines it (imported on first access)."""


def _version() -> str:
    """The installed distribution's version, or ``0+unknown`` for an uninstalled tree."""
    from importlib import metadata

    try:
        return metadata.version("structloss")
    except metadata.PackageNotFoundError:
        return "0+unknown"


def __getattr__(name: str) -> Any:
    """Import the module that defines public ``name`` on first access (PEP 562)."""
    if name == "__version__":
        value: Any = _version()
    elif name in _SOURCES:
        value = getattr(importlib.import_module(_SOURCES[name]), name)
    else:
        raise AttributeError(f"module 'structloss' has no attribute {name!r}")
    globals()[name] = value  # later lookups skip __getattr__
    return value


def __dir__() -> list[str]:
    """The module's names, the not-yet-imported public ones included."""
    return sorted({*globals(), *__all__})
