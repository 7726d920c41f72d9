"""Class structure from word vectors, for structloss.

Provider ``embedding-similarity`` embeds class names with word vectors (word2vec, GloVe,
fastText, gensim files, or the named source ``glove-6b-50d``) and returns a label embedding,
a similarity, or a tree by agglomerative clustering. From Python::

    from structloss_embedding_similarity import embed_classes, cluster_hierarchy
    embedding = embed_classes(["cat", "dog", "pickup_truck"], "glove-6b-50d")
    tree = cluster_hierarchy(embedding)

Nothing heavy is imported here: gensim, scipy and pyarrow load when vectors are read.
"""

from __future__ import annotations

from structloss_embedding_similarity.class_vectors import class_vectors, phrase_vector
from structloss_embedding_similarity.clustering import LINKAGE_METHODS, cluster_hierarchy
from structloss_embedding_similarity.provider import (
    OUTPUTS,
    EmbeddingOptions,
    build_embedding_similarity,
    embed_classes,
)
from structloss_embedding_similarity.vectors import (
    FORMATS,
    NAMED_SOURCES,
    WordVectors,
    clear_cache,
    detect_format,
    load_vectors,
)

__version__ = "0.1.0"

__all__ = [
    "FORMATS",
    "LINKAGE_METHODS",
    "NAMED_SOURCES",
    "OUTPUTS",
    "EmbeddingOptions",
    "WordVectors",
    "__version__",
    "build_embedding_similarity",
    "class_vectors",
    "clear_cache",
    "cluster_hierarchy",
    "detect_format",
    "embed_classes",
    "load_vectors",
    "phrase_vector",
]
