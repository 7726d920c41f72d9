"""Structure provider ``ordinal``: similarity that decays with the distance between labels.

For ordered classes (ages, ratings, severity grades) the class index itself carries the
structure: predicting 41 when the truth is 40 is a smaller mistake than predicting 70. The
SimLoss paper's age-estimation variant uses ``S_ij = r ** |i - j|``.
"""

from __future__ import annotations

import math

import numpy as np

from structloss.errors import ConfigError, StructureError
from structloss.specs import StructureContext
from structloss.structures import Similarity

__all__ = ["build_ordinal", "ordinal_similarity"]


def ordinal_similarity(classes: tuple[str, ...] | list[str], r: float = 0.5) -> Similarity:
    """Return ``S_ij = r ** |i - j|`` over ``classes`` taken in label order.

    Args:
        classes: class names, ordered (index i is the i-th smallest value).
        r: the decay per step, in [0, 1]. ``r = 0`` is the identity (cross-entropy),
            ``r = 1`` makes every class equally acceptable.

    Raises:
        StructureError: when ``r`` is not a number in [0, 1].
    """
    if isinstance(r, bool) or not isinstance(r, int | float) or math.isnan(r) or not 0 <= r <= 1:
        raise StructureError(f"ordinal similarity needs r in [0, 1], got {r!r}")
    index = np.arange(len(classes))
    # 0.0 ** 0 is 1, so r = 0 keeps the unit diagonal
    matrix = np.power(float(r), np.abs(index[:, None] - index[None, :]).astype(np.float64))
    return Similarity.from_matrix(classes, matrix)


def build_ordinal(context: StructureContext, *, r: float = 0.5) -> Similarity:
    """Factory of structure provider ``ordinal``: ``S_ij = r ** |i - j|`` in label order.

    Args:
        context: the structure context; its classes must be given, in their natural order.
        r: the decay per step, in [0, 1] (default 0.5).

    Raises:
        ConfigError: when the config lists no classes.
        StructureError: for ``r`` outside [0, 1].
    """
    if context.classes is None:
        raise ConfigError(
            "structure provider 'ordinal' needs the classes in their natural order; set"
            ' `classes = ["0", "1", ...]` in the config or pass classes=[...]'
        )
    return ordinal_similarity(context.classes, r)
