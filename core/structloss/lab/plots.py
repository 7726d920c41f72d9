"""Plots of runs and sweeps (matplotlib, imported when a plot is drawn)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from structloss.lab.runs import TrialResult

__all__ = ["plot_learning_curves", "plot_metric_bars", "plot_sweep"]


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_learning_curves(
    results: Sequence[TrialResult], metrics: Sequence[str], path: Path
) -> Path:
    """One panel per metric (plus training loss), one line per trial, against the epoch."""
    plt = _pyplot()
    panels = ["train_loss", *metrics]
    cols = min(4, len(panels))
    rows = -(-len(panels) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.2 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, panels, strict=False):
        for result in results:
            epochs = [h["epoch"] for h in result.history if metric in h]
            values = [h[metric] for h in result.history if metric in h]
            ax.plot(
                epochs,
                values,
                marker=".",
                label=f"{result.label or result.loss} (seed {result.seed})",
            )
        ax.set_title(metric)
        ax.set_xlabel("epoch")
    for ax in list(axes.flat)[len(panels) :]:
        ax.set_axis_off()
    axes.flat[0].legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_metric_bars(results: Sequence[TrialResult], metrics: Sequence[str], path: Path) -> Path:
    """Final metrics per loss as grouped bars (mean over seeds, with the std as error bars)."""
    plt = _pyplot()
    losses = sorted({r.label or r.loss for r in results})
    cols = min(4, len(metrics))
    rows = -(-len(metrics) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4 * cols, 3.4 * rows), squeeze=False)
    for ax in list(axes.flat)[len(metrics) :]:
        ax.set_axis_off()
    for ax, metric in zip(axes.flat, metrics, strict=False):
        means, stds = [], []
        for loss in losses:
            values = [
                r.final[metric]
                for r in results
                if (r.label or r.loss) == loss and metric in r.final
            ]
            means.append(float(np.mean(values)) if values else 0.0)
            stds.append(float(np.std(values)) if values else 0.0)
        ax.bar(range(len(losses)), means, yerr=stds, color="tab:blue", alpha=0.8)
        ax.set_xticks(range(len(losses)), losses, rotation=30, ha="right", fontsize=8)
        ax.set_title(metric)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def plot_sweep(results: Sequence[TrialResult], metric: str, parameter: str, path: Path) -> Path:
    """A metric against the swept parameter, one line per loss, mean ± std over seeds."""
    plt = _pyplot()
    table: dict[str, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in results:
        if metric in r.final:
            table[r.label or r.loss][r.param].append(r.final[metric])
    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for loss, by_value in sorted(table.items()):
        values = list(by_value)
        numeric = all(isinstance(v, int | float) for v in values)
        xs = values if numeric else list(range(len(values)))
        means = [float(np.mean(by_value[v])) for v in values]
        stds = [float(np.std(by_value[v])) for v in values]
        ax.errorbar(xs, means, yerr=stds, marker="o", capsize=3, label=loss)
        if not numeric:
            ax.set_xticks(xs, [str(v) for v in values])
    ax.set_xlabel(parameter)
    ax.set_ylabel(metric)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
