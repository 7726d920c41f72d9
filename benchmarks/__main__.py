"""Every benchmark in one process, one table of ratios: ``python -m benchmarks``.

Each case times a structloss loss (or metric pass) and its baseline side by side in
interleaved rounds and reports the fastest round of each (the least disturbed estimate on a
shared machine) and their ratio; memory cases report peak extra memory as a multiple of the
logits. ``--json FILE`` writes the rows, with the versions and thread count, so runs can be
compared; ``--quick`` runs every case at a small size (a smoke test, not a measurement).
The per-benchmark scripts beside this file print fuller tables of one loss each.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))  # the scripts import _timing

import torch
from _timing import against_cross_entropy, best, interleaved, three_level_tree

Row = dict[str, Any]


def _timed(name: str, case: str, steps: dict[str, Callable[[], None]], repeats: int) -> Row:
    """A row: the fastest round of baseline and measured, and their ratio."""
    times = best(interleaved(steps, repeats))
    (base_name, base), (what, measured) = times.items()
    return {
        "benchmark": name,
        "case": case,
        "baseline": base_name,
        "baseline_ms": base * 1e3,
        "measured": what,
        "measured_ms": measured * 1e3,
        "ratio": measured / base,
    }


def simloss_cases(quick: bool, repeats: int) -> list[Row]:
    from structloss_simloss import SimLoss, ordinal_similarity

    def against_ce(name: str, loss: Any, classes: int, rounds: int) -> Row:
        steps = against_cross_entropy(name, loss, 256, classes)
        return _timed(name, f"256 x {classes:,}", steps, rounds)

    rows = [
        against_ce(
            "simloss dense", SimLoss(ordinal_similarity([str(i) for i in range(n)])), n, repeats
        )
        for n in ([200] if quick else [1000, 10_000])
    ]
    n = 2_000 if quick else 50_000
    tree = three_level_tree(n).to_similarity("exponential", 0.5, form="tree")
    rows.append(against_ce("simloss tree form", SimLoss(tree), n, max(3, repeats // 3)))
    rows.extend(simloss_neighbour_cases(n, max(3, repeats // 3)))
    return rows


def simloss_neighbour_cases(classes: int, repeats: int) -> list[Row]:
    """SimLoss over 32 nearest neighbours of a random 50-d embedding: build, then train."""
    import numpy as np

    from structloss.structures import LabelEmbedding
    from structloss_simloss import SimLoss, nearest_neighbours

    vectors = np.random.default_rng(0).normal(size=(classes, 50))
    embedding = LabelEmbedding.from_matrix([f"c{i}" for i in range(classes)], vectors)
    start = time.perf_counter()
    near = nearest_neighbours(embedding, 0.2, 32)
    build = {
        "benchmark": "simloss neighbours form",
        "case": f"{classes:,} classes, 32 neighbours",
        "baseline": None,
        "baseline_ms": None,
        "measured": "nearest_neighbours (no dense matrix)",
        "measured_ms": (time.perf_counter() - start) * 1e3,
        "ratio": None,
    }
    steps = against_cross_entropy("simloss neighbours form", SimLoss(near), 256, classes)
    return [build, _timed("simloss neighbours form", f"256 x {classes:,}", steps, repeats)]


def smooth_topk_cases(quick: bool, repeats: int) -> list[Row]:
    from smooth_topk_memory import measure

    from structloss_smooth_topk import smooth_topk_torch

    classes = 1_000 if quick else 10_000
    loss = lambda z, t: smooth_topk_torch(z, t, 5, 1.0, 1.0).mean()  # noqa: E731
    steps = against_cross_entropy("smooth-topk torch", loss, 256, classes)
    rows = [_timed("smooth-topk", f"256 x {classes:,}, k = 5", steps, repeats)]
    ce, topk = (measure(256, classes, 5, which) for which in ("cross-entropy", "smooth-topk"))
    rows.append(
        {
            "benchmark": "smooth-topk memory",
            "case": f"256 x {classes:,}, k = 5",
            "baseline": "cross-entropy extra / logits",
            "baseline_ms": None,
            "measured": "smooth-topk extra / logits",
            "measured_ms": None,
            "ratio": topk,
            "baseline_ratio": ce,
        }
    )
    return rows


def tree_metric_cases(quick: bool, repeats: int) -> list[Row]:
    from structloss.metrics import SingleLabelMetrics

    classes, rows_ = (2_000, 500) if quick else (50_000, 2_000)
    tree = three_level_tree(classes)
    generator = torch.Generator().manual_seed(0)
    scores = torch.randn(rows_, classes, generator=generator)
    target = torch.randint(classes, (rows_,), generator=generator)
    metrics = SingleLabelMetrics(num_classes=classes, k=5, hierarchy=tree, crm=True)
    plain = SingleLabelMetrics(num_classes=classes, k=5)

    def update(collection: Any) -> Callable[[], None]:
        def step() -> None:
            collection.reset()
            collection.update(scores.clone(), target)  # a new tensor: no cached ranking
            collection.compute()

        return step

    steps = {"top-1/top-5 only": update(plain), "+ tree metrics and CRM": update(metrics)}
    return [_timed("tree metrics", f"{rows_:,} x {classes:,}", steps, max(3, repeats // 5))]


def hierarchy_cases(quick: bool, repeats: int) -> list[Row]:
    parents = 10_000 if quick else 100_000
    start = time.perf_counter()
    tree = three_level_tree(parents)
    _ = tree.ancestors, tree.heights
    seconds = time.perf_counter() - start
    return [
        {
            "benchmark": "Hierarchy build",
            "case": f"{tree.num_nodes:,} nodes",
            "baseline": None,
            "baseline_ms": None,
            "measured": "from_parents + ancestors",
            "measured_ms": seconds * 1e3,
            "ratio": None,
        }
    ]


def wordnet_cases(quick: bool, repeats: int) -> list[Row]:
    """The tree of all of WordNet's noun leaves: list them, build it cold, read it cached."""
    import tempfile
    import warnings

    from structloss.errors import StructureError
    from structloss.specs import StructureContext
    from structloss_wordnet_tree.classlists import noun_leaf_classes
    from structloss_wordnet_tree.provider import build

    try:
        start = time.perf_counter()
        classes = noun_leaf_classes()
    except StructureError as exc:
        raise ImportError(f"no WordNet database ({str(exc).splitlines()[0]})") from None
    listed = time.perf_counter() - start
    if quick:
        classes = classes[:2000]
    times = {"list the leaves": listed}
    saved = os.environ.get("STRUCTLOSS_CACHE_DIR")
    with tempfile.TemporaryDirectory() as cache, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        os.environ["STRUCTLOSS_CACHE_DIR"] = cache
        try:
            for what in ("build (cold, filling the cache)", "build (from the cache)"):
                start = time.perf_counter()
                tree = build(StructureContext(classes=classes), cache=True)
                times[what] = time.perf_counter() - start
        finally:
            if saved is None:
                del os.environ["STRUCTLOSS_CACHE_DIR"]
            else:
                os.environ["STRUCTLOSS_CACHE_DIR"] = saved
    case = f"{tree.num_classes:,} classes, {tree.num_nodes:,} nodes"
    return [
        {
            "benchmark": "wordnet-tree, all noun leaves",
            "case": case,
            "baseline": None,
            "baseline_ms": None,
            "measured": what,
            "measured_ms": seconds * 1e3,
            "ratio": None,
        }
        for what, seconds in times.items()
    ]


CASES: dict[str, Callable[[bool, int], list[Row]]] = {
    "simloss": simloss_cases,
    "smooth-topk": smooth_topk_cases,
    "tree-metrics": tree_metric_cases,
    "hierarchy": hierarchy_cases,
    "wordnet": wordnet_cases,
}


def _cell(value: Any, fmt: str) -> str:
    return "" if value is None else format(value, fmt)


def main(argv: list[str] | None = None) -> int:
    """Run the cases, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=sorted(CASES), help="run these only")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved timed rounds")
    parser.add_argument("--quick", action="store_true", help="small sizes: a smoke test")
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    repeats = 3 if args.quick else args.repeats
    rows: list[Row] = []
    skipped = []
    for name in args.only or CASES:
        try:
            rows += CASES[name](args.quick, repeats)
        except ImportError as exc:  # a plugin this environment does not install
            skipped.append(f"{name} ({exc.name or exc}: pip install its plugin)")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, min of {repeats}")
    print("| benchmark | case | baseline (ms) | measured | measured (ms) | ratio |")
    print("| --- | --- | ---: | --- | ---: | ---: |")
    for r in rows:
        print(
            f"| {r['benchmark']} | {r['case']} | {_cell(r['baseline_ms'], '.2f')} |"
            f" {r['measured']} | {_cell(r['measured_ms'], '.2f')} | {_cell(r['ratio'], '.2f')} |"
        )
    if skipped:
        print("skipped: " + "; ".join(skipped))
    if args.json:
        meta = {
            "torch": torch.__version__,
            "threads": torch.get_num_threads(),
            "python": platform.python_version(),
            "machine": platform.machine(),
            "repeats": repeats,
            "quick": args.quick,
        }
        payload = {"meta": meta, "rows": rows, "skipped": skipped}
        Path(args.json).write_text(json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
