"""SimLoss vs ``F.cross_entropy``: forward + backward time, side by side.

Run ``python benchmarks/simloss_speed.py``. For each class count the two losses are timed in
interleaved repeats (so drift in machine load hits both alike) and the medians and their
ratio are printed. SimLoss gathers the batch's rows of S and works in log space, so its cost
is O(batch x classes) like cross-entropy's; the ratio says how much the gather, the log and
the extra logsumexp cost on top.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from _timing import arguments, backward_step, interleaved, median, start

from structloss_simloss import SimLoss, ordinal_similarity


def bench(batch: int, classes: int, repeats: int, *, seed: int = 0) -> tuple[float, float]:
    """Return the median seconds of (cross-entropy, SimLoss) forward + backward."""
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, classes, generator=generator).requires_grad_()
    target = torch.randint(classes, (batch,), generator=generator)
    simloss = SimLoss(ordinal_similarity([str(i) for i in range(classes)], r=0.5))

    steps = {
        "ce": backward_step(logits, lambda: F.cross_entropy(logits, target)),
        "simloss": backward_step(logits, lambda: simloss(logits, target)),
    }
    times = median(interleaved(steps, repeats))
    return times["ce"], times["simloss"]


def main(argv: list[str] | None = None) -> None:
    """Print a table of median times and SimLoss / cross-entropy ratios."""
    args = arguments(__doc__.splitlines()[0], repeats=30).parse_args(argv)
    start(args)
    print("| classes | cross-entropy (ms) | simloss (ms) | ratio |")
    print("| ---: | ---: | ---: | ---: |")
    for classes in args.classes:
        ce, sim = bench(args.batch, classes, args.repeats)
        print(f"| {classes} | {ce * 1e3:.3f} | {sim * 1e3:.3f} | {sim / ce:.2f} |")


if __name__ == "__main__":
    main()
