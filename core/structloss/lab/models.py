"""Models for ``structloss run``: their last layer always comes from ``Objective.head``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from torch import nn

from structloss.errors import ConfigError, choice_list, closest
from structloss.objective import Objective
from structloss.options import check_types

__all__ = ["MODELS", "build_model"]

MODELS = ("cnn", "linear", "mlp")


def _mlp(in_features: int, objective: Objective, hidden: int = 128, layers: int = 1) -> nn.Module:
    if hidden < 1 or layers < 1:
        raise ConfigError("[model] mlp needs hidden >= 1 and layers >= 1")
    blocks: list[nn.Module] = []
    width = in_features
    for _ in range(layers):
        blocks += [nn.Linear(width, hidden), nn.ReLU()]
        width = hidden
    return nn.Sequential(*blocks, objective.head(width))


def _cnn(channels: int, objective: Objective, width: int = 32) -> nn.Module:
    """A small CNN for 32 x 32 images: three conv blocks, global pooling, the head."""
    if width < 1:
        raise ConfigError("[model] cnn needs width >= 1")

    def block(cin: int, cout: int) -> list[nn.Module]:
        return [
            nn.Conv2d(cin, cout, 3, padding=1),
            nn.BatchNorm2d(cout),
            nn.ReLU(),
            nn.MaxPool2d(2),
        ]

    return nn.Sequential(
        *block(channels, width),
        *block(width, 2 * width),
        *block(2 * width, 4 * width),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        objective.head(4 * width),
    )


def build_model(
    table: Mapping[str, Any], input_shape: tuple[int, ...], objective: Objective
) -> nn.Module:
    """Build the ``[model]`` table's model for inputs of ``input_shape`` (without batch).

    ``name = "mlp"`` (default; options ``hidden`` = 128, ``layers`` = 1), ``"linear"`` (the
    head alone) or ``"cnn"`` (images (channels, 32, 32); option ``width`` = 32).

    Raises:
        ConfigError: for an unknown model or option, or inputs of the wrong shape.
    """
    options = dict(table)
    name = options.pop("name", "mlp")
    allowed = {"mlp": {"hidden", "layers"}, "linear": set(), "cnn": {"width"}}
    if name not in allowed:
        raise ConfigError(
            f"unknown model {name!r}{closest(str(name), MODELS) or '.'} Choose one of: {choice_list(MODELS)}"
        )
    unknown = sorted(set(options) - allowed[name])
    if unknown:
        raise ConfigError(
            f"model {name!r} has no option {', '.join(map(repr, unknown))}; valid options:"
            f" {choice_list(allowed[name])}"
        )
    check_types(f"[model] {name}", {"mlp": _mlp, "cnn": _cnn}.get(name, build_model), options)
    if name == "cnn":
        if len(input_shape) != 3:
            raise ConfigError(
                f"model 'cnn' needs image inputs (channels, height, width), got {input_shape}"
            )
        return _cnn(input_shape[0], objective, **options)
    if len(input_shape) != 1:
        raise ConfigError(
            f"model {name!r} needs feature vectors, got inputs of shape {input_shape}; use"
            " model 'cnn' for images"
        )
    if name == "linear":
        return objective.head(input_shape[0])
    return _mlp(input_shape[0], objective, **options)
