"""structloss hooks of the ``pmi-embedding`` plugin: provider and loss ``pmi-embedding``.

Importing this module loads torch (the loss's base class needs it) and nothing else heavy:
scipy and scikit-learn are imported when the provider's factory runs. Compose both with the
training labels::

    compose({"classes": names, "structure": {"provider": "pmi-embedding", "dim": 64},
             "loss": {"name": "pmi-embedding"}}, labels=train_multi_hot)
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import LossSpec, StructureSpec
from structloss_pmi_embedding.loss import build_pmi_embedding_loss
from structloss_pmi_embedding.provider import build_pmi_embedding

__all__ = ["structloss_losses", "structloss_structures"]

structloss_structures = provides(
    StructureSpec(
        "pmi-embedding",
        build_pmi_embedding,
        "label vectors from the SVD of the PMI of label co-occurrence (needs labels=)",
        kind="embedding",
    ),
)
#: multi-label: cosine proximity to the sum of the label vectors
structloss_losses = provides(
    LossSpec(
        "pmi-embedding",
        build_pmi_embedding_loss,
        "multi-label: regress the normalised sum of the labels' vectors (1 - cos)",
        needs="embedding",
        multilabel=True,
    ),
)
