"""The hierarchy losses ``hxe``, ``soft-labels`` and ``hier-softmax``.

Every reference here is written from the formula in float64 with plain Python loops over
samples and path levels, on trees given as parent maps (balanced, unbalanced with a
single-child node, flat), so it shares no code with the vectorised losses.
"""

from __future__ import annotations

import inspect
import json
import math
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor

import structloss_hierarchy_baselines.hooks as hooks
from structloss import Hierarchy, Objective, PluginHost, compose
from structloss.config import factory_options
from structloss.errors import (
    ConfigError,
    IncompatibleStructureError,
    InputError,
    OptionError,
)
from structloss.testing import check_loss, check_plugin, isolated_host, mixup_target
from structloss_hierarchy_baselines import (
    HierarchicalCrossEntropy,
    HierarchicalSoftmax,
    SoftLabels,
)

# -- trees, as parent maps --------------------------------------------------------------------
BALANCED = {  # every class at depth 3
    "a": "A1", "b": "A1", "c": "A2", "d": "A2",
    "e": "B1", "f": "B1", "g": "B2", "h": "B2", "i": "B2",
    "A1": "A", "A2": "A", "B1": "B", "B2": "B", "A": "root", "B": "root",
}  # fmt: skip
UNBALANCED = {  # classes at depths 1, 2 and 3; "w" has a single child; "z" is shallow
    "a": "y", "b": "y", "y": "x", "c": "x", "x": "root", "d": "root",
    "e": "z", "f": "z", "z": "root", "g": "w", "w": "root",
}  # fmt: skip
FLAT = {name: "root" for name in ("p", "q", "r", "s", "t")}
TREES = {"balanced": BALANCED, "unbalanced": UNBALANCED, "flat": FLAT}
LOSSES = ["hxe", "soft-labels", "hier-softmax"]
NODE_LOSSES = ["hxe", "hier-softmax"]  # the two that take internal-node targets


def tree(name: str) -> Hierarchy:
    return Hierarchy.from_parents(None, TREES[name])


def host() -> PluginHost:
    return isolated_host(hooks)


def make(name: str, hierarchy: Hierarchy, **options: Any) -> Objective:
    """The loss ``name`` composed by name from a dict config, for ``hierarchy``."""
    return compose({"loss": {"name": name, **options}}, structure=hierarchy, host=host())


def outputs_for(
    loss: Objective, n: int = 6, *, seed: int = 0, dtype: torch.dtype = torch.float64
) -> Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randn(n, loss.output_size, generator=generator, dtype=dtype) * 2


# -- brute-force references -------------------------------------------------------------------
def up(parents: Mapping[str, str], node: str) -> list[str]:
    """The path from ``node`` up to the root, both included."""
    path = [node]
    while path[-1] in parents:
        path.append(parents[path[-1]])
    return path


def below(parents: Mapping[str, str], classes: tuple[str, ...], node: str) -> list[int]:
    """The indices of the classes in ``node``'s subtree."""
    return [i for i, c in enumerate(classes) if node in up(parents, c)]


def hxe_reference(
    z: Tensor, targets: list[str], h: Hierarchy, alpha: float, *, code: bool = False
) -> Tensor:
    """-sum_l exp(-alpha l) log(p(C_l) / p(C_{l+1})), p from the softmax over classes.

    With ``code``, the authors' weighting: the term of node ``C_l`` (its edge to its parent)
    weighs exp(-alpha depth(C_l)), divided by the sum of that over every non-root node.
    """
    parents = h.to_parents()
    norm = sum(math.exp(-alpha * depth(parents, v)) for v in parents)
    losses = []
    for row, target in zip(z, targets, strict=True):
        p = torch.softmax(row, dim=0)
        path = up(parents, target)
        total = row.new_zeros(())
        for level in range(len(path) - 1):
            mass = p[below(parents, h.classes, path[level])].sum()
            above = p[below(parents, h.classes, path[level + 1])].sum()
            if code:
                weight = math.exp(-alpha * depth(parents, path[level])) / norm
            else:
                weight = math.exp(-alpha * level)
            total = total - weight * torch.log(mass / above)
        losses.append(total)
    return torch.stack(losses)


def depth(parents: Mapping[str, str], node: str) -> int:
    return len(up(parents, node)) - 1


def height(parents: Mapping[str, str], classes: tuple[str, ...], node: str) -> int:
    return max(
        depth(parents, classes[i]) - depth(parents, node) for i in below(parents, classes, node)
    )


def lowest_common_ancestor(parents: Mapping[str, str], a: str, b: str) -> str:
    above_b = set(up(parents, b))
    return next(n for n in up(parents, a) if n in above_b)


def distance_reference(h: Hierarchy, kind: str) -> Tensor:
    """Class distances by their definitions (see docs/losses/baselines.md)."""
    parents, classes = h.to_parents(), h.classes
    deepest = max(depth(parents, c) for c in classes)
    table = torch.zeros(len(classes), len(classes), dtype=torch.float64)
    for i, a in enumerate(classes):
        for j, b in enumerate(classes):
            top = lowest_common_ancestor(parents, a, b)
            if kind == "lca-height":
                table[i, j] = height(parents, classes, top)
            elif kind == "bertinetto":
                table[i, j] = 0 if i == j else deepest - depth(parents, top)
            else:
                table[i, j] = depth(parents, a) + depth(parents, b) - 2 * depth(parents, top)
    return table


def soft_labels_reference(
    z: Tensor, targets: list[int], h: Hierarchy, beta: float, kind: str
) -> Tensor:
    d = distance_reference(h, kind)
    losses = []
    for row, y in zip(z, targets, strict=True):
        q = torch.exp(-beta * d[y])
        q = q / q.sum()
        losses.append(-(q * torch.log_softmax(row, dim=0)).sum())
    return torch.stack(losses)


def hier_softmax_reference(s: Tensor, targets: list[str], h: Hierarchy) -> Tensor:
    """-log prod p(v | parent(v)) down the path, one softmax per sibling group."""
    parents = h.to_parents()
    columns = [*h.classes, *h.nodes[h.num_classes + 1 :]]  # the documented output order
    losses = []
    for row, target in zip(s, targets, strict=True):
        logit = dict(zip(columns, row, strict=True))
        total = row.new_zeros(())
        for node in up(parents, target)[:-1]:
            siblings = [v for v in columns if parents[v] == parents[node]]
            group = torch.stack([logit[v] for v in siblings])
            total = total - (logit[node] - torch.logsumexp(group, dim=0))
        losses.append(total)
    return torch.stack(losses)


def reference(name: str, z: Tensor, targets: list[int], h: Hierarchy, **options: Any) -> Tensor:
    named = [h.nodes[t] for t in targets]
    if name == "hxe":
        return hxe_reference(z, named, h, options.get("alpha", 0.1))
    if name == "soft-labels":
        beta, kind = options.get("beta", 4.0), options.get("distance", "lca-height")
        return soft_labels_reference(z, targets, h, beta, kind)
    return hier_softmax_reference(z, named, h)


def some_targets(h: Hierarchy, n: int, *, nodes: bool, seed: int = 1) -> list[int]:
    """Every class, then (with ``nodes``) every internal non-root node, then random picks."""
    inner = list(range(h.num_classes + 1, h.num_nodes)) if nodes else []
    pool = [*range(h.num_classes), *inner]
    generator = torch.Generator().manual_seed(seed)
    extra = torch.randint(0, len(pool), (max(0, n - len(pool)),), generator=generator).tolist()
    return [*pool, *(pool[i] for i in extra)][:n]


# -- against brute force ----------------------------------------------------------------------
@pytest.mark.parametrize("tree_name", list(TREES))
@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.7])
def test_hxe_matches_brute_force(tree_name: str, alpha: float) -> None:
    h = tree(tree_name)
    loss = make("hxe", h, alpha=alpha, reduction="none").double()
    targets = some_targets(h, 24, nodes=True)
    z = outputs_for(loss, len(targets))
    torch.testing.assert_close(
        loss(z, torch.tensor(targets)), hxe_reference(z, [h.nodes[t] for t in targets], h, alpha),
        rtol=1e-10, atol=1e-12,
    )  # fmt: skip


@pytest.mark.parametrize("tree_name", list(TREES))
@pytest.mark.parametrize("alpha", [0.0, 0.4])
def test_hxe_with_the_reference_code_weighting_matches_brute_force(
    tree_name: str, alpha: float
) -> None:
    h = tree(tree_name)
    loss = make("hxe", h, alpha=alpha, weighting="reference-code", reduction="none").double()
    targets = some_targets(h, 24, nodes=True)
    z = outputs_for(loss, len(targets))
    want = hxe_reference(z, [h.nodes[t] for t in targets], h, alpha, code=True)
    torch.testing.assert_close(loss(z, torch.tensor(targets)), want, rtol=1e-10, atol=1e-12)
    q = torch.softmax(torch.randn(5, h.num_classes, dtype=torch.float64), 1)
    by_class = torch.stack(
        [hxe_reference(z[:5], [c] * 5, h, alpha, code=True) for c in h.classes], 1
    )
    torch.testing.assert_close(loss(z[:5], q), (q * by_class).sum(1), rtol=1e-10, atol=1e-12)


def test_hxe_weightings_differ_and_bad_ones_are_named() -> None:
    h = tree("unbalanced")
    z, y = outputs_for(make("hxe", h), 6), torch.arange(6)
    paper, code = (
        make("hxe", h, alpha=0.5, weighting=w)(z, y) for w in ("paper", "reference-code")
    )
    assert not torch.allclose(paper, code)
    with pytest.raises(
        OptionError, match=r"unknown weighting 'refrence-code'; did you mean 'reference-code'"
    ):
        make("hxe", h, weighting="refrence-code")


@pytest.mark.parametrize("tree_name", list(TREES))
@pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
@pytest.mark.parametrize("beta", [0.5, 3.0])
def test_soft_labels_match_brute_force(tree_name: str, distance: str, beta: float) -> None:
    h = tree(tree_name)
    loss = make("soft-labels", h, beta=beta, distance=distance, reduction="none").double()
    targets = some_targets(h, 16, nodes=False)
    z = outputs_for(loss, len(targets))
    expected = soft_labels_reference(z, targets, h, beta, distance)
    # the soft-target table is a float32 buffer: float64 agrees to float32's precision
    torch.testing.assert_close(loss(z, torch.tensor(targets)), expected, rtol=1e-6, atol=1e-7)


def test_the_distances_differ_on_the_unbalanced_tree() -> None:
    """The soft-labels test above can tell the three distances apart."""
    h = tree("unbalanced")
    tables = {kind: distance_reference(h, kind) for kind in ("lca-height", "bertinetto", "edges")}
    assert not torch.equal(tables["lca-height"], tables["bertinetto"])
    assert not torch.equal(tables["lca-height"], tables["edges"])
    assert torch.equal(distance_reference(tree("balanced"), "lca-height"),
                       distance_reference(tree("balanced"), "bertinetto"))  # fmt: skip


@pytest.mark.parametrize("tree_name", list(TREES))
def test_hier_softmax_matches_brute_force(tree_name: str) -> None:
    h = tree(tree_name)
    loss = make("hier-softmax", h, reduction="none").double()
    assert loss.output_size == h.num_nodes - 1
    targets = some_targets(h, 24, nodes=True)
    s = outputs_for(loss, len(targets))
    expected = hier_softmax_reference(s, [h.nodes[t] for t in targets], h)
    torch.testing.assert_close(loss(s, torch.tensor(targets)), expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("tree_name", list(TREES))
def test_hier_softmax_scores_are_class_log_probabilities(tree_name: str) -> None:
    h = tree(tree_name)
    loss = make("hier-softmax", h, reduction="none").double()
    s = outputs_for(loss, 5)
    scores = loss.scores(s)
    assert scores.shape == (5, h.num_classes)
    torch.testing.assert_close(scores.exp().sum(1), torch.ones(5, dtype=torch.float64))
    every = torch.arange(h.num_classes)
    for row in range(5):
        expected = hier_softmax_reference(s[row].expand(h.num_classes, -1), list(h.classes), h)
        torch.testing.assert_close(-scores[row], expected)
        torch.testing.assert_close(-scores[row], loss(s[row].expand(h.num_classes, -1), every))


# -- special cases ----------------------------------------------------------------------------
@pytest.mark.parametrize("tree_name", list(TREES))
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hxe_with_alpha_zero_is_cross_entropy(
    tree_name: str, dtype: torch.dtype, reduction: str
) -> None:
    h = tree(tree_name)
    loss = make("hxe", h, alpha=0.0, reduction=reduction).to(dtype)
    z = outputs_for(loss, 9, dtype=dtype).requires_grad_(True)
    target = torch.arange(9) % h.num_classes
    ours, theirs = loss(z, target), F.cross_entropy(z, target, reduction=reduction)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == torch.float32 else {"rtol": 1e-10, "atol": 1e-12}
    torch.testing.assert_close(ours, theirs, **tol)
    (g_ours,) = torch.autograd.grad(ours.sum(), z)
    (g_theirs,) = torch.autograd.grad(theirs.sum(), z)
    torch.testing.assert_close(g_ours, g_theirs, **tol)


def test_hxe_with_alpha_above_zero_is_not_cross_entropy() -> None:
    h = tree("balanced")
    z = outputs_for(make("hxe", h), 6)
    target = torch.arange(6)
    assert not torch.allclose(
        make("hxe", h, alpha=0.1).double()(z, target), F.cross_entropy(z, target)
    )


@pytest.mark.parametrize("tree_name", list(TREES))
@pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
def test_soft_labels_with_large_beta_are_cross_entropy(tree_name: str, distance: str) -> None:
    h = tree(tree_name)
    loss = make("soft-labels", h, beta=50.0, distance=distance).double()
    z = outputs_for(loss, 8)
    target = torch.arange(8) % h.num_classes
    torch.testing.assert_close(loss(z, target), F.cross_entropy(z, target), rtol=0, atol=1e-6)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_hier_softmax_on_a_flat_tree_is_cross_entropy(reduction: str) -> None:
    h = tree("flat")
    loss = make("hier-softmax", h, reduction=reduction).double()
    assert loss.output_size == h.num_classes
    z = outputs_for(loss, 7)
    target = torch.arange(7) % h.num_classes
    torch.testing.assert_close(loss(z, target), F.cross_entropy(z, target, reduction=reduction))
    torch.testing.assert_close(loss.scores(z), torch.log_softmax(z, dim=1))


@pytest.mark.parametrize("name", NODE_LOSSES)
def test_an_internal_node_target_is_minus_log_its_mass_without_decay(name: str) -> None:
    """At alpha = 0 (hxe) and always (hier-softmax) the loss is -log p(node)."""
    h = tree("unbalanced")
    loss = make(name, h, reduction="none", **({"alpha": 0.0} if name == "hxe" else {})).double()
    z = outputs_for(loss, 4)
    node = h.index("x")
    class_p = torch.softmax(z, 1) if name == "hxe" else loss.scores(z).exp()
    mass = class_p[:, below(h.to_parents(), h.classes, "x")].sum(1)
    torch.testing.assert_close(loss(z, torch.full((4,), node)), -mass.log())


@pytest.mark.parametrize("name", LOSSES)
def test_large_logits_stay_finite_and_accurate(name: str) -> None:
    h = tree("unbalanced")
    loss = make(name, h, reduction="none")
    z64 = outputs_for(loss, 6) * 1e4
    target = torch.arange(6) % h.num_classes
    exact = loss.double()(z64, target)
    loss.float()
    value = loss(z64.float(), target)
    assert torch.isfinite(value).all()
    torch.testing.assert_close(value.double(), exact, rtol=1e-5, atol=1e-2)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_half_precision_outputs_are_computed_in_float32(name: str, dtype: torch.dtype) -> None:
    h = tree("balanced")
    loss = make(name, h)
    z = outputs_for(loss, 6, dtype=torch.float32).to(dtype)
    target = torch.arange(6)
    value = loss(z, target)
    assert value.dtype == torch.float32
    torch.testing.assert_close(value, loss(z.float(), target))


@pytest.mark.parametrize("name", LOSSES)
def test_under_autocast_the_loss_is_float32(name: str) -> None:
    h = tree("balanced")
    loss = make(name, h)
    head = loss.head(4)
    x = torch.randn(6, 4)
    probs = (
        F.one_hot(torch.arange(6) % h.num_classes, h.num_classes).float() * 0.8
        + 0.2 / h.num_classes
    )
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outputs = head(x)
        values = [loss(outputs, torch.arange(6)), loss(outputs, probs)]
    for value in values:
        assert value.dtype == torch.float32 and torch.isfinite(value)
    torch.testing.assert_close(values[1], loss(outputs.float(), probs))


# -- probability targets ----------------------------------------------------------------------
def per_class_losses(loss: Objective, z: Tensor) -> Tensor:
    """(batch, classes): the loss of every row against every class index."""
    n, c = z.shape[0], loss.num_classes
    every = loss(z.repeat_interleave(c, 0), torch.arange(c).repeat(n))
    return every.reshape(n, c)


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("tree_name", ["balanced", "unbalanced"])
def test_probability_targets_are_the_expected_class_loss(name: str, tree_name: str) -> None:
    h = tree(tree_name)
    loss = make(name, h, reduction="none").double()
    z = outputs_for(loss, 5)
    q = torch.softmax(torch.randn(5, h.num_classes, dtype=torch.float64), 1)
    expected = (q * per_class_losses(loss, z)).sum(1)
    torch.testing.assert_close(loss(z, q), expected, rtol=1e-10, atol=1e-12)
    targets = [0, 1, 2, 3, 4]
    brute = torch.stack([
        sum(q[r, y] * reference(name, z[r : r + 1], [y], h)[0] for y in range(h.num_classes))
        for r in range(5)
    ])  # fmt: skip
    torch.testing.assert_close(loss(z, q), brute, rtol=1e-6, atol=1e-7)
    one_hot = F.one_hot(torch.tensor(targets) % h.num_classes, h.num_classes).double()
    torch.testing.assert_close(loss(z, one_hot), loss(z, torch.tensor(targets) % h.num_classes))


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_a_mixup_target_works(name: str, smoothing: float) -> None:
    """A target as timm's Mixup builds it: lam * one_hot(y) + (1 - lam) * one_hot(y.flip(0))."""
    h = tree("balanced")
    loss = make(name, h).double()
    z = outputs_for(loss, 6).requires_grad_(True)
    y, lam = torch.tensor([0, 3, 5, 8, 2, 6]), 0.7
    mixed = mixup_target(y, h.num_classes, lam=lam, smoothing=smoothing, dtype=torch.float64)
    value = loss(z, mixed)
    value.backward()
    assert torch.isfinite(z.grad).all()
    if smoothing == 0.0:
        none = make(name, h, reduction="none").double()
        expected = (lam * none(z, y) + (1 - lam) * none(z, y.flip(0))).mean()
        torch.testing.assert_close(value, expected)


@pytest.mark.parametrize("name", LOSSES)
def test_probability_targets_reduce_like_class_targets(name: str) -> None:
    h = tree("unbalanced")
    z = outputs_for(make(name, h), 4)
    q = torch.softmax(torch.randn(4, h.num_classes, dtype=torch.float64), 1)
    none = make(name, h, reduction="none").double()(z, q)
    torch.testing.assert_close(make(name, h, reduction="sum").double()(z, q), none.sum())
    torch.testing.assert_close(make(name, h, reduction="mean").double()(z, q), none.mean())


# -- gradients --------------------------------------------------------------------------------
@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("tree_name", ["balanced", "unbalanced"])
@pytest.mark.parametrize("kind", ["classes", "nodes", "probabilities"])
def test_gradcheck(name: str, tree_name: str, kind: str) -> None:
    if kind == "nodes" and name == "soft-labels":
        pytest.skip("soft-labels takes class targets only")
    h = tree(tree_name)
    loss = make(name, h, reduction="none").double()
    target = torch.tensor(some_targets(h, 6, nodes=False, seed=3))
    if kind == "nodes":  # every internal node but the root, and two classes
        target = torch.tensor([*range(h.num_classes + 1, h.num_nodes), 0, 1])
    if kind == "probabilities":
        target = torch.softmax(torch.randn(6, h.num_classes, dtype=torch.float64), 1)
    z = outputs_for(loss, target.shape[0]).requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: loss(x, target), (z,))


# -- reductions and ignore_index --------------------------------------------------------------
@pytest.mark.parametrize("name", LOSSES)
def test_reductions_and_ignore_index_follow_cross_entropy(name: str) -> None:
    h = tree("unbalanced")
    targets = torch.tensor([0, 1, -1, 2, 3, -1])
    if name in NODE_LOSSES:
        targets[1] = h.index("x")
    losses = {
        r: make(name, h, reduction=r, ignore_index=-1).double() for r in ("mean", "sum", "none")
    }
    z = outputs_for(losses["none"], 6).requires_grad_(True)
    none = losses["none"](z, targets)
    keep = targets != -1
    assert (none[~keep] == 0).all()
    torch.testing.assert_close(none[keep], reference(name, z[keep], targets[keep].tolist(), h))
    torch.testing.assert_close(losses["sum"](z, targets), none.sum())
    torch.testing.assert_close(losses["mean"](z, targets), none[keep].mean())
    (grad,) = torch.autograd.grad(losses["mean"](z, targets), z)
    assert (grad[~keep] == 0).all()
    assert losses["mean"](z, torch.full((6,), -1)) == 0


# -- bad inputs -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "options", "error", "words"),
    [
        ("hxe", {"alpha": -0.5}, OptionError, ["'alpha'", "-0.5", ">= 0"]),
        ("hxe", {"alpha": float("inf")}, OptionError, ["'alpha'", "inf"]),
        ("hxe", {"alpha": "0.1"}, ConfigError, ["'alpha'", "'0.1'", "without quotes"]),
        ("soft-labels", {"beta": 0.0}, OptionError, ["'beta'", "0.0", "> 0"]),
        ("soft-labels", {"beta": -2}, OptionError, ["'beta'", "-2", "> 0"]),
        ("soft-labels", {"distance": "lca_height"}, OptionError,
         ["'lca_height'", "did you mean 'lca-height'", "lca-height, bertinetto, edges"]),
        ("soft-labels", {"distance": "hops"}, OptionError, ["'hops'", "bertinetto"]),
        ("hxe", {"ignore_index": 11}, OptionError, ["ignore_index 11", "'y'"]),
        ("hier-softmax", {"ignore_index": 7}, OptionError, ["ignore_index 7", "'root'"]),
        ("hxe", {"gamma": 1.0}, ConfigError, ["'gamma'", "alpha"]),
    ],
)  # fmt: skip
def test_bad_options_name_the_value(
    name: str, options: dict[str, Any], error: type[Exception], words: list[str]
) -> None:
    with pytest.raises(error) as caught:
        make(name, tree("unbalanced"), **options)
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


BAD_TARGETS: list[tuple[str, Callable[[Hierarchy], Tensor], list[str]]] = [
    ("wrong width", lambda h: torch.full((4, h.num_classes + 2), 1 / (h.num_classes + 2)),
     ["(4, 7)", "(4, 9)"]),
    ("rows not summing to 1", lambda h: torch.full((4, h.num_classes), 0.3), ["row 0", "sums to 2.1", "not 1"]),
    ("a negative entry", lambda h: F.pad(torch.tensor([[1.2, -0.2]] * 4), (0, h.num_classes - 2)), ["row 0", "-0.2", "class 1"]),
    ("not finite", lambda h: F.pad(torch.tensor([[0.5, 0.5]] * 3 + [[math.nan, 1]]), (0, h.num_classes - 2)),
     ["row 3", "not finite"]),
    ("out of range", lambda h: torch.tensor([0, 1, h.num_nodes, 2]), ["index 12", "0..6", "8..11"]),
    ("negative index", lambda h: torch.tensor([0, -3, 1, 2]), ["index -3"]),
    ("the root", lambda h: torch.tensor([0, h.root_index, 1, 2]), ["target 7", "root 'root'", "ignore_index"]),
    ("float indices", lambda h: torch.tensor([0.0, 1.0, 2.0, 3.0]), ["integer", "float32"]),
    ("wrong batch", lambda h: torch.tensor([0, 1]), ["(4,)", "(2,)"]),
    ("integer one-hot", lambda h: F.one_hot(torch.arange(4), h.num_classes), ["floating-point probabilities", "torch.int64"]),
]  # fmt: skip


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize(
    ("case", "make_target", "words"), BAD_TARGETS, ids=[c[0] for c in BAD_TARGETS]
)
def test_bad_targets_give_clear_errors(
    name: str, case: str, make_target: Callable[[Hierarchy], Tensor], words: list[str]
) -> None:
    h = tree("unbalanced")  # 7 classes, root 7, internal nodes 8..11
    loss = make(name, h)
    if name == "soft-labels":
        words = {
            "out of range": ["index 12", "0..6"],
            "the root": ["class targets only", "'root'"],
        }.get(case, words)
    with pytest.raises(InputError) as caught:
        loss(outputs_for(loss, 4, dtype=torch.float32), make_target(h))
    for word in words:
        assert word in str(caught.value), (word, str(caught.value))


def test_soft_labels_reject_internal_node_targets() -> None:
    h = tree("unbalanced")
    loss = make("soft-labels", h)
    with pytest.raises(
        InputError, match=r"class targets only.*internal node 'y'.*hxe or hier-softmax"
    ):
        loss(outputs_for(loss, 2, dtype=torch.float32), torch.tensor([0, h.index("y")]))


def test_wrong_output_width_points_at_the_head() -> None:
    loss = make("hier-softmax", tree("unbalanced"))
    with pytest.raises(InputError, match=r"\(batch, 11\).*objective.head"):
        loss(torch.randn(3, 7), torch.tensor([0, 1, 2]))


@pytest.mark.parametrize("name", LOSSES)
def test_a_loss_without_a_tree_says_what_it_needs(name: str) -> None:
    with pytest.raises(IncompatibleStructureError, match=rf"loss '{name}' needs a hierarchy"):
        compose({"classes": ["a", "b"], "loss": {"name": name}}, host=host())
    with pytest.raises(IncompatibleStructureError, match=r"Hierarchy"):
        {"hxe": HierarchicalCrossEntropy, "soft-labels": SoftLabels,
         "hier-softmax": HierarchicalSoftmax}[name]("not a tree")  # type: ignore[arg-type]  # fmt: skip


# -- composition and contracts ----------------------------------------------------------------
@pytest.mark.parametrize("name", LOSSES)
def test_composes_from_a_hierarchy_file(name: str, tmp_path: Path) -> None:
    (tmp_path / "tree.json").write_text(json.dumps({"parents": UNBALANCED}), encoding="utf-8")
    config = {
        "classes": list("abcdefg"),
        "structure": {"provider": "hierarchy-file", "path": str(tmp_path / "tree.json")},
        "loss": {"name": name, "reduction": "sum"},
    }
    loss = compose(config, host=host())
    assert loss.num_classes == 7 and loss.reduction == "sum"
    assert loss.hierarchy == tree("unbalanced")


def test_composes_with_options_and_a_flat_structure() -> None:
    classes = ["p", "q", "r"]
    for name, options, cls in [
        ("hxe", {"alpha": 0.25}, HierarchicalCrossEntropy),
        ("soft-labels", {"beta": 4.0, "distance": "edges"}, SoftLabels),
        ("hier-softmax", {}, HierarchicalSoftmax),
    ]:
        config = {
            "classes": classes,
            "structure": {"provider": "flat"},
            "loss": {"name": name, **options},
        }
        loss = compose(config, host=host())
        assert isinstance(loss, cls)
        for option, value in options.items():
            assert getattr(loss, option) == value
    assert (
        compose({"classes": classes, "structure": "flat", "loss": "hxe"}, host=host()).alpha == 0.1
    )


def test_the_soft_targets_are_a_buffer() -> None:
    loss = make("soft-labels", tree("balanced"), beta=2.0)
    assert "soft_targets" in dict(loss.named_buffers())
    assert loss.soft_targets.shape == (9, 9)
    torch.testing.assert_close(loss.soft_targets.sum(1), torch.ones(9))
    assert loss.double().soft_targets.dtype == torch.float64


@pytest.mark.parametrize("name", LOSSES)
@pytest.mark.parametrize("tree_name", list(TREES))
def test_contract(name: str, tree_name: str) -> None:
    h = tree(tree_name)
    check_loss(make(name, h), factory=lambda **o: make(name, h, **o), batch=6)


def test_the_plugin_passes_check_plugin() -> None:
    check_plugin(hooks)


@pytest.mark.slow
@pytest.mark.parametrize("name", LOSSES)
def test_works_under_torch_compile(name: str) -> None:
    from torch._dynamo.testing import CompileCounterWithBackend

    torch._dynamo.reset()
    h = tree("unbalanced")
    loss = make(name, h, ignore_index=-1)
    counter = CompileCounterWithBackend("aot_eager")
    compiled = torch.compile(loss, backend=counter, fullgraph=True)
    z = outputs_for(loss, 6, dtype=torch.float32)
    q = torch.softmax(torch.randn(6, h.num_classes), 1)
    for target in (torch.tensor([0, 1, -1, 2, 3, 4]), q):
        torch.testing.assert_close(compiled(z, target), loss(z, target))
    assert counter.frame_count == 2  # one graph per kind of target


# -- the docs pages ---------------------------------------------------------------------------
DOCS = Path(__file__).resolve().parents[3] / "docs" / "losses"


@pytest.mark.parametrize("name", LOSSES)
def test_each_page_lists_the_options_with_their_defaults(name: str) -> None:
    text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    spec = host().spec("loss", name)
    for option, parameter in (factory_options(spec.factory) or {}).items():
        shown = json.dumps(parameter.default)
        assert parameter.default is not inspect.Parameter.empty
        assert f"| `{option}` | `{shown}` |" in text, (name, option, shown)


@pytest.mark.parametrize("name", LOSSES)
def test_each_page_example_config_composes(name: str, tmp_path: Path) -> None:
    text = (DOCS / f"{name}.md").read_text(encoding="utf-8")
    (block,) = re.findall(r"^```toml\n(.*?)^```", text, re.MULTILINE | re.DOTALL)
    (tmp_path / "config.toml").write_text(block, encoding="utf-8")
    (tmp_path / "classes.txt").write_text("\n".join("abcdefg") + "\n", encoding="utf-8")
    (tmp_path / "tree.json").write_text(json.dumps({"parents": UNBALANCED}), encoding="utf-8")
    loss = compose(tmp_path / "config.toml", host=host())
    assert loss.hierarchy == tree("unbalanced")
