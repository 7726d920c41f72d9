"""The :class:`Objective`: a loss module that also knows its output layer and class scores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import ClassVar

import torch
from torch import Tensor, nn

from structloss.errors import InputError, OptionError, closest
from structloss.targets import multi_hot

__all__ = ["REDUCTIONS", "Objective"]

REDUCTIONS = ("mean", "sum", "none")


def _is_compiling() -> bool:
    compiler = getattr(torch, "compiler", None)
    if compiler is not None and hasattr(compiler, "is_compiling"):
        return bool(compiler.is_compiling())
    return False  # pragma: no cover - torch < 2.3


class Objective(nn.Module):
    """Base class of every loss: ``forward(outputs, target)`` returns the loss.

    It follows ``nn.CrossEntropyLoss``: ``outputs`` are (batch, outputs) scores from
    :meth:`head`, ``target`` holds class indices (batch,), ``reduction`` is ``"mean"``,
    ``"sum"`` or ``"none"``, and targets equal to ``ignore_index`` contribute nothing (a mean
    over no valid target is 0, never NaN). Every tensor an objective owns must be a registered
    buffer or parameter, so ``.to(device)`` moves it.

    A third-party loss subclasses this, calls ``super().__init__(num_classes=...)`` and
    implements :meth:`forward`; :meth:`head` and :meth:`scores` have working defaults.

    Args:
        num_classes: the number of classes.
        reduction: how per-sample losses are combined.
        ignore_index: a target value that is skipped.
        validate: check target values (range) on every call. Shapes and dtypes are always
            checked; value checks synchronise with the GPU and are skipped under
            ``torch.compile``.

    Raises:
        InputError: for a bad ``num_classes`` or ``reduction``.
    """

    multilabel: ClassVar[bool] = False
    """True for losses whose targets are multi-hot label sets (see check_multilabel_inputs)."""

    def __init__(
        self,
        num_classes: int,
        *,
        reduction: str = "mean",
        ignore_index: int = -100,
        validate: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(num_classes, bool) or not isinstance(num_classes, int) or num_classes < 1:
            raise OptionError(f"num_classes must be a positive integer, got {num_classes!r}")
        if reduction not in REDUCTIONS:
            raise OptionError(
                f"unknown reduction {reduction!r}; choose one of: mean, none, sum"
                f"{closest(str(reduction), REDUCTIONS)}"
            )
        if isinstance(ignore_index, bool) or not isinstance(ignore_index, int):
            raise OptionError(f"ignore_index must be an integer, got {ignore_index!r}")
        if 0 <= ignore_index < num_classes:
            raise OptionError(
                f"ignore_index {ignore_index} is a valid class index (0..{num_classes - 1});"
                " pick a value outside that range, such as -100"
            )
        self.num_classes = num_classes
        self.reduction = reduction
        self.ignore_index = ignore_index
        self.validate = validate

    @property
    def output_size(self) -> int:
        """The width of the outputs this objective expects from :meth:`head`."""
        return self.num_classes

    def extra_repr(self) -> str:
        return f"num_classes={self.num_classes}, reduction={self.reduction!r}"

    def head(self, in_features: int) -> nn.Module:
        """Return the output layer this loss expects, mapping features to outputs.

        The default is ``nn.Linear(in_features, num_classes)``.
        """
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise OptionError(f"in_features must be a positive integer, got {in_features!r}")
        return nn.Linear(in_features, self.output_size)

    def scores(self, outputs: Tensor) -> Tensor:
        """Return (batch, num_classes) class scores (higher is more likely) for metrics."""
        return outputs

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:  # pragma: no cover
        """Return the loss of ``outputs`` against ``target``; subclasses implement it."""
        raise NotImplementedError(f"{type(self).__name__} must implement forward()")

    # -- helpers for subclasses ---------------------------------------------------------
    def check_outputs(self, outputs: Tensor) -> None:
        """Check that ``outputs`` is a floating (batch, output_size) tensor.

        Raises:
            InputError: naming the expected shape and pointing at :meth:`head`.
        """
        name = type(self).__name__
        if not isinstance(outputs, Tensor):
            raise InputError(f"{name} expects a tensor of outputs, got {type(outputs).__name__}")
        if outputs.ndim != 2 or outputs.shape[1] != self.output_size:
            raise InputError(
                f"{name} expects outputs of shape (batch, {self.output_size}), got"
                f" {tuple(outputs.shape)}; build the last layer with objective.head(in_features)"
            )
        if not outputs.is_floating_point():
            raise InputError(f"{name} expects floating-point outputs, got {outputs.dtype}")

    def check_inputs(self, outputs: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Validate a single-label batch; return ``(target as int64, valid mask)``.

        Ignored targets are replaced by 0 in the returned target so that gathers stay in
        range; combine per-sample losses with :meth:`reduce`, which zeroes them.

        Raises:
            InputError: naming the problem: shapes, dtypes, devices or out-of-range labels.
        """
        name = type(self).__name__
        if not isinstance(outputs, Tensor) or not isinstance(target, Tensor):
            raise InputError(
                f"{name} expects tensors (outputs, target), got"
                f" ({type(outputs).__name__}, {type(target).__name__})"
            )
        self.check_outputs(outputs)
        if target.ndim == 2 and target.shape == outputs.shape and not self.multilabel:
            raise InputError(
                f"{name} is a single-label loss but got a (batch, classes) target, which looks"
                " multi-hot; give class indices of shape (batch,), or use a multi-label loss"
                " such as binary-cross-entropy"
            )
        if target.is_floating_point() or target.is_complex() or target.dtype == torch.bool:
            raise InputError(
                f"{name} expects class indices as an integer tensor, got {target.dtype};"
                " convert with target.long()"
            )
        if target.shape != outputs.shape[:1]:
            raise InputError(
                f"{name} expects target of shape ({outputs.shape[0]},) to match the outputs'"
                f" batch, got {tuple(target.shape)}"
            )
        if target.device != outputs.device:
            raise InputError(
                f"target is on {target.device} but outputs are on {outputs.device}; move both"
                " to one device"
            )
        valid = target != self.ignore_index
        if self.validate and not _is_compiling():
            bad = valid & ((target < 0) | (target >= self.num_classes))
            if bool(bad.any()):
                value = int(target[bad][0])
                raise InputError(
                    f"target holds class index {value}, outside 0..{self.num_classes - 1}"
                    f" (ignore_index is {self.ignore_index}); check the labels and num_classes"
                )
        return torch.where(valid, target, 0).long(), valid

    def check_multilabel_inputs(
        self, outputs: Tensor, target: Tensor | Sequence[Iterable[int]]
    ) -> Tensor:
        """Validate a multi-label batch; return the target as a float multi-hot tensor.

        ``target`` is a (batch, num_classes) multi-hot tensor (bool, integer, or float in
        [0, 1]) or a list of label sets, one iterable of class indices per sample.

        Raises:
            InputError: for 1-D class indices (a single-label target), bad shapes or values.
        """
        name = type(self).__name__
        self.check_outputs(outputs)
        hot = multi_hot(
            target,
            self.num_classes,
            device=outputs.device,
            dtype=outputs.dtype,
            check=self.validate and not _is_compiling(),
        )
        if hot.shape[0] != outputs.shape[0]:
            raise InputError(
                f"{name} got {hot.shape[0]} targets for a batch of {outputs.shape[0]} outputs"
            )
        return hot

    def reduce(self, per_sample: Tensor, valid: Tensor, weight: Tensor | None = None) -> Tensor:
        """Combine per-sample losses by ``self.reduction``, dropping ignored samples.

        Args:
            per_sample: (batch,) losses.
            valid: (batch,) bool mask of samples that count.
            weight: optional (batch,) weights; ``"mean"`` then divides by their sum over
                valid samples, as ``F.cross_entropy`` does with class weights.
        """
        per_sample = torch.where(valid, per_sample, per_sample.new_zeros(()))
        if self.reduction == "none":
            return per_sample
        total = per_sample.sum()
        if self.reduction == "sum":
            return total
        count = valid.to(per_sample.dtype) if weight is None else torch.where(valid, weight, 0)
        # a batch whose targets are all ignored gives 0, not 0 / 0
        return total / count.sum().clamp_min(torch.finfo(per_sample.dtype).tiny)
