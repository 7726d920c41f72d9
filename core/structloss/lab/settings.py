"""The ``[train]`` table: how each model of a run is trained."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import attrs

from structloss.errors import ConfigError, closest
from structloss.options import check_types
from structloss.structures import check_distance

__all__ = ["OPTIMIZERS", "TrainSettings"]


@attrs.frozen
class TrainSettings:
    """How each model is trained (the ``[train]`` table).

    Every value is checked for type and range (``epochs = 1.5`` or ``lr = "fast"`` is an
    error naming the option). ``k`` is the k of the top-k metrics: by default 5, or the
    number of classes where there are fewer; a ``k`` set above the number of classes is an
    error. ``distance`` is the class distance of the tree metrics and of conditional risk
    minimisation: ``"lca-height"``, ``"bertinetto"`` (the definition of Bertinetto et al.'s
    published numbers) or ``"edges"``. ``eval_every`` evaluates the test metrics every that
    many epochs and always after the last one: 1 (the default) records full learning curves,
    larger values make long runs on large test sets cheaper.
    """

    epochs: int = 15
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 0.0
    optimizer: str = "adam"
    seed: int = 0
    k: int | None = None  # None: 5, or the number of classes when there are fewer
    distance: str = "lca-height"
    eval_every: int = 1

    @classmethod
    def from_table(cls, table: Mapping[str, Any]) -> TrainSettings:
        """Read ``[train]``: unknown keys, wrong types and out-of-range values are errors.

        Raises:
            ConfigError: naming the option, the bad value and what it must be.
        """
        if not isinstance(table, Mapping):
            raise ConfigError(f"[train] must be a table, got {type(table).__name__}")
        valid = [f.name for f in attrs.fields(cls)]
        unknown = [k for k in table if k not in valid]
        if unknown:
            hints = "; ".join(f"{k!r}{closest(k, valid)}" for k in unknown)
            raise ConfigError(f"[train] has no option {hints}. Valid options: {', '.join(valid)}")
        check_types("[train]", cls, table)
        settings = cls(**table)
        for name, low, strict in _TRAIN_RANGES:
            value = getattr(settings, name)
            if value is None:
                continue
            if not (value > low if strict else value >= low) or not math.isfinite(value):
                bound = f"> {low}" if strict else f">= {low}"
                raise ConfigError(f"[train] {name} must be {bound}, got {value!r}")
        check_distance(settings.distance, where="[train] distance")
        if settings.optimizer not in OPTIMIZERS:
            raise ConfigError(
                f"[train] optimizer must be one of {', '.join(map(repr, OPTIMIZERS))}, got"
                f" {settings.optimizer!r}{closest(settings.optimizer, OPTIMIZERS)}"
            )
        return settings


OPTIMIZERS = ("adam", "sgd")
_TRAIN_RANGES = (
    ("epochs", 1, False),
    ("eval_every", 1, False),
    ("batch_size", 1, False),
    ("lr", 0, True),
    ("weight_decay", 0, False),
    ("seed", 0, False),
    ("k", 1, False),
)
