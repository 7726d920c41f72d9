"""The tree loss's synthetic study: test accuracy against training-set size.

After Wang & Izbicki (2022): data are generated along a known class tree
(:func:`structloss.lab.datasets.synthetic.hierarchical_task`); a linear model of the raw inputs is trained
with the ``tree-loss`` objective on the true tree (its head is a ``TreeLinear``) and with
``cross-entropy`` (an ``nn.Linear`` head), from training sets of growing size, over several
seeds. The script prints a table of mean ± std test accuracy and writes

* ``<out>/tree_loss_synthetic.png``: accuracy against training-set size;
* ``<out>/tree_loss_synthetic.csv`` and ``.md``: the table.

Run: ``python experiments/tree_loss_synthetic.py [--config PATH] [--quick] [--out DIR]``;
``--quick`` applies the config's ``[quick]`` table (tiny sizes, 2 seeds) for CI.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
import time
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs
import torch

import structloss
from structloss.errors import ConfigError, closest
from structloss.lab.datasets.synthetic import SyntheticTask, hierarchical_task
from structloss.metrics import top_k_accuracy

HERE = Path(__file__).resolve().parent
DEFAULT_CONFIG = HERE / "tree_loss_synthetic.toml"
DEFAULT_OUT = HERE / "results"
STEM = "tree_loss_synthetic"
LOSSES = ("tree-loss", "cross-entropy")
TABLES = ("data", "train", "sweep")


@attrs.frozen
class Settings:
    """Everything one run depends on: the flattened ``[data]``, ``[train]`` and ``[sweep]``."""

    branching: tuple[int, ...] = attrs.field(converter=tuple)
    dim: int
    node_scale: float
    class_noise: float
    input_noise: float
    test_per_class: int
    optimizer: str
    lr: float
    steps: int
    weight_decay: float
    threads: int
    sizes: tuple[int, ...] = attrs.field(converter=tuple)
    seeds: int

    @property
    def num_classes(self) -> int:
        """Classes of the complete tree: the product of the branching factors."""
        return math.prod(self.branching)

    @classmethod
    def load(cls, path: Path, *, quick: bool = False) -> Settings:
        """Read a TOML config; ``quick`` overlays its ``[quick]`` table.

        Raises:
            ConfigError: for a missing file, an unknown table or key, or a missing key.
        """
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise ConfigError(f"cannot read the experiment config {str(path)!r}: {exc}") from None
        fields = [f.name for f in attrs.fields(cls)]
        values: dict[str, Any] = {}
        for table, body in data.items():
            if table not in (*TABLES, "quick"):
                raise ConfigError(
                    f"unknown table [{table}] in {path.name}{closest(table, TABLES)}; valid"
                    f" tables: {', '.join(TABLES)}, quick"
                )
            unknown = [key for key in body if key not in fields]
            if unknown:
                hints = "; ".join(f"{key!r}{closest(key, fields)}" for key in unknown)
                raise ConfigError(f"[{table}] in {path.name} has unknown keys {hints}")
            if table != "quick":
                values.update(body)
        if quick:
            values.update(data.get("quick", {}))
        missing = [name for name in fields if name not in values]
        if missing:
            raise ConfigError(f"{path.name} does not set: {', '.join(missing)}")
        settings = cls(**values)
        settings.check()
        return settings

    def check(self) -> None:
        """Raise :class:`ConfigError` for values the run cannot use."""
        if self.optimizer not in ("sgd", "adam"):
            raise ConfigError(f"optimizer must be 'sgd' or 'adam', got {self.optimizer!r}")
        if not self.sizes or min(self.sizes) < 1 or self.seeds < 1 or self.steps < 1:
            raise ConfigError("sizes must be positive, and seeds and steps at least 1")
        if self.lr <= 0 or self.threads < 1:
            raise ConfigError("lr must be positive and threads at least 1")


def make_task(settings: Settings, seed: int) -> SyntheticTask:
    """One seed's tree, training pool (enough for the largest size) and test set."""
    per_class = math.ceil(max(settings.sizes) / settings.num_classes)
    return hierarchical_task(
        branching=settings.branching,
        dim=settings.dim,
        train_per_class=per_class,
        test_per_class=settings.test_per_class,
        node_scale=settings.node_scale,
        class_noise=settings.class_noise,
        input_noise=settings.input_noise,
        seed=seed,
    )


def train_and_test(
    objective: structloss.Objective, task: SyntheticTask, size: int, settings: Settings, seed: int
) -> float:
    """Train ``objective.head`` (a linear model) on the first ``size`` samples; test accuracy."""
    torch.manual_seed(seed)
    model = objective.head(task.dim)
    optimizer_class = torch.optim.SGD if settings.optimizer == "sgd" else torch.optim.Adam
    optimizer = optimizer_class(
        model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
    )
    x, y = task.x_train[:size], task.y_train[:size]
    for _ in range(settings.steps):  # full batch: the sets are small
        optimizer.zero_grad(set_to_none=True)
        objective(model(x), y).backward()
        optimizer.step()
    with torch.no_grad():
        scores = objective.scores(model(task.x_test))
    return top_k_accuracy(scores, task.y_test, 1)


def run(settings: Settings) -> list[dict[str, Any]]:
    """Every (seed, size, loss) trial; returns rows with the test accuracy."""
    rows = []
    for seed in range(settings.seeds):
        task = make_task(settings, seed)
        for loss in LOSSES:
            objective = structloss.compose({"loss": {"name": loss}}, structure=task.hierarchy)
            for size in settings.sizes:
                accuracy = train_and_test(objective, task, size, settings, seed)
                rows.append({"seed": seed, "size": size, "loss": loss, "accuracy": accuracy})
    return rows


def _mean_std(values: Sequence[float]) -> tuple[float, float]:
    return statistics.fmean(values), statistics.stdev(values) if len(values) > 1 else 0.0


def summarise(rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Per size: mean and std over seeds of each loss's accuracy and of the paired gap."""
    table = []
    for size in sorted({row["size"] for row in rows}):
        by_loss = {
            loss: {
                r["seed"]: r["accuracy"] for r in rows if r["size"] == size and r["loss"] == loss
            }
            for loss in LOSSES
        }
        gaps = [by_loss["tree-loss"][s] - by_loss["cross-entropy"][s] for s in by_loss["tree-loss"]]
        line: dict[str, Any] = {"size": size, "seeds": len(gaps)}
        for name, values in (
            ("tree", list(by_loss["tree-loss"].values())),
            ("ce", list(by_loss["cross-entropy"].values())),
            ("gap", gaps),
        ):
            line[f"{name}_mean"], line[f"{name}_std"] = _mean_std(values)
        table.append(line)
    return table


def format_table(table: Sequence[Mapping[str, Any]]) -> str:
    """A markdown table of the summary (mean ± std over seeds)."""
    lines = [
        "| training samples | tree loss | cross-entropy | tree − CE (paired) |",
        "| ---: | :---: | :---: | :---: |",
    ]
    for line in table:
        cells = [
            f"{line[f'{name}_mean']:+.3f} ± {line[f'{name}_std']:.3f}"
            if name == "gap"
            else f"{line[f'{name}_mean']:.3f} ± {line[f'{name}_std']:.3f}"
            for name in ("tree", "ce", "gap")
        ]
        lines.append(f"| {line['size']} | {' | '.join(cells)} |")
    return "\n".join(lines)


def describe(settings: Settings) -> str:
    """One line naming the generator and training settings."""
    return (
        f"{settings.num_classes} classes, tree branching {list(settings.branching)}, dim"
        f" {settings.dim}, node_scale {settings.node_scale}, class_noise"
        f" {settings.class_noise}, input_noise {settings.input_noise};"
        f" {settings.optimizer} lr {settings.lr}, {settings.steps} full-batch steps,"
        f" weight_decay {settings.weight_decay}; {settings.seeds} seeds,"
        f" {settings.test_per_class * settings.num_classes} test samples"
    )


def write_outputs(table: Sequence[Mapping[str, Any]], settings: Settings, out: Path) -> list[Path]:
    """Write the CSV, the markdown table and the plot into ``out``; return their paths."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out / f"{STEM}.csv", out / f"{STEM}.md"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        for line in table:
            writer.writerow({k: f"{v:.4f}" if isinstance(v, float) else v for k, v in line.items()})
    md_path.write_text(
        f"# Tree loss, synthetic study\n\n{describe(settings)}.\n\n"
        f"Test accuracy, mean ± std over seeds:\n\n{format_table(table)}\n",
        encoding="utf-8",
    )
    return [csv_path, md_path, plot(table, settings, out / f"{STEM}.png")]


def plot(table: Sequence[Mapping[str, Any]], settings: Settings, path: Path) -> Path:
    """Draw accuracy (mean ± std) against training-set size for both losses."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = [line["size"] for line in table]
    figure, axes = plt.subplots(figsize=(6.4, 4.2))
    for name, label, marker in (
        ("tree", "tree loss (true tree)", "o"),
        ("ce", "cross-entropy", "s"),
    ):
        mean = [line[f"{name}_mean"] for line in table]
        std = [line[f"{name}_std"] for line in table]
        axes.errorbar(sizes, mean, yerr=std, marker=marker, capsize=3, label=label)
    axes.set_xscale("log", base=2)
    axes.set_xticks(sizes, [str(s) for s in sizes])
    axes.set_xlabel("training samples (total)")
    axes.set_ylabel("test accuracy")
    axes.set_title(
        f"{settings.num_classes} classes, dim {settings.dim}, {settings.seeds} seeds", fontsize=10
    )
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


def main(argv: Sequence[str] | None = None) -> int:
    """Run the study, print the table and write the files."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_CONFIG)
    parser.add_argument("--quick", action="store_true", help="tiny sizes and 2 seeds (CI)")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output directory")
    args = parser.parse_args(argv)
    try:
        settings = Settings.load(args.config, quick=args.quick)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    threads = torch.get_num_threads()
    torch.set_num_threads(settings.threads)
    start = time.perf_counter()
    try:
        rows = run(settings)
    finally:
        torch.set_num_threads(threads)
    table = summarise(rows)
    print(describe(settings))
    print(format_table(table))
    for path in write_outputs(table, settings, args.out):
        print(f"wrote {path}")
    print(f"{time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
