"""Draw a :class:`Hierarchy` to PNG, SVG or PDF with matplotlib (an optional dependency)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from structloss.errors import StructlossError
from structloss.structures import Hierarchy

__all__ = ["FORMATS", "draw_hierarchy", "tree_layout"]

#: The file suffixes :func:`draw_hierarchy` can write.
FORMATS = (".png", ".svg", ".pdf")


def tree_layout(hierarchy: Hierarchy) -> np.ndarray:
    """Return (nodes, 2) positions: leaves evenly spaced, parents centred over children.

    Leaves are placed in depth-first order (so edges never cross); an internal node sits at
    the mean x of its children; y is minus the depth, so the root is on top.
    """
    xy = np.zeros((hierarchy.num_nodes, 2))
    stack, slot = [hierarchy.root], 0
    while stack:
        name = stack.pop()
        kids = hierarchy.children(name)
        if not kids:
            xy[hierarchy.index(name), 0] = slot
            slot += 1
        stack.extend(reversed(kids))
    order = np.argsort(-hierarchy.depths[hierarchy.num_classes :], kind="stable")
    for i in order + hierarchy.num_classes:
        kids = hierarchy.children(hierarchy.nodes[i])
        xy[i, 0] = np.mean([xy[hierarchy.index(k), 0] for k in kids])
    xy[:, 1] = -hierarchy.depths
    return xy


def draw_hierarchy(hierarchy: Hierarchy, path: str | Path, *, labels: bool | None = None) -> Path:
    """Draw ``hierarchy`` to ``path``; the suffix picks the format (.png, .svg, .pdf).

    Args:
        hierarchy: the tree.
        path: output file.
        labels: write node names; by default only for trees of at most 150 nodes.

    Raises:
        StructlossError: when matplotlib is missing or the format is not supported.
    """
    path = Path(path)
    if path.suffix.lower() not in FORMATS:
        raise StructlossError(f"cannot draw to {path.name!r}: use a .png, .svg or .pdf file")
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        raise StructlossError(
            "drawing a tree needs matplotlib: pip install matplotlib (or 'structloss[lab]')"
        ) from None
    xy = tree_layout(hierarchy)
    depth = int(hierarchy.depths.max())
    width = min(max(6.0, hierarchy.num_classes * 0.25), 200.0)
    fig, ax = plt.subplots(figsize=(width, 1.2 * depth + 2))
    for i, p in enumerate(hierarchy.parents):
        if p >= 0:
            ax.plot([xy[i, 0], xy[p, 0]], [xy[i, 1], xy[p, 1]], color="0.6", lw=0.6)
    n = hierarchy.num_classes
    ax.scatter(xy[n:, 0], xy[n:, 1], s=12, color="tab:blue", zorder=3)
    ax.scatter(xy[:n, 0], xy[:n, 1], s=12, color="tab:orange", zorder=3)
    if labels if labels is not None else hierarchy.num_nodes <= 150:
        for i, name in enumerate(hierarchy.nodes):
            rotation = 90 if i < n else 0
            ax.annotate(
                name,
                xy[i],
                fontsize=7,
                rotation=rotation,
                ha="center",
                va="top" if i < n else "bottom",
                xytext=(0, -4 if i < n else 4),
                textcoords="offset points",
            )
    ax.set_axis_off()
    ax.set_title(f"{hierarchy.num_classes} classes, {hierarchy.num_nodes} nodes, depth {depth}")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
