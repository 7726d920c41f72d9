"""Label co-occurrence counts and their pointwise mutual information (PMI), kept sparse.

With ``N`` training samples, ``C_i`` the number of samples holding label i and ``C_ij`` the
number holding both i and j::

    PMI(i, j) = log( P(i, j) / (P(i) P(j)) ) = log( C_ij N / (C_i C_j) )

Pairs that never co-occur (``C_ij = 0``, PMI = -inf) are left out of the sparse matrix, i.e.
they are 0 (the usual "PMI_0" convention): the matrix stores only what the data says. scipy
is imported inside the functions, so importing this module stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import attrs
import numpy as np

from structloss.errors import ConfigError, StructureError
from structloss.targets import label_pairs

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["DIAGONALS", "Cooccurrence", "cooccurrence", "pmi_matrix"]

DIAGONALS = ("self", "zero")
"""Diagonal handling: ``self`` is PMI(i, i) = log(N / C_i), the self-information; ``zero``."""


@attrs.frozen
class Cooccurrence:
    """Co-occurrence counts of a training set's labels.

    Attributes:
        counts: (classes, classes) symmetric scipy CSR matrix of float64 counts:
            ``counts[i, j]`` is the number of samples holding both labels i and j, and the
            diagonal ``counts[i, i]`` the number of samples holding label i.
        num_samples: the number of samples N, including samples without any label.
    """

    counts: sparse.csr_matrix
    num_samples: int

    @property
    def num_classes(self) -> int:
        """The number of classes (rows of :attr:`counts`)."""
        return int(self.counts.shape[0])

    @property
    def label_counts(self) -> np.ndarray:
        """(classes,) float64: how many samples hold each label (the diagonal)."""
        return np.asarray(self.counts.diagonal(), dtype=np.float64)


def cooccurrence(labels: Any, num_classes: int) -> Cooccurrence:
    """Count how often labels occur and co-occur in ``labels``.

    Args:
        labels: training labels in any format :func:`structloss.targets.label_pairs` reads: a
            (samples, classes) multi-hot numpy array or torch tensor, a scipy sparse matrix,
            lists of label sets, or 1-D class indices (one label per sample).
        num_classes: the number of classes.

    Returns:
        The :class:`Cooccurrence` counts; every format with the same label sets gives the
        same counts (duplicate labels within a sample count once).

    Raises:
        InputError: for labels outside ``0..num_classes - 1`` or malformed labels.
    """
    from scipy import sparse

    rows, cols, num_samples = label_pairs(labels, num_classes)
    ones = np.ones(rows.size, dtype=np.float64)
    hot = sparse.csr_matrix((ones, (rows, cols)), shape=(num_samples, num_classes))
    counts = (hot.T @ hot).tocsr()
    counts.sort_indices()
    return Cooccurrence(counts=counts, num_samples=num_samples)


def check_pmi_options(*, positive: bool, smoothing: float, min_count: int, diagonal: str) -> None:
    """Validate the options of :func:`pmi_matrix`.

    Raises:
        ConfigError: naming the bad option and its valid values.
    """
    if not isinstance(positive, bool):
        raise ConfigError(f"positive must be true or false, got {positive!r}")
    if isinstance(smoothing, bool) or not isinstance(smoothing, int | float):
        raise ConfigError(f"smoothing must be a number in (0, 1], got {smoothing!r}")
    if not 0.0 < float(smoothing) <= 1.0:
        raise ConfigError(
            f"smoothing is the exponent alpha of the smoothed marginals C_i ** alpha and must be"
            f" in (0, 1] (1 = no smoothing, 0.75 is common), got {smoothing!r}"
        )
    if isinstance(min_count, bool) or not isinstance(min_count, int) or min_count < 1:
        raise ConfigError(f"min_count must be a positive integer, got {min_count!r}")
    if diagonal not in DIAGONALS:
        raise ConfigError(f"diagonal must be one of: {', '.join(DIAGONALS)}; got {diagonal!r}")


def smoothed_counts(label_counts: np.ndarray, smoothing: float) -> np.ndarray:
    """Return the marginal counts raised to ``smoothing`` and rescaled to the same total.

    ``C~_i = C_i ** alpha * sum_k C_k / sum_k C_k ** alpha``: with alpha = 1 the counts are
    unchanged; with alpha < 1 rare labels get larger marginals, which damps the large PMI
    that chance co-occurrences of rare labels get (context-distribution smoothing, Levy,
    Goldberg & Dagan 2015, applied to both sides so the matrix stays symmetric).
    """
    counts = np.asarray(label_counts, dtype=np.float64)
    if smoothing == 1.0:
        return counts
    powered = counts**smoothing
    return powered * (counts.sum() / powered.sum())


def pmi_matrix(
    counts: Cooccurrence,
    *,
    positive: bool = True,
    smoothing: float = 1.0,
    min_count: int = 1,
    diagonal: str = "self",
) -> sparse.csr_matrix:
    """Return the sparse, symmetric (classes, classes) PMI matrix of co-occurrence counts.

    ``PMI(i, j) = log(C_ij N / (C~_i C~_j))`` for every pair with ``C_ij >= min_count``;
    other entries are 0 (see the module docstring).

    Args:
        counts: co-occurrence counts from :func:`cooccurrence`.
        positive: keep only positive values (PPMI, ``max(PMI, 0)``): negative PMI from few
            observations is noisy, and the matrix stays sparser.
        smoothing: exponent alpha in (0, 1] of the smoothed marginals ``C~`` (see
            :func:`smoothed_counts`); 1 is the plain PMI of the paper.
        min_count: pairs seen in fewer samples are dropped (set to 0).
        diagonal: ``"self"``: ``PMI(i, i) = log(C_i N / C~_i^2)``, the self-information
            ``log(N / C_i)`` without smoothing; every label seen in some but not all
            samples then has a non-zero row even if it never co-occurs. ``"zero"``: an
            empty diagonal, so only co-occurrence shapes the embedding.

    Returns:
        A float64 scipy CSR matrix with sorted indices and no stored zeros.

    Raises:
        ConfigError: for a bad option.
        StructureError: when the counts hold no sample or no label.
    """
    from scipy import sparse

    check_pmi_options(
        positive=positive, smoothing=smoothing, min_count=min_count, diagonal=diagonal
    )
    marginals = smoothed_counts(counts.label_counts, float(smoothing))
    if counts.num_samples == 0 or not marginals.any():
        raise StructureError(
            "the training labels hold no label at all, so there is nothing to learn a PMI"
            " embedding from; pass the training set's labels as labels=..."
        )
    coo = counts.counts.tocoo()
    rows, cols, joint = coo.row, coo.col, coo.data
    on_diagonal = rows == cols
    keep = np.where(on_diagonal, diagonal == "self", joint >= min_count) & (joint > 0)
    rows, cols, joint = rows[keep], cols[keep], joint[keep]
    log_marginals = np.log(np.where(marginals > 0, marginals, 1.0))
    values = (
        np.log(joint)
        + np.log(float(counts.num_samples))
        - log_marginals[rows]
        - log_marginals[cols]
    )
    keep = values > 0 if positive else values != 0
    n = counts.num_classes
    matrix = sparse.csr_matrix((values[keep], (rows[keep], cols[keep])), shape=(n, n))
    matrix.sort_indices()
    return matrix
