"""Registers loss ``tree-loss`` with structloss (the ``structloss`` entry point).

Importing this module loads only torch and numpy, which ``import structloss`` has already
loaded.
"""

from __future__ import annotations

from collections.abc import Iterable

import structloss
from structloss import LossSpec
from structloss_tree_loss.loss import build_tree_loss

__all__ = ["structloss_losses"]


@structloss.hookimpl
def structloss_losses() -> Iterable[LossSpec]:
    """Yield the ``tree-loss`` spec."""
    yield LossSpec(
        name="tree-loss",
        factory=build_tree_loss,
        summary=(
            "cross-entropy through a last layer whose class weights sum node vectors down"
            " the class tree (Wang & Izbicki 2022)"
        ),
        needs="hierarchy",
    )
