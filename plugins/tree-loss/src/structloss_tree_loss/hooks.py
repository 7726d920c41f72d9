"""structloss hooks of the ``tree-loss`` plugin: loss ``tree-loss``, which needs a hierarchy.

The loss class is the factory. Importing this module loads torch (the loss's base class
needs it) and nothing else heavy.
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import LossSpec
from structloss_tree_loss.loss import TreeLoss

__all__ = ["structloss_losses"]

structloss_losses = provides(
    LossSpec(
        "tree-loss",
        TreeLoss,
        "cross-entropy through a last layer whose class weights sum node vectors down the"
        " class tree (Wang & Izbicki 2022)",
        needs="hierarchy",
    ),
)
