"""The lab: structloss's experiment runner, beside the library and never imported by it.

``structloss run`` and ``structloss compare`` hand off to it. It trains models on datasets
(:mod:`structloss.lab.datasets`), evaluates them with the library's metrics, and keeps run
folders, tables and plots; its extra dependencies (rich, matplotlib) come with the
``structloss[lab]`` extra. A training loop of your own needs none of it: compose a loss with
:func:`structloss.compose` and use it like ``nn.CrossEntropyLoss``.

=====================  ======================================================================
module                 holds
=====================  ======================================================================
``settings``           the ``[train]`` table (:class:`TrainSettings`)
``models``             the ``[model]`` table: linear, MLP, small CNN
``train``              :class:`Experiment` and :func:`run_experiment` (``structloss run``)
``sweep``              :func:`run_comparison` (``structloss compare``)
``runs``               run folders: trial records, resume, atomic writes
``distributed``        data-parallel training under ``torchrun``
``reporting``          tables and summary files; ``plots`` and ``drawing`` for pictures
``datasets``           the ``[data]`` table: synthetic tasks, CIFAR-100, feature files, noise
=====================  ======================================================================
"""

from __future__ import annotations

from typing import Any

from structloss.lab.datasets import Dataset, load_dataset
from structloss.lab.settings import TrainSettings
from structloss.lab.sweep import run_comparison
from structloss.lab.train import Experiment, run_experiment

__all__ = [
    "DEFAULT_EXPERIMENT",
    "Dataset",
    "Experiment",
    "TrainSettings",
    "load_dataset",
    "run_comparison",
    "run_experiment",
]

#: What ``structloss run`` trains without a config: every installed single-label loss on the
#: real task ``wordnet-nouns`` (English nouns from their GloVe vectors, 110 WordNet categories
#: at depth 6, 8 training nouns per class), a linear model, Adam, the same budget for every
#: loss. The budget is cross-entropy's best of a small grid (lr, epochs, weight decay), so no
#: method is tuned for; about 30 s on two cores.
DEFAULT_EXPERIMENT: dict[str, Any] = {
    "data": {"name": "wordnet-nouns"},
    "model": {"name": "linear"},
    "train": {"epochs": 60, "batch_size": 32, "lr": 0.003, "weight_decay": 0.001, "eval_every": 10},
}
