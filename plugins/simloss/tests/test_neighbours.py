"""SimLoss over each class's nearest neighbours in an embedding: the kept classes against a
brute-force dense similarity, exact where nothing above the lower bound is dropped, the
documented error bound otherwise, gradients, compose by name and bad options."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import structloss_simloss.neighbours as neighbours_module
from structloss import compose
from structloss.errors import IncompatibleStructureError, OptionError
from structloss.structures import LabelEmbedding
from structloss.testing import (
    assert_mentions,
    check_compiles,
    check_loss,
    example_hierarchy,
    mixup_target,
)
from structloss_simloss import SimLoss, nearest_neighbours


def embedding(classes: int, dim: int, seed: int) -> LabelEmbedding:
    rng = np.random.default_rng(seed)
    return LabelEmbedding.from_matrix(
        [f"c{i}" for i in range(classes)], rng.normal(size=(classes, dim))
    )


def dense_loss(vectors: LabelEmbedding, lower_bound: float, **options: object) -> SimLoss:
    """SimLoss over the dense matrix, S stored in float64 exactly."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        return SimLoss(vectors.to_similarity(lower_bound=lower_bound), **options).double()
    finally:
        torch.set_default_dtype(before)


@given(
    classes=st.integers(2, 30),
    dim=st.integers(1, 6),
    m=st.integers(1, 30),
    b=st.sampled_from([-1.0, -0.2, 0.0, 0.4, 0.9]),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_kept_classes_are_the_largest_similarities_of_the_dense_row(classes, dim, m, b, seed):
    m = min(m, classes)
    vectors = embedding(classes, dim, seed)
    near = nearest_neighbours(vectors, b, m)
    dense = vectors.to_similarity(lower_bound=b).matrix
    assert near.index.shape == near.values.shape == (classes, m)
    assert (near.index[:, 0] == np.arange(classes)).all() and (near.values[:, 0] == 1).all()
    np.testing.assert_allclose(near.values, np.take_along_axis(dense, near.index, 1), atol=1e-12)
    for y in range(classes):
        assert len(set(near.index[y])) == m  # distinct classes
        others = np.delete(dense[y], near.index[y])
        # every dropped class is at most the smallest kept one, and the largest is `dropped`
        largest = others.max() if others.size else 0.0
        assert largest <= near.values[y].min() + 1e-12
        assert near.dropped[y] == pytest.approx(largest, abs=1e-12)


def test_chunks_do_not_change_the_result(monkeypatch):
    vectors = embedding(57, 4, 1)
    whole = nearest_neighbours(vectors, 0.2, 9)
    monkeypatch.setattr(neighbours_module, "CHUNK_ENTRIES", 57 * 5)  # 5 rows at a time
    chunked = nearest_neighbours(vectors, 0.2, 9)
    np.testing.assert_array_equal(chunked.index, whole.index)
    np.testing.assert_allclose(chunked.values, whole.values, rtol=1e-13, atol=0)  # BLAS blocking


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("b", [0.0, 0.5])
def test_every_neighbour_kept_is_the_dense_loss(seed, b):
    vectors = embedding(23, 3, seed)
    dense = dense_loss(vectors, b, reduction="none")
    near = SimLoss(nearest_neighbours(vectors, b, 23), reduction="none").double()
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(9, 23, generator=generator, dtype=torch.float64) * 3
    y = torch.randint(23, (9,), generator=generator)
    torch.testing.assert_close(near(z, y), dense(z, y), rtol=1e-12, atol=1e-12)
    q = mixup_target(y, 23, lam=0.6, smoothing=0.1, dtype=torch.float64)
    torch.testing.assert_close(near(z, q), dense(z, q), rtol=1e-12, atol=1e-12)
    a, g = (z.clone().requires_grad_() for _ in range(2))
    near(a, y).sum().backward()
    dense(g, y).sum().backward()
    torch.testing.assert_close(a.grad, g.grad, rtol=1e-10, atol=1e-12)


def test_a_lower_bound_that_keeps_every_positive_is_exact_with_few_neighbours():
    # two tight clusters of 4: with b = 0.5 a class is similar only to its own cluster
    centres = np.repeat(np.eye(2), 4, axis=0) + np.random.default_rng(0).normal(size=(8, 2)) * 0.01
    vectors = LabelEmbedding.from_matrix([f"c{i}" for i in range(8)], centres)
    near = nearest_neighbours(vectors, 0.5, 4)
    assert near.max_dropped == 0.0
    z = torch.randn(6, 8, dtype=torch.float64)
    y = torch.arange(6)
    torch.testing.assert_close(SimLoss(near).double()(z, y), dense_loss(vectors, 0.5)(z, y))


@pytest.mark.parametrize("m", [1, 2, 5])
def test_dropping_classes_keeps_the_documented_error_bound(m):
    vectors = embedding(30, 3, 7)
    near = nearest_neighbours(vectors, 0.0, m)
    assert near.max_dropped > 0  # a lossy case
    generator = torch.Generator().manual_seed(m)
    z = torch.randn(40, 30, generator=generator, dtype=torch.float64) * 2
    y = torch.randint(30, (40,), generator=generator)
    full = dense_loss(vectors, 0.0, reduction="none")(z, y)
    kept = SimLoss(near, reduction="none").double()(z, y)
    p = torch.softmax(z, 1)
    values = torch.as_tensor(near.values)[y]
    credit_kept = (p.gather(1, torch.as_tensor(near.index)[y]) * values).sum(1)
    dropped = torch.as_tensor(near.dropped)[y]
    bound = torch.log1p(dropped * (1 - credit_kept) / credit_kept)
    assert (kept >= full - 1e-12).all()  # never underestimated
    assert (kept - full <= bound + 1e-12).all()
    assert (bound <= dropped * (1 - p[torch.arange(40), y]) / p[torch.arange(40), y] + 1e-12).all()


def test_gradcheck_float64_index_and_probability_targets():
    loss = SimLoss(nearest_neighbours(embedding(9, 3, 3), 0.1, 4), reduction="sum").double()
    z = torch.randn(5, 9, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 8, 3, 3, 5])
    q = torch.softmax(torch.randn(5, 9, dtype=torch.float64), 1)
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (z,))
    assert torch.autograd.gradcheck(lambda t: loss(t, q), (z,))


def test_far_below_the_best_stays_finite_and_exact():
    vectors = embedding(12, 3, 5)
    near = SimLoss(nearest_neighbours(vectors, 0.0, 12), reduction="none").double()
    z = torch.zeros(3, 12, dtype=torch.float64)
    z[:, 0] = 2000.0  # every other credit underflows relative to class 0
    y = torch.tensor([5, 7, 11])
    torch.testing.assert_close(near(z, y), dense_loss(vectors, 0.0, reduction="none")(z, y))
    assert torch.isfinite(near(z, y)).all()


def test_composes_by_name_and_passes_the_loss_contract():
    vectors = embedding(10, 4, 2)
    config = {
        "classes": list(vectors.classes),
        "loss": {"name": "simloss-neighbours", "neighbours": 3, "lower_bound": 0.2},
    }
    loss = compose(config, structure=vectors)
    assert isinstance(loss, SimLoss) and loss.neighbours is not None
    assert "neighbours=3" in repr(loss)
    check_loss(loss)
    check_compiles(loss, torch.randn(4, 10), torch.tensor([0, 9, 2, 2]))


def test_bad_options_and_structures_are_clear_errors():
    vectors = embedding(10, 4, 2)
    assert nearest_neighbours(vectors, 0.0, 11).neighbours == 10  # every class: exact
    for bad, says in [(0, "positive"), (-3, "positive"), (2.5, "integer")]:
        with pytest.raises(OptionError) as error:
            nearest_neighbours(vectors, 0.0, bad)
        assert_mentions(error.value, "neighbours", says)
    with pytest.raises(OptionError) as error:
        nearest_neighbours(vectors, 1.0, 3)
    assert_mentions(error.value, "lower_bound", "[-1, 1)")
    config = {"classes": list(vectors.classes), "loss": {"name": "simloss-neighbours"}}
    with pytest.raises(IncompatibleStructureError) as error:
        compose(config, structure=example_hierarchy(list(vectors.classes)))
    assert_mentions(error.value, "simloss-neighbours", "embedding")
