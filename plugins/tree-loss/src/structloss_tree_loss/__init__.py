"""structloss plugin ``tree-loss``: the tree loss of Wang & Izbicki (2022).

The last layer, :class:`TreeLinear`, keeps one vector per node of a class tree; a class's
weight is the sum of the vectors on its root path, so related classes share parameters. The
loss, :class:`TreeLoss`, is cross-entropy on its logits. Use it from a config::

    [structure]
    provider = "hierarchy-file"
    path = "tree.json"
    [loss]
    name = "tree-loss"
"""

from __future__ import annotations

from structloss_tree_loss.layer import TreeLinear, node_variance_shares
from structloss_tree_loss.loss import TreeLoss

__all__ = ["TreeLinear", "TreeLoss", "node_variance_shares"]
__version__ = "0.1.0"
