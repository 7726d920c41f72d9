"""Structure provider ``pmi-embedding``: label vectors learned from training label sets.

Chollet (2016): count label co-occurrences, take their pointwise mutual information,
factorise it with a truncated SVD and use the rows of ``U sqrt(S)``, scaled to unit length,
as label vectors. Labels that co-occur more than chance get similar vectors.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from structloss.errors import ConfigError, StructureError
from structloss.specs import StructureContext
from structloss.structures import LabelEmbedding

__all__ = ["UNSEEN", "build_pmi_embedding", "pmi_embedding"]

UNSEEN = ("error", "random")
"""What a class without a direction gets: ``error`` (raise) or ``random`` (a random unit
vector drawn from ``seed``)."""


def pmi_embedding(
    labels: Any,
    classes: Sequence[str],
    *,
    dim: int = 64,
    positive: bool = True,
    smoothing: float = 1.0,
    min_count: int = 1,
    diagonal: str = "self",
    unseen: str = "error",
    solver: str = "auto",
    n_iter: int = 7,
    seed: int = 0,
) -> LabelEmbedding:
    """Learn a unit-norm label embedding from the PMI of training-label co-occurrence.

    Steps: sparse co-occurrence counts (:func:`~structloss_pmi_embedding.pmi.cooccurrence`),
    the PMI matrix (:func:`~structloss_pmi_embedding.pmi.pmi_matrix`), its truncated SVD
    ``E = U_d sqrt(S_d)`` (:func:`~structloss_pmi_embedding.factorization.svd_embedding`),
    rows scaled to unit L2 norm.

    Args:
        labels: the training labels: a (samples, classes) multi-hot array or tensor, a scipy
            sparse matrix, or lists of label sets (class indices). 1-D class indices are read
            too, but one label per sample has no co-occurrence to learn from (an error).
        classes: the class names in label order.
        dim: embedding dimension, 1 <= dim < number of classes.
        positive: clip PMI at 0 (PPMI).
        smoothing: exponent alpha in (0, 1] of the smoothed marginals (1: none).
        min_count: drop pairs that co-occur in fewer samples.
        diagonal: ``"self"`` (self-information ``log(N / C_i)``) or ``"zero"``.
        unseen: what a class gets that has no direction: one never seen in ``labels``, or
            whose vector is zero: its PMI row is empty (seen in every sample, or
            ``diagonal="zero"`` and it co-occurs with nothing kept) or orthogonal to the top
            ``dim`` singular directions (unrelated to all other labels). ``"error"``
            raises; ``"random"`` gives it a random unit vector (seeded by ``seed``), nearly
            orthogonal to the others, so the loss still trains but shares nothing with
            that class.
        solver: ``"auto"``, ``"dense"``, ``"randomized"`` or ``"arpack"``.
        n_iter: power iterations of the randomized solver.
        seed: seed of the randomized solver and of ``unseen="random"`` vectors.

    Returns:
        A :class:`~structloss.LabelEmbedding` with unit-norm rows of ``dim`` columns.

    Raises:
        ConfigError: for a bad option, or ``dim`` >= the number of classes.
        InputError: for labels outside the class list or malformed labels.
        StructureError: for data without labels or without co-occurrence, or a class
            without a direction under ``unseen="error"``.
    """
    from structloss_pmi_embedding.factorization import (
        check_solver_options,
        normalize_rows,
        svd_embedding,
    )
    from structloss_pmi_embedding.pmi import check_pmi_options, cooccurrence, pmi_matrix

    classes = tuple(classes)
    n = len(classes)
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim < n:
        raise ConfigError(
            f"pmi-embedding: dim must be an integer in 1..{n - 1}, fewer than the {n} classes"
            f" (a PMI embedding compresses the label space), got {dim!r}"
        )
    if unseen not in UNSEEN:
        raise ConfigError(f"unseen must be one of: {', '.join(UNSEEN)}; got {unseen!r}")
    check_pmi_options(
        positive=positive, smoothing=smoothing, min_count=min_count, diagonal=diagonal
    )
    check_solver_options(solver=solver, n_iter=n_iter, seed=seed)

    counts = cooccurrence(labels, n)
    label_counts = counts.label_counts
    if counts.num_samples == 0 or not label_counts.any():
        raise StructureError(
            "pmi-embedding: the training labels hold no label at all (no samples, or every"
            " label set empty); pass the training set's labels as labels=..."
        )
    if counts.counts.nnz == np.count_nonzero(label_counts):
        raise StructureError(
            "pmi-embedding: no two labels ever occur in one sample, so there is no"
            " co-occurrence to learn from (1-D class indices give one label per sample);"
            " pass multi-label training data: a multi-hot matrix or lists of label sets"
        )
    never = np.flatnonzero(label_counts == 0)
    if never.size and unseen == "error":
        raise StructureError(
            f"pmi-embedding: {never.size} class(es) never occur in the training labels, so"
            f" PMI gives them no direction: {_names(classes, never)}; pass labels that cover"
            ' every class, drop those classes, or set unseen = "random" to give them random'
            " unit vectors"
        )
    matrix = pmi_matrix(
        counts, positive=positive, smoothing=smoothing, min_count=min_count, diagonal=diagonal
    )
    vectors = svd_embedding(matrix, dim, solver=solver, n_iter=n_iter, seed=seed)
    norms = np.linalg.norm(vectors, axis=1)
    empty = np.flatnonzero(norms <= 1e-12 * max(float(norms.max()), 1e-300))
    if empty.size:
        if unseen == "error":
            raise StructureError(
                f"pmi-embedding: {empty.size} class(es) get an all-zero vector:"
                f" {_names(classes, empty)}. Their PMI row is empty (a label in every"
                " sample, or with diagonal = 'zero' one that co-occurs with nothing kept) or"
                f" lies outside the top {dim} singular directions (a label unrelated to the"
                ' others); use diagonal = "self", a lower min_count, a larger dim, or'
                ' unseen = "random"'
            )
        rng = np.random.default_rng(seed)
        vectors[empty] = rng.standard_normal((empty.size, dim))
    return LabelEmbedding.from_matrix(classes, normalize_rows(vectors))


def _names(classes: tuple[str, ...], index: np.ndarray) -> str:
    shown = ", ".join(repr(classes[i]) for i in index[:10])
    return shown + (f" and {index.size - 10} more" if index.size > 10 else "")


def build_pmi_embedding(
    context: StructureContext,
    *,
    dim: int = 64,
    positive: bool = True,
    smoothing: float = 1.0,
    min_count: int = 1,
    diagonal: str = "self",
    unseen: str = "error",
    solver: str = "auto",
    n_iter: int = 7,
    seed: int = 0,
) -> LabelEmbedding:
    """Factory of structure provider ``pmi-embedding``: label vectors from PMI + SVD.

    Learns from ``context.labels``, the training labels passed as ``compose(...,
    labels=...)`` or ``build_structure(..., labels=...)``; see :func:`pmi_embedding`.

    Args:
        context: the structure context (class names and training labels).
        dim: embedding dimension, 1 <= dim < number of classes.
        positive: clip PMI at 0 (PPMI).
        smoothing: exponent alpha in (0, 1] of the smoothed marginals (1: none, 0.75 common).
        min_count: drop label pairs that co-occur in fewer samples.
        diagonal: "self" (self-information log(N / C_i)) or "zero".
        unseen: what a class without a direction gets: "error" or "random" (a random unit
            vector).
        solver: "auto", "dense", "randomized" or "arpack".
        n_iter: power iterations of the randomized solver.
        seed: seed of the randomized solver and of random vectors.

    Raises:
        ConfigError: when no labels or no class names were given, or for a bad option.
        InputError: for labels outside the class list.
        StructureError: for data the embedding cannot be learned from (see
            :func:`pmi_embedding`).
    """
    if context.classes is None:
        raise ConfigError(
            "structure provider 'pmi-embedding' needs the class names in label order: set"
            " `classes` in the config or pass classes=[...]"
        )
    if context.labels is None:
        raise ConfigError(
            "structure provider 'pmi-embedding' learns from training labels, but none were"
            " given; pass them as compose(config, labels=train_labels) or"
            " build_structure(config, labels=train_labels): a (samples, classes) multi-hot"
            " matrix, a scipy sparse matrix, or lists of label sets"
        )
    return pmi_embedding(
        context.labels,
        context.classes,
        dim=dim,
        positive=positive,
        smoothing=smoothing,
        min_count=min_count,
        diagonal=diagonal,
        unseen=unseen,
        solver=solver,
        n_iter=n_iter,
        seed=seed,
    )
