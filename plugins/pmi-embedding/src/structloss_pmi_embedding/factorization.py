"""Truncated SVD of a (sparse) PMI matrix into label vectors ``E = U_d sqrt(S_d)``.

For ``M ~ U S V^T``, the rows of ``E = U_d sqrt(S_d)`` (top ``d`` singular triplets) are
the label embedding of Chollet (2016): when the top ``d`` eigenvalues of the symmetric ``M``
are positive, ``E E^T`` is the best rank-``d`` approximation of ``M``, so dot products of
label vectors reproduce their PMI. Libraries are imported inside the functions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from structloss.errors import ConfigError

if TYPE_CHECKING:
    from scipy import sparse

__all__ = ["DENSE_LIMIT", "SOLVERS", "check_solver_options", "normalize_rows", "svd_embedding"]

SOLVERS = ("auto", "dense", "randomized", "arpack")
"""``dense``: LAPACK on the full matrix (exact); ``randomized``: Halko et al.'s randomized
SVD (scikit-learn, float32, ``dim + max(10, dim // 10)`` random vectors and ``n_iter``
power iterations) on the sparse matrix; ``arpack``: scipy's sparse Lanczos ``svds`` (exact,
slow for large ``dim``); ``auto``: ``dense`` up to :data:`DENSE_LIMIT` classes, else
``randomized``."""

DENSE_LIMIT = 2000


def check_solver_options(*, solver: str, n_iter: int, seed: int) -> None:
    """Validate the options of :func:`svd_embedding`.

    Raises:
        ConfigError: naming the bad option and its valid values.
    """
    if solver not in SOLVERS:
        raise ConfigError(f"solver must be one of: {', '.join(SOLVERS)}; got {solver!r}")
    if isinstance(n_iter, bool) or not isinstance(n_iter, int) or n_iter < 0:
        raise ConfigError(f"n_iter must be a non-negative integer, got {n_iter!r}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ConfigError(f"seed must be a non-negative integer, got {seed!r}")


def svd_embedding(
    matrix: sparse.spmatrix | sparse.sparray | np.ndarray,
    dim: int,
    *,
    solver: str = "auto",
    n_iter: int = 7,
    seed: int = 0,
) -> np.ndarray:
    """Return ``E = U_d sqrt(S_d)`` (float64, rows not normalised) of a square matrix.

    The sign of each column is fixed so that its largest-magnitude entry is positive, so
    equal inputs give equal embeddings whatever the solver's internal signs.

    Args:
        matrix: an (n, n) sparse or dense matrix.
        dim: the number of singular triplets kept, 1 <= dim < n.
        solver: one of :data:`SOLVERS`.
        n_iter: power iterations of the randomized solver (more is more accurate; 7 keeps
            the 256th singular value of a 10,000-label PMI matrix within a few percent).
        seed: seed of the randomized and arpack solvers' starting vectors.

    Raises:
        ConfigError: for a bad option or ``dim`` out of range.
    """
    check_solver_options(solver=solver, n_iter=n_iter, seed=seed)
    n = int(matrix.shape[0])
    if isinstance(dim, bool) or not isinstance(dim, int) or not 1 <= dim < n:
        raise ConfigError(
            f"dim must be an integer in 1..{n - 1} (fewer than the {n} classes), got {dim!r}"
        )
    if solver == "auto":
        solver = "dense" if n <= DENSE_LIMIT else "randomized"
    if solver == "dense":
        u, s = _dense(matrix, dim)
    elif solver == "randomized":
        from sklearn.utils.extmath import randomized_svd

        # float32 halves the memory traffic of the sparse products, which dominate; the
        # embedding needs no more precision than that
        u, s, _ = randomized_svd(
            matrix.astype(np.float32),
            dim,
            n_oversamples=max(10, dim // 10),
            n_iter=n_iter,
            random_state=seed,
        )
    else:
        from scipy.sparse.linalg import svds

        u, s, _ = svds(matrix.astype(np.float64), k=dim, solver="arpack", random_state=seed)
        order = np.argsort(s)[::-1]
        u, s = u[:, order], s[order]
    u = np.asarray(u, dtype=np.float64)
    s = np.clip(np.asarray(s, dtype=np.float64), 0.0, None)
    signs = np.sign(u[np.abs(u).argmax(axis=0), np.arange(u.shape[1])])
    return u * np.where(signs == 0, 1.0, signs) * np.sqrt(s)


def _dense(
    matrix: sparse.spmatrix | sparse.sparray | np.ndarray, dim: int
) -> tuple[np.ndarray, np.ndarray]:
    from scipy import linalg

    array = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
    u, s, _ = linalg.svd(array.astype(np.float64), full_matrices=False, check_finite=False)
    return u[:, :dim], s[:dim]


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    """Return ``vectors`` with every non-zero row scaled to unit L2 norm (zero rows stay)."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)
