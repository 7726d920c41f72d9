"""Multi-label targets: multi-hot tensors, label-set lists and sparse matrices.

Multi-label losses accept a (batch, classes) multi-hot tensor (bool, integer or float in
[0, 1]) or a list of label sets (one iterable of class indices per sample). Structure
providers that learn from training labels (``compose(..., labels=...)``) read them with
:func:`label_pairs`, which also takes scipy sparse matrices and 1-D class indices.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from structloss.errors import InputError

__all__ = ["label_pairs", "multi_hot"]


def multi_hot(
    target: Tensor | Sequence[Iterable[int]],
    num_classes: int,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    check: bool = True,
) -> Tensor:
    """Return ``target`` as a (batch, num_classes) multi-hot tensor of ``dtype``.

    Args:
        target: a (batch, num_classes) tensor with values in [0, 1], or label sets.
        num_classes: the number of classes.
        device: where the result lives (default: the target's device, or CPU for lists).
        dtype: the result's floating dtype.
        check: verify tensor values lie in [0, 1] (a pass over the data; bool tensors never
            need it).

    Raises:
        InputError: for 1-D class indices, a wrong width, values outside [0, 1], or label
            sets holding indices outside ``0..num_classes - 1``.
    """
    if isinstance(target, Tensor):
        if target.ndim == 1:
            raise InputError(
                f"a multi-label loss got class indices of shape {tuple(target.shape)}; give a"
                " (batch, classes) multi-hot tensor or a list of label sets, or use a"
                " single-label loss such as cross-entropy"
            )
        if target.ndim != 2 or target.shape[1] != num_classes:
            raise InputError(
                f"multi-hot targets must have shape (batch, {num_classes}), got"
                f" {tuple(target.shape)}"
            )
        if target.is_complex():
            raise InputError(f"multi-hot targets must be real, got {target.dtype}")
        out = target.to(device=device or target.device, dtype=dtype)
        if (
            check
            and target.dtype != torch.bool
            and bool(((out < 0) | (out > 1) | out.isnan()).any())
        ):
            raise InputError("multi-hot targets must hold values in [0, 1] (1 = label present)")
        return out
    if isinstance(target, str | bytes) or not isinstance(target, Sequence):
        raise InputError(
            "multi-label targets are a (batch, classes) tensor or a list of label sets, got"
            f" {type(target).__name__}"
        )
    rows, cols = _pairs_from_sets(target, num_classes)
    out = torch.zeros(len(target), num_classes, dtype=dtype, device=device)
    out[torch.from_numpy(rows), torch.from_numpy(cols)] = 1.0
    return out


def _pairs_from_sets(sets: Sequence[Any], num_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rows: list[int] = []
    cols: list[int] = []
    for i, labels in enumerate(sets):
        if isinstance(labels, str | bytes) or not isinstance(labels, Iterable):
            raise InputError(
                f"label set {i} is {type(labels).__name__}; each sample's labels must be an"
                " iterable of class indices"
            )
        for label in labels:
            if isinstance(label, bool) or not isinstance(label, int | np.integer):
                raise InputError(f"label set {i} holds {label!r}; labels are class indices")
            if not 0 <= int(label) < num_classes:
                raise InputError(
                    f"label set {i} holds class index {int(label)}, outside 0..{num_classes - 1}"
                )
            rows.append(i)
            cols.append(int(label))
    return np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64)


def label_pairs(labels: Any, num_classes: int) -> tuple[np.ndarray, np.ndarray, int]:
    """Return ``(sample indices, class indices, number of samples)`` of training labels.

    Accepts a dense multi-hot matrix (numpy or torch), a scipy sparse matrix (anything
    with ``tocoo()``), 1-D integer class indices (one label per sample), or label-set lists.
    Duplicate pairs are kept once.

    Raises:
        InputError: for shapes, values or indices that do not fit ``num_classes``.
    """
    if hasattr(labels, "tocoo"):
        coo = labels.tocoo()
        if coo.shape[1] != num_classes:
            raise InputError(f"label matrix has {coo.shape[1]} columns for {num_classes} classes")
        keep = np.asarray(coo.data) != 0
        rows, cols, count = np.asarray(coo.row)[keep], np.asarray(coo.col)[keep], coo.shape[0]
    elif isinstance(labels, Tensor | np.ndarray):
        array = labels.detach().cpu().numpy() if isinstance(labels, Tensor) else labels
        if array.ndim == 1:
            if not np.issubdtype(array.dtype, np.integer):
                raise InputError(f"1-D labels must be integer class indices, got {array.dtype}")
            if array.size and (array.min() < 0 or array.max() >= num_classes):
                raise InputError(f"labels hold class indices outside 0..{num_classes - 1}")
            rows, cols, count = np.arange(array.size), array.astype(np.int64), array.size
        elif array.ndim == 2 and array.shape[1] == num_classes:
            rows, cols = np.nonzero(array)
            count = array.shape[0]
        else:
            raise InputError(
                f"labels must be (samples, {num_classes}) multi-hot or (samples,) indices, got"
                f" shape {array.shape}"
            )
    else:
        rows, cols = _pairs_from_sets(list(labels), num_classes)
        count = len(labels)
    # one sort of encoded pairs is far cheaper than np.unique(..., axis=1) on large data
    codes = np.unique(
        np.asarray(rows, dtype=np.int64) * num_classes + np.asarray(cols, dtype=np.int64)
    )
    return codes // num_classes, codes % num_classes, int(count)
