"""Class trees at scale: building a Hierarchy, and every tree metric, without classes^2 tables.

Run ``python benchmarks/tree_scale.py``. It builds a tree from ``--parents`` parent entries
(classes under a 20 x 50 tree of internal nodes), then feeds ``--predictions`` rows of scores
on a ``--classes`` tree (20 x 50 x 50 by default: 50,000 classes) through
:class:`~structloss.metrics.SingleLabelMetrics` with conditional risk minimisation, in
batches of ``--batch`` rows, and prints the seconds and the process's peak memory. Targets:
100,000 parents in <= 5 s; the metrics of 20,000 predictions on 50,000 classes in <= 20 s and
<= 3 GB.
"""

from __future__ import annotations

import argparse
import resource
import sys
import time

import torch
from _timing import three_level_tree

from structloss.metrics import SingleLabelMetrics


def peak_gib() -> float:
    """The process's peak resident memory so far, in GiB."""
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 2**20 if sys.platform != "darwin" else kib / 2**30


def main(argv: list[str] | None = None) -> None:
    """Print the build time, the metric time and the peak memory."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parents", type=int, default=100_000, help="classes of the build test")
    parser.add_argument("--classes", type=int, default=50_000)
    parser.add_argument("--predictions", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000, help="rows per metrics update")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads")

    start = time.perf_counter()
    built = three_level_tree(args.parents)
    _ = built.ancestors, built.heights
    build = time.perf_counter() - start
    print(f"| Hierarchy.from_parents + ancestors, {built.num_nodes:,} nodes | {build:.2f} s |")

    big = three_level_tree(args.classes)
    generator = torch.Generator().manual_seed(0)
    target = torch.randint(args.classes, (args.predictions,), generator=generator)
    metrics = SingleLabelMetrics(num_classes=args.classes, k=5, hierarchy=big, crm=True)
    seconds = 0.0  # the metrics' time only, not drawing the scores
    for rows in torch.arange(args.predictions).split(args.batch):
        scores = torch.randn(len(rows), args.classes, generator=generator)
        scores[torch.arange(len(rows)), target[rows]] += 3.0  # some right, most wrong
        start = time.perf_counter()
        metrics.update(scores, target[rows])
        seconds += time.perf_counter() - start
    start = time.perf_counter()
    values = metrics.compute()
    seconds += time.perf_counter() - start
    print(
        f"| metrics of {args.predictions:,} predictions, {args.classes:,} classes"
        f" ({len(values)} metrics, CRM included) | {seconds:.2f} s |"
    )
    print(f"| peak memory of the process | {peak_gib():.2f} GiB |")
    for name, value in values.items():
        print(f"  {name} = {float(value):.4f}")


if __name__ == "__main__":
    main()
