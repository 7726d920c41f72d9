"""Metrics: hand-computed cases, brute force per distance, torchmetrics classes, DDP, CRM."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from structloss import Hierarchy, Similarity
from structloss.errors import ConfigError, InputError
from structloss.metrics import (
    CRMDecoding,
    HierarchicalDistanceAtK,
    MeanAveragePrecision,
    MistakeSeverity,
    MultiLabelMetrics,
    PrecisionAtK,
    RecallAtK,
    SimilarityAccuracy,
    SingleLabelMetrics,
    SuperclassAccuracy,
    TopKAccuracy,
    average_precision,
    conditional_risk,
    crm_decode,
    hierarchical_distance_at_k,
    mean_average_precision,
    mistake_severity,
    precision_at_k,
    recall_at_k,
    similarity_accuracy,
    superclass_accuracy,
    top_k_accuracy,
)
from structloss.structures import DISTANCES

ROOT = Path(__file__).resolve().parents[1]
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


def floats(results: dict) -> dict[str, float]:
    return {key: float(value) for key, value in results.items()}


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
    assert top_k_accuracy(SCORES, TARGET, 1) == 0.25
    assert top_k_accuracy(SCORES, TARGET, 2) == 0.75


def test_the_distances_by_hand():
    # the tree's height is 3; depths: cat, dog, car 2; bus, truck 3; animal, vehicle 1
    # cat->dog: lca animal; truck->car: lca vehicle; car->cat: lca root
    assert mistake_severity(SCORES, TARGET, TREE, distance="lca-height") == 2.0  # 1, 2, 3
    assert mistake_severity(SCORES, TARGET, TREE, distance="bertinetto") == 7 / 3  # 2, 2, 3
    assert mistake_severity(SCORES, TARGET, TREE, distance="edges") == 3.0  # 2, 3, 4
    # top-2 (truth): {dog, cat} (cat), {bus, truck} (bus), {car, truck} (truck), {cat, dog} (car)
    # bertinetto: 2 + 1 + 2 + (3 + 3); edges: 2 + 2 + 3 + (4 + 4); over 4 rows x 2
    assert hierarchical_distance_at_k(SCORES, TARGET, TREE, 2, distance="bertinetto") == 11 / 8
    assert hierarchical_distance_at_k(SCORES, TARGET, TREE, 2, distance="edges") == 15 / 8
    with pytest.raises(ConfigError, match="unknown distance 'height'"):
        mistake_severity(SCORES, TARGET, TREE, distance="height")


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
    assert mistake_severity(none, none, TREE) == 0.0
    assert hierarchical_distance_at_k(empty, none, TREE, k=3) == 0.0
    assert similarity_accuracy(empty, none, SIMILARITY) == 0.0
    assert superclass_accuracy(empty, none, GROUPS) == 0.0
    assert mean_average_precision(empty, empty) == 0.0
    metrics = SingleLabelMetrics(
        num_classes=5, hierarchy=TREE, similarity=SIM, groups=GROUPS, crm=True
    )
    metrics.update(empty, none)
    assert set(floats(metrics.compute()).values()) == {0.0}
    multi = MultiLabelMetrics(num_classes=5)
    multi.update(empty, empty)
    assert set(floats(multi.compute()).values()) == {0.0}


def test_single_label_metrics_by_hand():
    metrics = SingleLabelMetrics(
        num_classes=5, k=2, hierarchy=TREE, similarity=SIMILARITY, groups=GROUPS
    )
    metrics.update(SCORES[:3], TARGET[:3])
    metrics.update(SCORES[3:], TARGET[3:])
    result = metrics.compute()
    assert list(result) == [
        "top1",
        "top2",
        "mistake_severity",
        "hier_distance@2",
        "similarity_accuracy",
        "superclass_accuracy",
    ]
    assert all(v.dtype == torch.float64 and v.ndim == 0 for v in result.values())
    assert floats(result) == pytest.approx(
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
    assert float(metrics.compute()["mistake_severity"]) == 1.0


def test_keys_follow_the_structures_the_clamped_k_and_crm():
    plain = SingleLabelMetrics(num_classes=5)
    plain.update(SCORES, TARGET)
    assert floats(plain.compute()) == {"top1": 0.25, "top5": 1.0}
    clamped = SingleLabelMetrics(num_classes=5, k=10, hierarchy=TREE)
    clamped.update(SCORES, TARGET)
    result = floats(clamped.compute())
    assert list(result) == ["top1", "top5", "mistake_severity", "hier_distance@5"]
    assert result["hier_distance@5"] == pytest.approx(1.9)
    crm = SingleLabelMetrics(num_classes=5, hierarchy=TREE, crm=True)
    assert list(crm.order)[-2:] == ["crm_top1", "crm_mistake_severity"]
    assert "crm_top1" not in SingleLabelMetrics(num_classes=5, crm=True).order  # no tree
    multi = MultiLabelMetrics(num_classes=3, k=7)
    assert list(multi.order) == ["precision@3", "recall@3", "mAP"]


def test_metrics_whose_states_agree_on_a_first_batch_stay_apart():
    # top-1 and top-2 both hit 1 of 2 rows here, then part: a compute group would merge them
    metrics = SingleLabelMetrics(num_classes=5, k=2)
    metrics.update(SCORES[[1, 3]], TARGET[[1, 3]])
    metrics.update(SCORES[[0]], TARGET[[0]])
    assert floats(metrics.compute()) == {"top1": 1 / 3, "top2": 2 / 3}


def test_tree_metrics_build_no_dense_table(monkeypatch):
    def refuse(self, *args, **kwargs):
        raise AssertionError("a dense classes x classes table was built")

    for name in ("target_distances", "class_distances", "lca_matrix", "path_matrix"):
        monkeypatch.setattr(Hierarchy, name, refuse)
    metrics = SingleLabelMetrics(num_classes=TREE.num_classes, k=2, hierarchy=TREE, crm=True)
    for _ in range(3):
        metrics.update(SCORES, TARGET)
    values = metrics.compute()
    assert values["mistake_severity"] > 0 and "crm_mistake_severity" in values
    assert metrics.state_dict() == {}  # the tree's tables are buffers, not saved with a model


# -- brute force on random data --------------------------------------------------------------


def tree_distance(tree: Hierarchy, a: str, b: str, distance: str) -> int:
    """A distance from name-based tree queries, not from the class-distance matrix."""
    if distance == "lca-height":
        return tree.lca_height(a, b)
    if distance == "edges":
        return tree.distance(a, b)
    if a == b:
        return 0
    return int(tree.depths.max()) - int(tree.depths[tree.index(tree.lca(a, b))])


def ranking(row: list[float]) -> list[int]:
    """Classes best first; ties go to the lower class index."""
    return sorted(range(len(row)), key=lambda c: (-row[c], c))


def brute_force(scores, target, tree, sim, groups, k, distance):
    """Every single-label metric with Python loops."""
    names = tree.classes
    top1 = topk = severity = mistakes = hdist = similar = same = 0.0
    for row, y in zip(scores.tolist(), target.tolist(), strict=True):
        ranked = ranking(row)
        pred = ranked[0]
        top1 += pred == y
        topk += y in ranked[:k]
        if pred != y:
            mistakes += 1
            severity += tree_distance(tree, names[y], names[pred], distance)
        hdist += sum(tree_distance(tree, names[y], names[c], distance) for c in ranked[:k]) / k
        similar += sim[y][pred]
        same += groups[y] == groups[pred]
    n = len(target)
    return {
        "top1": top1 / n,
        f"top{k}": topk / n,
        "mistake_severity": severity / mistakes if mistakes else 0.0,
        f"hier_distance@{k}": hdist / n,
        "similarity_accuracy": similar / n,
        "superclass_accuracy": same / n,
    }


def random_tree(rng: np.random.Generator, num_classes: int, inner: int) -> Hierarchy:
    """A random tree: inner node i hangs under an earlier one and owns leaf i at least."""
    parents = {f"n{i}": f"n{rng.integers(i)}" for i in range(1, inner)}
    classes = [f"c{j}" for j in range(num_classes)]
    for j, name in enumerate(classes):
        parents[name] = f"n{j if j < inner else rng.integers(inner)}"
    return Hierarchy.from_parents(classes, parents)


def random_case(seed: int, dtype=torch.float32):
    """Odd seeds quantise the scores, so rows hold ties."""
    rng = np.random.default_rng(seed)
    num_classes = int(rng.integers(2, 12))
    tree = random_tree(rng, num_classes, int(rng.integers(1, num_classes + 1)))
    sim = rng.uniform(size=(num_classes, num_classes))
    np.fill_diagonal(sim, 1.0)
    groups = rng.integers(0, 3, size=num_classes)
    n = int(rng.integers(1, 40))
    values = rng.normal(size=(n, num_classes))
    if seed % 2:
        values = np.round(values)
    scores = torch.tensor(values, dtype=dtype)
    target = torch.tensor(rng.integers(0, num_classes, size=n))
    return scores, target, tree, sim, groups


def functions(scores, target, tree, sim, groups, k, distance):
    return {
        "top1": top_k_accuracy(scores, target, 1),
        f"top{k}": top_k_accuracy(scores, target, k),
        "mistake_severity": mistake_severity(scores, target, tree, distance=distance),
        f"hier_distance@{k}": hierarchical_distance_at_k(
            scores, target, tree, k, distance=distance
        ),
        "similarity_accuracy": similarity_accuracy(scores, target, sim),
        "superclass_accuracy": superclass_accuracy(scores, target, groups),
    }


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", range(10))
def test_functions_match_brute_force(seed, dtype, distance):
    scores, target, tree, sim, groups = random_case(seed, dtype)
    k = int(np.random.default_rng(seed).integers(1, scores.shape[1] + 1))
    expected = brute_force(scores, target, tree, sim, groups, k, distance)
    got = functions(scores, target, tree, sim, groups, k, distance)
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)
    assert not any(math.isnan(v) for v in got.values())


@pytest.mark.parametrize("seed", range(6))
def test_predicted_indices_score_as_their_scores(seed):
    scores, target, tree, sim, groups = random_case(seed)
    pred = scores.argmax(dim=1)
    for distance in DISTANCES:
        by_scores = mistake_severity(scores, target, tree, distance=distance)
        assert mistake_severity(pred, target, tree, distance=distance) == by_scores
    assert similarity_accuracy(pred, target, sim) == similarity_accuracy(scores, target, sim)
    assert superclass_accuracy(pred.int(), target, groups) == superclass_accuracy(
        scores, target, groups
    )
    severity = MistakeSeverity(tree)
    severity.update(pred, target)
    assert float(severity.compute()) == mistake_severity(scores, target, tree)


def splits(n: int, seed: int) -> list[int]:
    """Uneven batch sizes (some empty) that add up to n."""
    cuts = np.sort(np.random.default_rng(seed).integers(0, n + 1, size=3))
    return np.diff([0, *cuts, n]).tolist()


def accumulated(metric, scores, target, seed):
    sizes = splits(len(target), seed)
    for s, t in zip(scores.split(sizes), target.split(sizes), strict=True):
        metric.update(s, t)
    return float(metric.compute())


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("seed", range(8))
def test_metric_classes_over_batches_equal_the_functions(seed, distance):
    scores, target, tree, sim, groups = random_case(seed)
    k = min(3, scores.shape[1])
    expected = functions(scores, target, tree, sim, groups, k, distance)
    classes = {
        "top1": TopKAccuracy(1),
        f"top{k}": TopKAccuracy(k),
        "mistake_severity": MistakeSeverity(tree, distance=distance),
        f"hier_distance@{k}": HierarchicalDistanceAtK(tree, k, distance=distance),
        "similarity_accuracy": SimilarityAccuracy(sim),
        "superclass_accuracy": SuperclassAccuracy(groups),
    }
    got = {key: accumulated(metric, scores, target, seed) for key, metric in classes.items()}
    assert got == pytest.approx(expected, rel=1e-12, abs=1e-12)

    collection = SingleLabelMetrics(
        num_classes=scores.shape[1], k=3, hierarchy=tree, similarity=sim, groups=groups,
        distance=distance,
    )  # fmt: skip
    for s, t in zip(scores.split(7), target.split(7), strict=True):
        collection.update(s, t)
    assert floats(collection.compute()) == pytest.approx(expected, rel=1e-12, abs=1e-12)


def multilabel_case(seed: int):
    """Scores quantised to a few values (many ties), some classes without positives."""
    rng = np.random.default_rng(seed)
    n, num_classes = int(rng.integers(2, 60)), int(rng.integers(2, 9))
    scores = np.round(rng.uniform(size=(n, num_classes)) * int(rng.integers(1, 5)))
    target = rng.uniform(size=(n, num_classes)) < rng.uniform(0.05, 0.6)
    return torch.tensor(scores), torch.tensor(target).float()


@pytest.mark.parametrize("seed", range(6))
def test_multi_label_classes_over_batches_equal_the_functions(seed):
    scores, target = multilabel_case(seed)
    k = min(3, scores.shape[1])
    expected = {
        f"precision@{k}": precision_at_k(scores, target, k),
        f"recall@{k}": recall_at_k(scores, target, k),
        "mAP": mean_average_precision(scores, target),
    }
    for key, metric in [
        (f"precision@{k}", PrecisionAtK(k)),
        (f"recall@{k}", RecallAtK(k)),
        ("mAP", MeanAveragePrecision()),
    ]:
        assert accumulated(metric, scores, target, seed) == pytest.approx(expected[key], 1e-12)
    collection = MultiLabelMetrics(num_classes=scores.shape[1], k=3)
    for s, t in zip(scores.split(5), target.split(5), strict=True):
        collection.update(s, t)
    assert floats(collection.compute()) == pytest.approx(expected, rel=1e-12)


def test_precision_and_recall_match_loops():
    scores, target = multilabel_case(3)
    k = 2
    precision, recall = [], []
    for row, labels in zip(scores.tolist(), target.tolist(), strict=True):
        found = sum(labels[c] for c in ranking(row)[:k])
        precision.append(found / k)
        if sum(labels):
            recall.append(found / sum(labels))
    assert precision_at_k(scores, target, k) == pytest.approx(np.mean(precision), rel=1e-12)
    assert recall_at_k(scores, target, k) == pytest.approx(np.mean(recall), rel=1e-12)


# -- mAP as scikit-learn computes it ---------------------------------------------------------


@pytest.mark.parametrize("seed", range(10))
def test_average_precision_matches_scikit_learn_on_tied_scores(seed):
    from sklearn.metrics import average_precision_score

    scores, target = multilabel_case(seed)
    per_class = average_precision(scores, target)
    expected = []
    for c in range(scores.shape[1]):
        if target[:, c].any():
            ap = average_precision_score(target[:, c].numpy(), scores[:, c].numpy())
            assert float(per_class[c]) == pytest.approx(ap, rel=1e-12)
            expected.append(ap)
        else:
            assert math.isnan(per_class[c])
    mean = mean_average_precision(scores, target)
    assert mean == (pytest.approx(np.mean(expected), rel=1e-12) if expected else 0.0)
    # tied scores are one step, so the order of the rows does not matter
    order = torch.randperm(len(scores), generator=torch.Generator().manual_seed(seed))
    assert mean_average_precision(scores[order], target[order]) == pytest.approx(mean, rel=1e-12)
    assert mean_average_precision(scores.flip(0), target.flip(0)) == pytest.approx(mean, rel=1e-12)


def test_average_precision_by_hand():
    scores = torch.tensor([[0.9, 0.1], [0.8, 0.7], [0.1, 0.9]])
    target = torch.tensor([[1, 0], [0, 1], [1, 0]])
    # class 0: positives at ranks 1 and 3: (1/1 + 2/3) / 2; class 1: its positive at rank 2
    assert average_precision(scores, target).tolist() == pytest.approx([5 / 6, 1 / 2])
    # all scores tied: one step at the prevalence, whatever the order
    tied = torch.zeros(4, 1)
    for hot in ([[1], [0], [0], [1]], [[0], [0], [1], [1]]):
        assert mean_average_precision(tied, torch.tensor(hot)) == 0.5


# -- conditional risk minimisation -----------------------------------------------------------


def crm_brute_force(probs: torch.Tensor, tree: Hierarchy, distance: str) -> list[int]:
    names = tree.classes
    out = []
    for row in probs.tolist():
        risks = [
            sum(p * tree_distance(tree, names[c], names[j], distance) for j, p in enumerate(row))
            for c in range(len(names))
        ]
        out.append(min(range(len(names)), key=lambda c: (risks[c], c)))
    return out


@pytest.mark.parametrize("distance", DISTANCES)
@pytest.mark.parametrize("seed", range(8))
def test_crm_matches_an_argmin_loop(seed, distance):
    scores, _, tree, _, _ = random_case(2 * seed)  # untied scores
    probs = scores.double().softmax(dim=1)
    assert crm_decode(probs, tree, distance=distance).tolist() == crm_brute_force(
        probs, tree, distance
    )
    assert torch.equal(
        crm_decode(scores, tree, distance=distance, from_logits=True),
        crm_decode(probs, tree, distance=distance),
    )
    risk = conditional_risk(probs, tree, distance=distance)
    costs = torch.tensor(tree.class_distances(distance), dtype=torch.float64)
    torch.testing.assert_close(risk, probs @ costs.T)


@pytest.mark.parametrize("seed", range(6))
def test_crm_with_a_zero_one_cost_is_the_argmax(seed):
    scores, _, tree, _, _ = random_case(2 * seed)
    probs = scores.softmax(dim=1)
    flat = Hierarchy.flat(tree.classes)
    for distance in DISTANCES:  # every distance on a flat tree is a 0/1 cost (edges: 0/2)
        assert torch.equal(crm_decode(probs, flat, distance=distance), probs.argmax(1))
    zero_one = 1 - np.eye(len(tree.classes))
    assert torch.equal(crm_decode(probs, zero_one), probs.argmax(1))


def test_crm_can_change_the_decision():
    # dog is likeliest, but the mass on the vehicles makes the vehicle the safer guess
    probs = torch.tensor([[0.0, 0.3, 0.25, 0.25, 0.2]])
    assert crm_decode(probs, TREE).tolist() == crm_brute_force(probs, TREE, "lca-height") != [1]


@pytest.mark.parametrize("seed", range(4))
def test_crm_decoding_feeds_the_wrapped_metric(seed):
    scores, target, tree, _, _ = random_case(2 * seed)
    pred = crm_decode(scores, tree, distance="edges", from_logits=True)
    wrapped = CRMDecoding(MistakeSeverity(tree), tree, distance="edges")
    top1 = CRMDecoding(TopKAccuracy(1), tree, distance="edges")
    for s, t in zip(scores.split(5), target.split(5), strict=True):
        wrapped.update(s, t)
        top1(s, t)  # forward updates too
    assert float(wrapped.compute()) == mistake_severity(pred, target, tree)
    assert float(top1.compute()) == pytest.approx(float((pred == target).double().mean()))
    collection = SingleLabelMetrics(num_classes=scores.shape[1], hierarchy=tree, crm=True)
    collection.update(scores, target)
    result = floats(collection.compute())
    default = crm_decode(scores, tree, from_logits=True)
    assert result["crm_mistake_severity"] == mistake_severity(default, target, tree)
    wrapped.reset()
    wrapped.update(scores[:1], target[:1])
    assert float(wrapped.compute()) == mistake_severity(pred[:1], target[:1], tree)


# -- DDP ------------------------------------------------------------------------------------


def ddp_data():
    scores, target, tree, sim, groups = random_case(5)  # quantised: ties in mAP too
    multi_scores, multi_target = multilabel_case(5)
    return scores, target, tree, sim, groups, multi_scores, multi_target


def ddp_metrics(scores, tree, sim, groups, multi_scores):
    single = SingleLabelMetrics(
        num_classes=scores.shape[1], k=3, hierarchy=tree, similarity=sim, groups=groups,
        distance="bertinetto", crm=True,
    )  # fmt: skip
    return single, MultiLabelMetrics(num_classes=multi_scores.shape[1], k=2)


def ddp_results(rows: slice, multi_rows: slice) -> dict[str, float]:
    """The metrics over the given rows (two batches each)."""
    scores, target, tree, sim, groups, multi_scores, multi_target = ddp_data()
    single, multi = ddp_metrics(scores, tree, sim, groups, multi_scores)
    for s, t in zip(scores[rows].tensor_split(2), target[rows].tensor_split(2), strict=True):
        single.update(s, t)
    for s, t in zip(
        multi_scores[multi_rows].tensor_split(2), multi_target[multi_rows].tensor_split(2),
        strict=True,
    ):  # fmt: skip
        multi.update(s, t)
    return floats(single.compute()) | floats(multi.compute())


def ddp_worker(rank: int, init: str, out: str) -> None:
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=f"file://{init}", rank=rank, world_size=2)
    try:
        # uneven halves: rank 0 has 5 rows, rank 1 the rest; its multi-label rows include
        # every row but 3
        results = ddp_results(slice(0, 5) if rank == 0 else slice(5, None),
                              slice(0, 3) if rank == 0 else slice(3, None))  # fmt: skip
        torch.save(results, Path(out) / f"{rank}.pt")
    finally:
        dist.destroy_process_group()


@pytest.mark.integration
def test_metrics_synchronise_across_two_processes(tmp_path, monkeypatch):
    import torch.multiprocessing as mp

    monkeypatch.syspath_prepend(str(ROOT))  # the spawned processes import tests.test_metrics
    mp.spawn(ddp_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    whole = ddp_results(slice(None), slice(None))
    assert set(whole) >= {"crm_top1", "hier_distance@3", "mAP", "precision@2"}
    for rank in (0, 1):
        got = torch.load(tmp_path / f"{rank}.pt", weights_only=True)
        assert list(got) == list(whole)
        assert got == pytest.approx(whole, rel=1e-12, abs=1e-12)
    assert ddp_results(slice(0, 5), slice(0, 3)) != pytest.approx(whole)  # a half differs


# -- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda: mistake_severity(SCORES[0], TARGET, TREE), r"scores \(batch, classes\)"),
        (lambda: mistake_severity(SCORES, TARGET[:3], TREE), r"got \(4, 5\) and \(3,\)"),
        (lambda: mistake_severity(SCORES, TARGET.float(), TREE), "integer class indices"),
        (lambda: mistake_severity(SCORES, TARGET - 1, TREE), r"from -1 to 3, outside 0..4"),
        (lambda: mistake_severity(SCORES, TARGET + 1, TREE), r"target 5 names the root 'root'"),
        (lambda: mistake_severity(SCORES, TARGET + 9, TREE), r"from 9 to 13, outside 0..4"),
        (lambda: mistake_severity(TARGET + 1, TARGET, TREE), r"predictions holds .* 1 to 5"),
        (lambda: mistake_severity(SCORES[:, :3], TARGET % 3, TREE), "expected 5 score columns"),
        (lambda: mistake_severity(SCORES, TARGET, SIMILARITY), "must be a Hierarchy"),
        (lambda: hierarchical_distance_at_k(TARGET, TARGET, TREE), r"needs scores \(batch, c"),
        (lambda: hierarchical_distance_at_k(SCORES, TARGET, TREE, k=0), r"k must be in 1..5"),
        (lambda: hierarchical_distance_at_k(SCORES, TARGET, TREE, k=6), r"got 6"),
        (lambda: top_k_accuracy(TARGET, TARGET), r"needs scores \(batch, classes\) and"),
        (lambda: similarity_accuracy(SCORES, TARGET, np.eye(4)), "expected 4 score columns"),
        (lambda: similarity_accuracy(SCORES, TARGET, np.ones((5, 4))), "square matrix"),
        (lambda: superclass_accuracy(SCORES, TARGET, [0, 1]), "expected 2 score columns"),
        (lambda: superclass_accuracy(SCORES, TARGET, [0.0] * 5), "one integer per class"),
        (
            lambda: crm_decode(SCORES[:, :4], TREE),
            r"needs probabilities \(batch, 5\), got \(4, 4\)",
        ),
        (lambda: SingleLabelMetrics(num_classes=0), "at least 1"),
        (lambda: SingleLabelMetrics(num_classes=5, k=0), "at least 1"),
        (lambda: SingleLabelMetrics(num_classes=4, hierarchy=TREE), "5 classes, not 4"),
        (lambda: SingleLabelMetrics(num_classes=4).update(SCORES, TARGET), "4 score columns"),
        (lambda: SingleLabelMetrics(num_classes=5).update(SCORES, TARGET[None]), "target"),
        (lambda: MultiLabelMetrics(num_classes=5, k=-1), "at least 1"),
        (lambda: MultiLabelMetrics(num_classes=5).update(SCORES, TARGET), "one shape"),
        (lambda: MultiLabelMetrics(num_classes=4).update(SCORES, SCORES > 3), "4 score"),
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
    assert float(metrics.compute()["mistake_severity"]) == 2.0


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 6),
    st.integers(1, 40),
    st.data(),
    st.sampled_from([torch.float32, torch.float16, torch.bfloat16, torch.float64]),
)
def test_top_k_ranks_like_a_stable_sort_with_ties_to_the_lower_index(batch, classes, data, dtype):
    from structloss.metrics.functions import _top_k

    k = data.draw(st.integers(1, classes))
    pool = [0.0, -0.0, 0.5, -0.5, 1.0, 3.0, -2.0, float("inf"), float("-inf"), 1e30, -1e-30]
    values = data.draw(
        st.lists(st.sampled_from(pool), min_size=batch * classes, max_size=batch * classes)
    )
    scores = torch.tensor(values).view(batch, classes).to(dtype)
    expected = scores.double().argsort(dim=1, descending=True, stable=True)[:, :k]
    assert torch.equal(_top_k(scores, k), expected)


@pytest.mark.parametrize("seed", range(12))
@pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
def test_tree_risk_equals_the_dense_cost_product(seed, distance):
    from structloss.metrics import conditional_risk

    rng = np.random.default_rng(seed)
    num_classes = int(rng.integers(2, 15))
    tree = random_tree(rng, num_classes, int(rng.integers(1, num_classes + 1)))
    probs = torch.softmax(torch.tensor(rng.normal(size=(7, num_classes)) * 3), 1)
    dense = probs @ torch.tensor(tree.class_distances(distance), dtype=torch.float64).T
    risk = conditional_risk(probs, tree, distance=distance)
    torch.testing.assert_close(risk, dense, rtol=1e-12, atol=1e-12)
    assert conditional_risk(probs[:0], tree, distance=distance).shape == (0, num_classes)


@pytest.mark.parametrize("seed", range(16))
@pytest.mark.parametrize("distance", ["lca-height", "bertinetto", "edges"])
def test_crm_decision_without_the_full_risk_is_its_exact_argmin(seed, distance):
    """Odd seeds quantise the scores, so risks tie across nodes: the lowest class must win."""
    from structloss.metrics import conditional_risk

    scores, _, tree, _, _ = random_case(seed)
    full = conditional_risk(scores, tree, distance=distance, from_logits=True).argmin(dim=1)
    assert torch.equal(crm_decode(scores, tree, distance=distance, from_logits=True), full)
