"""A class tree from class vectors, by agglomerative clustering (scipy).

Classes whose vectors point the same way are merged first; every merge becomes an internal
node, so the result is a binary tree whose leaves are the classes in label order. Levels
whose merge distances differ by at most ``collapse`` are fused into one node, so near-ties
(several almost identical classes) become siblings under one parent.
"""

from __future__ import annotations

import numpy as np

from structloss.errors import ConfigError, StructureError, closest
from structloss.structures import Hierarchy, LabelEmbedding

__all__ = ["LINKAGE_METHODS", "cluster_hierarchy"]

LINKAGE_METHODS: tuple[str, ...] = ("average", "complete", "single", "weighted", "ward")


def _distances(unit: np.ndarray, method: str) -> np.ndarray:
    """Condensed pairwise distances: cosine, or Euclidean between unit vectors for ward."""
    from scipy.spatial.distance import squareform

    cosine = np.clip(1.0 - unit @ unit.T, 0.0, 2.0)
    np.fill_diagonal(cosine, 0.0)
    # ward needs Euclidean distances; between unit vectors ||a - b|| = sqrt(2 cosine-distance)
    square = np.sqrt(2.0 * cosine) if method == "ward" else cosine
    return np.asarray(squareform((square + square.T) / 2.0, checks=False))


def cluster_hierarchy(
    embedding: LabelEmbedding,
    *,
    method: str = "average",
    collapse: float = 0.0,
    prefix: str = "cluster-",
) -> Hierarchy:
    """Cluster the class vectors into a tree (cosine metric, scipy linkage).

    Args:
        embedding: one vector per class.
        method: the linkage: ``average`` (UPGMA, default), ``complete``, ``single``,
            ``weighted`` on cosine distances, or ``ward`` on the Euclidean distances of the
            unit vectors (which order pairs as cosine does).
        collapse: fuse a merge into its parent when their merge distances differ by at most
            this much (0 fuses exact ties only), giving non-binary nodes.
        prefix: internal nodes are named ``<prefix><k>``, numbered breadth-first from the
            root ``<prefix>0``.

    Returns:
        A :class:`~structloss.Hierarchy` whose leaves are ``embedding.classes`` in order.

    Raises:
        ConfigError: for an unknown method, a negative collapse or an empty prefix.
        StructureError: when an internal node's name equals a class name.
    """
    if method not in LINKAGE_METHODS:
        raise ConfigError(
            f"unknown linkage method {method!r}{closest(str(method), LINKAGE_METHODS)}; choose"
            f" one of: {', '.join(LINKAGE_METHODS)}"
        )
    if isinstance(collapse, bool) or not isinstance(collapse, int | float) or not collapse >= 0:
        raise ConfigError(f"collapse must be a number >= 0, got {collapse!r}")
    if not isinstance(prefix, str) or not prefix:
        raise ConfigError(f"prefix must be a non-empty string, got {prefix!r}")
    classes = embedding.classes
    n = len(classes)
    if n == 1:
        return Hierarchy.from_parents(classes, {classes[0]: f"{prefix}0"})
    from scipy.cluster.hierarchy import linkage

    merges = linkage(_distances(embedding.normalized(), method), method=method)
    children = _children(merges, n, float(collapse))
    names = _breadth_first_names(children, n, prefix)
    clashes = sorted(set(names.values()) & set(classes))
    if clashes:
        raise StructureError(
            f"internal node names clash with classes {clashes}; set another prefix (option"
            f" prefix, now {prefix!r})"
        )
    parents = {
        (classes[child] if child < n else names[child]): names[node]
        for node, kids in children.items()
        for child in kids
    }
    return Hierarchy.from_parents(classes, parents)


def _children(merges: np.ndarray, n: int, collapse: float) -> dict[int, list[int]]:
    """Map each kept internal node (scipy id ``n + row``) to its children, fusing near-ties."""
    root = 2 * n - 2
    height = {n + row: float(merges[row, 2]) for row in range(n - 1)}
    children: dict[int, list[int]] = {root: []}
    stack = [root]
    while stack:
        node = stack.pop()
        pending = [int(merges[node - n, 0]), int(merges[node - n, 1])]
        while pending:
            child = pending.pop()
            if child >= n and height[node] - height[child] <= collapse:
                pending.extend((int(merges[child - n, 0]), int(merges[child - n, 1])))
            else:
                children[node].append(child)
                if child >= n:
                    children[child] = []
                    stack.append(child)
    return children


def _breadth_first_names(children: dict[int, list[int]], n: int, prefix: str) -> dict[int, str]:
    """Name internal nodes ``<prefix>0`` (root), ``<prefix>1``... breadth-first.

    Siblings are ordered by the smallest class index below them, so names are stable.
    """
    first_leaf: dict[int, int] = {}

    def smallest(node: int) -> int:
        if node < n:
            return node
        if node not in first_leaf:
            first_leaf[node] = min(smallest(child) for child in children[node])
        return first_leaf[node]

    for node in sorted(children):  # scipy ids grow with merge order: children first
        smallest(node)
    for node in children:
        children[node].sort(key=smallest)
    names: dict[int, str] = {}
    queue = [2 * n - 2]
    for node in queue:
        names[node] = f"{prefix}{len(names)}"
        queue.extend(child for child in children[node] if child >= n)
    return names
