"""``structloss run``: train losses on data, evaluate them, record the trials.

A run config has the tables of a compose config (``classes`` aside: the data defines them)
plus ``[data]`` (see :func:`structloss.lab.datasets.load_dataset`), ``[model]`` (see
:func:`structloss.lab.models.build_model`), ``[train]`` (:class:`TrainSettings`),
``losses`` and, for sweeps, ``[compare]`` (:mod:`structloss.lab.sweep`). Without a config, the default experiment runs every installed loss on a
synthetic 100-class problem whose classes follow a random tree.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import torch

from structloss.config import Config, build_structure, compose, factory_options, resolve_classes
from structloss.errors import ConfigError, StructlossError
from structloss.lab.datasets import Dataset, hierarchy_groups, load_dataset
from structloss.lab.distributed import World, wrap_model
from structloss.lab.models import build_model
from structloss.lab.runs import (
    InputFiles,
    RunFolder,
    TrialResult,
    config_digest,
    loss_label,
    trial_key,
)
from structloss.lab.settings import TrainSettings
from structloss.metrics import MultiLabelMetrics, SingleLabelMetrics
from structloss.objective import Objective
from structloss.plugins import PluginHost, default_host
from structloss.structures import Hierarchy, LabelEmbedding, LabelStructure, Similarity

__all__ = ["Experiment", "run_experiment", "unique_labels"]


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
        self.inputs = InputFiles(config.base_dir)
        self.resolved = self._resolve()
        self.labels = unique_labels(self.resolved["losses"])

    def share_caches(self, other: Experiment) -> None:
        """Reuse ``other``'s datasets, structures and file hashes (sweeps over one config)."""
        self._datasets = other._datasets
        self._structures = other._structures
        self.inputs = other.inputs

    # -- config pieces ------------------------------------------------------------------
    def loss_tables(self) -> list[dict[str, Any]]:
        """The losses to train: ``losses = [...]``, the single ``[loss]``, or all installed."""
        listed = self.cfg.extra.get("losses")
        if listed is not None:
            if not isinstance(listed, list) or not listed:
                raise ConfigError(
                    '`losses` must be a non-empty list of names or {name = "..."} tables'
                )
            bad = [item for item in listed if not isinstance(item, str | Mapping)]
            bad += [
                i for i in listed if isinstance(i, Mapping) and not isinstance(i.get("name"), str)
            ]
            if bad:
                raise ConfigError(
                    f"`losses` entries must be loss names or tables with a `name`, got {bad[0]!r};"
                    ' write e.g. losses = ["cross-entropy", {name = "tree-loss"}]'
                )
            return [{"name": item} if isinstance(item, str) else dict(item) for item in listed]
        if self.cfg.loss is not None:
            return [{"name": self.cfg.loss.name, **self.cfg.loss.options}]
        return [{"name": name} for name in self.host.registry.names("loss")]

    def _resolve(self) -> dict[str, Any]:
        """The config as it runs, defaults filled in (written to ``config.json``)."""
        extra = self.cfg.extra
        for name in ("data", "model", "compare"):
            if not isinstance(extra.get(name, {}), Mapping):
                value = extra[name]
                raise ConfigError(
                    f"[{name}] must be a table, got {type(value).__name__} {value!r}; write it"
                    f" as a [{name}] section with key = value lines"
                )
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
        """Load (once) the dataset of a ``[data]`` table, checking the config's ``classes``.

        Raises:
            ConfigError: when the config's ``classes`` are not the data's classes.
        """
        key = config_digest(table)
        if key not in self._datasets:
            data = load_dataset(table, base_dir=self.cfg.base_dir)
            self._check_classes(data)
            self._datasets[key] = data
        return self._datasets[key]

    def _check_classes(self, data: Dataset) -> None:
        """In a run, class names come from the data; ``classes`` may only restate them."""
        if self.cfg.classes is None and self.cfg.class_list is None:
            return
        listed = resolve_classes(self.cfg, None, self.host)
        if listed == data.classes:
            return
        assert listed is not None
        missing = [c for c in data.classes if c not in set(listed)][:8]
        extra = [c for c in listed if c not in set(data.classes)][:8]
        detail = (
            f"missing {missing}, unexpected {extra}"
            if missing or extra
            else "the same names in another order"
        )
        raise ConfigError(
            f"`classes` in a run config must be the data's classes in label order, and they"
            f" differ: the data {data.name or ''} has {data.num_classes} classes"
            f" ({', '.join(data.classes[:5])}{', ...' if data.num_classes > 5 else ''}), the"
            f" config lists {len(listed)} ({detail}). In a run the class names come from the"
            " data (a features file's class_names, CIFAR-100's meta file, the synthetic"
            " generator): remove `classes` from the config, or correct it"
        )

    def structure(
        self,
        data_table: Mapping[str, Any],
        data: Dataset,
        table: Any = ...,
    ) -> LabelStructure | None:
        """A ``[structure]`` table (default: the config's) built for ``data`` (once).

        Without one, the data's own tree (or None).
        """
        if table is ...:
            table = self.resolved["structure"]
        if table is None:
            return data.hierarchy
        assert isinstance(table, Mapping)
        key = config_digest([data_table, dict(table)])
        if key not in self._structures:
            self._structures[key] = build_structure(
                Config.from_dict({"structure": dict(table)}, base_dir=self.cfg.base_dir),
                classes=data.classes,
                labels=data.y_train,
                host=self.host,
            )
        return self._structures[key]

    def parts(self, loss_table: Mapping[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any]]:
        """Split a ``losses`` entry into the loss's own table, its structure and conversion.

        An entry may carry its own ``structure`` and ``convert`` tables (variants of one
        loss on different structures in one run) and a display ``label``; without them the
        config's ``[structure]`` and ``[convert]`` apply.

        Raises:
            ConfigError: when those keys are not tables.
        """
        table = {k: v for k, v in loss_table.items() if k != "label"}
        structure = table.pop("structure", self.resolved["structure"])
        convert = table.pop("convert", self.resolved["convert"])
        if structure is not None and (
            not isinstance(structure, Mapping) or not isinstance(structure.get("provider"), str)
        ):
            raise ConfigError(
                f"loss {table.get('name')!r}: `structure` must be a table with a `provider`,"
                f' got {structure!r}; write structure = {{provider = "..."}}'
            )
        if not isinstance(convert, Mapping):
            raise ConfigError(
                f"loss {table.get('name')!r}: `convert` must be a table, got {convert!r}"
            )
        return table, structure, dict(convert)

    # -- trials -------------------------------------------------------------------------
    def trial(
        self,
        loss_table: Mapping[str, Any],
        *,
        data_table: Mapping[str, Any],
        settings: TrainSettings,
        param: tuple[str, Any] | None = None,
    ) -> TrialResult:
        """Train one loss once and evaluate it after every epoch (or load it if finished).

        A trial whose mean training loss becomes NaN or infinite stops at that epoch and is
        returned with ``diverged`` set; it does not stop the other trials.
        """
        name = str(loss_table.get("name"))
        key = trial_key(loss_table, settings.seed, param)
        label = self.labels.get(config_digest(dict(loss_table))) or loss_label(loss_table)
        data = self.dataset(data_table)
        if settings.k is not None and settings.k > data.num_classes:
            raise ConfigError(
                f"[train] k = {settings.k} is more than the {data.num_classes} classes of the"
                f" data, so top-{settings.k} metrics would be meaningless; set k <="
                f" {data.num_classes}"
            )
        skip = self._skip_reason(name, data)
        if skip is not None:
            return TrialResult(
                loss=name, key=key, label=label, seed=settings.seed, param=_value(param),
                skipped=skip,
            )  # fmt: skip
        options, structure_table, convert = self.parts(loss_table)
        digest = self._digest(loss_table, data_table, settings, data)
        finished = self.folder.load_trial(key, digest)
        if isinstance(finished, TrialResult):
            return finished
        try:
            structure = self.structure(data_table, data, structure_table)
            objective = compose(
                Config.from_dict(
                    {
                        "loss": options,
                        "backend": {"name": self.cfg.backend.name},
                        "convert": convert,
                    },
                    base_dir=self.cfg.base_dir,
                ),
                classes=data.classes,
                labels=data.y_train,
                structure=structure,
                host=self.host,
            )
        except StructlossError as exc:
            if self.cfg.extra.get("losses") is not None or self.cfg.loss is not None:
                raise
            reason = str(exc).splitlines()[0]
            return TrialResult(
                loss=name, key=key, label=label, seed=settings.seed, param=_value(param),
                skipped=reason,
            )  # fmt: skip
        self.on_start(key, settings.epochs)
        result, state = self._train(objective, data, settings, structure)
        result = attrs.evolve(
            result,
            loss=name,
            key=key,
            label=label,
            seed=settings.seed,
            param=_value(param),
            digest=digest,
            note=finished,
        )
        self.folder.save_trial(result, state)
        return result

    def _digest(
        self,
        loss_table: Mapping[str, Any],
        data_table: Mapping[str, Any],
        settings: TrainSettings,
        data: Dataset,
    ) -> str:
        """What a finished trial is keyed on: its config, its input files, the versions."""
        options, structure, convert = self.parts(loss_table)
        return config_digest(
            {
                "loss": options,
                "data": dict(data_table),
                "model": self.resolved["model"],
                "train": _fingerprint(settings),
                "structure": structure,
                "convert": convert,
                "backend": self.cfg.backend.name,
                "classes": list(data.classes),
                "inputs": self.inputs.digests(loss_table, data_table, structure, convert),
                "versions": self._versions(str(options.get("name")), structure),
                "defaults": self._defaults(str(options.get("name")), structure),
            }
        )

    def _defaults(self, loss: str, structure: Mapping[str, Any] | None) -> dict[str, Any]:
        """The defaults of the options a config leaves out, which a trial is also keyed on.

        They are the loss factory's, the structure provider's and the conversions'; a
        changed default thus trains again instead of showing the old default's numbers.
        """
        registry = self.host.registry
        factories = [("loss", reg.spec.factory) for reg in registry.providers("loss", loss)]
        if structure is not None:
            provider = str(structure["provider"])
            factories += [
                ("structure", r.spec.factory) for r in registry.providers("structure", provider)
            ]
        factories += [
            ("hierarchy", Hierarchy.to_similarity),
            ("embedding", LabelEmbedding.to_similarity),
        ]
        out: dict[str, Any] = {}
        for kind, factory in factories:
            options = factory_options(factory) or {}
            out[kind] = {
                name: repr(p.default) for name, p in options.items() if p.default is not p.empty
            }
        return out

    def _versions(self, loss: str, structure: Mapping[str, Any] | None) -> dict[str, str]:
        """The versions of structloss and of every plugin the trial's components come from."""
        from structloss import __version__

        registry = self.host.registry
        regs = registry.providers("loss", loss)
        if structure is not None:
            regs += registry.providers("structure", str(structure["provider"]))
        regs += registry.entries("backend") + registry.entries("kernel")
        versions = {"structloss": __version__}
        for reg in regs:
            what = reg.plugin.distribution or reg.plugin.name
            versions[f"plugin {reg.plugin.name} ({what})"] = reg.plugin.version or ""
        return versions

    def _skip_reason(self, name: str, data: Dataset) -> str | None:
        regs = self.host.registry.providers("loss", name)
        if len(regs) == 1 and regs[0].spec.multilabel != data.multilabel:
            kind = "multi-label" if regs[0].spec.multilabel else "single-label"
            task = "multi-label" if data.multilabel else "single-label"
            return f"a {kind} loss; this task is {task}"
        return None

    def _train(
        self,
        objective: Objective,
        data: Dataset,
        settings: TrainSettings,
        structure: LabelStructure | None = None,
    ) -> tuple[TrialResult, dict[str, Any] | None]:
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
            if not math.isfinite(row["train_loss"]):  # every rank sees the same reduced sum
                history.append(row)
                return self._diverged(history, epoch, seconds), None
            k = settings.k if settings.k is not None else min(5, data.num_classes)
            if epoch % settings.eval_every == 0 or epoch == settings.epochs:
                row.update(self.evaluate(model, objective, data, k, structure, settings.distance))
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

    @staticmethod
    def _diverged(history: list[dict[str, float]], epoch: int, seconds: float) -> TrialResult:
        return TrialResult(
            loss="",
            key="",
            history=tuple(history),
            seconds_per_epoch=seconds / epoch,
            diverged=epoch,
        )

    @torch.no_grad()
    def evaluate(
        self,
        model: torch.nn.Module,
        objective: Objective,
        data: Dataset,
        k: int,
        structure: LabelStructure | None = None,
        distance: str = "lca-height",
    ) -> dict[str, float]:
        """Metrics on the test split: each rank scores a shard; the metrics sum over ranks.

        Tree metrics and conditional risk minimisation use ``distance`` (``[train]
        distance``).

        The metrics are :class:`~structloss.metrics.SingleLabelMetrics` (or
        :class:`~structloss.metrics.MultiLabelMetrics`), ``torchmetrics`` collections that
        synchronise across ranks in ``compute``. The structure-aware metrics use
        ``structure`` (the config's) where it is a hierarchy or a similarity, else the data's
        own tree; with a tree, ``crm_*`` keys report conditional risk minimisation decoding
        of the softmax of the loss's scores (an approximation of the model's probabilities
        for losses whose scores are not logits).
        """
        world = self.world
        model.eval()
        num_classes = len(data.classes)
        if data.multilabel:
            metrics: Any = MultiLabelMetrics(num_classes=num_classes, k=k)
        else:
            metrics = SingleLabelMetrics(
                num_classes=num_classes,
                k=k,
                crm=True,
                distance=distance,
                **_tree_of(data, structure),
            )
        metrics.to(world.device)
        mine = torch.arange(world.rank, data.x_test.shape[0], world.size)
        for chunk in mine.split(1024):  # one (maybe empty) chunk at least: every rank updates
            if chunk.numel():
                scores = objective.scores(model(data.x_test[chunk].to(world.device))).float()
            else:
                scores = torch.zeros((0, num_classes), device=world.device)
            metrics.update(scores, data.y_test[chunk].to(world.device))
        return {name: float(value) for name, value in metrics.compute().items()}


def _fingerprint(settings: TrainSettings) -> dict[str, Any]:
    """The ``[train]`` settings a trial is keyed on; ``eval_every`` only where it is not 1.

    Records made before the option existed thus keep their keys (it changes only how many
    epochs are evaluated, never the trained model).
    """
    table = attrs.asdict(settings)
    if table["eval_every"] == 1:
        del table["eval_every"]
    return table


def _tree_of(data: Dataset, structure: LabelStructure | None) -> dict[str, Any]:
    """The hierarchy, similarity and superclasses the metrics of a single-label run use."""
    hierarchy = structure if isinstance(structure, Hierarchy) else data.hierarchy
    if isinstance(structure, Similarity):
        similarity: Similarity | None = structure
    else:
        # the similarity accuracy metric credits Wu-Palmer similarity, whatever SimLoss uses;
        # a tree too large for a dense classes x classes matrix reports none
        small = hierarchy is not None and hierarchy.num_classes <= Hierarchy.TREE_FORM_CLASSES
        similarity = hierarchy.to_similarity("wu-palmer") if small else None
    groups = data.groups
    if groups is None and hierarchy is not None:
        groups = hierarchy_groups(hierarchy)[0]
    return {"hierarchy": hierarchy, "similarity": similarity, "groups": groups}


def unique_labels(loss_tables: list[dict[str, Any]]) -> dict[str, str]:
    """A label per distinct loss table (keyed by its digest), made unique with a hash.

    Two tables that read alike (``x = "1"`` and ``x = 1``, or two long weight lists that
    abbreviate alike) get their hash appended, so the table never merges their rows.
    """
    by_digest = {config_digest(dict(t)): loss_label(t) for t in loss_tables}
    counts: dict[str, int] = {}
    for label in by_digest.values():
        counts[label] = counts.get(label, 0) + 1
    return {d: (f"{lab} #{d[:6]}" if counts[lab] > 1 else lab) for d, lab in by_digest.items()}


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
