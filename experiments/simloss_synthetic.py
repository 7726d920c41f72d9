"""SimLoss vs cross-entropy on a synthetic task with a known class tree.

The task (:func:`structloss.lab.datasets.synthetic.hierarchical_task`) draws class means along a random
tree, so classes under one parent (a *superclass*) look alike. Each variant in the TOML
config trains the same MLP from the same initialisation on the same batches; SimLoss gets
its similarity from the true tree (``rule``/``decay``, converted by the core) or from class
centroids of the training inputs (a label embedding converted with ``lower_bound``).

Reported per variant, as mean +- std over seeds: accuracy, superclass accuracy (a mistake
within the true class's parent counts as correct) and the mean tree distance between the
prediction and the truth. Results go to ``<out>/simloss_synthetic.{md,csv,png}``.

    python experiments/simloss_synthetic.py            # full size (< 2 minutes on 2 cores)
    python experiments/simloss_synthetic.py --quick    # a tiny run, for CI
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import statistics
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from structloss import LabelEmbedding, LabelStructure, Objective, compose
from structloss.errors import ConfigError
from structloss.lab.datasets.synthetic import SyntheticTask, hierarchical_task

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "simloss_synthetic.toml"
DEFAULT_OUT = HERE / "results"
METRICS = ("accuracy", "superclass_accuracy", "tree_distance")
BASELINE = "cross-entropy"  # the variant label that paired differences are taken against
QUICK: dict[str, Any] = {
    "seeds": [0],
    "data": {"branching": [2, 3, 3], "dim": 16, "train_per_class": 4, "test_per_class": 4},
    "train": {"epochs": 2, "batch_size": 32, "hidden": 16},
}


@dataclasses.dataclass(frozen=True)
class TrainSettings:
    """How every model is trained (the ``[train]`` table)."""

    epochs: int = 30
    batch_size: int = 64
    lr: float = 3e-3
    hidden: int = 128

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> TrainSettings:
        """Read ``[train]``; unknown keys are an error naming the valid ones."""
        valid = [field.name for field in dataclasses.fields(cls)]
        unknown = sorted(set(table) - set(valid))
        if unknown:
            raise ConfigError(f"[train] has no option {unknown}; valid: {', '.join(valid)}")
        return cls(**table)


def build_model(dim: int, objective: Objective, hidden: int) -> nn.Module:
    """A one-hidden-layer MLP ending in the objective's head (linear when ``hidden = 0``)."""
    if hidden == 0:
        return objective.head(dim)
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), objective.head(hidden))


def read_config(path: Path, *, quick: bool) -> dict[str, Any]:
    """Read the experiment TOML; ``quick`` shrinks data, training and seeds."""
    with open(path, "rb") as handle:
        config = tomllib.load(handle)
    if not config.get("variants"):
        raise ConfigError(f"{path}: add at least one [[variants]] table")
    if quick:
        config["seeds"] = QUICK["seeds"]
        config["data"] = {**config.get("data", {}), **QUICK["data"]}
        config["train"] = {**config.get("train", {}), **QUICK["train"]}
    return config


def centroid_embedding(task: SyntheticTask) -> LabelEmbedding:
    """Mean training input of every class: a label embedding learnt from the data."""
    x, y = task.x_train.double(), task.y_train
    sums = torch.zeros(task.hierarchy.num_classes, x.shape[1], dtype=torch.float64)
    sums.index_add_(0, y, x)
    counts = torch.bincount(y, minlength=task.hierarchy.num_classes).clamp_min(1)
    return LabelEmbedding.from_matrix(task.classes, (sums / counts[:, None]).numpy())


def build_loss(variant: Mapping[str, Any], task: SyntheticTask) -> Objective:
    """Compose a variant's loss by name; SimLoss gets the tree or the centroid embedding."""
    loss = variant.get("loss", "simloss")
    source = variant.get("source")
    structure: LabelStructure | None = None
    convert: dict[str, Any] = {}
    if source == "tree":
        structure = task.hierarchy
        convert = {k: variant[k] for k in ("rule", "decay") if k in variant}
    elif source == "embedding":
        structure = centroid_embedding(task)
        convert = {"lower_bound": variant.get("lower_bound", 0.0)}
    elif source is not None:
        raise ConfigError(f"variant {variant.get('label')!r}: source must be 'tree' or 'embedding'")
    config = {"classes": list(task.classes), "loss": {"name": loss}, "convert": convert}
    return compose(config, structure=structure)


def train(
    objective: Objective, task: SyntheticTask, settings: TrainSettings, seed: int
) -> torch.Tensor:
    """Train a fresh model with ``objective``; return its test predictions."""
    torch.manual_seed(seed)
    model = build_model(task.dim, objective, settings.hidden)
    optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr)
    order = torch.Generator().manual_seed(seed)
    for _ in range(settings.epochs):
        for batch in torch.randperm(task.x_train.shape[0], generator=order).split(
            settings.batch_size
        ):
            optimizer.zero_grad(set_to_none=True)
            objective(model(task.x_train[batch]), task.y_train[batch]).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        return objective.scores(model(task.x_test)).argmax(dim=1)


def evaluate(predicted: torch.Tensor, task: SyntheticTask) -> dict[str, float]:
    """Accuracy, superclass accuracy (same parent counts as correct), mean tree distance."""
    tree = task.hierarchy
    parent = np.array(tree.parents[: tree.num_classes])
    pred, true = predicted.numpy(), task.y_test.numpy()
    distance = tree.distance_matrix()[pred, true]
    return {
        "accuracy": float(np.mean(pred == true)),
        "superclass_accuracy": float(np.mean(parent[pred] == parent[true])),
        "tree_distance": float(np.mean(distance)),
    }


def run(config: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Train every variant on every seed; return one summary row per variant."""
    settings = TrainSettings.from_table(config.get("train", {}))
    per_variant: dict[str, list[dict[str, float]]] = {v["label"]: [] for v in config["variants"]}
    for seed in config.get("seeds", [0]):
        task = hierarchical_task(**config.get("data", {}), seed=seed)
        for variant in config["variants"]:
            predicted = train(build_loss(variant, task), task, settings, seed)
            per_variant[variant["label"]].append(evaluate(predicted, task))
    baseline = per_variant.get(BASELINE)
    rows = []
    for label, results in per_variant.items():
        row: dict[str, Any] = {"variant": label, "seeds": len(results)}
        for metric in METRICS:
            row[metric], row[f"{metric}_std"] = _mean_std([r[metric] for r in results])
        if baseline is not None:
            # paired by seed: same data, same initialisation, same batches
            for metric in METRICS[:2]:
                deltas = [r[metric] - b[metric] for r, b in zip(results, baseline, strict=True)]
                row[f"{metric}_delta"], row[f"{metric}_delta_std"] = _mean_std(deltas)
        rows.append(row)
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def write_csv(rows: Sequence[Mapping[str, Any]], path: Path) -> None:
    """One line per variant: means and standard deviations over seeds."""
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def markdown_table(rows: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table of mean ± std over seeds (accuracies in percent).

    The Δ columns are paired differences from the cross-entropy run of the same seed.
    """
    paired = "accuracy_delta" in rows[0]
    head = "| variant | accuracy (%) | superclass accuracy (%) | mean tree distance |"
    rule = "| --- | ---: | ---: | ---: |"
    if paired:
        head += " Δ accuracy (pp) | Δ superclass (pp) |"
        rule += " ---: | ---: |"
    lines = [head, rule]
    for row in rows:
        line = (
            f"| {row['variant']} | {_pct(row, 'accuracy')} | {_pct(row, 'superclass_accuracy')}"
            f" | {row['tree_distance']:.3f} ± {row['tree_distance_std']:.3f} |"
        )
        if paired:
            line += (
                f" {_pct(row, 'accuracy_delta', signed=True)} |"
                f" {_pct(row, 'superclass_accuracy_delta', signed=True)} |"
            )
        lines.append(line)
    return "\n".join(lines) + "\n"


def _pct(row: Mapping[str, Any], metric: str, *, signed: bool = False) -> str:
    sign = "+" if signed else ""
    return f"{100 * row[metric]:{sign}.1f} ± {100 * row[metric + '_std']:.1f}"


def plot(rows: Sequence[Mapping[str, Any]], path: Path) -> bool:
    """Accuracy and superclass accuracy per variant, as bars with std error bars.

    Returns False (and skips the picture) when matplotlib is not installed.
    """
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    labels = [row["variant"] for row in rows]
    positions = np.arange(len(rows))
    figure, axes = plt.subplots(1, 2, figsize=(11, 0.45 * len(rows) + 1.5), sharey=True)
    for axis, metric, title in zip(
        axes, METRICS[:2], ("accuracy (%)", "superclass accuracy (%)"), strict=False
    ):
        means = [100 * row[metric] for row in rows]
        errors = [100 * row[f"{metric}_std"] for row in rows]
        colors = ["0.55" if row["variant"] == "cross-entropy" else "tab:blue" for row in rows]
        axis.barh(positions, means, xerr=errors, color=colors)
        axis.axvline(
            means[labels.index("cross-entropy")] if "cross-entropy" in labels else 0,
            color="0.3",
            lw=0.8,
            ls="--",
        )
        axis.set_xlabel(title)
        lowest = min(m - e for m, e in zip(means, errors, strict=True))
        axis.set_xlim(max(0.0, lowest - 5), min(100.0, max(means) + 5))
    axes[0].set_yticks(positions, labels)
    axes[0].invert_yaxis()
    figure.suptitle(
        "SimLoss vs cross-entropy, synthetic 3-level class tree (mean ± std over seeds)"
    )
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return True


def main(argv: Sequence[str] | None = None) -> int:
    """Run the experiment and write the table, CSV and plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG, help="experiment TOML")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    parser.add_argument("--quick", action="store_true", help="a tiny run (CI)")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (default 1: the models are tiny, and extra threads only contend)",
    )
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    config = read_config(args.config, quick=args.quick)
    start = time.perf_counter()
    rows = run(config)
    elapsed = time.perf_counter() - start
    args.out.mkdir(parents=True, exist_ok=True)
    table = markdown_table(rows)
    data = config.get("data", {})
    header = (
        f"# SimLoss on a synthetic class tree\n\nbranching {data.get('branching')}, dim"
        f" {data.get('dim')}, {data.get('train_per_class')} training samples per class,"
        f" seeds {config.get('seeds')}; {elapsed:.0f} s on {torch.get_num_threads()} threads."
        "\n\n"
    )
    (args.out / "simloss_synthetic.md").write_text(header + table, encoding="utf-8")
    write_csv(rows, args.out / "simloss_synthetic.csv")
    plotted = plot(rows, args.out / "simloss_synthetic.png")
    print(table, end="")
    print(
        f"{elapsed:.1f} s; results in {args.out}"
        + ("" if plotted else " (no plot: install matplotlib)")
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
