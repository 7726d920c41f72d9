"""Generic feature files: a ``.npz`` with ``X``, ``y`` and optional test arrays."""

from __future__ import annotations

import zipfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from structloss.errors import ConfigError, closest
from structloss.lab.datasets.base import Dataset, check_int, data_path, decode_names
from structloss.structures import check_classes

__all__ = ["FEATURE_ARRAYS", "load_features"]

FEATURE_ARRAYS = ("X", "y", "X_test", "y_test", "class_names")


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ConfigError(f"features file not found: {path}; set [data] path to a local .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        raise ConfigError(
            f"cannot read {path} as a .npz file without pickles ({exc}); save it with"
            " np.savez(path, X=..., y=...) and store class_names as a str array"
        ) from None
    unknown = [k for k in arrays if k not in FEATURE_ARRAYS]
    if unknown:
        hints = "; ".join(f"{k!r}{closest(k, FEATURE_ARRAYS)}" for k in unknown)
        raise ConfigError(f"{path} has unknown arrays {hints}. Valid: {', '.join(FEATURE_ARRAYS)}")
    if "X" not in arrays or "y" not in arrays:
        raise ConfigError(f"{path} needs arrays X (n, features) and y (n,) or (n, classes)")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise ConfigError(f"{path}: give both X_test and y_test, or neither")
    return arrays


def _inputs(x: np.ndarray, what: str) -> Tensor:
    if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ConfigError(f"{what} must be numeric (samples, features), got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError(f"{what} holds NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _targets(y: np.ndarray, n: int, what: str) -> Tensor:
    if y.shape[:1] != (n,) or y.ndim not in (1, 2):
        raise ConfigError(f"{what} must have shape ({n},) or ({n}, classes), got {y.shape}")
    if y.ndim == 2:
        if (
            not (y.dtype == np.bool_ or np.issubdtype(y.dtype, np.number))
            or not np.isin(y, (0, 1)).all()
        ):
            raise ConfigError(f"multi-hot {what} must hold only 0/1 or booleans")
        return torch.from_numpy(y.astype(np.bool_))
    if not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"{what} must hold integer class indices, got {y.dtype}")
    if n and y.min() < 0:
        raise ConfigError(f"{what} has negative class indices (min {y.min()})")
    return torch.from_numpy(y.astype(np.int64))


def _split(x: Tensor, y: Tensor, options: Mapping[str, Any]) -> tuple[Tensor, ...]:
    fraction, seed = options.get("test_fraction", 0.2), check_int(options.get("seed", 0), "seed")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ConfigError(f"[data] test_fraction must be in (0, 1), got {fraction!r}")
    if x.shape[0] < 2:
        raise ConfigError("a features file without X_test needs at least 2 samples to split")
    n_test = min(max(round(x.shape[0] * fraction), 1), x.shape[0] - 1)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(x.shape[0]))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def load_features(options: dict[str, Any], base_dir: Path) -> Dataset:
    path = data_path(options, base_dir, "features")
    arrays = _read_npz(path)
    x, y = _inputs(arrays["X"], "X"), _targets(arrays["y"], arrays["X"].shape[0], "y")
    if "X_test" not in arrays:
        x, y, x_te, y_te = _split(x, y, options)
    elif "test_fraction" in options:
        raise ConfigError(f"{path} has X_test/y_test; remove test_fraction from [data]")
    else:
        x_te = _inputs(arrays["X_test"], "X_test")
        y_te = _targets(arrays["y_test"], x_te.shape[0], "y_test")
        if x_te.shape[1:] != x.shape[1:] or y_te.shape[1:] != y.shape[1:]:
            raise ConfigError(
                f"{path}: test arrays {tuple(x_te.shape)}, {tuple(y_te.shape)} do not match"
                f" the train arrays {tuple(x.shape)}, {tuple(y.shape)} beyond the sample count"
            )
    if x.shape[0] == 0:
        raise ConfigError(f"{path} has no training samples")
    num = y.shape[1] if y.ndim == 2 else int(torch.cat([y, y_te]).max()) + 1
    if "class_names" in arrays:
        names = arrays["class_names"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise ConfigError(f"class_names must be a 1-D str array, got {names.dtype}")
        classes = check_classes(decode_names(names), what="class_names")
        if len(classes) < num or (y.ndim == 2 and len(classes) != num):
            raise ConfigError(f"{path}: labels need {num} classes, class_names has {len(classes)}")
    else:
        classes = tuple(f"c{i:0{len(str(num - 1))}d}" for i in range(num))
    return Dataset(
        classes=classes,
        x_train=x,
        y_train=y,
        x_test=x_te,
        y_test=y_te,
        multilabel=y.ndim == 2,
        name="features",
    )
