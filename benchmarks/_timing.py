"""The one timer every benchmark uses: steps timed side by side in interleaved rounds.

Timing each step in turn within every round (alternating the order) exposes all of them to
the same machine load, so ratios between them stay meaningful on a busy machine; the
minimum over rounds is the least disturbed measurement, the median a typical one.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

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
