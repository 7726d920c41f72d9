"""structloss: classification losses that know the structure of the label space.

Compose a loss by name from a config and use it like ``nn.CrossEntropyLoss``::

    import structloss
    loss = structloss.compose({"classes": ["cat", "dog", "truck"],
                               "loss": {"name": "cross-entropy"}})
    head = loss.head(512)                 # the output layer the loss expects
    value = loss(head(features), target)
"""

from __future__ import annotations

from structloss.backends import Backend, ComputeBackend
from structloss.config import Config, build_structure, compose
from structloss.errors import StructlossError
from structloss.hookspecs import hookimpl
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

__version__ = "0.1.0"

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
]
