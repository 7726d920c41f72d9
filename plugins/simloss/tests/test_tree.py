"""SimLoss from a tree without the matrix: equal to the dense form, exact gradients, compose."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from structloss import Hierarchy, compose
from structloss.errors import StructureError
from structloss.structures import Similarity, TreeSimilarity
from structloss.testing import assert_mentions, check_compiles, check_loss, mixup_target
from structloss_simloss import SimLoss


def random_tree(seed: int) -> Hierarchy:
    """An unbalanced random tree: inner node i under an earlier one, classes under inner nodes."""
    rng = np.random.default_rng(seed)
    classes = int(rng.integers(2, 16))
    inner = int(rng.integers(1, classes + 1))
    parents = {f"n{i}": f"n{rng.integers(i)}" for i in range(1, inner)}
    for j in range(classes):
        parents[f"c{j}"] = f"n{j if j < inner else rng.integers(inner)}"
    return Hierarchy.from_parents([f"c{j}" for j in range(classes)], parents)


def pair(tree: Hierarchy, decay: float, **options: object) -> tuple[SimLoss, SimLoss]:
    """The dense and the tree form; the dense one stores S in float64, exactly."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)
    try:
        dense = SimLoss(tree.to_similarity("exponential", decay, form="dense"), **options)
    finally:
        torch.set_default_dtype(before)
    fast = SimLoss(tree.to_similarity("exponential", decay, form="tree"), **options)
    assert fast.tree is not None and fast.similarity is None and dense.tree is None
    return dense.double(), fast.double()


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("decay", [0.0, 0.3, 0.5, 1.0])
def test_tree_form_equals_the_dense_matrix(seed, decay):
    tree = random_tree(seed)
    dense, fast = pair(tree, decay, reduction="none")
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(7, tree.num_classes, generator=generator, dtype=torch.float64) * 3
    y = torch.randint(tree.num_classes, (7,), generator=generator)
    torch.testing.assert_close(fast(z, y), dense(z, y), rtol=1e-12, atol=1e-12)
    q = mixup_target(y, tree.num_classes, lam=0.7, smoothing=0.1, dtype=torch.float64)
    torch.testing.assert_close(fast(z, q), dense(z, q), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_tree_form_gradcheck_float64(seed):
    tree = random_tree(seed + 20)
    _, fast = pair(tree, 0.5, reduction="sum")
    y = torch.arange(5) % tree.num_classes
    q = torch.softmax(torch.randn(5, tree.num_classes, dtype=torch.float64), 1)
    z = torch.randn(5, tree.num_classes, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: fast(t, y), (z,))
    assert torch.autograd.gradcheck(lambda t: fast(t, q), (z,))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tree_form_stays_exact_where_credits_underflow(dtype):
    tree = random_tree(3)
    dense, fast = pair(tree, 0.3, reduction="none")
    dense, fast = dense.to(dtype), fast.to(dtype)
    generator = torch.Generator().manual_seed(0)
    z = (torch.randn(6, tree.num_classes, generator=generator) * 2000).to(dtype)
    z = z.requires_grad_()
    y = torch.randint(tree.num_classes, (6,), generator=generator)
    value = fast(z, y)
    torch.testing.assert_close(value, dense(z, y), rtol=1e-5, atol=1e-5)
    (grad,) = torch.autograd.grad(value.sum(), z)
    assert torch.isfinite(value).all() and torch.isfinite(grad).all()
    (want,) = torch.autograd.grad(dense(z, y).sum(), z)
    torch.testing.assert_close(grad, want, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("decay", [0.0, 0.4, 1.0])
def test_tree_form_hand_written_gradient_equals_the_dense_one(seed, decay):
    tree = random_tree(seed + 40)
    dense, fast = pair(tree, decay, reduction="none")
    generator = torch.Generator().manual_seed(seed)
    z = torch.randn(9, tree.num_classes, generator=generator, dtype=torch.float64) * 4
    z = z.requires_grad_()
    y = torch.randint(tree.num_classes, (9,), generator=generator)
    weights = torch.rand(9, generator=generator, dtype=torch.float64)
    (grad,) = torch.autograd.grad((fast(z, y) * weights).sum(), z)
    (want,) = torch.autograd.grad((dense(z, y) * weights).sum(), z)
    torch.testing.assert_close(grad, want, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_tree_form_credit_underflow_takes_the_log_space_value_and_gradient(dtype):
    # decay 0 credits the target alone (cross-entropy): a target scored 2,000 below the
    # best has a credit of exp(-2000), which underflows in both dtypes
    tree = random_tree(4)
    _, fast = pair(tree, 0.0, reduction="none")
    fast = fast.to(dtype)
    z = torch.randn(5, tree.num_classes, dtype=dtype)
    y = torch.arange(5) % tree.num_classes
    z[torch.arange(5), y] = z.amax(1) - 2000.0
    z[0, y[0]] = z[0].amax() + 1.0  # one ordinary row beside them
    z = z.requires_grad_()
    value = fast(z, y)
    want = torch.nn.functional.cross_entropy(z.double(), y, reduction="none")
    torch.testing.assert_close(value.double(), want, rtol=1e-6, atol=1e-6)
    (grad,) = torch.autograd.grad(value.sum(), z)
    (want_grad,) = torch.autograd.grad(want.sum(), z)
    torch.testing.assert_close(grad.double(), want_grad.double(), rtol=1e-6, atol=1e-6)


def test_tree_form_double_backward():
    tree = random_tree(7)
    _, fast = pair(tree, 0.5, reduction="sum")
    y = torch.arange(4) % tree.num_classes
    z = torch.randn(4, tree.num_classes, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradgradcheck(lambda t: fast(t, y), (z,))


def test_reductions_ignore_index_and_the_contract():
    tree = random_tree(5)
    dense, fast = pair(tree, 0.5, reduction="mean")
    z = torch.randn(4, tree.num_classes, dtype=torch.float64)
    y = torch.tensor([0, -100, 1, 0])
    torch.testing.assert_close(fast(z, y), dense(z, y))
    check_loss(SimLoss(tree.to_similarity(form="tree")))
    assert "similarity" not in fast.state_dict()


def test_tree_similarity_is_the_dense_similarity_kept_as_the_tree():
    tree = random_tree(7)
    similarity = tree.to_similarity("exponential", 0.4, form="tree")
    assert isinstance(similarity, TreeSimilarity) and similarity.kind == "similarity"
    assert similarity.classes == tree.classes
    dense = tree.to_similarity("exponential", 0.4, form="dense")
    assert isinstance(dense, Similarity)
    np.testing.assert_array_equal(similarity.matrix, dense.matrix)
    assert similarity == tree.to_similarity("exponential", 0.4, form="tree")


def test_the_form_follows_the_size_and_the_config(monkeypatch):
    tree = random_tree(2)
    assert isinstance(tree.to_similarity(), Similarity)  # small: dense
    monkeypatch.setattr(Hierarchy, "TREE_FORM_CLASSES", 1)
    assert isinstance(tree.to_similarity(), TreeSimilarity)  # large: the tree
    assert isinstance(tree.to_similarity("wu-palmer"), Similarity)  # no tree form of it
    monkeypatch.undo()
    loss = compose({"loss": "simloss", "convert": {"form": "tree"}}, structure=tree)
    assert isinstance(loss, SimLoss) and loss.tree is not None
    with pytest.raises(StructureError, match=r'form = "tree" supports rule = "exponential"'):
        tree.to_similarity("wu-palmer", form="tree")
    with pytest.raises(StructureError, match="unknown similarity form 'sparse'"):
        tree.to_similarity(form="sparse")


def test_a_dense_matrix_too_large_names_the_tree_form(monkeypatch):
    tree = random_tree(4)
    monkeypatch.setattr(Hierarchy, "DENSE_LIMIT", 8)
    with pytest.raises(StructureError) as caught:
        tree.to_similarity("exponential", form="dense")
    assert_mentions(caught.value, "GiB", 'form = "tree"', "SimLoss then needs no matrix")


@pytest.mark.slow
def test_tree_form_under_torch_compile():
    tree = random_tree(6)
    loss = SimLoss(tree.to_similarity("exponential", 0.5, form="tree"))
    check_compiles(loss, torch.randn(5, tree.num_classes), torch.arange(5) % tree.num_classes)
