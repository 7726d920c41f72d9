"""Structure-aware and accumulating metrics: hand-computed cases, brute force, merging."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from structloss import Hierarchy, Similarity
from structloss.errors import InputError
from structloss.metrics import (
    MultiLabelMetrics,
    SingleLabelMetrics,
    hierarchical_distance_at_k,
    mean_average_precision,
    mistake_severity,
    precision_at_k,
    recall_at_k,
    similarity_accuracy,
    superclass_accuracy,
    top_k_accuracy,
)

CLASSES = ["cat", "dog", "car", "bus", "truck"]
# root -> {animal -> {cat, dog}, vehicle -> {car, heavy -> {bus, truck}}}; unbalanced, so the
# vehicle's height (2) differs from its depth (1) and from the animal's height (1)
TREE = Hierarchy.from_parents(
    CLASSES,
    {
        "animal": "root",
        "vehicle": "root",
        "cat": "animal",
        "dog": "animal",
        "car": "vehicle",
        "heavy": "vehicle",
        "bus": "heavy",
        "truck": "heavy",
    },
)
# rows rank the classes; targets cat, bus, truck, car; top-1 dog, bus, car, cat
SCORES = torch.tensor(
    [
        [4.0, 5.0, 3.0, 2.0, 1.0],
        [2.0, 1.0, 3.0, 5.0, 4.0],
        [2.0, 1.0, 5.0, 3.0, 4.0],
        [5.0, 4.0, 2.0, 3.0, 1.0],
    ]
)
TARGET = torch.tensor([0, 3, 4, 2])
# asymmetric on purpose: S[y, pred] and S[pred, y] differ for every mistake above
SIM = np.eye(5)
SIM[0, 1], SIM[1, 0] = 0.5, 0.3
SIM[4, 2], SIM[2, 4] = 0.25, 0.7
SIM[2, 0], SIM[0, 2] = 0.1, 0.9
SIMILARITY = Similarity.from_matrix(CLASSES, SIM)
GROUPS = [0, 0, 1, 1, 1]


def test_tree_heights_are_longest_way_down():
    heights = dict(zip(TREE.nodes, TREE.heights.tolist(), strict=True))
    assert heights == {c: 0 for c in CLASSES} | {
        "root": 3,
        "animal": 1,
        "vehicle": 2,
        "heavy": 1,
    }


def test_single_label_functions_by_hand():
    # mistakes: cat->dog (animal, 1), truck->car (vehicle, 2), car->cat (root, 3)
    assert mistake_severity(SCORES, TARGET, TREE) == 2.0
    # top-2 heights per row: {0, 1}, {0, 1}, {2, 0}, {3, 3}
    assert hierarchical_distance_at_k(SCORES, TARGET, TREE, k=2) == 1.25
    assert hierarchical_distance_at_k(SCORES, TARGET, TREE, k=1) == 1.5
    # all classes: 10 + 9 + 9 + 10 over 4 rows x 5 classes
    assert hierarchical_distance_at_k(SCORES, TARGET, TREE, k=5) == pytest.approx(1.9)
    assert similarity_accuracy(SCORES, TARGET, SIMILARITY) == pytest.approx(0.4625)
    assert similarity_accuracy(SCORES, TARGET, torch.tensor(SIM)) == pytest.approx(0.4625)
    assert superclass_accuracy(SCORES, TARGET, GROUPS) == 0.75
    assert superclass_accuracy(SCORES, TARGET, torch.tensor([0, 0, 1, 2, 2])) == 0.5
    assert superclass_accuracy(SCORES, TARGET, np.array([0, 0, 1, 2, 2])) == 0.5


def test_flat_hierarchy_makes_every_mistake_height_one():
    flat = Hierarchy.flat(CLASSES)
    assert mistake_severity(SCORES, TARGET, flat) == 1.0
    assert hierarchical_distance_at_k(SCORES, TARGET, flat, k=2) == 0.625  # (1+1+1+2)/8


def test_no_mistakes_and_no_rows_give_zero_not_nan():
    right = torch.nn.functional.one_hot(TARGET, 5).float()
    assert mistake_severity(right, TARGET, TREE) == 0.0
    assert hierarchical_distance_at_k(right, TARGET, TREE, k=1) == 0.0
    empty, none = torch.zeros(0, 5), torch.zeros(0, dtype=torch.long)
    assert mistake_severity(empty, none, TREE) == 0.0
    assert hierarchical_distance_at_k(empty, none, TREE, k=3) == 0.0
    assert similarity_accuracy(empty, none, SIMILARITY) == 0.0
    assert superclass_accuracy(empty, none, GROUPS) == 0.0
    metrics = SingleLabelMetrics(num_classes=5, hierarchy=TREE, similarity=SIM, groups=GROUPS)
    assert set(metrics.compute().values()) == {0.0}
    assert set(MultiLabelMetrics(num_classes=5).compute().values()) == {0.0}


def test_single_label_metrics_by_hand():
    metrics = SingleLabelMetrics(
        num_classes=5, k=2, hierarchy=TREE, similarity=SIMILARITY, groups=GROUPS
    )
    metrics.update(SCORES[:3], TARGET[:3])
    metrics.update(SCORES[3:], TARGET[3:])
    assert metrics.compute() == pytest.approx(
        {
            "top1": 0.25,
            "top2": 0.75,
            "mistake_severity": 2.0,
            "hier_distance@2": 1.25,
            "similarity_accuracy": 0.4625,
            "superclass_accuracy": 0.75,
        }
    )
    metrics.reset()
    metrics.update(SCORES[:1], TARGET[:1])
    assert metrics.compute()["mistake_severity"] == 1.0


def test_keys_follow_the_structures_and_the_clamped_k():
    plain = SingleLabelMetrics(num_classes=5)
    plain.update(SCORES, TARGET)
    assert plain.compute() == {"top1": 0.25, "top5": 1.0}
    clamped = SingleLabelMetrics(num_classes=5, k=10, hierarchy=TREE)
    clamped.update(SCORES, TARGET)
    result = clamped.compute()
    assert sorted(result) == ["hier_distance@5", "mistake_severity", "top1", "top5"]
    assert result["hier_distance@5"] == pytest.approx(1.9)
    multi = MultiLabelMetrics(num_classes=3, k=7)
    assert sorted(multi.compute()) == ["mAP", "precision@3", "recall@3"]


def test_lca_heights_are_built_once_per_metric_object(monkeypatch):
    calls = []
    original = Hierarchy.lca_height_matrix

    def counting(self):
        calls.append(1)
        return original(self)

    monkeypatch.setattr(Hierarchy, "lca_height_matrix", counting)
    metrics = SingleLabelMetrics(num_classes=5, hierarchy=TREE)
    for _ in range(3):
        metrics.update(SCORES, TARGET)
    metrics.compute()
    assert len(calls) == 1


# -- brute force on random data --------------------------------------------------------------


def random_tree(rng: np.random.Generator, num_classes: int, inner: int) -> Hierarchy:
    """A random tree: inner node i hangs under an earlier one and owns leaf i at least."""
    parents = {f"n{i}": f"n{rng.integers(i)}" for i in range(1, inner)}
    classes = [f"c{j}" for j in range(num_classes)]
    for j, name in enumerate(classes):
        parents[name] = f"n{j if j < inner else rng.integers(inner)}"
    return Hierarchy.from_parents(classes, parents)


def brute_force(scores, target, tree, sim, groups, k):
    """Every single-label metric with Python loops and name-based tree queries."""
    names = tree.classes
    top1 = topk = severity = mistakes = distance = similar = same = 0.0
    for row, y in zip(scores.tolist(), target.tolist(), strict=True):
        ranked = sorted(range(len(row)), key=lambda c: -row[c])
        pred = ranked[0]
        top1 += pred == y
        topk += y in ranked[:k]
        if pred != y:
            mistakes += 1
            severity += tree.lca_height(names[y], names[pred])
        distance += sum(tree.lca_height(names[y], names[c]) for c in ranked[:k]) / k
        similar += sim[y][pred]
        same += groups[y] == groups[pred]
    n = len(target)
    return {
        "top1": top1 / n,
        f"top{k}": topk / n,
        "mistake_severity": severity / mistakes if mistakes else 0.0,
        f"hier_distance@{k}": distance / n,
        "similarity_accuracy": similar / n,
        "superclass_accuracy": same / n,
    }


def random_case(seed: int, dtype=torch.float32):
    rng = np.random.default_rng(seed)
    num_classes = int(rng.integers(2, 12))
    tree = random_tree(rng, num_classes, int(rng.integers(1, num_classes + 1)))
    sim = rng.uniform(size=(num_classes, num_classes))
    np.fill_diagonal(sim, 1.0)
    groups = rng.integers(0, 3, size=num_classes)
    n = int(rng.integers(1, 40))
    scores = torch.tensor(rng.normal(size=(n, num_classes)), dtype=dtype)
    target = torch.tensor(rng.integers(0, num_classes, size=n))
    return scores, target, tree, sim, groups


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(12))
def test_functions_match_brute_force(seed, dtype):
    scores, target, tree, sim, groups = random_case(seed, dtype)
    k = int(np.random.default_rng(seed).integers(1, scores.shape[1] + 1))
    expected = brute_force(scores, target, tree, sim, groups, k)
    got = {
        "top1": top_k_accuracy(scores, target, 1),
        f"top{k}": top_k_accuracy(scores, target, k),
        "mistake_severity": mistake_severity(scores, target, tree),
        f"hier_distance@{k}": hierarchical_distance_at_k(scores, target, tree, k),
        "similarity_accuracy": similarity_accuracy(scores, target, sim),
        "superclass_accuracy": superclass_accuracy(scores, target, groups),
    }
    # top_k_accuracy averages in float32
    assert got == pytest.approx(expected, rel=1e-6, abs=1e-12)
    assert not any(math.isnan(v) for v in got.values())


def one_shot(scores, target, tree, sim, groups, k):
    # the top-k accuracies in float64, as the accumulators keep them
    hits = scores.topk(k, dim=1).indices == target[:, None]
    return {
        "top1": (scores.argmax(1) == target).double().mean().item(),
        f"top{k}": hits.any(1).double().mean().item(),
        "mistake_severity": mistake_severity(scores, target, tree),
        f"hier_distance@{k}": hierarchical_distance_at_k(scores, target, tree, k),
        "similarity_accuracy": similarity_accuracy(scores, target, sim),
        "superclass_accuracy": superclass_accuracy(scores, target, groups),
    }


def splits(n: int, seed: int) -> list[int]:
    """Uneven batch sizes (some empty) that add up to n."""
    cuts = np.sort(np.random.default_rng(seed).integers(0, n + 1, size=3))
    return np.diff([0, *cuts, n]).tolist()


@pytest.mark.parametrize("seed", range(8))
def test_accumulation_and_merging_equal_one_shot(seed):
    scores, target, tree, sim, groups = random_case(seed)
    k = 3
    options = {"num_classes": scores.shape[1], "k": k, "hierarchy": tree}
    options |= {"similarity": sim, "groups": groups}
    clamped = min(k, scores.shape[1])
    expected = one_shot(scores, target, tree, sim, groups, clamped)

    batched = SingleLabelMetrics(**options)
    sizes = splits(len(target), seed)
    for s, t in zip(scores.split(sizes), target.split(sizes), strict=True):
        batched.update(s, t)
    assert batched.compute() == pytest.approx(expected, rel=1e-12, abs=1e-12)

    half = len(target) // 2
    first, second = SingleLabelMetrics(**options), SingleLabelMetrics(**options)
    first.update(scores[:half], target[:half])
    second.update(scores[half:], target[half:])
    # the all-reduce recipe: sum the states, then reset and merge the sums
    summed = {key: value + second.state()[key] for key, value in first.state().items()}
    first.merge(second.state())
    assert first.compute() == pytest.approx(expected, rel=1e-12, abs=1e-12)
    first.reset()
    first.merge(summed)
    assert first.compute() == pytest.approx(expected, rel=1e-12, abs=1e-12)


def test_state_is_a_copy_and_reset_forgets():
    metrics = SingleLabelMetrics(num_classes=5, hierarchy=TREE)
    metrics.update(SCORES, TARGET)
    state = metrics.state()
    assert {key: float(value) for key, value in state.items()} == {
        "count": 4.0,
        "top1": 1.0,
        "topk": 4.0,
        "severity": 6.0,
        "hier_distance": 38.0,
    }
    assert all(v.dtype == torch.float64 and v.ndim == 0 for v in state.values())
    state["count"] += 100
    assert metrics.compute()["top1"] == 0.25
    metrics.reset()
    assert metrics.compute() == {
        "top1": 0.0,
        "top5": 0.0,
        "mistake_severity": 0.0,
        "hier_distance@5": 0.0,
    }


@pytest.mark.parametrize("seed", range(6))
def test_multi_label_accumulation_and_merging_equal_one_shot(seed):
    rng = np.random.default_rng(seed)
    n, num_classes = int(rng.integers(1, 40)), int(rng.integers(2, 9))
    scores = torch.tensor(rng.normal(size=(n, num_classes)))
    target = torch.tensor(rng.uniform(size=(n, num_classes)) < 0.3).float()
    k = min(3, num_classes)
    expected = {
        f"precision@{k}": precision_at_k(scores, target, k),
        f"recall@{k}": recall_at_k(scores, target, k),
        "mAP": mean_average_precision(scores, target),
    }
    batched = MultiLabelMetrics(num_classes=num_classes, k=3)
    sizes = splits(n, seed)
    for s, t in zip(scores.split(sizes), target.split(sizes), strict=True):
        batched.update(s, t)
    assert batched.compute() == expected
    assert batched.compute() == expected  # state() concatenates once and stays valid

    half = n // 2
    first, second = (
        MultiLabelMetrics(num_classes=num_classes, k=3),
        MultiLabelMetrics(num_classes=num_classes, k=3),
    )
    first.update(scores[:half], target[:half])
    second.update(scores[half:], target[half:])
    first.merge(second.state())
    assert first.compute() == expected
    state = first.state()
    assert state["scores"].shape == (n, num_classes) and state["targets"].dtype == torch.bool
    first.reset()
    assert first.state()["scores"].shape == (0, num_classes)


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mistake_severity(SCORES[0], TARGET, TREE), r"scores \(batch, classes\)"),
        (lambda: mistake_severity(SCORES, TARGET[:3], TREE), r"got \(4, 5\) and \(3,\)"),
        (lambda: mistake_severity(SCORES, TARGET.float(), TREE), "integer class indices"),
        (lambda: mistake_severity(SCORES, TARGET - 1, TREE), r"from -1 to 3, outside 0..4"),
        (lambda: mistake_severity(SCORES, TARGET + 1, TREE), r"from 1 to 5, outside 0..4"),
        (lambda: mistake_severity(SCORES[:, :3], TARGET % 3, TREE), "5 classes, not 3"),
        (lambda: mistake_severity(SCORES, TARGET, SIMILARITY), "must be a Hierarchy"),
        (lambda: hierarchical_distance_at_k(SCORES, TARGET, TREE, k=0), r"k must be in 1..5"),
        (lambda: hierarchical_distance_at_k(SCORES, TARGET, TREE, k=6), r"got 6"),
        (lambda: similarity_accuracy(SCORES, TARGET, np.eye(4)), r"5 x 5, got"),
        (lambda: superclass_accuracy(SCORES, TARGET, [0, 1]), r"5 integers"),
        (lambda: superclass_accuracy(SCORES, TARGET, [0.0] * 5), r"5 integers"),
        (lambda: SingleLabelMetrics(num_classes=0), "at least 1"),
        (lambda: SingleLabelMetrics(num_classes=5, k=0), "at least 1"),
        (lambda: SingleLabelMetrics(num_classes=4, hierarchy=TREE), "5 classes, not 4"),
        (lambda: SingleLabelMetrics(num_classes=4).update(SCORES, TARGET), "4 score columns"),
        (lambda: SingleLabelMetrics(num_classes=5).update(SCORES, TARGET[None]), "target"),
        (
            lambda: SingleLabelMetrics(num_classes=5).merge(
                SingleLabelMetrics(num_classes=5, groups=GROUPS).state()
            ),
            "same structures",
        ),
        (lambda: MultiLabelMetrics(num_classes=5, k=-1), "at least 1"),
        (lambda: MultiLabelMetrics(num_classes=5).update(SCORES, TARGET), "one shape"),
        (lambda: MultiLabelMetrics(num_classes=4).update(SCORES, SCORES > 3), "4 score"),
        (lambda: MultiLabelMetrics(num_classes=5).merge({"scores": SCORES}), "keys scores"),
    ],
)
def test_errors(call, match):
    with pytest.raises(InputError, match=match):
        call()


def test_integer_target_dtypes_and_detached_scores():
    scores = SCORES.clone().requires_grad_()
    for dtype in (torch.int32, torch.int64, torch.uint8):
        assert mistake_severity(scores, TARGET.to(dtype), TREE) == 2.0
    metrics = SingleLabelMetrics(num_classes=5, hierarchy=TREE)
    metrics.update(scores, TARGET.to(torch.int32))
    assert metrics.compute()["mistake_severity"] == 2.0
