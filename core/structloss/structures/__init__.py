"""Label structures: :class:`Hierarchy`, :class:`Similarity` and :class:`LabelEmbedding`.

Structures are immutable and validated on construction. Build them with the named
constructors (``Hierarchy.from_parents``, ``Hierarchy.from_json``, ``Similarity.from_matrix``,
``LabelEmbedding.from_matrix``) and convert them with :meth:`LabelStructure.convert`.

The modules: ``base`` (:class:`LabelStructure`, :func:`check_classes`), ``hierarchy``
(:class:`Hierarchy`) and ``matrices`` (:class:`Similarity` and :class:`LabelEmbedding` on
their shared base :class:`MatrixStructure`).
"""

from __future__ import annotations

from structloss.structures.base import LabelStructure, check_classes
from structloss.structures.hierarchy import DISTANCES, Hierarchy, TreeSimilarity, check_distance
from structloss.structures.matrices import LabelEmbedding, MatrixStructure, Similarity

__all__ = [
    "DISTANCES",
    "Hierarchy",
    "LabelEmbedding",
    "LabelStructure",
    "MatrixStructure",
    "Similarity",
    "TreeSimilarity",
    "check_classes",
    "check_distance",
]
