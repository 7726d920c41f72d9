"""PMI label embeddings for structloss (Chollet, 2016, "Information-theoretical label
embeddings for large-scale image classification").

Learn label vectors from training label sets and train a network to regress them::

    import structloss
    loss = structloss.compose(
        {"classes": names, "structure": {"provider": "pmi-embedding", "dim": 64},
         "loss": {"name": "pmi-embedding"}},
        labels=train_multi_hot,
    )
    head = loss.head(2048)                 # nn.Linear(2048, 64)
    value = loss(head(features), target)   # multi-hot or label sets
    ranking = loss.scores(head(features))  # cosines, (batch, classes)

Nothing here imports scipy or scikit-learn until an embedding is learned.
"""

from __future__ import annotations

from structloss_pmi_embedding.factorization import normalize_rows, svd_embedding
from structloss_pmi_embedding.loss import PMIEmbeddingLoss, build_pmi_embedding_loss
from structloss_pmi_embedding.pmi import Cooccurrence, cooccurrence, pmi_matrix
from structloss_pmi_embedding.provider import build_pmi_embedding, pmi_embedding

__version__ = "0.1.0"

__all__ = [
    "Cooccurrence",
    "PMIEmbeddingLoss",
    "__version__",
    "build_pmi_embedding",
    "build_pmi_embedding_loss",
    "cooccurrence",
    "normalize_rows",
    "pmi_embedding",
    "pmi_matrix",
    "svd_embedding",
]
