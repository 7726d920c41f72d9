"""structloss hooks of the ``tree-loss`` plugin: loss ``tree-loss``.

The loss class is the factory. Importing this module loads torch (the loss's base class
needs it) and nothing else heavy.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import LossSpec
from structloss_tree_loss.loss import TreeLoss

__all__ = ["structloss_losses"]


@hookimpl
def structloss_losses() -> Iterable[LossSpec]:
    """Yield loss ``tree-loss``, which needs a hierarchy."""
    yield LossSpec(
        name="tree-loss",
        factory=TreeLoss,
        summary=(
            "cross-entropy through a last layer whose class weights sum node vectors down"
            " the class tree (Wang & Izbicki 2022)"
        ),
        needs="hierarchy",
    )
