"""Evaluation metrics: torch tensors in, floats out.

One-shot functions score a whole set at once; :class:`SingleLabelMetrics` and
:class:`MultiLabelMetrics` accumulate batches (and ranks) to the same results. Single-label
functions take ``scores`` (batch, classes) and ``target`` (batch,) integer class indices; their
top-1 class is the argmax (ties: the lowest index). Over no rows every metric is 0.0. They
raise :class:`~structloss.errors.InputError` for mismatched shapes, non-integer or
out-of-range targets, a k outside 1..classes, or a structure of another size.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from structloss.errors import InputError
from structloss.structures import Hierarchy, Similarity

__all__ = [
    "MultiLabelMetrics",
    "SingleLabelMetrics",
    "hierarchical_distance_at_k",
    "mean_average_precision",
    "mistake_severity",
    "precision_at_k",
    "recall_at_k",
    "similarity_accuracy",
    "superclass_accuracy",
    "top_k_accuracy",
]


def top_k_accuracy(scores: Tensor, target: Tensor, k: int = 1) -> float:
    """Return the fraction of rows whose target is among the ``k`` highest scores.

    Args:
        scores: (batch, classes) class scores.
        target: (batch,) class indices.
        k: how many top classes count; at most the number of classes.

    Raises:
        InputError: for mismatched shapes or a k outside 1..classes.
    """
    if scores.ndim != 2 or target.shape != scores.shape[:1]:
        raise InputError(
            f"top_k_accuracy needs scores (batch, classes) and target (batch,), got"
            f" {tuple(scores.shape)} and {tuple(target.shape)}"
        )
    if not 1 <= k <= scores.shape[1]:
        raise InputError(f"k must be in 1..{scores.shape[1]} (the number of classes), got {k}")
    if target.numel() == 0:
        return 0.0
    top = scores.topk(k, dim=1).indices
    return float((top == target[:, None]).any(dim=1).float().mean())


def _check_multilabel(scores: Tensor, target: Tensor, k: int | None = None) -> Tensor:
    if scores.ndim != 2 or target.shape != scores.shape:
        raise InputError(
            "multi-label metrics need scores and multi-hot targets of one shape (batch, classes),"
            f" got {tuple(scores.shape)} and {tuple(target.shape)}"
        )
    if k is not None and not 1 <= k <= scores.shape[1]:
        raise InputError(f"k must be in 1..{scores.shape[1]} (the number of classes), got {k}")
    return target.bool()


def precision_at_k(scores: Tensor, target: Tensor, k: int = 5) -> float:
    """Mean over samples of the fraction of the ``k`` top-scored classes that are labels.

    Args:
        scores: (batch, classes) class scores.
        target: (batch, classes) multi-hot labels.
        k: how many top classes to look at.
    """
    hot = _check_multilabel(scores, target, k)
    if hot.shape[0] == 0:
        return 0.0
    top = scores.topk(k, dim=1).indices
    return float(hot.gather(1, top).float().sum(1).div(k).mean())


def recall_at_k(scores: Tensor, target: Tensor, k: int = 5) -> float:
    """Mean over samples with labels of the fraction of their labels in the top ``k``.

    Samples without any label are left out (their recall is undefined).
    """
    hot = _check_multilabel(scores, target, k)
    count = hot.sum(1)
    keep = count > 0
    if not bool(keep.any()):
        return 0.0
    top = scores.topk(k, dim=1).indices
    found = hot.gather(1, top).float().sum(1)
    return float((found[keep] / count[keep]).mean())


def mean_average_precision(scores: Tensor, target: Tensor) -> float:
    """Macro mean average precision: average precision per class, averaged over classes.

    A class's average precision ranks all samples by that class's score and averages the
    precision at the rank of every positive sample (ties broken by sample order, as a
    stable sort does). Classes with no positive sample are left out.
    """
    hot = _check_multilabel(scores, target)
    order = scores.argsort(dim=0, descending=True, stable=True)
    ranked = hot.gather(0, order).float()  # (samples, classes), best first per class
    hits = ranked.cumsum(0)
    ranks = torch.arange(1, ranked.shape[0] + 1, dtype=hits.dtype, device=hits.device)
    positives = ranked.sum(0)
    keep = positives > 0
    if not bool(keep.any()):
        return 0.0
    per_class = (hits / ranks[:, None] * ranked).sum(0)[keep] / positives[keep]
    return float(per_class.mean())


# Every single-label metric is a ratio of per-batch sums (_single_sums): the one-shot
# functions and SingleLabelMetrics share one code path and accumulate to the same numbers.


def _check_single(
    scores: Tensor, target: Tensor, what: str, k: int = 1, classes: int | None = None
) -> None:
    if scores.ndim != 2 or target.ndim != 1 or target.shape[0] != scores.shape[0]:
        raise InputError(
            f"{what} needs scores (batch, classes) and target (batch,), got"
            f" {tuple(scores.shape)} and {tuple(target.shape)}"
        )
    if classes is not None and scores.shape[1] != classes:
        raise InputError(f"{what}: expected {classes} score columns, got {scores.shape[1]}")
    if target.dtype.is_floating_point or target.dtype.is_complex or target.dtype == torch.bool:
        raise InputError(f"{what} needs integer class indices as target, got {target.dtype}")
    if not 1 <= k <= scores.shape[1]:
        raise InputError(f"k must be in 1..{scores.shape[1]} (the number of classes), got {k}")
    if target.numel():
        # an out-of-range index would be a device-side assert on CUDA, so check it here
        low, high = torch.stack(torch.aminmax(target)).tolist()  # one device sync
        if low < 0 or high >= scores.shape[1]:
            raise InputError(
                f"{what}: target holds class indices from {low} to {high}, outside"
                f" 0..{scores.shape[1] - 1}"
            )


def _tables(
    num_classes: int,
    hierarchy: Hierarchy | None = None,
    similarity: Similarity | Tensor | np.ndarray | None = None,
    groups: Tensor | np.ndarray | Sequence[int] | None = None,
) -> dict[str, Tensor]:
    """Validate the structures and return them as class-indexed tensors."""
    tables: dict[str, Tensor] = {}
    if hierarchy is not None:
        if not isinstance(hierarchy, Hierarchy):
            raise InputError(f"hierarchy must be a Hierarchy, got {type(hierarchy).__name__}")
        if hierarchy.num_classes != num_classes:
            raise InputError(f"hierarchy has {hierarchy.num_classes} classes, not {num_classes}")
        tables["heights"] = torch.as_tensor(np.array(hierarchy.lca_height_matrix(), np.int64))
    if similarity is not None:
        matrix = similarity.matrix if isinstance(similarity, Similarity) else similarity
        table = _cpu_tensor(matrix).to(torch.float64)
        if table.shape != (num_classes, num_classes):
            raise InputError(f"similarity must be {num_classes} x {num_classes}, got {table.shape}")
        tables["similarity"] = table
    if groups is not None:
        table = _cpu_tensor(groups)
        if table.shape != (num_classes,) or table.is_floating_point() or table.dtype == torch.bool:
            raise InputError(
                f"groups must be {num_classes} integers, got {table.dtype} {table.shape}"
            )
        tables["groups"] = table.long()
    return tables


def _cpu_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu()
    return torch.as_tensor(np.array(value))  # a copy: Similarity.matrix is read-only


def _single_sums(
    scores: Tensor, target: Tensor, k: int, tables: dict[str, Tensor]
) -> dict[str, Tensor]:
    """Per-batch sums as 0-d float64 tensors; all but ``similarity`` are exact counts."""
    target = target.long()  # uint8 or bool indices would index as masks
    pred = scores.argmax(dim=1)  # ties: the lowest class index wins
    top = scores.topk(k, dim=1).indices
    rows = target[:, None]
    sums = {"count": target.numel(), "top1": (pred == target).sum()}
    sums["topk"] = (top == rows).any(dim=1).sum()
    if "heights" in tables:
        sums["severity"] = tables["heights"][target, pred].sum()  # correct rows add 0
        sums["hier_distance"] = tables["heights"][rows, top].sum()
    if "similarity" in tables:
        sums["similarity"] = tables["similarity"][target, pred].sum()
    if "groups" in tables:
        sums["superclass"] = (tables["groups"][pred] == tables["groups"][target]).sum()
    device = scores.device
    return {key: torch.as_tensor(v, dtype=torch.float64, device=device) for key, v in sums.items()}


def _ratio(total: Tensor | float, count: Tensor | float) -> float:
    return float(total) / float(count) if float(count) > 0 else 0.0


def _single_results(sums: dict[str, Tensor], k: int) -> dict[str, float]:
    n, top1 = float(sums["count"]), float(sums["top1"])
    out = {"top1": _ratio(top1, n), f"top{k}": _ratio(sums["topk"], n)}
    if "severity" in sums:
        out["mistake_severity"] = _ratio(sums["severity"], n - top1)
        out[f"hier_distance@{k}"] = _ratio(sums["hier_distance"], n * k)
    if "similarity" in sums:
        out["similarity_accuracy"] = _ratio(sums["similarity"], n)
    if "superclass" in sums:
        out["superclass_accuracy"] = _ratio(sums["superclass"], n)
    return out


def _one_shot(
    scores: Tensor, target: Tensor, what: str, k: int, **structures: Any
) -> dict[str, float]:
    _check_single(scores, target, what, k)
    tables = _tables(scores.shape[1], **structures)
    tables = {name: table.to(scores.device) for name, table in tables.items()}
    return _single_results(_single_sums(scores, target, k, tables), k)


def mistake_severity(scores: Tensor, target: Tensor, hierarchy: Hierarchy) -> float:
    """Mean height of the lowest common ancestor of the true and the top-1 class, over mistakes.

    Heights are :attr:`Hierarchy.heights` (leaves 0; a node's height is its longest way down
    to a leaf). Only wrong top-1 predictions count, so with no mistakes (or no rows) there is
    nothing to average and the result is 0.0, never NaN: read it next to top-1 accuracy.

    Args:
        hierarchy: the class tree, one leaf per score column, in label order.
    """
    what = "mistake_severity"
    return _one_shot(scores, target, what, 1, hierarchy=hierarchy)[what]


def hierarchical_distance_at_k(
    scores: Tensor, target: Tensor, hierarchy: Hierarchy, k: int = 5
) -> float:
    """Mean LCA height between the true class and each of the ``k`` top-scored classes.

    The "average hierarchical distance of the top-k" of Bertinetto et al., *Making Better
    Mistakes* (CVPR 2020): averaged over the k predictions and over samples; the true class
    among them contributes 0. Arguments as :func:`mistake_severity`.
    """
    what = "hierarchical_distance_at_k"
    return _one_shot(scores, target, what, k, hierarchy=hierarchy)[f"hier_distance@{k}"]


def similarity_accuracy(
    scores: Tensor, target: Tensor, similarity: Similarity | Tensor | np.ndarray
) -> float:
    """Mean ``S[y, argmax scores]``: top-1 accuracy with partial credit from a similarity.

    Args:
        similarity: a :class:`Similarity` or an n x n tensor/array; rows are true classes.
    """
    what = "similarity_accuracy"
    return _one_shot(scores, target, what, 1, similarity=similarity)[what]


def superclass_accuracy(
    scores: Tensor, target: Tensor, groups: Tensor | np.ndarray | Sequence[int]
) -> float:
    """Fraction of rows whose top-1 class is in the same superclass as the true class.

    Args:
        groups: (classes,) integers: ``groups[c]`` is the superclass of class c.
    """
    what = "superclass_accuracy"
    return _one_shot(scores, target, what, 1, groups=groups)[what]


# -- accumulating metric objects ---------------------------------------------------------------


def _clamped_k(num_classes: int, k: int) -> int:
    if num_classes < 1 or k < 1:
        raise InputError(f"num_classes and k must be at least 1, got {num_classes} and {k}")
    return min(k, num_classes)


class SingleLabelMetrics:
    """Accumulate single-label metrics batch by batch (and across distributed ranks).

    :meth:`compute` gives ``"top1"``, ``f"top{k}"`` and, per structure given,
    ``"mistake_severity"`` and ``f"hier_distance@{k}"`` (hierarchy), ``"similarity_accuracy"``,
    ``"superclass_accuracy"`` (groups): the one-shot functions on all batches concatenated. A
    ``k`` above ``num_classes`` is clamped, and the keys name the clamped k. The structures
    become tensors once, here, and follow the scores' device. :meth:`state` holds additive
    0-d float64 sums, so across ranks::

        state = metrics.state()
        for value in state.values():
            torch.distributed.all_reduce(value)  # SUM
        metrics.reset()
        metrics.merge(state)
    """

    def __init__(
        self,
        *,
        num_classes: int,
        k: int = 5,
        hierarchy: Hierarchy | None = None,
        similarity: Similarity | Tensor | np.ndarray | None = None,
        groups: Tensor | np.ndarray | Sequence[int] | None = None,
    ) -> None:
        self.num_classes = num_classes
        self.k = _clamped_k(num_classes, k)
        self._tables = _tables(num_classes, hierarchy, similarity, groups)
        empty = torch.zeros((0, num_classes)), torch.zeros(0, dtype=torch.long)
        self._keys = tuple(_single_sums(*empty, self.k, self._tables))
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen."""
        self._sums = {key: torch.zeros((), dtype=torch.float64) for key in self._keys}

    def update(self, scores: Tensor, target: Tensor) -> None:
        """Add a batch: (batch, num_classes) scores, (batch,) class indices; or InputError."""
        _check_single(scores, target, "SingleLabelMetrics.update", classes=self.num_classes)
        if self._sums["count"].device != scores.device:
            self._tables = {key: table.to(scores.device) for key, table in self._tables.items()}
        batch = _single_sums(scores.detach(), target, self.k, self._tables)
        self._sums = {key: self._sums[key].to(value) + value for key, value in batch.items()}

    def state(self) -> dict[str, Tensor]:
        """Return copies of the accumulated sums (0-d float64 tensors, all additive)."""
        return {key: value.clone() for key, value in self._sums.items()}

    def merge(self, state: dict[str, Tensor]) -> None:
        """Add another accumulator's :meth:`state` (another rank's, say) to this one.

        Raises:
            InputError: when the state comes from metrics built with other structures.
        """
        if set(state) != set(self._keys):
            raise InputError(
                f"cannot merge a state with keys {sorted(state)} into one with"
                f" {sorted(self._keys)}; build both with the same structures"
            )
        self._sums = {key: value + state[key].to(value) for key, value in self._sums.items()}

    def compute(self) -> dict[str, float]:
        """Return the metrics over everything accumulated so far."""
        return _single_results(self._sums, self.k)


class MultiLabelMetrics:
    """Accumulate ``f"precision@{k}"``, ``f"recall@{k}"`` and ``"mAP"`` batch by batch.

    mAP ranks each class over *all* samples, so the state holds every score and target seen:
    ``{"scores": (n, classes), "targets": (n, classes) bool}`` on their device. :meth:`merge`
    appends another state's rows (gather states across ranks, e.g. ``all_gather_object``).
    Results are the one-shot functions on the rows in that order (which matters only for
    tied scores in mAP). A ``k`` above ``num_classes`` is clamped; the keys name the clamped k.
    """

    def __init__(self, *, num_classes: int, k: int = 5) -> None:
        self.num_classes = num_classes
        self.k = _clamped_k(num_classes, k)
        self.reset()

    def reset(self) -> None:
        """Forget every batch seen."""
        self._scores: list[Tensor] = []
        self._targets: list[Tensor] = []

    def update(self, scores: Tensor, target: Tensor) -> None:
        """Add a batch: (batch, num_classes) scores, multi-hot targets of that shape."""
        hot = _check_multilabel(scores, target)
        if scores.shape[1] != self.num_classes:
            raise InputError(f"expected {self.num_classes} score columns, got {scores.shape[1]}")
        self._scores.append(scores.detach())
        self._targets.append(hot)

    def state(self) -> dict[str, Tensor]:
        """Return ``{"scores": (n, classes), "targets": (n, classes) bool}`` (do not modify)."""
        if not self._scores:
            empty = torch.zeros((0, self.num_classes))
            return {"scores": empty, "targets": empty.bool()}
        if len(self._scores) > 1:  # concatenate once, not on every call
            self._scores, self._targets = [torch.cat(self._scores)], [torch.cat(self._targets)]
        return {"scores": self._scores[0], "targets": self._targets[0]}

    def merge(self, state: dict[str, Tensor]) -> None:
        """Append the rows of another accumulator's :meth:`state` after this one's.

        Raises:
            InputError: when the state is not ``{"scores", "targets"}`` of matching shapes.
        """
        if set(state) != {"scores", "targets"}:
            raise InputError(f"a multi-label state has keys scores, targets; got {sorted(state)}")
        device = self._scores[0].device if self._scores else state["scores"].device
        self.update(state["scores"].to(device), state["targets"].to(device))

    def compute(self) -> dict[str, float]:
        """Return the metrics over everything accumulated so far."""
        state = self.state()
        scores, targets, k = state["scores"], state["targets"], self.k
        return {
            f"precision@{k}": precision_at_k(scores, targets, k),
            f"recall@{k}": recall_at_k(scores, targets, k),
            "mAP": mean_average_precision(scores, targets),
        }
