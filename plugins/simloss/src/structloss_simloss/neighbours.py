"""SimLoss from an embedding without the classes x classes matrix: each class's m nearest.

An embedding's similarity (Kobs et al.'s ``S = max(0, (cos - b) / (1 - b))`` with lower
bound ``b``) is dense: 50,000 classes make a 20 GB float64 matrix. With a lower bound most
entries are 0, and the rest fall off quickly, so this form keeps for each class ``y`` only
its ``m`` most similar classes (itself first, similarity 1), found by chunked cosine top-m
without ever holding the matrix: O(classes x m) memory, O(batch x m) per index target.

Documented error: with ``d_y`` the largest similarity that row ``y`` leaves out
(:attr:`NeighbourSimilarity.dropped`, 0 when every class above the lower bound is kept), the
credited mass ``c_y = sum_c S[y, c] p_c`` is underestimated by at most ``d_y (1 - c_m)``,
``c_m`` the kept part, so the loss ``-log c`` is overestimated by at most
``log(1 + d_y (1 - c_m) / c_m) <= d_y (1 - p_y) / p_y``, never underestimated, and exact
where ``d_y = 0``. Raise ``neighbours`` (or the lower bound) until :attr:`max_dropped` is 0
for the exact loss.
"""

from __future__ import annotations

import attrs
import numpy as np
import torch
from torch import Tensor

from structloss.errors import OptionError
from structloss.structures import LabelEmbedding

__all__ = ["NeighbourSimilarity", "nearest_neighbours"]

#: Rows of cosines computed at once (times the number of classes): about 128 MB of float64.
CHUNK_ENTRIES = 2**24


@attrs.frozen(eq=False)
class NeighbourSimilarity:
    """Each class's ``m`` most similar classes and their similarities, in descending order.

    Attributes:
        classes: class names in label order.
        index: (classes, m) int64: ``index[y, 0] == y``, then the nearest other classes.
        values: (classes, m) float64 similarities in [0, 1]; ``values[y, 0] == 1``.
        dropped: (classes,) the largest similarity each row leaves out (0: the row is exact).
    """

    classes: tuple[str, ...]
    index: np.ndarray
    values: np.ndarray
    dropped: np.ndarray

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)

    @property
    def neighbours(self) -> int:
        """``m``, the classes kept per row (the class itself included)."""
        return int(self.index.shape[1])

    @property
    def max_dropped(self) -> float:
        """The largest similarity left out of any row; 0 means the form is exact."""
        return float(self.dropped.max()) if self.dropped.size else 0.0

    def to_sparse(self) -> Tensor:
        """The (classes, classes) similarity as a sparse COO tensor (float64)."""
        rows = np.repeat(np.arange(self.num_classes), self.neighbours)
        where = torch.as_tensor(np.stack([rows, self.index.ravel()]))
        size = (self.num_classes, self.num_classes)
        values = torch.as_tensor(self.values.ravel())
        return torch.sparse_coo_tensor(where, values, size, check_invariants=True)


def nearest_neighbours(
    embedding: LabelEmbedding, lower_bound: float = 0.0, neighbours: int = 32
) -> NeighbourSimilarity:
    """The ``neighbours`` most cosine-similar classes of each class of ``embedding``.

    Similarities are ``max(0, (cos - b) / (1 - b))`` for ``b = lower_bound`` (as
    ``LabelEmbedding.to_similarity``), the class itself first with 1. Ties keep the lower
    class index. Cosines are computed ``CHUNK_ENTRIES / classes`` rows at a time.

    Raises:
        OptionError: for ``lower_bound`` outside [-1, 1) or ``neighbours`` below 1; more
            neighbours than classes keep every class (the dense similarity, exactly).
    """
    n = embedding.num_classes
    if isinstance(lower_bound, bool) or not isinstance(lower_bound, int | float):
        raise OptionError(f"lower_bound must be a number in [-1, 1), got {lower_bound!r}")
    if not -1.0 <= lower_bound < 1.0:
        raise OptionError(f"lower_bound must be in [-1, 1), got {lower_bound!r}")
    if isinstance(neighbours, bool) or not isinstance(neighbours, int) or neighbours < 1:
        raise OptionError(f"neighbours must be a positive integer, got {neighbours!r}")
    neighbours = min(neighbours, n)  # all classes: the dense similarity, exactly
    unit = torch.as_tensor(embedding.normalized())
    rows = max(1, CHUNK_ENTRIES // n)
    take = min(neighbours + 1, n)  # one more than kept: the largest dropped similarity
    index, values = [], []
    for start in range(0, n, rows):
        cos = unit[start : start + rows] @ unit.T
        own = torch.arange(start, start + len(cos))
        cos[torch.arange(len(cos)), own] = float("inf")  # the class itself first
        top = cos.topk(take, dim=1, sorted=True)
        index.append(top.indices)
        values.append(((top.values - lower_bound) / (1.0 - lower_bound)).clamp_(0.0, 1.0))
    found, similarity = torch.cat(index).numpy(), torch.cat(values).numpy()
    dropped = similarity[:, neighbours] if take > neighbours else np.zeros(n)
    return NeighbourSimilarity(
        embedding.classes,
        np.ascontiguousarray(found[:, :neighbours]),
        np.ascontiguousarray(similarity[:, :neighbours]),
        np.ascontiguousarray(dropped),
    )


class NeighbourCredit(torch.nn.Module):
    """The sparse similarity of a :class:`NeighbourSimilarity`, as buffers, and its sums."""

    def __init__(self, similarity: NeighbourSimilarity) -> None:
        super().__init__()
        self.num_classes, self.max_dropped = similarity.num_classes, similarity.max_dropped
        self.register_buffer("index", torch.as_tensor(similarity.index), persistent=False)
        self.register_buffer("values", torch.as_tensor(similarity.values), persistent=False)
        self.register_buffer("sparse", similarity.to_sparse().coalesce(), persistent=False)

    def credit(self, e: Tensor, target: Tensor) -> Tensor:
        """(batch,) ``sum_j S[y, n_j] e_(n_j)`` over the kept neighbours ``n_j`` of ``y``."""
        return (e.gather(1, self.index[target]) * self.values[target].to(e.dtype)).sum(1)

    def credits(self, e: Tensor) -> Tensor:
        """(batch, classes) the credit of every class: one sparse x dense product."""
        return torch.sparse.mm(self.sparse.to(e.dtype), e.T).T

    def log_credit_exact(self, logits: Tensor, rows: Tensor, classes: Tensor) -> Tensor:
        """``log sum_j S[y, n_j] softmax(z)_(n_j)`` for (row, class) pairs, in log space."""
        z = logits[rows]
        kept = z.gather(1, self.index[classes]) + self.values[classes].to(z.dtype).log()
        return torch.logsumexp(kept, dim=1) - torch.logsumexp(z, dim=1)
