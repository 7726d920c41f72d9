"""The one timer every benchmark uses: steps timed side by side in interleaved rounds.

Timing each step in turn within every round (alternating the order) exposes all of them to
the same machine load, so ratios between them stay meaningful on a busy machine; the
minimum over rounds is the least disturbed measurement, the median a typical one.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable, Mapping
from typing import Any

Step = Callable[[], None]


def interleaved(
    steps: Mapping[str, Step],
    repeats: int,
    *,
    warmup: int = 3,
    sync: Callable[[], None] = lambda: None,
) -> dict[str, list[float]]:
    """Seconds of every step over ``repeats`` interleaved rounds, after ``warmup`` rounds.

    Args:
        steps: name -> a callable doing one timed unit of work.
        repeats: timed rounds; each runs every step once, the order reversed every round.
        warmup: untimed rounds first.
        sync: called before and after each step (``torch.cuda.synchronize`` on a GPU).
    """
    order = list(steps.items())
    times: dict[str, list[float]] = {name: [] for name in steps}
    for round_ in range(warmup + repeats):
        for name, step in order if round_ % 2 == 0 else reversed(order):
            sync()
            start = time.perf_counter()
            step()
            sync()
            if round_ >= warmup:
                times[name].append(time.perf_counter() - start)
    return times


def best(times: Mapping[str, list[float]]) -> dict[str, float]:
    """The fastest round of each step."""
    return {name: min(values) for name, values in times.items()}


def median(times: Mapping[str, list[float]]) -> dict[str, float]:
    """The median round of each step."""
    return {name: statistics.median(values) for name, values in times.items()}


def time_once(step: Step) -> float:
    """Seconds one call of ``step`` takes (for phases that run once)."""
    start = time.perf_counter()
    step()
    return time.perf_counter() - start


def backward_step(owner: Any, loss: Callable[[], Any]) -> Step:
    """A step that clears the gradients of ``owner`` and backpropagates ``loss()``.

    ``owner`` is a module (its parameters' gradients are cleared) or a leaf tensor.
    """

    def step() -> None:
        if hasattr(owner, "zero_grad"):
            owner.zero_grad(set_to_none=True)
        else:
            owner.grad = None
        loss().backward()

    return step


def against_cross_entropy(
    name: str, loss: Callable[[Any, Any], Any], batch: int, classes: int, *, seed: int = 0
) -> dict[str, Step]:
    """Forward + backward steps of ``F.cross_entropy`` and of ``loss`` on the same logits.

    The logits are (batch, classes) standard normal, the targets uniform, both from
    ``seed``; ``loss(logits, target)`` returns a scalar or per-sample losses (summed).
    """
    import torch
    import torch.nn.functional as F

    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(batch, classes, generator=generator).requires_grad_()
    target = torch.randint(classes, (batch,), generator=generator)
    return {
        "cross-entropy": backward_step(logits, lambda: F.cross_entropy(logits, target)),
        name: backward_step(logits, lambda: loss(logits, target).sum()),
    }


def arguments(description: str, *, repeats: int, **extra: Any) -> argparse.ArgumentParser:
    """A parser with the options every loss benchmark shares, and ``extra`` ones.

    Shared: ``--batch`` (256), ``--classes`` (1000 10000), ``--repeats`` and ``--threads``;
    ``extra`` maps an option name to ``add_argument`` keywords (``k={"type": int}``).
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--classes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--repeats", type=int, default=repeats, help="timed rounds")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    for name, options in extra.items():
        parser.add_argument(f"--{name}", **options)
    return parser


def start(args: argparse.Namespace) -> None:
    """Apply ``--threads`` and print the versions and threads the figures come from."""
    import torch

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, batch {args.batch}")


def three_level_tree(classes: int, top: int = 20, middle: int = 50) -> Any:
    """A Hierarchy of ``classes`` leaves spread evenly under a ``top`` x ``middle`` tree."""
    from structloss import Hierarchy

    groups = top * middle
    parents = {f"g{g}": f"t{g // middle}" for g in range(groups)}
    parents |= {f"t{t}": "root" for t in range(top)}
    names = [f"c{i}" for i in range(classes)]
    parents |= {name: f"g{i % groups}" for i, name in enumerate(names)}
    return Hierarchy.from_parents(names, parents)
