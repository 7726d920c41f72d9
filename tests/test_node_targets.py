"""Coarse labels and soft targets in the core: internal-node targets, probability targets.

References are written from the definitions with plain Python over a parent map (the set of
classes below a node, distances from the lowest common ancestor), sharing no code with the
vectorised library.
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from structloss import Hierarchy, compose
from structloss.builtin.losses import CrossEntropy
from structloss.errors import InputError, OptionError
from structloss.metrics import (
    MistakeSeverity,
    TopKAccuracy,
    hierarchical_distance_at_k,
    mistake_severity,
    top_k_accuracy,
)
from structloss.testing import mixup_target

# classes at depths 1..3; "w" has a single child
PARENTS = {
    "a": "y", "b": "y", "y": "x", "c": "x", "x": "root", "d": "root",
    "e": "z", "f": "z", "z": "root", "g": "w", "w": "root",
}  # fmt: skip
TREE = Hierarchy.from_parents(None, PARENTS)
C = TREE.num_classes


def ancestors(node: str) -> list[str]:
    """``node`` and its ancestors, from the node up to the root."""
    path = [node]
    while path[-1] in PARENTS:
        path.append(PARENTS[path[-1]])
    return path


def below(node: str) -> set[int]:
    return {i for i, c in enumerate(TREE.classes) if node in ancestors(c)}


def ce_with_tree(**options: object) -> CrossEntropy:
    loss = CrossEntropy(C, **options)  # type: ignore[arg-type]
    loss.accept_node_targets(TREE)
    return loss


def some_targets() -> torch.Tensor:
    """Classes and every internal node but the root, each twice."""
    inner = [i for i in range(C, TREE.num_nodes) if i != TREE.root_index]
    return torch.tensor([*range(C), *inner] * 2)


def reference_nll(z: torch.Tensor, target: torch.Tensor) -> list[float]:
    out = []
    for row, t in zip(z.tolist(), target.tolist(), strict=True):
        total = sum(math.exp(v) for v in row)
        mass = sum(math.exp(row[c]) for c in below(TREE.nodes[t]))
        out.append(-math.log(mass / total))
    return out


# -- cross-entropy -------------------------------------------------------------------------------
def test_cross_entropy_of_a_node_is_minus_log_the_mass_below_it() -> None:
    target = some_targets()
    z = torch.randn(len(target), C, dtype=torch.float64) * 3
    got = ce_with_tree(reduction="none")(z, target)
    torch.testing.assert_close(got, torch.tensor(reference_nll(z, target), dtype=torch.float64))
    mean = ce_with_tree()(z, target)
    torch.testing.assert_close(mean, got.mean())


def test_class_targets_are_unchanged_by_the_tree() -> None:
    z, y = torch.randn(9, C, dtype=torch.float64), torch.arange(9) % C
    for options in ({}, {"label_smoothing": 0.2}, {"weight": torch.rand(C) + 0.1}):
        torch.testing.assert_close(ce_with_tree(**options)(z, y), CrossEntropy(C, **options)(z, y))


def test_node_targets_with_label_smoothing_and_weights() -> None:
    target = some_targets()
    z = torch.randn(len(target), C, dtype=torch.float64)
    w = torch.rand(C, dtype=torch.float64) + 0.5
    eps = 0.3
    got = ce_with_tree(reduction="sum", label_smoothing=eps, weight=w)(z, target)
    log_p = torch.log_softmax(z, 1)
    nll = torch.tensor(reference_nll(z, target), dtype=torch.float64)
    class_rows = target < C
    per = torch.where(
        class_rows,
        F.cross_entropy(z, target.clamp_max(C - 1), weight=w.float().double(), reduction="none",
                        label_smoothing=eps),
        (1 - eps) * nll - eps * (w * log_p).sum(1) / C,
    )  # fmt: skip
    row_weight = torch.tensor(
        [float(w[list(below(TREE.nodes[t]))].mean()) for t in target.tolist()],
        dtype=torch.float64,
    )
    torch.testing.assert_close(got, per.sum())
    mean = ce_with_tree(label_smoothing=eps, weight=w)(z, target)
    torch.testing.assert_close(mean, per.sum() / row_weight.sum())


def test_node_targets_gradcheck() -> None:
    target = some_targets()[:8]
    z = torch.randn(len(target), C, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: ce_with_tree(label_smoothing=0.1)(x, target), (z,))


def test_compose_with_a_tree_takes_node_targets(tmp_path) -> None:
    import json

    (tmp_path / "tree.json").write_text(json.dumps({"parents": PARENTS}), encoding="utf-8")
    config = {
        "classes": list(TREE.classes),
        "structure": {"provider": "hierarchy-file", "path": str(tmp_path / "tree.json")},
        "loss": "cross-entropy",
    }
    loss = compose(config)
    target = torch.tensor([TREE.index("y"), TREE.index("z"), 0])
    z = torch.randn(3, C)
    torch.testing.assert_close(
        loss(z, target), torch.tensor(reference_nll(z.double(), target)).float().mean()
    )
    plain = compose({"classes": list(TREE.classes), "loss": "cross-entropy"})
    with pytest.raises(InputError, match=r"outside 0..6.*num_classes"):
        plain(z, target)


def test_node_target_errors() -> None:
    z = torch.randn(2, C)
    with pytest.raises(InputError, match=r"names the root 'root'.*ignore_index"):
        ce_with_tree()(z, torch.tensor([0, TREE.root_index]))
    with pytest.raises(InputError, match=r"outside 0..6, internal nodes 8..11"):
        ce_with_tree()(z, torch.tensor([0, TREE.num_nodes]))
    with pytest.raises(OptionError, match=r"ignore_index 9 names node"):
        ce_with_tree(ignore_index=9)
    with pytest.raises(OptionError, match=r"the hierarchy has 7 classes, the loss 3"):
        CrossEntropy(3).accept_node_targets(TREE)


def test_node_targets_under_torch_compile() -> None:
    torch._dynamo.reset()
    loss = ce_with_tree(label_smoothing=0.1)
    compiled = torch.compile(loss, backend="aot_eager", fullgraph=True)
    target = some_targets()
    z = torch.randn(len(target), C)
    torch.testing.assert_close(compiled(z, target), loss(z, target))


# -- probability targets --------------------------------------------------------------------------
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_takes_a_mixup_target(smoothing: float) -> None:
    y = torch.tensor([0, 3, 5, 6, 2, 1])
    q = mixup_target(y, C, lam=0.7, smoothing=smoothing)
    z = torch.randn(6, C)
    torch.testing.assert_close(ce_with_tree()(z, q), F.cross_entropy(z, q))
    lam = 0.7
    by_class = lam * F.cross_entropy(z, y) + (1 - lam) * F.cross_entropy(z, y.flip(0))
    if not smoothing:
        torch.testing.assert_close(CrossEntropy(C)(z, q), by_class)


@pytest.mark.parametrize(
    ("q", "words"),
    [
        (torch.full((2, C), 0.5), "sums to 3.5, not 1"),
        (F.pad(torch.tensor([[1.5, -0.5]] * 2), (0, C - 2)), "holds -0.5 at class 1"),
        (torch.full((2, C), math.nan), "row 0 is not finite"),
    ],
)
def test_bad_probability_targets_name_the_row(q: torch.Tensor, words: str) -> None:
    with pytest.raises(InputError, match=re_escape(words)):
        CrossEntropy(C)(torch.randn(2, C), q)


def re_escape(text: str) -> str:
    import re

    return re.escape(text)


# -- metrics --------------------------------------------------------------------------------------
def reference_distance(node: str, cls: str, distance: str) -> int:
    """From a node target to a class: 0 when the class is below it, else by definition."""
    if node in ancestors(cls):
        return 0
    up_a, up_c = ancestors(node), ancestors(cls)
    lca = next(v for v in up_a if v in up_c)
    depth = {v: len(ancestors(v)) - 1 for v in TREE.nodes}
    height = {
        v: max(depth[c] - depth[v] for c in TREE.classes if v in ancestors(c)) for v in TREE.nodes
    }
    if distance == "lca-height":
        return height[lca]
    if distance == "bertinetto":
        return max(depth.values()) - depth[lca]
    return depth[node] + depth[cls] - 2 * depth[lca]


@pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
def test_target_distances_match_the_definitions(distance: str) -> None:
    table = TREE.target_distances(distance)
    assert table.shape == (TREE.num_nodes, C)
    for t, node in enumerate(TREE.nodes):
        for c, cls in enumerate(TREE.classes):
            assert table[t, c] == reference_distance(node, cls, distance), (node, cls)
    assert (table[:C] == TREE.class_distances(distance)).all()


@pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
def test_metrics_count_a_prediction_below_the_node_as_right(distance: str) -> None:
    target = some_targets()
    scores = torch.randn(len(target), C)
    top = scores.argsort(dim=1, descending=True, stable=True)
    names = [TREE.nodes[t] for t in target.tolist()]
    d1 = [
        reference_distance(n, TREE.classes[p], distance)
        for n, p in zip(names, top[:, 0].tolist(), strict=True)
    ]
    mistakes = [d for d in d1 if d > 0]
    want_sev = sum(mistakes) / len(mistakes) if mistakes else 0.0
    assert mistake_severity(scores, target, TREE, distance=distance) == pytest.approx(want_sev)
    d3 = [
        reference_distance(n, TREE.classes[p], distance)
        for n, row in zip(names, top[:, :3].tolist(), strict=True)
        for p in row
    ]
    assert hierarchical_distance_at_k(scores, target, TREE, 3, distance=distance) == pytest.approx(
        sum(d3) / len(d3)
    )
    right = [
        any(TREE.index(n) in ancestors_idx(p) for p in row)
        for n, row in zip(names, top[:, :2].tolist(), strict=True)
    ]
    assert top_k_accuracy(scores, target, 2, hierarchy=TREE) == pytest.approx(
        sum(right) / len(right)
    )
    metric = TopKAccuracy(2, hierarchy=TREE)
    metric.update(scores[:5], target[:5])
    metric.update(scores[5:], target[5:])
    assert float(metric.compute()) == pytest.approx(sum(right) / len(right))
    severity = MistakeSeverity(TREE, distance=distance)
    severity.update(scores, target)
    assert float(severity.compute()) == pytest.approx(want_sev)


def ancestors_idx(c: int) -> set[int]:
    return {TREE.index(v) for v in ancestors(TREE.classes[c])}


def test_metrics_reject_node_targets_without_a_tree_and_the_root() -> None:
    scores = torch.randn(2, C)
    with pytest.raises(InputError, match=r"outside 0..6"):
        top_k_accuracy(scores, torch.tensor([0, C + 1]))
    with pytest.raises(InputError, match=r"names the root"):
        mistake_severity(scores, torch.tensor([0, TREE.root_index]), TREE)
