"""The ``tree-loss`` objective: cross-entropy on the logits of a :class:`TreeLinear` head."""

from __future__ import annotations

from structloss.builtin.losses import CrossEntropy
from structloss.errors import IncompatibleStructureError
from structloss.specs import LossContext
from structloss.structures import Hierarchy
from structloss_tree_loss.layer import TreeLinear

__all__ = ["TreeLoss"]


class TreeLoss(CrossEntropy):
    """The tree loss of Wang & Izbicki (2022): cross-entropy through a tree-shaped last layer.

    The structure lives in the last layer, :meth:`head`, a :class:`TreeLinear` whose class
    weights are sums of node vectors along the hierarchy; the loss itself is softmax
    cross-entropy on its logits, so :meth:`scores` are the outputs unchanged and the loss
    equals ``F.cross_entropy`` on them. It is :class:`~structloss.builtin.losses.CrossEntropy` on the
    head's logits, so it takes the same targets: class indices, (batch, classes)
    probabilities (Mixup, CutMix), and indices of the tree's internal nodes (coarse labels:
    ``-log`` of the mass below the node).

    The class is the factory of loss ``tree-loss``: its options are the constructor's, and
    ``compose`` passes the :class:`~structloss.LossContext` (whose structure is the tree) as
    ``hierarchy``.

    Args:
        hierarchy: the class tree; its classes are the labels, in order. Or the loss
            context, whose structure is the tree.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped.
        label_smoothing: in [0, 1], as in ``nn.CrossEntropyLoss``.

    Raises:
        IncompatibleStructureError: when ``hierarchy`` is not a Hierarchy (or a context
            holding one).
        OptionError: for a bad ``reduction``, ``ignore_index`` or ``label_smoothing``.
    """

    def __init__(
        self,
        hierarchy: Hierarchy | LossContext,
        *,
        reduction: str = "mean",
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
    ) -> None:
        if isinstance(hierarchy, LossContext):
            hierarchy = hierarchy.require_hierarchy("tree-loss")
        if not isinstance(hierarchy, Hierarchy):
            raise IncompatibleStructureError(
                f"the tree loss needs a Hierarchy, got {type(hierarchy).__name__}; configure a"
                ' [structure] provider that gives a tree, such as "hierarchy-file"'
            )
        super().__init__(
            hierarchy.num_classes,
            reduction=reduction,
            ignore_index=ignore_index,
            label_smoothing=label_smoothing,
        )
        self.accept_node_targets(hierarchy)
        self.hierarchy = hierarchy

    def head(self, in_features: int) -> TreeLinear:
        """Return a fresh :class:`TreeLinear` from ``in_features`` to this loss's classes.

        The root's vector stays at its initial value (``train_root=False``): cross-entropy is
        blind to a shift shared by all logits, so the root would only learn rounding noise.
        """
        return TreeLinear(self.hierarchy, in_features, train_root=False)

    def extra_repr(self) -> str:
        return (
            f"{super().extra_repr()}, nodes={self.hierarchy.num_nodes},"
            f" label_smoothing={self.label_smoothing}"
        )
