"""SimLoss for structloss: cross-entropy that gives partial credit to similar classes.

Use it by name (``[loss] name = "simloss"``) with any similarity source, or directly::

    from structloss_simloss import SimLoss, ordinal_similarity
    loss = SimLoss(ordinal_similarity([str(age) for age in range(101)], r=0.5))
"""

from __future__ import annotations

from structloss_simloss.loss import SimLoss, build_simloss, build_simloss_neighbours
from structloss_simloss.neighbours import NeighbourSimilarity, nearest_neighbours
from structloss_simloss.ordinal import build_ordinal, ordinal_similarity

__version__ = "0.1.0"

__all__ = [
    "NeighbourSimilarity",
    "SimLoss",
    "__version__",
    "build_ordinal",
    "build_simloss",
    "build_simloss_neighbours",
    "nearest_neighbours",
    "ordinal_similarity",
]
