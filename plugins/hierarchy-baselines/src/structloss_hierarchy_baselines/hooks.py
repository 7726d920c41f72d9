"""structloss hooks of the ``hierarchy-baselines`` plugin: losses ``hxe``, ``soft-labels``, ``hier-softmax``.

All three need a hierarchy. Importing this module loads torch (the losses' base class needs
it) and nothing else heavy.
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import LossSpec
from structloss_hierarchy_baselines.losses import (
    HierarchicalCrossEntropy,
    HierarchicalSoftmax,
    SoftLabels,
)

__all__ = ["structloss_losses"]

_TREE = "hierarchy"
structloss_losses = provides(
    LossSpec(
        "hxe",
        HierarchicalCrossEntropy,
        "hierarchical cross-entropy (Bertinetto et al. 2020)",
        _TREE,
    ),
    LossSpec("soft-labels", SoftLabels, "cross-entropy on soft targets exp(-beta d)", _TREE),
    LossSpec("hier-softmax", HierarchicalSoftmax, "a softmax per node's children; own head", _TREE),
)
