"""structloss hooks of the ``embedding-similarity`` plugin: provider ``embedding-similarity``.

Importing this module costs nothing beyond structloss and numpy: gensim, scipy and pyarrow
are imported when the provider's factory reads vectors. The provider's option ``as`` decides
the kind of structure it gives.
"""

from __future__ import annotations

from structloss.hookspecs import provides
from structloss.specs import StructureSpec
from structloss_embedding_similarity.provider import build_embedding_similarity

__all__ = ["structloss_structures"]

structloss_structures = provides(
    StructureSpec(
        "embedding-similarity",
        build_embedding_similarity,
        "class vectors from word2vec/GloVe/fastText/gensim files or glove-6b-50d"
        " (as = embedding | similarity | hierarchy)",
    ),
)
