"""Tables, summary files and plots for ``structloss run`` and ``structloss compare``."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import numpy as np
from rich.table import Table
from rich.text import Text

from structloss.lab.runs import RunFolder, TrialResult, rows_to_csv

__all__ = [
    "metric_legend",
    "metric_names",
    "results_table",
    "run_summary",
    "summary_rows",
    "sweep_table",
    "write_outputs",
]

_FIRST = (
    "top1",
    "top5",
    "mistake_severity",
    "hier_distance@5",
    "superclass_accuracy",
    "similarity_accuracy",
    "crm_top1",
    "crm_mistake_severity",
    "precision@5",
    "recall@5",
    "mAP",
)


def metric_names(results: Sequence[TrialResult]) -> list[str]:
    """The evaluation metrics found in ``results``, in a stable, readable order."""
    found = {k for r in results for k in r.final if k != "train_loss"}
    return [m for m in _FIRST if m in found] + sorted(found - set(_FIRST))


def _mean_std(values: list[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{np.mean(values):.3f} ± {np.std(values):.3f}"


def summary_rows(results: Sequence[TrialResult]) -> list[dict[str, Any]]:
    """One row per loss (and parameter value): metric means over seeds."""
    groups: dict[tuple[str, Any], list[TrialResult]] = defaultdict(list)
    for r in results:
        groups[(r.label or r.loss, r.param)].append(r)
    rows = []
    for (key, param), trials in groups.items():
        done = [t for t in trials if t.status == "ok"]
        row: dict[str, Any] = {
            "loss": key,
            "param": param,
            "seeds": len(done),
            "status": _status(trials),
        }
        for metric in metric_names(done):
            values = [t.final[metric] for t in done if metric in t.final]
            row[metric] = float(np.mean(values))
            row[f"{metric}_std"] = float(np.std(values))
        row["seconds_per_epoch"] = (
            float(np.mean([t.seconds_per_epoch for t in done])) if done else None
        )
        row["skipped"] = trials[0].skipped
        rows.append(row)
    return rows


def _status(trials: Sequence[TrialResult]) -> str:
    """``ok``, or what went wrong, per seed where seeds differ (``seed 1: diverged ...``)."""
    statuses = [t.status for t in trials]
    if len(set(statuses)) == 1:
        return statuses[0]
    return "; ".join(f"seed {t.seed}: {t.status}" for t in trials if t.status != "ok")


ADVICE = "lower [train] lr (or use gradient clipping) and run again"


def run_summary(results: Sequence[TrialResult]) -> list[str]:
    """Lines for the end of a run: trials reused and trained, diverged, unusable records."""
    skipped = [r for r in results if r.skipped is not None]
    reused = [r for r in results if r.reused]
    trained = len(results) - len(skipped) - len(reused)
    lines = [
        f"{len(reused)} trial(s) reused from the run folder, {trained} trained"
        + (f", {len(skipped)} skipped" if skipped else "")
    ]
    notes = [r.note for r in results if r.note]
    if notes:
        lines.append(
            f"{len(notes)} trial record(s) in the run folder were unreadable or inconsistent"
            " and were trained again: " + "; ".join(notes)
        )
    diverged = [r for r in results if r.diverged is not None]
    if diverged:
        names = ", ".join(
            f"{r.label or r.loss} (seed {r.seed}, epoch {r.diverged})" for r in diverged
        )
        lines.append(f"diverged (the training loss became NaN or infinite): {names}; {ADVICE}")
    return lines


#: What each metric measures, and whether higher (↑) or lower (↓) is better.
MEANING = {
    "top1": "↑ share of test samples whose top-scored class is the true class",
    "top5": "↑ share whose true class is among the 5 top-scored classes",
    "mistake_severity": "↓ mean tree distance from the true class to the predicted one,"
    " over the mistakes only",
    "hier_distance@5": "↓ mean tree distance from the true class to each of the 5"
    " top-scored classes",
    "superclass_accuracy": "↑ share whose predicted class has the true class's superclass",
    "similarity_accuracy": "↑ mean similarity S[true, predicted] (the config's similarity,"
    " else the tree's Wu-Palmer): partial credit for close mistakes",
    "precision@5": "↑ share of the 5 top-scored labels that are true labels",
    "recall@5": "↑ share of a sample's true labels among its 5 top-scored labels",
    "mAP": "↑ mean over labels of the average precision of ranking samples by score",
    "crm": "+ CRM: the same model decoded by conditional risk minimisation, the class"
    " with the least expected tree distance (Karthik et al., 2021)",
}


def metric_legend(results: Sequence[TrialResult], distance: str | None = None) -> list[str]:
    """One line per metric in ``results``: its column name, meaning and better direction."""
    lines = []
    for metric in metric_names(results):
        meaning = MEANING.get(metric)
        if meaning is not None:
            lines.append(f"{SHORT.get(metric, metric)}: {meaning}")
    if any(m in CRM for m in metric_names(results)):
        lines.append(MEANING["crm"])
    if distance is not None and any("severity" in line or "hdist" in line for line in lines):
        lines.append(f"tree distance: {distance!r} (see [train] distance)")
    return lines


SHORT = {
    "mistake_severity": "severity",
    "hier_distance@5": "hdist@5",
    "superclass_accuracy": "super-acc",
    "similarity_accuracy": "sim-acc",
}

#: CRM-decoded metrics and the plain metric whose column shows them, on a row of their own
CRM = {"crm_top1": "top1", "crm_mistake_severity": "mistake_severity"}


def results_table(results: Sequence[TrialResult], title: str) -> Table:
    """A terminal table: one row per loss, one column per metric (mean ± std over seeds).

    Skipped losses are listed in the caption with the reason; a loss whose training
    diverged shows ``diverged at epoch E`` in its status column. A loss evaluated with CRM
    decoding too (``crm_*`` metrics) gets a second row, ``+ CRM``, with those in the columns
    of the plain metrics.
    """
    metrics = [m for m in metric_names(results) if m not in CRM]
    table = Table(title=title)
    table.add_column("loss", no_wrap=True)
    for metric in metrics:
        table.add_column(SHORT.get(metric, metric), justify="right")
    table.add_column("s/epoch", justify="right")
    table.add_column("status")
    groups: dict[str, list[TrialResult]] = defaultdict(list)
    for r in results:
        groups[r.label or r.loss].append(r)
    skipped = []
    diverged = False
    for label, trials in groups.items():
        if all(t.skipped is not None for t in trials):
            skipped.append(f"{label}: {trials[0].skipped}")
            continue
        done = [t for t in trials if t.status == "ok"]
        diverged |= any(t.diverged is not None for t in trials)
        cells = [_mean_std([t.final[m] for t in done if m in t.final]) for m in metrics]
        seconds = [t.seconds_per_epoch for t in trials if t.skipped is None]
        table.add_row(Text(label), *cells, f"{np.mean(seconds):.2f}", Text(_status(trials)))
        crm = {plain: [t.final[m] for t in done if m in t.final] for m, plain in CRM.items()}
        if any(crm.values()):
            cells = [_mean_std(crm[m]) if crm.get(m) else "" for m in metrics]
            table.add_row(Text("  + CRM", style="dim"), *cells, "", "")
    caption = []
    if skipped:
        caption.append("skipped: " + "; ".join(skipped))
    if diverged:
        caption.append(f"diverged: the training loss became NaN or infinite; {ADVICE}")
    table.caption = Text("\n".join(caption)) if caption else None  # no markup: "[train]"
    return table


def sweep_table(results: Sequence[TrialResult], metric: str, parameter: str) -> Table:
    """A terminal table for one metric: losses as rows, parameter values as columns."""
    values = list(dict.fromkeys(r.param for r in results))
    table = Table(title=f"{metric} by {parameter}")
    table.add_column("loss")
    for value in values:
        table.add_column(str(value), justify="right")
    cells: dict[str, dict[Any, list[float]]] = defaultdict(lambda: defaultdict(list))
    diverged: dict[str, dict[Any, bool]] = defaultdict(dict)
    for r in results:
        if r.status == "ok" and metric in r.final:
            cells[r.label or r.loss][r.param].append(r.final[metric])
        elif r.diverged is not None:
            cells[r.label or r.loss].setdefault(r.param, [])
            diverged[r.label or r.loss][r.param] = True
    for loss, by_value in cells.items():
        table.add_row(
            Text(loss),
            *[
                _mean_std(by_value.get(v, [])) + (" (diverged)" if diverged[loss].get(v) else "")
                for v in values
            ],
        )
    return table


def write_outputs(
    folder: RunFolder, results: Sequence[TrialResult], parameter: str | None = None
) -> None:
    """Write ``results.csv``/``results.json`` and the plots into the run folder."""
    if not folder.writer:
        return
    from structloss.lab.plots import plot_learning_curves, plot_metric_bars, plot_sweep

    rows = summary_rows(results)
    folder.write_text("results.csv", rows_to_csv(rows))
    folder.write_json("results.json", [r.to_dict() for r in results])
    done = [r for r in results if r.status == "ok"]
    metrics = metric_names(done)
    if not done or not metrics:
        return
    plots = folder.path("plots")
    assert plots is not None
    if parameter is None:
        plot_learning_curves(done, metrics, plots / "learning_curves.png")
        plot_metric_bars(done, metrics, plots / "metrics.png")
    else:
        for metric in metrics:
            plot_sweep(done, metric, parameter, plots / f"{metric.replace('@', '_at_')}.png")
