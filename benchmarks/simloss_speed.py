"""SimLoss vs ``F.cross_entropy``: forward + backward time, side by side.

Run ``python benchmarks/simloss_speed.py``. For each class count the two losses are timed in
interleaved repeats (so drift in machine load hits both alike) and the medians and their
ratio are printed. SimLoss gathers the batch's rows of S and works in log space, so its cost
is O(batch x classes) like cross-entropy's; the ratio says how much the gather, the log and
the extra logsumexp cost on top. ``--tree-classes`` (default 50,000: a 20 x 50 x 50 tree) then
times SimLoss from a tree's similarity without the matrix (``form = "tree"``), and prints the
process's peak memory: targets <= 3x cross-entropy and <= 3 GB at 50,000 classes.
"""

from __future__ import annotations

import resource

from _timing import (
    against_cross_entropy,
    arguments,
    best,
    interleaved,
    median,
    start,
    three_level_tree,
)

from structloss_simloss import SimLoss, ordinal_similarity


def bench(batch: int, classes: int, repeats: int) -> tuple[float, float]:
    """Return the median seconds of (cross-entropy, SimLoss) forward + backward."""
    simloss = SimLoss(ordinal_similarity([str(i) for i in range(classes)], r=0.5))
    times = median(interleaved(against_cross_entropy("simloss", simloss, batch, classes), repeats))
    return times["cross-entropy"], times["simloss"]


def bench_tree(batch: int, classes: int, repeats: int) -> tuple[float, float]:
    """Return the fastest seconds of (cross-entropy, tree-form SimLoss) forward + backward."""
    simloss = SimLoss(three_level_tree(classes).to_similarity("exponential", 0.5, form="tree"))
    times = best(interleaved(against_cross_entropy("simloss", simloss, batch, classes), repeats))
    return times["cross-entropy"], times["simloss"]


def main(argv: list[str] | None = None) -> None:
    """Print a table of median times and SimLoss / cross-entropy ratios."""
    parser = arguments(
        __doc__.splitlines()[0],
        repeats=30,
        **{"tree-classes": {"type": int, "nargs": "*", "default": [50_000]}},
    )
    args = parser.parse_args(argv)
    start(args)
    print("| classes | cross-entropy (ms) | simloss (ms) | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for classes in args.classes:
        ce, sim = bench(args.batch, classes, args.repeats)
        print(f"| {classes} | {ce * 1e3:.3f} | {sim * 1e3:.3f} | {sim / ce:.2f} |")
    for classes in args.tree_classes:
        ce, sim = bench_tree(args.batch, classes, max(3, args.repeats // 3))
        print(f"| {classes} (tree form, min) | {ce * 1e3:.3f} | {sim * 1e3:.3f} | {sim / ce:.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    print(f"peak memory of the process: {peak:.2f} GiB")


if __name__ == "__main__":
    main()
