"""The truncated SVD embedding E = U_d sqrt(S_d) against numpy's SVD."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import sparse

from structloss.errors import ConfigError
from structloss_pmi_embedding import cooccurrence, normalize_rows, pmi_matrix, svd_embedding
from structloss_pmi_embedding.factorization import SOLVERS


def numpy_rank_d(matrix: np.ndarray, dim: int) -> tuple[np.ndarray, np.ndarray]:
    """Return (U_d S_d U_d^T, best rank-d approximation U_d S_d V_d^T) by numpy's SVD."""
    u, s, vt = np.linalg.svd(matrix)
    return (u[:, :dim] * s[:dim]) @ u[:, :dim].T, (u[:, :dim] * s[:dim]) @ vt[:dim]


@pytest.fixture
def pmi(labels) -> sparse.csr_matrix:
    return pmi_matrix(cooccurrence(labels, labels.shape[1]))


@pytest.mark.parametrize("dim", [1, 3, 6])
def test_gram_matrix_is_the_rank_d_part(pmi, dim):
    dense = pmi.toarray()
    vectors = svd_embedding(pmi, dim, solver="dense")
    assert vectors.shape == (dense.shape[0], dim)
    u_s_ut, best = numpy_rank_d(dense, dim)
    np.testing.assert_allclose(vectors @ vectors.T, u_s_ut, atol=1e-10)
    # with the self-information diagonal the top eigenvalues are positive, so E E^T is the
    # best rank-d approximation of the PMI matrix itself
    eigenvalues = np.linalg.eigvalsh(dense)
    top = eigenvalues[np.argsort(-np.abs(eigenvalues))[:dim]]
    assert (top > 0).all()
    np.testing.assert_allclose(vectors @ vectors.T, best, atol=1e-10)


def test_full_rank_reproduces_a_psd_matrix():
    rng = np.random.default_rng(1)
    factor = rng.normal(size=(8, 5))
    psd = factor @ factor.T  # rank 5
    vectors = svd_embedding(psd, 5, solver="dense")
    np.testing.assert_allclose(vectors @ vectors.T, psd, atol=1e-10)


@pytest.mark.parametrize("solver", [s for s in SOLVERS if s != "dense"])
def test_solvers_agree_with_dense(pmi, solver):
    dim = 3
    exact = svd_embedding(pmi, dim, solver="dense")
    got = svd_embedding(pmi, dim, solver=solver, n_iter=10)
    np.testing.assert_allclose(got @ got.T, exact @ exact.T, atol=1e-6)
    # the sign convention makes the vectors themselves equal, not only their Gram matrix
    np.testing.assert_allclose(got, exact, atol=1e-5)


def test_deterministic_and_sign_fixed(pmi):
    first = svd_embedding(pmi, 4, solver="randomized", seed=3)
    second = svd_embedding(pmi.copy(), 4, solver="randomized", seed=3)
    np.testing.assert_array_equal(first, second)
    peak = np.abs(first).argmax(axis=0)
    assert (first[peak, np.arange(4)] > 0).all()


def test_sparse_and_dense_inputs_agree(pmi):
    np.testing.assert_allclose(
        svd_embedding(pmi, 4, solver="dense"), svd_embedding(pmi.toarray(), 4, solver="dense")
    )


@pytest.mark.parametrize("dim", [0, 12, 13, 2.5, True])
def test_dim_out_of_range(pmi, dim):
    with pytest.raises(ConfigError, match=r"dim must be an integer in 1\.\.11"):
        svd_embedding(pmi, dim)


@pytest.mark.parametrize(
    ("options", "match"),
    [({"solver": "lapack"}, "solver"), ({"n_iter": -1}, "n_iter"), ({"seed": -2}, "seed")],
)
def test_bad_solver_options(pmi, options, match):
    with pytest.raises(ConfigError, match=match):
        svd_embedding(pmi, 2, **options)


def test_normalize_rows_keeps_zero_rows():
    rows = normalize_rows(np.array([[3.0, 4.0], [0.0, 0.0]]))
    np.testing.assert_allclose(rows, [[0.6, 0.8], [0.0, 0.0]])
