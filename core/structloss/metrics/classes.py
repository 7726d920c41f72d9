"""``torchmetrics.Metric`` classes: the metrics of :mod:`~structloss.metrics.functions`, by batch.

Each accumulates additive sums (``dist_reduce_fx="sum"``; mAP keeps every row, ``"cat"``), so
under DDP :meth:`compute` on every rank gives the result over all ranks' data, and Lightning
users ``self.log`` them. Structures become buffers once, at construction, and follow
``.to(device)``. Results are 0-d float64 tensors; over no rows every metric is 0.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor
from torchmetrics import Metric, MetricCollection
from torchmetrics.utilities import dim_zero_cat
from torchmetrics.wrappers.abstract import WrapperMetric

from structloss.errors import InputError
from structloss.metrics import CLASS_NAMES
from structloss.metrics import functions as f
from structloss.structures import Hierarchy

__all__ = list(CLASS_NAMES)


class _Ratio(Metric):
    """A ratio of two sums, each added up over batches and, under DDP, over ranks."""

    is_differentiable = False
    full_state_update = False
    _what = ""

    def __init__(self, *, num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("total", torch.zeros((), dtype=torch.float64), dist_reduce_fx="sum")
        self.add_state("count", torch.zeros((), dtype=torch.int64), dist_reduce_fx="sum")

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        raise NotImplementedError

    def update(self, values: Tensor, target: Tensor) -> None:
        """Add a batch (shapes as the matching function takes them); or InputError."""
        total, count = self._sums(values.detach(), target)
        self.total += total.to(self.total)
        self.count += count.to(self.count)

    def compute(self) -> Tensor:
        """The ratio over everything seen (on every rank), 0 over nothing."""
        return torch.where(self.count > 0, self.total / self.count.clamp_min(1), 0.0)

    tree: Hierarchy | None = None
    """The tree whose internal nodes targets may name."""

    def _table(
        self, name: str, table: Tensor | torch.nn.Module | None, tree: Hierarchy | None = None
    ) -> None:
        """Register a (targets, classes) table; rows beyond the classes are ``tree``'s nodes.

        A tensor becomes a buffer; a tree's per-pair lookup (a module) a submodule: either
        follows ``.to(device)``.
        """
        if table is None:
            self.register_buffer(name, None, persistent=False)
            return
        if self.num_classes is not None and table.shape[-1] != self.num_classes:
            raise InputError(
                f"{self._what}: the structure has {table.shape[-1]} classes, not {self.num_classes}"
            )
        self.num_classes, self.tree = table.shape[-1], tree
        if isinstance(table, torch.nn.Module):
            self.add_module(name, table)
        else:
            self.register_buffer(name, table, persistent=False)

    def _ranked(
        self, values: Tensor, target: Tensor, k: int = 1, scores_only: bool = False
    ) -> tuple[Tensor, Tensor]:
        return f._ranked(
            self._what,
            values,
            target,
            classes=self.num_classes,
            k=k,
            scores_only=scores_only,
            tree=self.tree,
        )


class TopKAccuracy(_Ratio):
    """Accumulates :func:`~structloss.metrics.top_k_accuracy`: update(scores, target).

    Args:
        k: how many top classes count.
        hierarchy: the class tree, for internal-node targets (right when a top-k class is
            below the node).
        **kwargs: passed to ``torchmetrics.Metric``.
    """

    higher_is_better = True
    _what = "TopKAccuracy"

    def __init__(self, k: int = 1, *, hierarchy: Hierarchy | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k
        below = None if hierarchy is None else f._below_table(hierarchy)
        self._table("below", below, hierarchy)

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        top, target = self._ranked(values, target, self.k, scores_only=self.k > 1)
        return f._top_k_sums(top, target, self.below)


class MistakeSeverity(_Ratio):
    """Accumulates :func:`~structloss.metrics.mistake_severity`: update(pred_or_scores, target).

    Args:
        hierarchy: the class tree.
        distance: one of :data:`structloss.structures.DISTANCES`.
    """

    higher_is_better = False
    _what = "MistakeSeverity"

    def __init__(
        self, hierarchy: Hierarchy, *, distance: str = "lca-height", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.distance = distance
        self._table("distances", f._distance_table(hierarchy, distance), hierarchy)

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        return f._severity_sums(*self._ranked(values, target), self.distances)


class HierarchicalDistanceAtK(_Ratio):
    """Accumulates :func:`~structloss.metrics.hierarchical_distance_at_k`: update(scores, target)."""

    higher_is_better = False
    _what = "HierarchicalDistanceAtK"

    def __init__(
        self, hierarchy: Hierarchy, k: int = 5, *, distance: str = "lca-height", **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.k, self.distance = k, distance
        self._table("distances", f._distance_table(hierarchy, distance), hierarchy)

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        top, target = self._ranked(values, target, self.k, scores_only=True)
        return f._hier_distance_sums(top, target, self.distances)


class SimilarityAccuracy(_Ratio):
    """Accumulates :func:`~structloss.metrics.similarity_accuracy`: update(pred_or_scores, target)."""

    higher_is_better = True
    _what = "SimilarityAccuracy"

    def __init__(self, similarity: f.SimilarityLike, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._table("similarity", f._similarity_table(similarity))

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        return f._similarity_sums(*self._ranked(values, target), self.similarity)


class SuperclassAccuracy(_Ratio):
    """Accumulates :func:`~structloss.metrics.superclass_accuracy`: update(pred_or_scores, target)."""

    higher_is_better = True
    _what = "SuperclassAccuracy"

    def __init__(self, groups: f.Groups, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._table("groups", f._group_table(groups))

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        return f._superclass_sums(*self._ranked(values, target), self.groups)


class _MultiLabel(_Ratio):
    higher_is_better = True

    def __init__(self, k: int = 5, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.k = k

    def _hot(self, scores: Tensor, target: Tensor) -> Tensor:
        return f._check_multilabel(scores, target, self.k, self.num_classes)


class PrecisionAtK(_MultiLabel):
    """Accumulates :func:`~structloss.metrics.precision_at_k`: update(scores, multi-hot target)."""

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        return f._precision_sums(values, self._hot(values, target), self.k)


class RecallAtK(_MultiLabel):
    """Accumulates :func:`~structloss.metrics.recall_at_k`: update(scores, multi-hot target)."""

    def _sums(self, values: Tensor, target: Tensor) -> f.Sums:
        return f._recall_sums(values, self._hot(values, target), self.k)


class MeanAveragePrecision(Metric):
    """Accumulates :func:`~structloss.metrics.mean_average_precision` (keeps every row).

    AP ranks each class over all rows, so the states are the scores and targets themselves
    (``dist_reduce_fx="cat"``); as ties form one step, the row order across ranks does not
    matter. Call ``update`` on every rank, with an empty batch where a rank has no rows.
    """

    is_differentiable = False
    higher_is_better = True
    full_state_update = False

    def __init__(self, *, num_classes: int | None = None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.num_classes = num_classes
        self.add_state("scores", [], dist_reduce_fx="cat")
        self.add_state("targets", [], dist_reduce_fx="cat")

    def update(self, scores: Tensor, target: Tensor) -> None:
        """Add (batch, classes) scores and multi-hot targets; or InputError."""
        hot = f._check_multilabel(scores, target, classes=self.num_classes)
        self.scores.append(scores.detach())
        self.targets.append(hot.to(torch.uint8))  # bool does not travel over every backend

    def compute(self) -> Tensor:
        """mAP over every row seen (on every rank), 0 over none."""
        if isinstance(self.scores, list) and not self.scores:  # a tensor once synced
            return torch.zeros((), dtype=torch.float64, device=self.device)
        scores, targets = dim_zero_cat(self.scores), dim_zero_cat(self.targets)
        value = f.mean_average_precision(scores, targets)
        return torch.tensor(value, dtype=torch.float64, device=self.device)


class CRMDecoding(WrapperMetric):
    """Feed a metric conditional-risk-minimising scores instead of the model's.

    ``update(probs, target)`` passes ``-conditional_risk(probs)`` (see
    :func:`~structloss.metrics.crm_decode`) to the wrapped metric, whose argmax is the CRM
    decision and whose ranking orders classes by expected cost; the wrapped metric does the
    accumulating and the DDP sync.

    Args:
        metric: any metric above that takes scores.
        hierarchy: the tree (or a classes x classes cost matrix) to decode with.
        distance: one of :data:`structloss.structures.DISTANCES`.
        from_logits: take logits and softmax them first (the default).
    """

    def __init__(
        self,
        metric: Metric,
        hierarchy: Hierarchy | Tensor | np.ndarray,
        *,
        distance: str = "lca-height",
        from_logits: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.metric, self.from_logits = metric, from_logits
        costs = f._costs(hierarchy, distance)
        if getattr(metric, "num_classes", 0) is None:  # it may get decisions, not scores
            metric.num_classes = int(costs.shape[0])
        if isinstance(costs, torch.nn.Module):
            self.costs = costs  # a tree's risk: a submodule, whose tables follow .to(device)
        else:
            self.register_buffer("costs", costs, persistent=False)

    def _decoded(self, probs: Tensor) -> Tensor:
        if isinstance(self.costs, f._TreeRisk):
            if _top1_only(self.metric):  # the decision alone, without the whole risk
                return self.costs.decide(probs, from_logits=self.from_logits)
            return self.costs.decoded(probs, from_logits=self.from_logits)
        return -f.conditional_risk(probs, self.costs, from_logits=self.from_logits)

    def update(self, probs: Tensor, target: Tensor) -> None:
        """Update the wrapped metric with the batch's negated risks."""
        self.metric.update(self._decoded(probs), target)

    def forward(self, probs: Tensor, target: Tensor) -> Any:
        """Update the wrapped metric and return its value on this batch."""
        return self.metric(self._decoded(probs), target)

    def compute(self) -> Any:
        """The wrapped metric's value."""
        return self.metric.compute()

    def reset(self) -> None:
        """Reset the wrapped metric."""
        self.metric.reset()
        super().reset()


def _top1_only(metric: Metric) -> bool:
    """Whether ``metric`` reads only each row's top class, so takes predictions."""
    if isinstance(metric, TopKAccuracy):
        return metric.k == 1
    return isinstance(metric, MistakeSeverity | SimilarityAccuracy | SuperclassAccuracy)


def _clamped_k(num_classes: int, k: int) -> int:
    if num_classes < 1 or k < 1:
        raise InputError(f"num_classes and k must be at least 1, got {num_classes} and {k}")
    return min(k, num_classes)


class _Ordered(MetricCollection):
    """A collection whose :meth:`compute` keeps the insertion order of its keys."""

    def __init__(self, metrics: dict[str, Metric]) -> None:
        # compute_groups would merge metrics whose states happen to agree on a first batch
        super().__init__(metrics, compute_groups=False)
        self.order = tuple(metrics)

    def compute(self) -> dict[str, Any]:
        """Every metric's value, keyed and ordered as built."""
        results = super().compute()
        return {key: results[key] for key in self.order}


class SingleLabelMetrics(_Ordered):
    """The single-label metrics of a task, as one ``MetricCollection``.

    Keys: ``"top1"``, ``f"top{k}"``; with a hierarchy ``"mistake_severity"`` and
    ``f"hier_distance@{k}"``; ``"similarity_accuracy"``, ``"superclass_accuracy"`` with
    those structures; with a hierarchy and ``crm``, ``"crm_top1"`` and
    ``"crm_mistake_severity"`` (CRM decoding of the softmax of the scores). A ``k`` above
    ``num_classes`` is clamped, and the keys name the clamped k. ``update(scores, target)``.

    Raises:
        InputError: for a k or num_classes below 1, or a structure of another size.
    """

    def __init__(
        self,
        *,
        num_classes: int,
        k: int = 5,
        hierarchy: Hierarchy | None = None,
        similarity: f.SimilarityLike | None = None,
        groups: f.Groups | None = None,
        distance: str = "lca-height",
        crm: bool = False,
    ) -> None:
        k = _clamped_k(num_classes, k)
        n = {"num_classes": num_classes}
        metrics: dict[str, Metric] = {"top1": TopKAccuracy(1, **n), f"top{k}": TopKAccuracy(k, **n)}
        if hierarchy is not None:
            metrics["mistake_severity"] = MistakeSeverity(hierarchy, distance=distance, **n)
            metrics[f"hier_distance@{k}"] = HierarchicalDistanceAtK(
                hierarchy, k, distance=distance, **n
            )
        if similarity is not None:
            metrics["similarity_accuracy"] = SimilarityAccuracy(similarity, **n)
        if groups is not None:
            metrics["superclass_accuracy"] = SuperclassAccuracy(groups, **n)
        if hierarchy is not None and crm:
            risk = f._costs(hierarchy, distance)  # one tree risk, shared: computed once a batch
            for key, metric in [
                ("crm_top1", TopKAccuracy(1, **n)),
                ("crm_mistake_severity", MistakeSeverity(hierarchy, distance=distance, **n)),
            ]:
                metrics[key] = CRMDecoding(metric, risk, distance=distance)
        super().__init__(metrics)


class MultiLabelMetrics(_Ordered):
    """``f"precision@{k}"``, ``f"recall@{k}"`` and ``"mAP"`` as one ``MetricCollection``.

    A ``k`` above ``num_classes`` is clamped; the keys name the clamped k.
    ``update(scores, multi-hot target)``.
    """

    def __init__(self, *, num_classes: int, k: int = 5) -> None:
        k = _clamped_k(num_classes, k)
        n = {"num_classes": num_classes}
        super().__init__(
            {
                f"precision@{k}": PrecisionAtK(k, **n),
                f"recall@{k}": RecallAtK(k, **n),
                "mAP": MeanAveragePrecision(**n),
            }
        )
