"""The synthetic generators behind the default experiment and the plugin experiments."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from structloss.errors import ConfigError
from structloss.lab.datasets.synthetic import (
    cooccurrence_task,
    hierarchical_task,
    random_class_tree,
)


def test_random_class_tree_shape():
    tree = random_class_tree([2, 3, 4])
    assert tree.num_classes == 24
    assert tree.num_nodes == 1 + 2 + 6 + 24
    assert set(tree.depths[: tree.num_classes].tolist()) == {3}
    assert tree.classes[0] == "c00" and tree.parent("c00") == "g2.0"
    assert tree.children("root") == ("g1.0", "g1.1")
    with pytest.raises(ConfigError, match="branching"):
        random_class_tree([2, 0])


def test_hierarchical_task_is_seeded_and_balanced():
    a = hierarchical_task(branching=(2, 3), dim=5, train_per_class=4, test_per_class=3, seed=7)
    b = hierarchical_task(branching=(2, 3), dim=5, train_per_class=4, test_per_class=3, seed=7)
    c = hierarchical_task(branching=(2, 3), dim=5, train_per_class=4, test_per_class=3, seed=8)
    assert torch.equal(a.x_train, b.x_train) and torch.equal(a.y_test, b.y_test)
    assert not torch.equal(a.x_train, c.x_train)
    assert a.x_train.shape == (24, 5) and a.x_test.shape == (18, 5)
    assert torch.bincount(a.y_train).tolist() == [4] * 6


def test_hierarchical_task_means_follow_the_tree():
    # with no class noise and tiny input noise, siblings are closer than cousins
    task = hierarchical_task(
        branching=(3, 4), dim=200, train_per_class=30, class_noise=0.0, input_noise=0.01, seed=1
    )
    means = torch.stack([task.x_train[task.y_train == c].mean(0) for c in range(12)]).numpy()
    dist = np.linalg.norm(means[:, None] - means[None], axis=2)
    tree_distance = task.hierarchy.distance_matrix()
    assert dist[tree_distance == 2].max() < dist[tree_distance == 4].min()


def test_cooccurrence_task_statistics():
    options = dict(
        num_labels=50,
        num_topics=5,
        labels_per_topic=10,
        train_size=400,
        test_size=100,
        labels_per_sample=3.0,
        seed=3,
    )
    task = cooccurrence_task(**options)
    assert task.y_train.shape == (400, 50) and task.y_train.dtype == torch.bool
    per_sample = task.y_train.sum(1).float()
    assert per_sample.min() >= 1
    assert 2.0 < float(per_sample.mean()) < 3.5
    # labels only come from topic members
    assert not task.y_train[:, task.topics.sum(0) == 0].any()
    again = cooccurrence_task(**options)
    assert torch.equal(task.x_test, again.x_test)
    with pytest.raises(ConfigError, match="labels_per_topic"):
        cooccurrence_task(num_labels=5, labels_per_topic=6)
