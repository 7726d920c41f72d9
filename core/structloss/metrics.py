"""Evaluation metrics: torch tensors in, floats out."""

from __future__ import annotations

import torch
from torch import Tensor

from structloss.errors import InputError

__all__ = ["mean_average_precision", "precision_at_k", "recall_at_k", "top_k_accuracy"]


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
