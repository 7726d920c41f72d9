"""structloss hooks of the ``embedding-similarity`` plugin: provider ``embedding-similarity``.

Importing this module costs nothing beyond structloss and numpy: gensim, scipy and pyarrow
are imported when the provider's factory reads vectors.
"""

from __future__ import annotations

from collections.abc import Iterable

from structloss.hookspecs import hookimpl
from structloss.specs import StructureSpec
from structloss_embedding_similarity.provider import build_embedding_similarity

__all__ = ["structloss_structures"]


@hookimpl
def structloss_structures() -> Iterable[StructureSpec]:
    """Yield provider ``embedding-similarity``; its option ``as`` decides the kind."""
    yield StructureSpec(
        name="embedding-similarity",
        factory=build_embedding_similarity,
        summary="class vectors from word2vec/GloVe/fastText/gensim files or glove-6b-50d"
        " (as = embedding | similarity | hierarchy)",
        kind=None,
    )
