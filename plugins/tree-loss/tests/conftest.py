"""Fixtures of the tree-loss tests: the shared isolated host (``plugin_host``) and trees."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

import structloss_tree_loss.hooks
from structloss import Hierarchy
from structloss.testing.fixtures import plugin_host_fixture

plugin_host = plugin_host_fixture(structloss_tree_loss.hooks)


def random_tree(seed: int, inner: int, classes: int) -> Hierarchy:
    """A random tree of irregular depth: ``inner`` internal nodes, at least ``classes`` leaves.

    Each internal node hangs under a random earlier one and each class under a random internal
    node; an internal node left childless gets a class of its own. Label order is shuffled.
    """
    rng = random.Random(seed)
    parents = {f"n{i}": f"n{rng.randrange(i)}" for i in range(1, inner)}
    names = [f"c{j}" for j in range(classes)]
    parents.update({name: f"n{rng.randrange(inner)}" for name in names})
    used = set(parents.values())
    for i in range(inner):
        if f"n{i}" not in used:
            names.append(f"x{i}")
            parents[f"x{i}"] = f"n{i}"
    rng.shuffle(names)
    return Hierarchy.from_parents(names, parents)


def complete_tree(branching: list[int]) -> Hierarchy:
    """A complete tree with ``branching[d]`` children per node at depth d.

    Classes are ``c00``, ``c01``, ... in order; internal nodes ``root``, ``g1.0``, ... (as
    the lab's synthetic tasks name them; the plugin's tests do not import the lab).
    """
    parents: dict[str, str] = {}
    level = ["root"]
    for depth, fan in enumerate(branching[:-1], start=1):
        below = [f"g{depth}.{i}" for i in range(len(level) * fan)]
        parents.update({child: level[i // fan] for i, child in enumerate(below)})
        level = below
    fan = branching[-1]
    width = len(str(len(level) * fan - 1))
    names = [f"c{i:0{width}d}" for i in range(len(level) * fan)]
    parents.update({name: level[i // fan] for i, name in enumerate(names)})
    return Hierarchy.from_parents(names, parents)


def chain_tree(length: int) -> Hierarchy:
    """A chain of ``length`` internal nodes with two classes at the bottom and one at the top."""
    parents = {f"n{i}": f"n{i - 1}" for i in range(1, length)}
    parents.update({"deep0": f"n{length - 1}", "deep1": f"n{length - 1}", "shallow": "n0"})
    return Hierarchy.from_parents(["deep1", "shallow", "deep0"], parents)


TREES = {
    "flat": Hierarchy.flat([f"c{i}" for i in range(5)]),
    "single-class": Hierarchy.flat(["only"]),
    "complete": complete_tree([2, 3, 2]),
    "chain": chain_tree(25),
    "irregular": random_tree(seed=7, inner=15, classes=20),
}


@pytest.fixture(scope="session")
def trees() -> dict[str, Hierarchy]:
    """The shared trees by name."""
    return TREES


@pytest.fixture(scope="session")
def make_tree() -> Callable[[int, int, int], Hierarchy]:
    """:func:`random_tree`, for tests that draw trees (hypothesis)."""
    return random_tree


@pytest.fixture(params=sorted(TREES))
def tree(request: pytest.FixtureRequest) -> Hierarchy:
    """Each of the shared trees in turn."""
    return TREES[request.param]


@pytest.fixture
def irregular() -> Hierarchy:
    """One tree whose classes sit at many different depths."""
    return TREES["irregular"]
