"""What the examples share: the built-in real task and the loss composed for it.

The task is ``wordnet-nouns``: English nouns from their 50-d GloVe vectors, classed by their
WordNet category at depth 6 (110 classes, 8 training nouns each, 13,070 test nouns), with its
class tree. It ships with structloss (``pip install 'structloss[lab]'``), so nothing is
downloaded. An example of your own would put its own data here; the loss part stays the same.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from torch.utils.data import TensorDataset

import structloss
from structloss.lab.datasets import Dataset, load_dataset
from structloss.metrics import SingleLabelMetrics

HERE = Path(__file__).resolve().parent
CONFIG = HERE / "tree_loss.toml"


def arguments(doc: str) -> argparse.ArgumentParser:
    """A parser with the options every example shares: ``--config`` and ``--batch-size``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--config", default=str(CONFIG), help="TOML naming the loss")
    parser.add_argument("--batch-size", type=int, default=32)
    return parser


def real_task(*, seed: int = 0, train_per_class: int = 8) -> Dataset:
    """The wordnet-nouns task (depth 6), split by ``seed``."""
    table = {"name": "wordnet-nouns", "seed": seed, "train_per_class": train_per_class}
    return load_dataset(table)


def objective_for(data: Dataset, config: str | Path = CONFIG) -> structloss.Objective:
    """The loss the TOML ``config`` names, over the task's classes and class tree."""
    return structloss.compose(config, classes=list(data.classes), structure=data.hierarchy)


def metrics_for(data: Dataset) -> SingleLabelMetrics:
    """top-1, top-5, mistake severity and hierarchical distance@5 over the task's tree."""
    return SingleLabelMetrics(num_classes=len(data.classes), k=5, hierarchy=data.hierarchy)


def splits(data: Dataset, limit: int | None = None) -> tuple[TensorDataset, TensorDataset]:
    """Train and test as ``TensorDataset`` s (the test split cut to ``limit`` rows if given)."""
    test = slice(None) if limit is None else slice(limit)
    return (
        TensorDataset(data.x_train.float(), data.y_train),
        TensorDataset(data.x_test[test].float(), data.y_test[test]),
    )


def evaluate(model: torch.nn.Module, objective: structloss.Objective, data: Dataset) -> dict:
    """The metrics of ``model`` on the whole test split, as floats."""
    metrics = metrics_for(data)
    with torch.no_grad():
        metrics.update(objective.scores(model(data.x_test.float())), data.y_test)
    return {name: round(float(value), 4) for name, value in metrics.compute().items()}
