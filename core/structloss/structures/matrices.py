"""The two structures held as one matrix row per class: :class:`Similarity` and
:class:`LabelEmbedding`, on the base :class:`MatrixStructure` that validates, compares and
pickles them alike."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar, Self

import attrs
import numpy as np

from structloss.errors import StructureError
from structloss.structures.base import LabelStructure, check_classes

__all__ = ["LabelEmbedding", "MatrixStructure", "Similarity"]


def _read_only_matrix(matrix: Any, *, what: str) -> np.ndarray:
    """A finite, 2-D, read-only float64 copy of ``matrix``."""
    try:
        array = np.array(matrix, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise StructureError(f"{what} must be a numeric matrix: {exc}") from None
    if array.ndim != 2:
        raise StructureError(f"{what} must be 2-D, got shape {array.shape}")
    if not np.isfinite(array).all():
        row, col = np.argwhere(~np.isfinite(array))[0]
        raise StructureError(f"{what} has a non-finite value at [{row}, {col}]")
    array.setflags(write=False)
    return array


@attrs.frozen(eq=False)
class MatrixStructure(LabelStructure):
    """Base of the structures that are one matrix row per class, in label order.

    The matrix is copied to a finite, read-only float64 array on construction; each kind
    checks its shape and values in :meth:`_check`. Two structures are equal when their kind,
    classes and matrix are; they are not hashable (numpy arrays are not), and they pickle
    through the constructor, so an unpickled matrix is validated and read-only again.

    Attributes:
        classes: class names in label order.
        matrix: the read-only float64 matrix, one row per class.
    """

    classes: tuple[str, ...] = attrs.field(converter=check_classes)
    matrix: np.ndarray

    def __attrs_post_init__(self) -> None:
        # attrs' documented way to store a derived value on a frozen instance; the converter
        # lives here rather than on the field so that errors name the kind ("similarity matrix")
        matrix = _read_only_matrix(self.matrix, what=f"{self.kind} matrix")
        object.__setattr__(self, "matrix", matrix)
        self._check()

    def _check(self) -> None:
        """Raise :class:`StructureError` when the matrix does not fit this kind."""

    @classmethod
    def from_matrix(cls, classes: Sequence[str], matrix: Any) -> Self:
        """Build from class names (label order) and an array-like with one row per class.

        Raises:
            StructureError: for invalid class names or a matrix that does not fit the kind.
        """
        return cls(classes=classes, matrix=matrix)  # type: ignore[arg-type]

    def _names(self, indices: Sequence[int] | np.ndarray, limit: int) -> str:
        """``'a', 'b'``: the names of the first ``limit`` classes in ``indices``."""
        return ", ".join(repr(self.classes[i]) for i in indices[:limit])

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.classes == other.classes and np.array_equal(self.matrix, other.matrix)

    __hash__ = None  # type: ignore[assignment]

    def __reduce__(self) -> tuple[Any, tuple[Any, ...]]:
        return type(self), (self.classes, self.matrix)


@attrs.frozen(eq=False)
class Similarity(MatrixStructure):
    """An n x n class-similarity matrix: values in [0, 1], unit diagonal.

    ``matrix[i, j]`` is how acceptable predicting class j is when the truth is class i.
    Symmetry is not required. Build one with :meth:`from_matrix` or :meth:`identity`.
    """

    kind: ClassVar[str] = "similarity"

    def _check(self) -> None:
        n = len(self.classes)
        if self.matrix.shape != (n, n):
            raise StructureError(
                f"similarity matrix must be {n} x {n} for {n} classes, got shape"
                f" {self.matrix.shape}"
            )
        low, high = float(self.matrix.min()), float(self.matrix.max())
        if low < 0.0 or high > 1.0:
            raise StructureError(
                f"similarities must lie in [0, 1]; found values from {low:g} to {high:g}"
            )
        off = np.flatnonzero(np.diag(self.matrix) != 1.0)
        if off.size:
            raise StructureError(
                "the similarity of a class to itself must be 1; the diagonal differs for"
                f" {self._names(off, 5)}"
            )

    @classmethod
    def identity(cls, classes: Sequence[str]) -> Similarity:
        """The similarity that says nothing: SimLoss with it is cross-entropy."""
        names = check_classes(classes)
        return cls.from_matrix(names, np.eye(len(names)))


@attrs.frozen(eq=False)
class LabelEmbedding(MatrixStructure):
    """An n x d matrix with one (non-zero) vector per class."""

    kind: ClassVar[str] = "embedding"

    def _check(self) -> None:
        n = len(self.classes)
        if self.matrix.shape[0] != n or self.matrix.shape[1] < 1:
            raise StructureError(
                f"embedding matrix must have {n} rows (one per class) and at least one column,"
                f" got shape {self.matrix.shape}"
            )
        zero = np.flatnonzero(~np.any(self.matrix != 0.0, axis=1))
        if zero.size:
            raise StructureError(
                f"classes with an all-zero embedding have no direction: {self._names(zero, 10)}"
            )

    @property
    def dim(self) -> int:
        """The embedding dimension d."""
        return int(self.matrix.shape[1])

    def normalized(self) -> np.ndarray:
        """Return the rows scaled to unit L2 norm."""
        return self.matrix / np.linalg.norm(self.matrix, axis=1, keepdims=True)

    def to_similarity(self, lower_bound: float = 0.0) -> Similarity:
        """Cosine similarity rescaled by SimLoss's lower bound b.

        ``S = max(0, (cos - b) / (1 - b))`` with a unit diagonal: cosines at or below b
        count as unrelated.

        Raises:
            StructureError: when ``lower_bound`` is not in [-1, 1), or when the matrix
                would exceed ``Hierarchy.DENSE_LIMIT`` bytes (loss ``simloss-neighbours``
                keeps each class's nearest classes instead).
        """
        b = float(lower_bound)
        if not -1.0 <= b < 1.0:
            raise StructureError(f"lower_bound must be in [-1, 1), got {lower_bound!r}")
        from structloss.structures.hierarchy import Hierarchy

        if (size := 8 * len(self.classes) ** 2) > Hierarchy.DENSE_LIMIT:
            raise StructureError(
                f"the similarity of {len(self.classes):,} classes would be a dense matrix of"
                f" {size / 2**30:.1f} GiB, over the limit (Hierarchy.DENSE_LIMIT); use loss"
                ' "simloss-neighbours" (plugin structloss-simloss): each class\'s nearest classes'
            )
        unit = self.normalized()
        matrix = np.clip((unit @ unit.T - b) / (1.0 - b), 0.0, 1.0)
        np.fill_diagonal(matrix, 1.0)
        return Similarity.from_matrix(self.classes, matrix)
