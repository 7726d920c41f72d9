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

__all__ = [
    "MultiLabelTask",
    "SyntheticTask",
    "cooccurrence_task",
    "hierarchical_task",
    "random_class_tree",
]


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


@attrs.frozen
class MultiLabelTask:
    """A generated multi-label dataset: inputs, multi-hot targets, and its topics."""

    classes: tuple[str, ...]
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    topics: np.ndarray

    @property
    def dim(self) -> int:
        """Input dimension."""
        return int(self.x_train.shape[1])


def cooccurrence_task(
    *,
    num_labels: int = 300,
    num_topics: int = 30,
    labels_per_topic: int = 20,
    labels_per_sample: float = 4.0,
    dim: int = 64,
    train_size: int = 2000,
    test_size: int = 2000,
    input_noise: float = 1.0,
    seed: int = 0,
) -> MultiLabelTask:
    """Generate a multi-label task whose labels co-occur through latent topics.

    Each topic owns ``labels_per_topic`` labels (topics overlap) with Dirichlet weights.
    A sample draws one or two topics and 1 + Poisson(``labels_per_sample`` - 1) labels
    (distinct) from their mixture. Each label and topic has a Gaussian vector; the input is
    the mean of the sample's label vectors plus its topics' vectors and
    ``N(0, input_noise^2 I)``.

    Returns:
        A :class:`MultiLabelTask` with (samples, num_labels) bool targets; ``topics`` is the
        (num_topics, num_labels) matrix of topic weights.
    """
    if num_labels < 2 or num_topics < 1 or not 1 <= labels_per_topic <= num_labels:
        raise ConfigError(
            "cooccurrence_task needs num_labels >= 2, num_topics >= 1 and"
            " 1 <= labels_per_topic <= num_labels"
        )
    if labels_per_sample < 1 or train_size < 1 or test_size < 1 or dim < 1:
        raise ConfigError("labels_per_sample >= 1 and positive sizes are required")
    rng = np.random.default_rng(seed)
    topics = np.zeros((num_topics, num_labels))
    for z in range(num_topics):
        members = rng.choice(num_labels, size=labels_per_topic, replace=False)
        topics[z, members] = rng.dirichlet(np.full(labels_per_topic, 0.5))
    label_vectors = rng.normal(0.0, 1.0, size=(num_labels, dim))
    topic_vectors = rng.normal(0.0, 1.0, size=(num_topics, dim))

    def sample(size: int) -> tuple[Tensor, Tensor]:
        inputs = np.empty((size, dim))
        targets = np.zeros((size, num_labels), dtype=bool)
        for i in range(size):
            chosen = rng.choice(num_topics, size=rng.integers(1, 3), replace=False)
            weights = topics[chosen].sum(0)
            weights /= weights.sum()
            support = int(np.count_nonzero(weights))
            count = min(1 + rng.poisson(labels_per_sample - 1), support)
            labels = rng.choice(num_labels, size=count, replace=False, p=weights)
            targets[i, labels] = True
            inputs[i] = label_vectors[labels].mean(0) + topic_vectors[chosen].sum(0)
        inputs += rng.normal(0.0, input_noise, size=inputs.shape)
        return torch.from_numpy(inputs.astype(np.float32)), torch.from_numpy(targets)

    x_train, y_train = sample(train_size)
    x_test, y_test = sample(test_size)
    width = len(str(num_labels - 1))
    classes = tuple(f"l{i:0{width}d}" for i in range(num_labels))
    topics.setflags(write=False)
    return MultiLabelTask(classes, x_train, y_train, x_test, y_test, topics)
