"""Shared fixtures: the isolated host ``plugin_host``, small multi-label data with
co-occurrence structure."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

import structloss_pmi_embedding.hooks
from structloss.testing.fixtures import plugin_host_fixture

plugin_host = plugin_host_fixture(structloss_pmi_embedding.hooks)


def topic_labels(num_samples: int = 400, num_classes: int = 12, seed: int = 0) -> np.ndarray:
    """Multi-hot (samples, classes) bool labels drawn from three overlapping topics.

    Every class occurs, most samples hold 2-4 labels, some hold one, a few none.
    """
    rng = np.random.default_rng(seed)
    groups = np.array_split(np.arange(num_classes), 3)
    hot = np.zeros((num_samples, num_classes), dtype=bool)
    for i in range(num_samples):
        if i % 25 == 0:
            continue  # a sample without labels
        group = groups[rng.integers(len(groups))]
        size = int(rng.integers(1, 4))
        hot[i, rng.choice(group, size=min(size, group.size), replace=False)] = True
        if rng.random() < 0.3:
            hot[i, rng.integers(num_classes)] = True
    hot[:num_classes, :] |= np.eye(num_classes, dtype=bool)  # every class seen
    return hot


@pytest.fixture
def labels() -> np.ndarray:
    """Multi-hot training labels over 12 classes (see :func:`topic_labels`)."""
    return topic_labels()


@pytest.fixture
def make_labels() -> Callable[..., np.ndarray]:
    """The generator :func:`topic_labels`, for tests that need another class count."""
    return topic_labels


@pytest.fixture
def classes() -> list[str]:
    """Names of the 12 classes."""
    return [f"c{i:02d}" for i in range(12)]
