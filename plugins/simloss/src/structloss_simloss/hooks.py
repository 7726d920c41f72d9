"""structloss hooks of the ``simloss`` plugin: loss ``simloss``, provider ``ordinal``.

Importing this module loads torch (the loss's base class needs it) and nothing else heavy.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import LossSpec, StructureSpec
from structloss_simloss.loss import build_simloss
from structloss_simloss.ordinal import build_ordinal

__all__ = ["structloss_losses", "structloss_structures"]


@hookimpl
def structloss_losses() -> Iterable[LossSpec]:
    """Yield loss ``simloss``, which needs a similarity (hierarchies/embeddings convert)."""
    yield LossSpec(
        name="simloss",
        factory=build_simloss,
        summary="cross-entropy crediting similar classes: -log sum_c S[y,c] p_c",
        needs="similarity",
    )


@hookimpl
def structloss_structures() -> Iterable[StructureSpec]:
    """Yield structure provider ``ordinal`` (``S_ij = r ** |i - j|``)."""
    yield StructureSpec(
        name="ordinal",
        factory=build_ordinal,
        summary="ordered classes: similarity r ** |i - j| (option r)",
        kind="similarity",
    )
