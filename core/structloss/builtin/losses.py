"""Built-in losses ``cross-entropy`` (single-label) and ``binary-cross-entropy`` (multi-label)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from structloss.errors import InputError, OptionError
from structloss.hookspecs import provides
from structloss.objective import Objective, class_weight, is_probability_target, work_dtype
from structloss.specs import LossContext, LossSpec
from structloss.structures import Hierarchy

__all__ = ["BinaryCrossEntropy", "CrossEntropy", "build_cross_entropy", "structloss_losses"]


class CrossEntropy(Objective):
    """Plain softmax cross-entropy, equal to ``F.cross_entropy``; the baseline.

    Args:
        num_classes: the number of classes.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped.
        label_smoothing: in [0, 1], as in ``nn.CrossEntropyLoss``.
        weight: optional per-class weights (length ``num_classes``), stored as a buffer.

    Targets are class indices, or (batch, classes) probabilities as in
    ``nn.CrossEntropyLoss`` (rows >= 0 summing to 1: Mixup's and CutMix's work unchanged).
    After :meth:`accept_node_targets` a target may name an internal node of the tree; its
    loss is ``-log`` of the softmax mass of the classes below it, and its class weight the
    mean ``weight`` of those classes.
    """

    def __init__(
        self,
        num_classes: int,
        *,
        reduction: str = "mean",
        ignore_index: int = -100,
        label_smoothing: float = 0.0,
        weight: Sequence[float] | Tensor | None = None,
    ) -> None:
        super().__init__(num_classes, reduction=reduction, ignore_index=ignore_index)
        if not 0.0 <= float(label_smoothing) <= 1.0:
            raise OptionError(f"label_smoothing must be in [0, 1], got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)
        self.register_buffer("weight", class_weight(weight, num_classes))

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Return the cross-entropy of ``outputs`` (logits) against ``target``."""
        weight = None if self.weight is None else self.weight.to(outputs.dtype)
        if is_probability_target(target):
            q = self.check_probabilities(outputs, target).to(outputs.dtype)
            return F.cross_entropy(
                outputs,
                q,
                weight=weight,
                reduction=self.reduction,
                label_smoothing=self.label_smoothing,
            )
        index, valid = self.check_inputs(outputs, target)
        nodes = self.has_node_targets(index)
        is_class = index < self.num_classes
        labels = torch.where(is_class, index, 0) if nodes else index
        per_sample = F.cross_entropy(
            outputs, labels, weight=weight, reduction="none", label_smoothing=self.label_smoothing
        )
        sample_weight = None if weight is None else weight[labels]
        if nodes:
            below = self.classes_below(index)
            per_sample = torch.where(is_class, per_sample, self._node_loss(outputs, below))
            if weight is not None:
                mean_below = (below.to(weight.dtype) @ weight) / below.sum(1)
                sample_weight = torch.where(is_class, sample_weight, mean_below)
        return self.reduce(per_sample, valid, sample_weight)

    def _node_loss(self, outputs: Tensor, below: Tensor) -> Tensor:
        """Per-sample loss of internal-node targets: ``-log`` of the mass ``below`` them.

        With label smoothing ``e`` it is ``(1 - e)`` times that plus ``e`` times the smoothing
        term ``F.cross_entropy`` adds (the mean, weighted by ``weight``, of ``-log p_c``).
        """
        z = outputs.to(work_dtype(outputs))
        total = z.logsumexp(1)
        loss = total - z.masked_fill(~below, float("-inf")).logsumexp(1)
        if self.label_smoothing:
            log_p = z - total[:, None]
            w = 1.0 if self.weight is None else self.weight.to(z.dtype)
            smooth = -(w * log_p).sum(1) / self.num_classes
            loss = (1 - self.label_smoothing) * loss + self.label_smoothing * smooth
        return loss.to(outputs.dtype)


def build_cross_entropy(
    context: LossContext,
    *,
    reduction: str = "mean",
    ignore_index: int = -100,
    label_smoothing: float = 0.0,
    weight: Sequence[float] | None = None,
) -> CrossEntropy:
    """Factory of loss ``cross-entropy``: :class:`CrossEntropy` for the context's classes.

    A function rather than the class: a config's ``weight`` is a list of numbers, while the
    constructor also takes a tensor. With a hierarchy composed, targets may also name its
    internal nodes (``num_classes <= t < num_nodes``, see
    :meth:`~structloss.Objective.accept_node_targets`).
    """
    loss = CrossEntropy(
        context.num_classes,
        reduction=reduction,
        ignore_index=ignore_index,
        label_smoothing=label_smoothing,
        weight=weight,
    )
    if isinstance(context.structure, Hierarchy):
        loss.accept_node_targets(context.structure)
    return loss


class BinaryCrossEntropy(Objective):
    """Independent sigmoid cross-entropy per class: the multi-label baseline.

    The per-sample loss is the mean over classes of
    ``F.binary_cross_entropy_with_logits``, so ``reduction="mean"`` equals that function's
    default mean over all elements.

    The class is the factory of loss ``binary-cross-entropy``: its options are the
    constructor's, and ``compose`` passes the :class:`~structloss.LossContext` as
    ``num_classes``.

    Args:
        num_classes: the number of classes, or the loss context (its ``num_classes``).
        reduction: ``"mean"``, ``"sum"`` (of per-sample losses) or ``"none"`` (per sample).
        pos_weight: weight of positive labels (a number, or one per class), as in
            ``nn.BCEWithLogitsLoss``; stored as a buffer.

    Targets are (batch, classes) multi-hot tensors or lists of label sets.
    """

    multilabel = True

    def __init__(
        self,
        num_classes: int | LossContext,
        *,
        reduction: str = "mean",
        pos_weight: float | Sequence[float] | None = None,
    ) -> None:
        if isinstance(num_classes, LossContext):
            num_classes = num_classes.num_classes
        super().__init__(num_classes, reduction=reduction)
        if pos_weight is not None:
            pos_weight = (
                torch.as_tensor(pos_weight, dtype=torch.float32).expand(num_classes).clone()
            )
            if not torch.isfinite(pos_weight).all() or (pos_weight < 0).any():
                raise InputError("pos_weight must be finite and non-negative")
        self.register_buffer("pos_weight", pos_weight)

    def forward(self, outputs: Tensor, target: Tensor | Sequence[Iterable[int]]) -> Tensor:
        """Return the binary cross-entropy of ``outputs`` (logits) against label sets."""
        hot = self.check_multilabel_inputs(outputs, target)
        pos_weight = None if self.pos_weight is None else self.pos_weight.to(outputs.dtype)
        per_element = F.binary_cross_entropy_with_logits(
            outputs, hot, pos_weight=pos_weight, reduction="none"
        )
        valid = torch.ones(outputs.shape[0], dtype=torch.bool, device=outputs.device)
        return self.reduce(per_element.mean(dim=1), valid)


structloss_losses = provides(
    LossSpec(
        "cross-entropy", build_cross_entropy, "softmax cross-entropy, the structure-blind baseline"
    ),
    LossSpec(
        "binary-cross-entropy",
        BinaryCrossEntropy,
        "independent sigmoid cross-entropy per class, the multi-label baseline",
        multilabel=True,
    ),
)
