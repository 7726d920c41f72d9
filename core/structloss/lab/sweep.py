"""``structloss compare``: sweep one config parameter over values, losses and seeds."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from structloss.config import Config
from structloss.errors import ConfigError
from structloss.lab.datasets import SEEDED_DATASETS
from structloss.lab.distributed import World
from structloss.lab.runs import TrialResult
from structloss.lab.settings import TrainSettings
from structloss.lab.train import Callback, Experiment, _nothing
from structloss.plugins import PluginHost

__all__ = ["run_comparison"]


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
    (a list, default ``[0]``; each seed sets the training seed and, for data that draw
    themselves or their split from a seed (the synthetic tasks, ``wordnet-nouns``), the data
    seed too, so the spread over seeds includes the split's).

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
    parameter, values, seeds = table["parameter"], table["values"], table.get("seeds", [0])
    if not isinstance(parameter, str):
        raise ConfigError(
            f'[compare] parameter must be a string such as "data.noise", got {parameter!r}'
        )
    if not isinstance(values, list) or not isinstance(seeds, list) or not values or not seeds:
        raise ConfigError(
            f"[compare] values and seeds must be non-empty lists, got values = {values!r},"
            f" seeds = {seeds!r}"
        )
    bad = [
        seed for seed in seeds if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0
    ]
    if bad:
        raise ConfigError(f"[compare] seeds must be integers >= 0, got {bad[0]!r}")
    base = Experiment(cfg, host=host, out_dir=out_dir, world=world)
    base.folder.write_json("config.json", base.resolved)
    results = []
    for value in values:
        for seed in seeds:
            resolved = _with(base.resolved, parameter, value)
            resolved["train"]["seed"] = seed
            if str(resolved["data"].get("name", "synthetic-hierarchy")) in SEEDED_DATASETS:
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
