"""Synthetic many-class data whose classes follow a known tree.

Following the synthetic study of Wang & Izbicki (2022): every node of a random class tree gets
a Gaussian vector; a class's mean is the sum of the vectors on its path from the root, so
classes that share ancestors lie close together. Inputs are Gaussian around their class mean.
"""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import numpy as np
import torch
from torch import Tensor

from structloss.errors import ConfigError
from structloss.structures import Hierarchy

__all__ = ["SyntheticTask", "hierarchical_task", "random_class_tree"]


def random_class_tree(branching: Sequence[int]) -> Hierarchy:
    """Return a complete tree with ``branching[d]`` children per node at depth d.

    Classes are named ``c000``, ``c001``...; internal nodes ``root``, ``g1.0``, ``g1.1``...
    (``g<depth>.<index>``). The tree has ``prod(branching)`` classes.

    Raises:
        ConfigError: when a branching factor is below 1 or there are no levels.
    """
    if not branching or any(int(b) < 1 for b in branching):
        raise ConfigError(
            f"branching must be a non-empty list of positive integers, got {list(branching)}"
        )
    parents: dict[str, str] = {}
    level = ["root"]
    for depth, fan in enumerate(branching[:-1], start=1):
        nxt = [f"g{depth}.{i}" for i in range(len(level) * int(fan))]
        parents.update({child: level[i // int(fan)] for i, child in enumerate(nxt)})
        level = nxt
    fan = int(branching[-1])
    width = len(str(len(level) * fan - 1))
    classes = [f"c{i:0{width}d}" for i in range(len(level) * fan)]
    parents.update({c: level[i // fan] for i, c in enumerate(classes)})
    return Hierarchy.from_parents(classes, parents)


@attrs.frozen
class SyntheticTask:
    """A generated dataset: train and test tensors and the tree that made them."""

    hierarchy: Hierarchy
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor

    @property
    def classes(self) -> tuple[str, ...]:
        """Class names in label order."""
        return self.hierarchy.classes

    @property
    def dim(self) -> int:
        """Input dimension."""
        return int(self.x_train.shape[1])


def hierarchical_task(
    *,
    branching: Sequence[int] = (4, 5, 5),
    dim: int = 64,
    train_per_class: int = 10,
    test_per_class: int = 50,
    node_scale: float = 1.0,
    class_noise: float = 0.3,
    input_noise: float = 2.0,
    seed: int = 0,
    hierarchy: Hierarchy | None = None,
) -> SyntheticTask:
    """Generate a classification task along a class tree.

    Every node v gets ``u_v ~ N(0, node_scale^2 / depth_max I)``; class c's mean is the sum
    of ``u_v`` on its root path plus ``N(0, class_noise^2 I)``; each input is its class mean
    plus ``N(0, input_noise^2 I)``. The split is balanced: ``train_per_class`` and
    ``test_per_class`` samples per class.

    Args:
        branching: children per node at each depth (ignored when ``hierarchy`` is given).
        dim: input dimension.
        train_per_class: training samples per class.
        test_per_class: test samples per class.
        node_scale: scale of node vectors (larger separates groups more).
        class_noise: scale of each class's own deviation from its path sum.
        input_noise: scale of the input noise around the class mean.
        seed: seed of the generator; equal seeds give equal data.
        hierarchy: a tree to use instead of a complete random one.
    """
    if dim < 1 or train_per_class < 1 or test_per_class < 1:
        raise ConfigError("dim, train_per_class and test_per_class must be positive integers")
    tree = hierarchy if hierarchy is not None else random_class_tree(branching)
    rng = np.random.default_rng(seed)
    depth = max(int(tree.depths.max()), 1)
    nodes = rng.normal(0.0, node_scale / np.sqrt(depth), size=(tree.num_nodes, dim))
    nodes[tree.root_index] = 0.0
    means = tree.path_matrix(np.float64) @ nodes
    means += rng.normal(0.0, class_noise, size=means.shape)

    def sample(per_class: int) -> tuple[Tensor, Tensor]:
        labels = np.repeat(np.arange(tree.num_classes), per_class)
        rng.shuffle(labels)
        inputs = means[labels] + rng.normal(0.0, input_noise, size=(labels.size, dim))
        return torch.from_numpy(inputs.astype(np.float32)), torch.from_numpy(labels)

    x_train, y_train = sample(train_per_class)
    x_test, y_test = sample(test_per_class)
    return SyntheticTask(tree, x_train, y_train, x_test, y_test)
