"""``structloss run`` and ``structloss compare``: train losses on data, evaluate, record.

A run config has the tables of a compose config (``classes`` aside: the data defines them)
plus ``[data]`` (see :func:`structloss.data.load_dataset`), ``[model]`` (see
:func:`structloss.models.build_model`), ``[train]``, ``losses`` and, for sweeps,
``[compare]``. Without a config, the default experiment runs every installed loss on a
synthetic 100-class problem whose classes follow a random tree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from structloss.config import Config, build_structure, compose
from structloss.data import Dataset, load_dataset
from structloss.distributed import World, wrap_model
from structloss.errors import ConfigError, StructlossError, closest
from structloss.metrics import MultiLabelMetrics, SingleLabelMetrics
from structloss.models import build_model
from structloss.objective import Objective
from structloss.plugins import PluginHost, default_host
from structloss.runs import RunFolder, TrialResult, config_digest, loss_label, trial_key
from structloss.structures import LabelStructure

__all__ = ["Experiment", "TrainSettings", "run_comparison", "run_experiment"]


@attrs.frozen
class TrainSettings:
    """How each model is trained (the ``[train]`` table)."""

    epochs: int = 15
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0
    k: int = 5

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> TrainSettings:
        """Read ``[train]``; unknown keys are an error naming the valid ones."""
        valid = [f.name for f in attrs.fields(cls)]
        unknown = [k for k in table if k not in valid]
        if unknown:
            hints = "; ".join(f"{k!r}{closest(k, valid)}" for k in unknown)
            raise ConfigError(f"[train] has no option {hints}. Valid options: {', '.join(valid)}")
        settings = cls(**table)
        if settings.epochs < 1 or settings.batch_size < 1 or settings.lr <= 0 or settings.k < 1:
            raise ConfigError("[train] needs epochs >= 1, batch_size >= 1, k >= 1 and lr > 0")
        if settings.optimizer not in ("adam", "sgd"):
            raise ConfigError(
                f"[train] optimizer must be 'adam' or 'sgd', got {settings.optimizer!r}"
            )
        return settings


Callback = Callable[..., None]


def _nothing(*args: Any) -> None:
    return None


class Experiment:
    """Trials of losses on one config's data, sharing datasets and structures between them.

    Args:
        config: the run config.
        host: the plugin host (default: the installed plugins).
        out_dir: the run folder (None writes nothing).
        world: the distributed world (default: a single process).
        on_start: called as ``on_start(key, epochs)`` before a trial trains.
        on_epoch: called after every epoch.
    """

    def __init__(
        self,
        config: Config,
        *,
        host: PluginHost | None = None,
        out_dir: str | Path | None = None,
        world: World | None = None,
        on_start: Callback = _nothing,
        on_epoch: Callback = _nothing,
    ) -> None:
        self.cfg = config
        self.host = host or default_host()
        self.world = world or World()
        self.folder = RunFolder(out_dir, writer=self.world.is_main)
        self.on_start, self.on_epoch = on_start, on_epoch
        self._datasets: dict[str, Dataset] = {}
        self._structures: dict[str, LabelStructure | None] = {}
        self.resolved = self._resolve()

    def share_caches(self, other: Experiment) -> None:
        """Reuse ``other``'s loaded datasets and built structures (sweeps over one config)."""
        self._datasets = other._datasets
        self._structures = other._structures

    # -- config pieces ------------------------------------------------------------------
    def loss_tables(self) -> list[dict[str, Any]]:
        """The losses to train: ``losses = [...]``, the single ``[loss]``, or all installed."""
        listed = self.cfg.extra.get("losses")
        if listed is not None:
            if not isinstance(listed, list) or not listed:
                raise ConfigError(
                    '`losses` must be a non-empty list of names or {name = "..."} tables'
                )
            return [{"name": item} if isinstance(item, str) else dict(item) for item in listed]
        if self.cfg.loss is not None:
            return [{"name": self.cfg.loss.name, **self.cfg.loss.options}]
        return [{"name": name} for name in self.host.registry.names("loss")]

    def _resolve(self) -> dict[str, Any]:
        """The config as it runs, defaults filled in (written to ``config.json``)."""
        extra = self.cfg.extra
        return {
            "data": dict(extra.get("data", {})),
            "model": dict(extra.get("model", {"name": "mlp"})),
            "train": attrs.asdict(TrainSettings.from_table(extra.get("train", {}))),
            "losses": self.loss_tables(),
            "structure": (
                {"provider": self.cfg.structure.name, **self.cfg.structure.options}
                if self.cfg.structure
                else None
            ),
            "convert": dict(self.cfg.convert),
            "backend": self.cfg.backend.name,
            "compare": dict(extra.get("compare", {})),
        }

    def dataset(self, table: Mapping[str, Any]) -> Dataset:
        """Load (once) the dataset of a ``[data]`` table."""
        key = config_digest(table)
        if key not in self._datasets:
            self._datasets[key] = load_dataset(table, base_dir=self.cfg.base_dir)
        return self._datasets[key]

    def structure(self, data_table: Mapping[str, Any], data: Dataset) -> LabelStructure | None:
        """The config's ``[structure]`` built for ``data`` (once), else the data's own tree."""
        if self.cfg.structure is None:
            return data.hierarchy
        key = config_digest([data_table, self.cfg.structure.name, self.cfg.structure.options])
        if key not in self._structures:
            self._structures[key] = build_structure(
                self.cfg, classes=data.classes, labels=data.y_train, host=self.host
            )
        return self._structures[key]

    # -- trials -------------------------------------------------------------------------
    def trial(
        self,
        loss_table: Mapping[str, Any],
        *,
        data_table: Mapping[str, Any],
        settings: TrainSettings,
        param: tuple[str, Any] | None = None,
    ) -> TrialResult:
        """Train one loss once and evaluate it after every epoch (or load it if finished)."""
        name = str(loss_table.get("name"))
        key = trial_key(loss_table, settings.seed, param)
        label = loss_label(loss_table)
        data = self.dataset(data_table)
        skip = self._skip_reason(name, data)
        if skip is not None:
            return TrialResult(
                loss=name, key=key, seed=settings.seed, param=_value(param), skipped=skip
            )
        digest = config_digest(
            [
                dict(loss_table),
                dict(data_table),
                self.resolved["model"],
                attrs.asdict(settings),
                self.resolved["structure"],
                dict(self.cfg.convert),
                self.cfg.backend.name,
            ]
        )
        finished = self.folder.load_trial(key, digest)
        if finished is not None:
            return finished
        try:
            objective = compose(
                Config.from_dict(
                    {
                        "loss": dict(loss_table),
                        "backend": {"name": self.cfg.backend.name},
                        "convert": dict(self.cfg.convert),
                    },
                    base_dir=self.cfg.base_dir,
                ),
                classes=data.classes,
                labels=data.y_train,
                structure=self.structure(data_table, data),
                host=self.host,
            )
        except StructlossError as exc:
            if self.cfg.extra.get("losses") is not None or self.cfg.loss is not None:
                raise
            reason = str(exc).splitlines()[0]
            return TrialResult(
                loss=name, key=key, seed=settings.seed, param=_value(param), skipped=reason
            )
        self.on_start(key, settings.epochs)
        result, state = self._train(objective, data, settings)
        result = attrs.evolve(
            result,
            loss=name,
            key=key,
            label=label,
            seed=settings.seed,
            param=_value(param),
            digest=digest,
        )
        self.folder.save_trial(result, state)
        return result

    def _skip_reason(self, name: str, data: Dataset) -> str | None:
        regs = self.host.registry.providers("loss", name)
        if len(regs) == 1 and regs[0].spec.multilabel != data.multilabel:
            kind = "multi-label" if regs[0].spec.multilabel else "single-label"
            task = "multi-label" if data.multilabel else "single-label"
            return f"a {kind} loss; this task is {task}"
        return None

    def _train(
        self, objective: Objective, data: Dataset, settings: TrainSettings
    ) -> tuple[TrialResult, dict[str, Any]]:
        world = self.world
        torch.manual_seed(settings.seed)
        model = build_model(self.resolved["model"], data.input_shape, objective)
        model.to(world.device)
        objective.to(world.device)
        trained = wrap_model(model, world)
        params = [*trained.parameters(), *objective.parameters()]
        if settings.optimizer == "adam":
            optimizer: torch.optim.Optimizer = torch.optim.Adam(
                params, lr=settings.lr, weight_decay=settings.weight_decay
            )
        else:
            optimizer = torch.optim.SGD(
                params, lr=settings.lr, momentum=0.9, weight_decay=settings.weight_decay
            )
        order = torch.Generator().manual_seed(settings.seed)
        n = data.x_train.shape[0]
        history: list[dict[str, float]] = []
        seconds = 0.0
        for epoch in range(1, settings.epochs + 1):
            start = time.perf_counter()
            trained.train()
            total = torch.zeros(2, dtype=torch.float64)
            for batch in torch.randperm(n, generator=order).split(settings.batch_size):
                mine = world.shard(batch)
                if mine.numel() == 0:
                    continue
                x = data.x_train[mine].to(world.device)
                y = data.y_train[mine].to(world.device)
                optimizer.zero_grad(set_to_none=True)
                value = objective(trained(x), y)
                value.backward()
                optimizer.step()
                total += torch.tensor(
                    [float(value.detach()) * mine.numel(), mine.numel()], dtype=torch.float64
                )
            seconds += time.perf_counter() - start
            total = world.all_reduce(total)
            row = {"epoch": epoch, "train_loss": float(total[0] / total[1].clamp_min(1))}
            row.update(self.evaluate(model, objective, data, settings.k))
            row["seconds"] = time.perf_counter() - start
            history.append(row)
            self.on_epoch()
        final = {k: v for k, v in history[-1].items() if k not in ("epoch", "seconds")}
        result = TrialResult(
            loss="",
            key="",
            history=tuple(history),
            final=final,
            seconds_per_epoch=seconds / settings.epochs,
        )
        return result, model.state_dict()

    @torch.no_grad()
    def evaluate(
        self, model: torch.nn.Module, objective: Objective, data: Dataset, k: int
    ) -> dict[str, float]:
        """Metrics on the test split; each rank scores a shard, the scores are gathered."""
        world = self.world
        model.eval()
        indices = torch.arange(data.x_test.shape[0])
        mine = indices[world.rank :: world.size]
        scores = (
            torch.cat(
                [
                    objective.scores(model(data.x_test[chunk].to(world.device))).float().cpu()
                    for chunk in mine.split(1024)
                ]
            )
            if mine.numel()
            else torch.zeros(0, len(data.classes))
        )
        scores = world.all_gather(scores.to(world.device)).cpu()
        order = torch.cat([indices[r :: world.size] for r in range(world.size)])
        target = data.y_test[order]
        if data.multilabel:
            metrics: Any = MultiLabelMetrics(num_classes=len(data.classes), k=k)
        else:
            similarity = data.hierarchy.to_similarity() if data.hierarchy is not None else None
            metrics = SingleLabelMetrics(
                num_classes=len(data.classes),
                k=k,
                hierarchy=data.hierarchy,
                similarity=similarity,
                groups=data.groups,
            )
        metrics.update(scores, target)
        return {name: float(value) for name, value in metrics.compute().items()}


def _value(param: tuple[str, Any] | None) -> Any:
    return None if param is None else param[1]


def run_experiment(
    config: Config | Mapping[str, Any] | None = None,
    *,
    host: PluginHost | None = None,
    out_dir: str | Path | None = None,
    world: World | None = None,
    on_start: Callback = _nothing,
    on_epoch: Callback = _nothing,
) -> list[TrialResult]:
    """Train and evaluate every configured (or installed) loss once on the config's data.

    Returns:
        One :class:`TrialResult` per loss; losses that cannot run on this task are returned
        with ``skipped`` saying why.
    """
    cfg = Config.load(config if config is not None else {})
    experiment = Experiment(
        cfg, host=host, out_dir=out_dir, world=world, on_start=on_start, on_epoch=on_epoch
    )
    resolved = experiment.resolved
    settings = TrainSettings.from_table(resolved["train"])
    experiment.folder.write_json("config.json", resolved)
    return [
        experiment.trial(table, data_table=resolved["data"], settings=settings)
        for table in resolved["losses"]
    ]


def _with(resolved: Mapping[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A copy of a resolved config with the dotted ``path`` (``data.noise``) set to ``value``."""
    table, _, key = path.partition(".")
    if table not in ("data", "model", "train", "convert", "structure") or not key:
        raise ConfigError(
            f"[compare] parameter {path!r} must be 'TABLE.OPTION' with TABLE one of: convert,"
            " data, model, structure, train (e.g. 'data.noise')"
        )
    out = {k: dict(v) if isinstance(v, Mapping) else v for k, v in resolved.items()}
    if out.get(table) is None:
        raise ConfigError(f"[compare] parameter {path!r}: the config has no [{table}] table")
    out[table][key] = value
    return out


def _config_from_resolved(resolved: Mapping[str, Any], base_dir: str) -> Config:
    data = {
        "data": resolved["data"],
        "model": resolved["model"],
        "train": resolved["train"],
        "losses": resolved["losses"],
        "convert": resolved["convert"],
        "backend": {"name": resolved["backend"]},
    }
    if resolved.get("structure"):
        data["structure"] = resolved["structure"]
    return Config.from_dict(data, base_dir=base_dir)


def run_comparison(
    config: Config | Mapping[str, Any],
    *,
    host: PluginHost | None = None,
    out_dir: str | Path | None = None,
    world: World | None = None,
    on_start: Callback = _nothing,
    on_epoch: Callback = _nothing,
) -> tuple[str, list[TrialResult]]:
    """Sweep the ``[compare]`` parameter over its values, for every loss and seed.

    ``[compare]`` has ``parameter`` (a dotted option such as ``"data.noise"``,
    ``"data.train_per_class"``, ``"convert.lower_bound"``), ``values`` (a list) and ``seeds``
    (a list, default ``[0]``; each seed sets the training seed and, for synthetic data, the
    data seed).

    Returns:
        The parameter name and one :class:`TrialResult` per (value, seed, loss).
    """
    cfg = Config.load(config)
    table = cfg.extra.get("compare")
    if not isinstance(table, Mapping) or "parameter" not in table or "values" not in table:
        raise ConfigError(
            'structloss compare needs a [compare] table with `parameter` (e.g. "data.noise")'
            " and `values` (a list)"
        )
    unknown = sorted(set(table) - {"parameter", "values", "seeds"})
    if unknown:
        raise ConfigError(
            f"[compare] has no option {unknown}; valid options: parameter, seeds, values"
        )
    parameter, values = str(table["parameter"]), list(table["values"])
    seeds = list(table.get("seeds", [0]))
    if not values or not seeds:
        raise ConfigError("[compare] values and seeds must be non-empty lists")
    base = Experiment(cfg, host=host, out_dir=out_dir, world=world)
    base.folder.write_json("config.json", base.resolved)
    results = []
    for value in values:
        for seed in seeds:
            resolved = _with(base.resolved, parameter, value)
            resolved["train"]["seed"] = seed
            if str(resolved["data"].get("name", "synthetic-hierarchy")).startswith("synthetic"):
                resolved["data"]["seed"] = seed
            variant = Experiment(
                _config_from_resolved(resolved, cfg.base_dir),
                host=base.host,
                out_dir=out_dir,
                world=base.world,
                on_start=on_start,
                on_epoch=on_epoch,
            )
            variant.share_caches(base)
            settings = TrainSettings.from_table(resolved["train"])
            results.extend(
                variant.trial(
                    loss, data_table=resolved["data"], settings=settings, param=(parameter, value)
                )
                for loss in resolved["losses"]
            )
    return parameter, results
