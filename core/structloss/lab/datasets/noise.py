"""Label noise: corrupt training labels on purpose, to study robustness to it."""

from __future__ import annotations

from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from structloss.errors import ConfigError, choice_list, closest
from structloss.lab.datasets.base import Dataset, block_groups, check_int

__all__ = ["NOISE_MODES", "NOISE_OPTIONS", "inject_label_noise", "with_noise"]

NOISE_OPTIONS = ("noise", "noise_mode", "noise_seed", "noise_group_size")
NOISE_MODES = ("group", "uniform")


def inject_label_noise(
    labels: Tensor,
    p: float,
    *,
    mode: str,
    groups: np.ndarray | None,
    num_classes: int,
    seed: int,
) -> Tensor:
    """Return a copy of ``labels`` where each label is replaced with probability ``p``.

    A replaced label becomes a uniformly random *other* class: any class (``mode="uniform"``,
    ``groups`` ignored) or another class of the same group (``mode="group"``). A class alone
    in its group keeps its label. Equal seeds give equal results; flips and replacements are
    drawn for every sample whatever ``p``, so with one seed the labels flipped at a smaller
    ``p`` are a subset of those flipped at a larger one.

    Args:
        labels: integer class indices of shape (n,).
        p: the flip probability, in [0, 1].
        mode: ``"uniform"`` or ``"group"``.
        groups: the group index of each class (length ``num_classes``); needed by ``"group"``.
        num_classes: the number of classes.
        seed: the seed of the random generator (a non-negative integer).

    Raises:
        ConfigError: on a bad probability, mode, seed, groups, or labels.
    """
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"noise must be a probability in [0, 1], got {p!r}")
    if mode not in NOISE_MODES:
        raise ConfigError(
            f"unknown noise_mode {mode!r}{closest(str(mode), NOISE_MODES)}; choose one of:"
            f" {choice_list(NOISE_MODES)}"
        )
    if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ConfigError(
            "label noise needs single-label integer targets of shape (n,), got"
            f" {tuple(labels.shape)} {labels.dtype}; it cannot be applied to multi-label data"
        )
    y = labels.detach().cpu().numpy().astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ConfigError(f"labels must lie in [0, {num_classes}) for label noise")
    g = np.zeros(num_classes, np.int64) if mode == "uniform" else np.asarray(groups)
    if g.shape != (num_classes,) or not np.issubdtype(g.dtype, np.integer):
        raise ConfigError(f"noise_mode 'group' needs one integer group per class, got {groups!r}")
    # members of group k are order[start[k] : start[k] + counts[k]]
    _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(num_classes, dtype=np.int64)
    position[order] = np.arange(num_classes) - start[inverse[order]]
    rng = np.random.default_rng(check_int(seed, "noise_seed"))
    flip, draw = rng.random(y.size) < p, rng.random(y.size)
    group, size = inverse[y], counts[inverse[y]]
    offset = 1 + np.floor(draw * (size - 1)).astype(np.int64)  # uniform over 1 .. size-1
    other = order[start[group] + (position[y] + offset) % size]
    noisy = np.where(flip & (size > 1), other, y)
    return torch.from_numpy(noisy).to(device=labels.device, dtype=labels.dtype)


def with_noise(dataset: Dataset, noise: dict[str, Any], default_seed: Any) -> Dataset:
    """``dataset`` with its training labels corrupted as the ``noise`` options say."""
    if dataset.multilabel:
        raise ConfigError(
            f"label noise ({', '.join(noise)}) applies to single-label data only, and"
            f" {dataset.name} is multi-label; remove the noise options"
        )
    mode, groups = noise.get("noise_mode", "uniform"), dataset.groups
    if "noise_group_size" in noise and (mode != "group" or groups is not None):
        raise ConfigError(
            "noise_group_size only applies with noise_mode = 'group' on a dataset without"
            f" groups of its own ({dataset.name} has {'them' if groups is not None else 'none'});"
            " remove it"
        )
    if mode == "group" and groups is None:
        groups = block_groups(dataset.num_classes, noise.get("noise_group_size", 5))
    seed = noise.get("noise_seed", default_seed)
    p = noise.get("noise", 0.0)
    n = dataset.num_classes
    noisy = inject_label_noise(
        dataset.y_train, p, mode=mode, groups=groups, num_classes=n, seed=seed
    )
    return attrs.evolve(dataset, y_train=noisy)
