"""Speed of the tree loss against a plain linear layer with cross-entropy, side by side.

Times one training step's forward and backward (no optimiser step) of

* baseline: ``nn.Linear(features, classes)`` + ``F.cross_entropy``;
* tree loss: ``objective.head(features)`` (a ``TreeLinear``) + the ``tree-loss`` objective,

at batch 256, 2048 features and 1000 classes, on ImageNet's WordNet tree when the
``wordnet-tree`` plugin can build it, else on a synthetic tree of the same shape (1000 leaves,
about 850 internal nodes, leaf depths 5 to 18). The two run interleaved, alternating which
goes first, and the script prints median times and their ratio (target: at most 1.3).

Run: ``python benchmarks/tree_loss_speed.py [--tree auto|wordnet|wordnet-full|synthetic] [--repeats 40]``.
"""

from __future__ import annotations

import argparse
import itertools
import os
import random
import statistics

import torch
import torch.nn.functional as F
from _timing import backward_step, interleaved
from torch import Tensor, nn

import structloss
from structloss import Hierarchy, StructlossError


def imagenet_like_tree(
    num_classes: int = 1000,
    *,
    seed: int = 2,
    min_depth: int = 5,
    max_depth: int = 18,
    chain: float = 0.2,
    binary: float = 0.6,
) -> Hierarchy:
    """A random tree shaped like ImageNet's WordNet hierarchy, by recursive random splits.

    Each internal node either passes all its classes to a single child (a chain link, with
    probability ``chain``, as WordNet's many one-child synsets) or splits them at random cut
    points into 2 (probability ``binary``) or 3 to 6 groups. Classes hang at depth
    ``min_depth`` or deeper; a node at ``max_depth`` splits into single classes. With the
    defaults: 1000 classes, 853 internal nodes, leaf depths 5 to 18 (mean 9.6).
    """
    rng = random.Random(seed)
    names = (f"n{i}" for i in itertools.count(1))
    parents: dict[str, str] = {}
    classes = [f"c{i:04d}" for i in range(num_classes)]

    def grow(members: list[str], node: str, depth: int) -> None:
        if len(members) == 1 and depth >= min_depth:
            parents[members[0]] = node
            return
        if len(members) == 1 or (rng.random() < chain and depth < max_depth):
            child = next(names)
            parents[child] = node
            grow(members, child, depth + 1)
            return
        parts = 2 if rng.random() < binary else rng.randint(3, 6)
        parts = len(members) if depth >= max_depth else min(parts, len(members))
        cuts = sorted(rng.sample(range(1, len(members)), parts - 1))
        for start, stop in itertools.pairwise([0, *cuts, len(members)]):
            group = members[start:stop]
            if len(group) == 1 and depth + 1 >= min_depth:
                parents[group[0]] = node
            else:
                child = next(names)
                parents[child] = node
                grow(group, child, depth + 1)

    grow(classes, "root", 0)
    return Hierarchy.from_parents(classes, parents)


def pick_tree(choice: str = "auto") -> tuple[Hierarchy, str]:
    """The tree to time: ``wordnet``, ``wordnet-full``, ``synthetic``, or ``auto``.

    ``auto`` takes ImageNet's collapsed WordNet tree when the ``wordnet-tree`` plugin builds
    it and the synthetic tree otherwise; ``wordnet-full`` keeps every synset on the paths
    (``collapse = false``).

    Raises:
        StructlossError: for ``wordnet``/``wordnet-full`` when the plugin cannot build it.
    """
    if choice == "synthetic":
        return imagenet_like_tree(), "synthetic ImageNet-shaped tree (--tree synthetic)"
    structure = {"provider": "wordnet-tree", "collapse": choice != "wordnet-full"}
    try:
        tree = structloss.build_structure({"classes": "imagenet1k", "structure": structure})
    except StructlossError as exc:
        if choice != "auto":
            raise
        reason = str(exc).splitlines()[0]
        return imagenet_like_tree(), f"synthetic ImageNet-shaped tree (wordnet-tree: {reason})"
    if not isinstance(tree, Hierarchy):
        return imagenet_like_tree(), "synthetic ImageNet-shaped tree (wordnet-tree gave no tree)"
    collapse = "collapsed" if structure["collapse"] else "collapse = false"
    return tree, f"ImageNet-1k WordNet tree (wordnet-tree plugin, {collapse})"


def describe(tree: Hierarchy) -> str:
    """One line: classes, internal nodes and leaf depths."""
    depth = tree.depths[: tree.num_classes]
    return (
        f"{tree.num_classes} classes, {tree.num_nodes - tree.num_classes} internal nodes,"
        f" leaf depth {depth.min()}..{depth.max()} (mean {depth.mean():.1f})"
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--features", type=int, default=2048)
    parser.add_argument("--repeats", type=int, default=40, help="interleaved timed rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch intra-op threads")
    parser.add_argument(
        "--tree",
        choices=["auto", "wordnet", "wordnet-full", "synthetic"],
        default="auto",
        help="auto: the WordNet tree when the wordnet-tree plugin builds it, else synthetic",
    )
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    tree, source = pick_tree(args.tree)
    objective = structloss.compose({"loss": {"name": "tree-loss"}}, structure=tree)
    head = objective.head(args.features)
    linear = nn.Linear(args.features, tree.num_classes)
    x = torch.randn(args.batch, args.features)
    y = torch.randint(0, tree.num_classes, (args.batch,))

    baseline = backward_step(linear, lambda: F.cross_entropy(linear(x), y))
    tree_loss = backward_step(head, lambda: objective(head(x), y))

    def weights_only() -> None:
        head.zero_grad(set_to_none=True)
        weight: Tensor = head.class_weight()
        weight.backward(torch.ones_like(weight))

    steps = {
        "linear + cross-entropy": baseline,
        "tree loss": tree_loss,
        "W = A V alone": weights_only,
    }
    times = interleaved(steps, args.repeats)

    print(f"tree: {source}")
    print(f"      {describe(tree)}")
    print(
        f"batch {args.batch}, {args.features} features, torch {torch.__version__},"
        f" {torch.get_num_threads()} threads, {args.repeats} interleaved rounds,"
        f" load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs (other processes"
        " competing for the CPUs slow the many small ops of the tree loss the most)"
    )
    print(f"{'forward + backward':<24} {'median ms':>10} {'min ms':>8}")
    for name, values in times.items():
        print(f"{name:<24} {1e3 * statistics.median(values):>10.2f} {1e3 * min(values):>8.2f}")
    base = statistics.median(times["linear + cross-entropy"])
    ratio = statistics.median(times["tree loss"]) / base
    paired = statistics.median(
        t / b for t, b in zip(times["tree loss"], times["linear + cross-entropy"], strict=True)
    )
    fastest = min(times["tree loss"]) / min(times["linear + cross-entropy"])
    print(
        f"ratio tree / linear: {ratio:.3f} (median of per-round ratios {paired:.3f}, ratio of"
        f" the fastest rounds {fastest:.3f}; target <= 1.3)"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
