"""Evaluation metrics: one-shot functions and ``torchmetrics`` classes that accumulate.

- :mod:`structloss.metrics.functions`: tensors in, floats out (:func:`mistake_severity`,
  :func:`hierarchical_distance_at_k`, :func:`top_k_accuracy`, :func:`mean_average_precision`,
  ...) and conditional risk minimisation (:func:`crm_decode`).
- :mod:`structloss.metrics.classes`: the same metrics as ``torchmetrics.Metric`` classes
  (:class:`MistakeSeverity`, :class:`TopKAccuracy`, ...; :class:`SingleLabelMetrics` and
  :class:`MultiLabelMetrics` collect a task's metrics). They are imported on first use, so
  the functions need no ``torchmetrics``.

Single-label metrics take ``target`` (batch,) integer class indices and scores (batch,
classes) (the top-1 class is the argmax; ties rank the lower class index first), or, where
only the top-1 class matters, predicted indices (batch,). Tree metrics take a ``distance``
("lca-height", the default; "bertinetto"; "edges": see :meth:`Hierarchy.class_distances`).
Over no rows every metric is 0.0. They raise :class:`~structloss.errors.InputError` for
mismatched shapes, non-integer or out-of-range indices, a k outside 1..classes, or a
structure of another size.
"""

from __future__ import annotations

from typing import Any

from structloss.metrics import functions
from structloss.metrics.functions import *  # noqa: F403 - the functions, by their __all__

#: the ``torchmetrics`` classes, from structloss.metrics.classes on first use
CLASS_NAMES = (
    "CRMDecoding",
    "HierarchicalDistanceAtK",
    "MeanAveragePrecision",
    "MistakeSeverity",
    "MultiLabelMetrics",
    "PrecisionAtK",
    "RecallAtK",
    "SimilarityAccuracy",
    "SingleLabelMetrics",
    "SuperclassAccuracy",
    "TopKAccuracy",
)
__all__ = [*CLASS_NAMES, *functions.__all__]


def __getattr__(name: str) -> Any:
    if name in CLASS_NAMES:  # torchmetrics costs seconds to import: only when a class is used
        from structloss.metrics import classes

        return getattr(classes, name)
    raise AttributeError(f"module 'structloss.metrics' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
