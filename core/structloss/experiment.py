"""The default experiment behind ``structloss run``: every installed loss on one task.

A synthetic many-class problem is generated along a random class tree
(:func:`structloss.synthetic.hierarchical_task`); the same small model is trained with each
loss from the same initialisation on the same batches, and evaluated on held-out data.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import torch
from torch import nn

from structloss.config import Config, compose
from structloss.errors import ConfigError, StructlossError, closest
from structloss.metrics import top_k_accuracy
from structloss.objective import Objective
from structloss.plugins import PluginHost, default_host
from structloss.synthetic import SyntheticTask, hierarchical_task

__all__ = ["LossResult", "TrainSettings", "run_experiment"]

DATA_DEFAULTS: dict[str, Any] = {
    "name": "synthetic-hierarchy",
    "branching": [4, 5, 5],
    "dim": 64,
    "train_per_class": 10,
    "test_per_class": 50,
    "input_noise": 2.0,
    "seed": 0,
}


@attrs.frozen
class TrainSettings:
    """How each model is trained (the ``[train]`` table)."""

    epochs: int = 15
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    hidden: int = 128
    seed: int = 0

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> TrainSettings:
        """Read ``[train]``; unknown keys are an error naming the valid ones."""
        valid = [f.name for f in attrs.fields(cls)]
        unknown = [k for k in table if k not in valid]
        if unknown:
            hints = "; ".join(f"{k!r}{closest(k, valid)}" for k in unknown)
            raise ConfigError(f"[train] has no option {hints}. Valid options: {', '.join(valid)}")
        settings = cls(**table)
        if (
            settings.epochs < 1
            or settings.batch_size < 1
            or settings.hidden < 0
            or settings.lr <= 0
        ):
            raise ConfigError("[train] needs epochs >= 1, batch_size >= 1, hidden >= 0 and lr > 0")
        return settings


@attrs.frozen
class LossResult:
    """What one loss achieved: accuracies and time, or why it was skipped."""

    loss: str
    top1: float = float("nan")
    top5: float = float("nan")
    seconds_per_epoch: float = float("nan")
    final_loss: float = float("nan")
    skipped: str | None = None


def load_task(table: Mapping[str, Any]) -> SyntheticTask:
    """Build the dataset of a ``[data]`` table."""
    options = {**DATA_DEFAULTS, **table}
    name = options.pop("name")
    if name != "synthetic-hierarchy":
        raise ConfigError(f"unknown dataset {name!r}; choose one of: synthetic-hierarchy")
    try:
        return hierarchical_task(**options)
    except TypeError as exc:
        raise ConfigError(f"[data] for synthetic-hierarchy: {exc}") from None


def loss_tables(cfg: Config, host: PluginHost) -> list[dict[str, Any]]:
    """The losses to compare: ``losses = [...]``, the single ``[loss]``, or all installed."""
    listed = cfg.extra.get("losses")
    if listed is not None:
        if not isinstance(listed, list) or not listed:
            raise ConfigError('`losses` must be a non-empty list of names or {name = "..."} tables')
        return [{"name": item} if isinstance(item, str) else dict(item) for item in listed]
    if cfg.loss is not None:
        return [{"name": cfg.loss.name, **cfg.loss.options}]
    return [{"name": name} for name in host.registry.names("loss")]


def _is_multilabel(host: PluginHost, name: str) -> bool:
    return any(r.spec.multilabel for r in host.registry.providers("loss", name))


def build_model(dim: int, objective: Objective, hidden: int) -> nn.Module:
    """A linear model (``hidden = 0``) or a one-hidden-layer MLP ending in ``objective.head``."""
    if hidden == 0:
        return objective.head(dim)
    return nn.Sequential(nn.Linear(dim, hidden), nn.ReLU(), objective.head(hidden))


def train_one(
    objective: Objective,
    task: SyntheticTask,
    settings: TrainSettings,
    on_epoch: Callable[[], None] = lambda: None,
) -> LossResult:
    """Train a fresh model with ``objective`` on ``task`` and evaluate it."""
    torch.manual_seed(settings.seed)
    model = build_model(task.dim, objective, settings.hidden)
    params = [*model.parameters(), *objective.parameters()]
    optimizer = torch.optim.Adam(params, lr=settings.lr, weight_decay=settings.weight_decay)
    order = torch.Generator().manual_seed(settings.seed)
    n = task.x_train.shape[0]
    seconds = 0.0
    last = float("nan")
    for _ in range(settings.epochs):
        start = time.perf_counter()
        model.train()
        for batch in torch.randperm(n, generator=order).split(settings.batch_size):
            optimizer.zero_grad(set_to_none=True)
            value = objective(model(task.x_train[batch]), task.y_train[batch])
            value.backward()
            optimizer.step()
            last = float(value.detach())
        seconds += time.perf_counter() - start
        on_epoch()
    model.eval()
    with torch.no_grad():
        scores = objective.scores(model(task.x_test))
    k = min(5, scores.shape[1])
    return LossResult(
        loss="",
        top1=top_k_accuracy(scores, task.y_test, 1),
        top5=top_k_accuracy(scores, task.y_test, k),
        seconds_per_epoch=seconds / settings.epochs,
        final_loss=last,
    )


def run_experiment(
    config: Config | Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
    on_start: Callable[[str, int], None] = lambda name, epochs: None,
    on_epoch: Callable[[], None] = lambda: None,
) -> list[LossResult]:
    """Train and evaluate every configured (or installed) loss on one task.

    Args:
        config: the run config (``[data]``, ``[train]``, ``losses`` or ``[loss]``, optional
            ``[structure]``/``[convert]``); None runs the default experiment.
        host: the plugin host (default: the installed plugins).
        on_start: called with each loss name and the epoch count (progress display).
        on_epoch: called after every epoch.

    Returns:
        One :class:`LossResult` per loss, in the order trained; losses that cannot run on
        this task are returned with ``skipped`` saying why.
    """
    cfg = Config.load(config if config is not None else {})
    host = host or default_host()
    task = load_task(cfg.extra.get("data", {}))
    settings = TrainSettings.from_table(cfg.extra.get("train", {}))
    results = []
    for table in loss_tables(cfg, host):
        name = str(table.get("name"))
        if name in host.registry.names("loss") and _is_multilabel(host, name):
            results.append(
                LossResult(loss=name, skipped="a multi-label loss; this task is single-label")
            )
            continue
        run_cfg = {
            "classes": list(task.classes),
            "loss": table,
            "backend": {"name": cfg.backend.name},
            "convert": dict(cfg.convert),
        }
        if cfg.structure is not None:
            run_cfg["structure"] = {"provider": cfg.structure.name, **cfg.structure.options}
        try:
            objective = compose(
                Config.from_dict(run_cfg, base_dir=cfg.base_dir),
                host=host,
                structure=None if cfg.structure is not None else task.hierarchy,
            )
        except StructlossError as exc:
            if "losses" in cfg.extra or cfg.loss is not None:
                raise
            results.append(LossResult(loss=name, skipped=str(exc).splitlines()[0]))
            continue
        on_start(name, settings.epochs)
        result = train_one(objective, task, settings, on_epoch)
        results.append(attrs.evolve(result, loss=name))
    return results
