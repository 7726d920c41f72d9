"""Evaluation metrics: torch tensors in, floats out."""

from __future__ import annotations

from torch import Tensor

from structloss.errors import InputError

__all__ = ["top_k_accuracy"]


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
