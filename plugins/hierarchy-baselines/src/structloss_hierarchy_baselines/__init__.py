"""The hierarchical-classification baselines of *Making Better Mistakes* for structloss.

Hierarchical cross-entropy and soft labels (Bertinetto et al., CVPR 2020) and the
hierarchical (conditional) softmax. Use them by name (``[loss] name = "hxe"``) with any
structure provider that gives a tree, or directly::

    from structloss_hierarchy_baselines import HierarchicalCrossEntropy
    loss = HierarchicalCrossEntropy(hierarchy, alpha=0.1)
"""

from __future__ import annotations

from structloss_hierarchy_baselines.losses import (
    HierarchicalCrossEntropy,
    HierarchicalSoftmax,
    SoftLabels,
)

__version__ = "0.1.0"

__all__ = [
    "HierarchicalCrossEntropy",
    "HierarchicalSoftmax",
    "SoftLabels",
    "__version__",
]
