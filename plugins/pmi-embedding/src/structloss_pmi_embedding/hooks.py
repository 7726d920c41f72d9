"""structloss hooks of the ``pmi-embedding`` plugin: provider and loss ``pmi-embedding``.

Importing this module loads torch (the loss's base class needs it) and nothing else heavy:
scipy and scikit-learn are imported when the provider's factory runs.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import LossSpec, StructureSpec
from structloss_pmi_embedding.loss import build_pmi_embedding_loss
from structloss_pmi_embedding.provider import build_pmi_embedding

__all__ = ["structloss_losses", "structloss_structures"]


@hookimpl
def structloss_structures() -> Iterable[StructureSpec]:
    """Yield structure provider ``pmi-embedding`` (learned from ``labels=...``).

    Example::

        compose({"classes": names, "structure": {"provider": "pmi-embedding", "dim": 64},
                 "loss": {"name": "pmi-embedding"}}, labels=train_multi_hot)
    """
    yield StructureSpec(
        name="pmi-embedding",
        factory=build_pmi_embedding,
        summary="label vectors from the SVD of the PMI of label co-occurrence (needs labels=)",
        kind="embedding",
    )


@hookimpl
def structloss_losses() -> Iterable[LossSpec]:
    """Yield loss ``pmi-embedding``: cosine proximity to the sum of the label vectors."""
    yield LossSpec(
        name="pmi-embedding",
        factory=build_pmi_embedding_loss,
        summary="multi-label: regress the normalised sum of the labels' vectors (1 - cos)",
        needs="embedding",
        multilabel=True,
    )
