"""The :class:`Objective`: a loss module that also knows its output layer and class scores."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, ClassVar

import torch
from torch import Tensor, nn

from structloss.errors import InputError, OptionError, closest
from structloss.targets import multi_hot

if TYPE_CHECKING:
    from structloss.structures import Hierarchy

__all__ = ["REDUCTIONS", "Objective", "class_weight", "is_probability_target", "work_dtype"]

REDUCTIONS = ("mean", "sum", "none")


def is_probability_target(target: object) -> bool:
    """Whether ``target`` is a (batch, classes) floating tensor: class probabilities."""
    return isinstance(target, Tensor) and target.is_floating_point() and target.ndim == 2


def work_dtype(outputs: Tensor) -> torch.dtype:
    """The dtype a loss computes in: float64 stays float64, other floats run in float32."""
    return torch.float64 if outputs.dtype == torch.float64 else torch.float32


def class_weight(weight: Sequence[float] | Tensor | None, num_classes: int) -> Tensor | None:
    """``weight`` as a float32 tensor of one finite weight >= 0 per class, or None.

    The ``weight`` option of ``nn.CrossEntropyLoss`` and the losses modelled on it.

    Raises:
        OptionError: for the wrong length, a negative or non-finite weight, or all zeros.
    """
    if weight is None:
        return None
    try:
        values = torch.as_tensor(weight, dtype=torch.float32)
    except (TypeError, ValueError, RuntimeError) as exc:
        raise OptionError(f"weight must be {num_classes} numbers (one per class): {exc}") from exc
    if (
        values.shape != (num_classes,)
        or not bool(torch.isfinite(values).all())
        or bool((values < 0).any())
        or not bool(values.any())
    ):
        shown = f": {values.tolist()[:8]}" if values.ndim == 1 else ""
        raise OptionError(
            f"weight must be {num_classes} finite non-negative numbers (one per class), not"
            f" all zero; got shape {tuple(values.shape)}{shown}"
        )
    return values


def _same_device(outputs: Tensor, target: Tensor) -> None:
    if target.device != outputs.device:
        raise InputError(
            f"target is on {target.device} but outputs are on {outputs.device}; move both"
            " to one device"
        )


def _check_rows(target: Tensor) -> None:
    """Raise InputError unless every row of ``target`` is a probability distribution."""
    tol = max(1e-4, 8 * torch.finfo(target.dtype).eps)
    if not bool(torch.isfinite(target).all()):
        row = int((~torch.isfinite(target)).any(dim=1).nonzero()[0])
        raise InputError(f"probability target row {row} is not finite: {target[row]}")
    if bool((target < -tol).any()):
        row, col = (int(i) for i in (target < -tol).nonzero()[0])
        raise InputError(
            f"probability target row {row} holds {float(target[row, col]):.6g} at class"
            f" {col}; probabilities must be >= 0"
        )
    sums = target.double().sum(dim=1)
    off = (sums - 1.0).abs() > tol
    if bool(off.any()):
        row = int(off.nonzero()[0])
        raise InputError(
            f"probability target row {row} sums to {float(sums[row]):.6g}, not 1; normalise"
            " it (target / target.sum(1, keepdim=True)), or pass class indices as an integer"
            " tensor of shape (batch,)"
        )


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
    target_tree: Hierarchy | None = None
    """The tree whose internal nodes targets may name (see :meth:`accept_node_targets`)."""

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

    def accept_node_targets(self, hierarchy: Hierarchy) -> None:
        """Let integer targets also name internal nodes of ``hierarchy`` (coarse labels).

        A target ``num_classes <= t < num_nodes`` then means ``hierarchy.nodes[t]`` ("a dog
        of unknown breed"); :meth:`check_inputs` accepts it (not the root: every sample is
        below it) and :meth:`classes_below` says which classes it covers.

        Raises:
            OptionError: when the tree's classes differ from the loss's, or ``ignore_index``
                names a node.
        """
        if hierarchy.num_classes != self.num_classes:
            raise OptionError(
                f"the hierarchy has {hierarchy.num_classes} classes, the loss"
                f" {self.num_classes}; compose both from one class list"
            )
        if hierarchy.num_classes <= self.ignore_index < hierarchy.num_nodes:
            raise OptionError(
                f"ignore_index {self.ignore_index} names node"
                f" {hierarchy.nodes[self.ignore_index]!r} (targets {hierarchy.num_classes}.."
                f"{hierarchy.num_nodes - 1} are internal nodes); pick a negative value such"
                " as -100"
            )
        self.target_tree = hierarchy
        paths = torch.from_numpy(hierarchy._class_paths.T.copy())  # (depth + 1, classes)
        self.register_buffer("_class_paths", paths, persistent=False)
        depths = torch.from_numpy(hierarchy.depths.astype("int64"))
        self.register_buffer("_node_depths", depths, persistent=False)

    def classes_below(self, index: Tensor) -> Tensor:
        """(batch, num_classes) bool: the classes below each target (a class: itself).

        Needs :meth:`accept_node_targets`; ``index`` as :meth:`check_inputs` returns it.
        """
        at_depth = self._class_paths[self._node_depths[index]]  # each class's ancestor there
        return at_depth == index[:, None]

    def has_node_targets(self, index: Tensor) -> bool:
        """Whether ``index`` may hold internal nodes; True whenever it cannot look cheaply."""
        if self.target_tree is None:
            return False
        if not self.validate or _is_compiling():
            return True
        return bool((index >= self.num_classes).any())

    def check_inputs(self, outputs: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
        """Validate a single-label batch; return ``(target as int64, valid mask)``.

        Ignored targets are replaced by 0 in the returned target so that gathers stay in
        range; combine per-sample losses with :meth:`reduce`, which zeroes them. After
        :meth:`accept_node_targets`, indices of internal nodes are valid too.

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
        if target.ndim == 2 and target.shape[1] == self.num_classes and not self.multilabel:
            raise InputError(
                f"{name} is a single-label loss but got a (batch, classes) target of shape"
                f" {tuple(target.shape)} and dtype {target.dtype}; give class indices of shape"
                " (batch,), or floating-point probabilities to a loss defined for them"
                " (cross-entropy, tree-loss, simloss, hxe, soft-labels, hier-softmax: Mixup,"
                " CutMix), or multi-hot labels to a multi-label loss such as"
                " binary-cross-entropy"
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
        _same_device(outputs, target)
        valid = target != self.ignore_index
        if self.validate and not _is_compiling():
            self._check_index_values(target, valid)
        return torch.where(valid, target, 0).long(), valid

    def _check_index_values(self, target: Tensor, valid: Tensor) -> None:
        tree, c = self.target_tree, self.num_classes
        high = c if tree is None else tree.num_nodes
        root = -1 if tree is None else tree.root_index
        bad = valid & ((target < 0) | (target >= high) | (target == root))
        if not bool(bad.any()):
            return
        value = int(target[bad][0])
        if tree is not None and value == root:
            raise InputError(
                f"target {value} names the root {tree.root!r}: every sample is below it, so"
                " it says nothing; give such samples ignore_index"
                f" ({self.ignore_index}) to skip them"
            )
        nodes = "" if tree is None else f", internal nodes {c + 1}..{tree.num_nodes - 1}"
        hint = "num_classes" if tree is None else "the hierarchy"
        raise InputError(
            f"target holds class index {value}, outside 0..{c - 1}{nodes} (ignore_index is"
            f" {self.ignore_index}); check the labels and {hint}"
        )

    def check_probabilities(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Validate (batch, num_classes) probability targets (rows >= 0 summing to 1).

        Returns:
            The target in the dtype the loss computes in (float64 for float64 outputs,
            else float32).

        Raises:
            InputError: for the wrong shape or device, or a row that is negative somewhere,
                not finite, or does not sum to 1 (checked when ``validate``).
        """
        name = type(self).__name__
        self.check_outputs(outputs)
        expected = (outputs.shape[0], self.num_classes)
        if tuple(target.shape) != expected:
            raise InputError(
                f"{name} expects probability targets of shape (batch, num_classes) ="
                f" {expected}, got {tuple(target.shape)}; or pass class indices as an"
                " integer tensor of shape (batch,)"
            )
        _same_device(outputs, target)
        if self.validate and not _is_compiling():
            _check_rows(target)
        return target.to(work_dtype(outputs))

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
