"""structloss hooks of the ``hierarchy-baselines`` plugin: losses ``hxe``, ``soft-labels``, ``hier-softmax``.

Importing this module loads torch (the losses' base class needs it) and nothing else heavy.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import LossSpec
from structloss_hierarchy_baselines.losses import build_hier_softmax, build_hxe, build_soft_labels

__all__ = ["structloss_losses"]


@hookimpl
def structloss_losses() -> Iterable[LossSpec]:
    """Yield losses ``hxe``, ``soft-labels`` and ``hier-softmax``."""
    yield LossSpec(
        name="hxe",
        factory=build_hxe,
        summary="hierarchical cross-entropy (Bertinetto et al. 2020): weighted terms up the path",
        needs="hierarchy",
    )
    yield LossSpec(
        name="soft-labels",
        factory=build_soft_labels,
        summary="cross-entropy against soft targets exp(-beta d) from tree distances",
        needs="hierarchy",
    )
    yield LossSpec(
        name="hier-softmax",
        factory=build_hier_softmax,
        summary="a softmax over each node's children; its own head, one logit per non-root node",
        needs="hierarchy",
    )
