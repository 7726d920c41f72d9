"""Small structures over any classes, for checks and for losses that need one."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from structloss.specs import STRUCTURE_KINDS
from structloss.structures import Hierarchy, LabelEmbedding, LabelStructure, check_classes

__all__ = ["DEFAULT_CLASSES", "example_hierarchy", "example_structure", "mixup_target"]

DEFAULT_CLASSES: tuple[str, ...] = ("cat", "dog", "lion", "wolf", "truck", "bus", "car", "boat")
"""The class list :func:`check_plugin` composes losses and builds structures for."""


def example_hierarchy(classes: Sequence[str] = DEFAULT_CLASSES) -> Hierarchy:
    """Return a small two-level hierarchy over ``classes`` for tests.

    The classes are split in label order into two groups (``_group0``, ``_group1``) under a
    root ``_root``; a single class hangs directly under the root.

    Raises:
        StructureError: when a class is named like one of the internal nodes.
    """
    names = check_classes(classes)
    if len(names) < 2:
        return Hierarchy.flat(names, root="_root")
    half = (len(names) + 1) // 2
    parents = {name: "_group0" if i < half else "_group1" for i, name in enumerate(names)}
    parents.update({"_group0": "_root", "_group1": "_root"})
    return Hierarchy.from_parents(names, parents)


def example_structure(kind: str, classes: Sequence[str] = DEFAULT_CLASSES) -> LabelStructure:
    """Return a small structure of ``kind`` over ``classes``, derived from
    :func:`example_hierarchy`.

    ``"hierarchy"`` is that tree, ``"similarity"`` its Wu-Palmer similarity, and
    ``"embedding"`` its path matrix (one row per class, 1 on the nodes of the class's path).

    Raises:
        ValueError: for an unknown kind.
    """
    tree = example_hierarchy(classes)
    if kind == "hierarchy":
        return tree
    if kind == "similarity":
        return tree.to_similarity()
    if kind == "embedding":
        return LabelEmbedding.from_matrix(tree.classes, tree.path_matrix(np.float64))
    raise ValueError(f"unknown structure kind {kind!r}; choose one of {STRUCTURE_KINDS}")


def mixup_target(
    target: torch.Tensor,
    num_classes: int,
    *,
    lam: float,
    smoothing: float = 0.0,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """Probability targets built the way timm's ``Mixup`` builds them, without timm.

    Each row mixes the smoothed one-hot of ``target[i]`` with that of the batch read
    backwards, ``target.flip(0)[i]``: ``lam * y1 + (1 - lam) * y2``, where a smoothed
    one-hot holds ``1 - smoothing + smoothing / num_classes`` at its class and
    ``smoothing / num_classes`` elsewhere. Rows sum to 1.

    Example::

        >>> mixup_target(torch.tensor([0, 2]), 3, lam=0.75)
        tensor([[0.7500, 0.0000, 0.2500],
                [0.2500, 0.0000, 0.7500]])
    """
    off = smoothing / num_classes
    on = 1.0 - smoothing + off

    def smoothed(labels: torch.Tensor) -> torch.Tensor:
        rows = torch.full((len(labels), num_classes), off, dtype=dtype, device=labels.device)
        return rows.scatter_(1, labels[:, None], on)

    return lam * smoothed(target) + (1.0 - lam) * smoothed(target.flip(0))
