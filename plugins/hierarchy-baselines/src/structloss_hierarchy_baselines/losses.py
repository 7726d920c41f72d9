"""Losses that need a class tree: ``hxe``, ``soft-labels`` and ``hier-softmax``.

All three take, besides class indices of shape (batch,):

- probability targets, (batch, num_classes) float rows that sum to 1 (Mixup, CutMix, label
  smoothing): the loss is the expectation ``sum_y q_y L(y)`` over the target distribution;
- for ``hxe`` and ``hier-softmax``, internal-node targets: an index ``num_classes <= t <
  num_nodes`` names ``hierarchy.nodes[t]`` ("a dog of unknown breed") and the loss is the
  negative log of the mass below that node. The root is rejected: every sample is below it.

Each forward pass is vectorised over the batch and the tree (no Python loop over classes);
logits in float16 or bfloat16 are computed in float32, and the loss is returned in float32.
"""

from __future__ import annotations

import bisect
import itertools
import math
import numbers
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from structloss.errors import IncompatibleStructureError, InputError, OptionError, closest
from structloss.objective import Objective, is_probability_target, work_dtype
from structloss.specs import LossContext
from structloss.structures import DISTANCES, Hierarchy

__all__ = [
    "HierarchicalCrossEntropy",
    "HierarchicalSoftmax",
    "SoftLabels",
]


def _number(loss: str, name: str, value: Any, *, positive: bool) -> float:
    """``value`` as a float, finite and > 0 (``positive``) or >= 0; else an OptionError."""
    bound = "> 0" if positive else ">= 0"
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan
    if not math.isfinite(number) or number < 0 or (positive and number == 0):
        raise OptionError(
            f"loss {loss!r}: option {name!r} must be a finite number {bound}, got {value!r}"
        )
    return number


def _ancestor_table(tree: Hierarchy) -> np.ndarray:
    """(nodes, max_depth) int64: row v lists v, its parent, ... up to (not including) the root.

    Rows are padded with ``num_nodes``, the index of an extra column of zeros that the losses
    append to their per-node tables, so a gather over a row sums exactly the path's terms.
    """
    n = tree.num_nodes
    table = np.full((n, int(tree.depths.max())), n, dtype=np.int64)
    for v in range(n):
        i, level = v, 0
        while tree.parents[i] >= 0:
            table[v, level] = i
            i, level = tree.parents[i], level + 1
    return table


class _HierarchyObjective(Objective):
    """What the three losses share: the tree and its ancestor table."""

    loss_name: ClassVar[str] = ""
    node_targets: ClassVar[bool] = True
    """Whether integer targets may name internal nodes (``num_classes <= t < num_nodes``)."""

    def __init__(
        self, hierarchy: Hierarchy | LossContext, *, reduction: str, ignore_index: int
    ) -> None:
        if isinstance(hierarchy, LossContext):
            hierarchy = hierarchy.require_hierarchy(self.loss_name)
        if not isinstance(hierarchy, Hierarchy):
            raise IncompatibleStructureError(
                f"loss {self.loss_name!r} needs a Hierarchy, got {type(hierarchy).__name__};"
                ' configure a [structure] provider that gives a tree, such as "hierarchy-file"'
            )
        super().__init__(hierarchy.num_classes, reduction=reduction, ignore_index=ignore_index)
        if self.node_targets:
            self.accept_node_targets(hierarchy)
        self.hierarchy = hierarchy
        self.register_buffer("ancestors", torch.from_numpy(_ancestor_table(hierarchy)))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, nodes={self.hierarchy.num_nodes}"


class HierarchicalCrossEntropy(_HierarchyObjective):
    """Hierarchical cross-entropy, HXE (Bertinetto et al., *Making Better Mistakes*, CVPR 2020).

    With the target's path ``C_0`` (the class) ... ``C_h`` (the root) and ``p(v)`` the softmax
    mass of the classes below node ``v``::

        L = -sum_{l=0}^{h-1} exp(-alpha * l) * log(p(C_l) / p(C_{l+1}))

    ``l`` counts edges up from the target, so a class at depth ``d`` has ``d`` terms.
    ``alpha = 0`` telescopes to ``-log p(C_0)``: exactly cross-entropy. An internal-node
    target ``C_0 = v`` gives the terms from ``v`` up to the root.

    ``weighting="reference-code"`` weights the term of node ``v`` (the edge to its parent)
    by ``exp(-alpha * depth(v))`` instead, normalised to sum 1 over all edges of the tree,
    as the authors' code does (published HXE numbers come from it): the weights then fall
    *down* the tree, and ``alpha = 0`` is cross-entropy divided by the number of edges.

    Args:
        hierarchy: the class tree; its classes are the labels, in order. Or the loss
            context, whose structure is the tree (the class is its loss's factory).
        alpha: the decay of the weights up the tree, >= 0.
        weighting: ``"paper"`` (the formula above) or ``"reference-code"``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped; not a node index.

    Shape: outputs (batch, num_classes) logits; target (batch,) class or node indices, or
    (batch, num_classes) probabilities; the loss is () or, for ``"none"``, (batch,).

    Raises:
        OptionError: for a bad ``alpha``, ``weighting``, ``reduction`` or ``ignore_index``.
    """

    loss_name = "hxe"
    WEIGHTINGS = ("paper", "reference-code")

    def __init__(
        self,
        hierarchy: Hierarchy | LossContext,
        *,
        alpha: float = 0.1,
        weighting: str = "paper",
        reduction: str = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__(hierarchy, reduction=reduction, ignore_index=ignore_index)
        hierarchy = self.hierarchy
        self.alpha = _number("hxe", "alpha", alpha, positive=False)
        if weighting not in self.WEIGHTINGS:
            raise OptionError(
                f"loss 'hxe': unknown weighting {weighting!r}{closest(str(weighting), self.WEIGHTINGS)};"
                f" choose one of: {', '.join(self.WEIGHTINGS)}"
            )
        self.weighting = weighting
        tree = hierarchy
        if weighting == "paper":
            weight = np.exp(-self.alpha * np.arange(self.ancestors.shape[1]))
        else:  # one weight per node (the edge to its parent), the root's and the pad's 0
            weight = np.append(np.exp(-self.alpha * tree.depths), 0.0)
            weight[tree.root_index] = 0.0
            weight /= weight.sum()
        self.register_buffer("term_weight", torch.from_numpy(weight))
        parent = np.asarray(tree.parents, dtype=np.int64)
        parent[tree.root_index] = tree.root_index  # log p(root | root) = 0
        self.register_buffer("node_parent", torch.from_numpy(parent))
        # bottom-up by height: a node's children are all lower, so one pass per height
        height = tree.heights
        inner = sorted(range(tree.num_classes, tree.num_nodes), key=lambda v: int(height[v]))
        slot = {v: i for i, v in enumerate(inner)}
        others = (v for v in range(tree.num_nodes) if v != tree.root_index)
        edges = sorted((slot[int(parent[v])], v) for v in others)  # grouped by parent
        slots = [s for s, _ in edges]
        counts = [int((height[inner] == k).sum()) for k in range(1, int(height.max()) + 1)]
        bounds = [0, *itertools.accumulate(counts)]
        # (first edge, last edge, first slot, last slot) of each height, lowest first
        self._levels = tuple(
            (bisect.bisect_left(slots, a), bisect.bisect_left(slots, b), a, b)
            for a, b in itertools.pairwise(bounds)
        )
        self.register_buffer("level_nodes", torch.tensor(inner, dtype=torch.int64))
        self.register_buffer("edge_child", torch.tensor([v for _, v in edges], dtype=torch.int64))
        self.register_buffer("edge_slot", torch.tensor(slots, dtype=torch.int64))

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={self.alpha}, weighting={self.weighting!r}"

    def node_log_masses(self, outputs: Tensor) -> Tensor:
        """(batch, num_nodes) ``logsumexp`` of the logits of the classes below each node.

        Up to a per-row constant this is ``log p(v)``. Each node's value is a log-sum-exp of
        its children's with its own maximum, so it is exact for logits of any size.
        """
        self.check_outputs(outputs)
        z = outputs.to(work_dtype(outputs))
        z = z - z.detach().amax(dim=1, keepdim=True)  # the loss ignores a per-row shift
        batch = z.shape[0]
        u = torch.cat([z, z.new_zeros(batch, self.hierarchy.num_nodes - self.num_classes)], 1)
        for first, last, start, stop in self._levels:
            x = u[:, self.edge_child[first:last]]
            slot = (self.edge_slot[first:last] - start).expand(batch, -1)
            top = x.new_full((batch, stop - start), -math.inf)
            top = top.scatter_reduce(1, slot, x.detach(), "amax")
            top = torch.where(torch.isfinite(top), top, 0.0)
            total = x.new_zeros(batch, stop - start).scatter_add(
                1, slot, (x - top.gather(1, slot)).exp()
            )
            u = u.index_copy(1, self.level_nodes[start:stop], top + total.log())
        return u

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Return the HXE of ``outputs`` (class logits) against ``target``."""
        if is_probability_target(target):
            q = self.check_probabilities(outputs, target)
            paths = self.ancestors[: self.num_classes]
            cond = self._conditional_log_probs(outputs)
            every = (cond[:, paths] * self._weights(paths, cond.dtype)).sum(-1)
            per_sample = -(q * every).sum(1)
            valid = torch.ones_like(per_sample, dtype=torch.bool)
        else:
            index, valid = self.check_inputs(outputs, target)
            paths = self.ancestors[index]
            cond = self._conditional_log_probs(outputs).gather(1, paths)
            per_sample = -(cond * self._weights(paths, cond.dtype)).sum(1)
        return self.reduce(per_sample, valid)

    def _conditional_log_probs(self, outputs: Tensor) -> Tensor:
        """``log p(v | parent(v))`` by node, the root and the pad column 0."""
        u = self.node_log_masses(outputs)
        return F.pad(u - u[:, self.node_parent], (0, 1))

    def _weights(self, paths: Tensor, dtype: torch.dtype) -> Tensor:
        """The weight of each term of ``paths`` (rows of the ancestor table)."""
        weight = self.term_weight.to(dtype)
        return weight if self.weighting == "paper" else weight[paths]


class SoftLabels(_HierarchyObjective):
    """Soft labels (Bertinetto et al., *Making Better Mistakes*, CVPR 2020).

    Cross-entropy against the soft target ``q_c ∝ exp(-beta * d(y, c))`` for class ``y``, with
    ``d`` a tree distance between classes (:meth:`Hierarchy.class_distances`), not rescaled
    (the paper's reference code divides ``d`` by its maximum first: its ``beta`` is this one
    times that maximum). As ``beta`` grows it becomes cross-entropy. The (classes, classes)
    table of soft targets is a buffer, ``soft_targets``.

    Args:
        hierarchy: the class tree; its classes are the labels, in order. Or the loss
            context, whose structure is the tree (the class is its loss's factory).
        beta: the hardness of the soft targets, > 0.
        distance: ``"lca-height"``, ``"bertinetto"`` or ``"edges"`` (see
            :meth:`Hierarchy.class_distances`).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped.

    Shape: outputs (batch, num_classes) logits; target (batch,) class indices or (batch,
    num_classes) probabilities (internal-node targets are rejected: the paper defines soft
    labels for classes only).

    Raises:
        OptionError: for a bad ``beta``, ``distance``, ``reduction`` or ``ignore_index``.
    """

    loss_name = "soft-labels"
    node_targets = False

    def __init__(
        self,
        hierarchy: Hierarchy | LossContext,
        *,
        beta: float = 4.0,
        distance: str = "lca-height",
        reduction: str = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__(hierarchy, reduction=reduction, ignore_index=ignore_index)
        hierarchy = self.hierarchy
        self.beta = _number("soft-labels", "beta", beta, positive=True)
        if distance not in DISTANCES:
            raise OptionError(
                f"loss 'soft-labels': unknown distance {distance!r}"
                f"{closest(str(distance), DISTANCES)}; choose one of: {', '.join(DISTANCES)}"
            )
        self.distance = distance
        d = hierarchy.class_distances(distance).astype(np.float64)
        logits = -self.beta * d
        soft = np.exp(logits - logits.max(axis=1, keepdims=True))
        soft /= soft.sum(axis=1, keepdims=True)
        self.register_buffer("soft_targets", torch.from_numpy(soft).float())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, beta={self.beta}, distance={self.distance!r}"

    def _check_index_values(self, target: Tensor, valid: Tensor) -> None:
        tree = self.hierarchy
        inner = valid & (target >= self.num_classes) & (target < tree.num_nodes)
        if bool(inner.any()):
            value = int(target[inner][0])
            raise InputError(
                f"loss 'soft-labels' takes class targets only, but target {value} names"
                f" internal node {tree.nodes[value]!r}; use hxe or hier-softmax for coarse"
                " labels, or give such samples ignore_index"
            )
        super()._check_index_values(target, valid)

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Return the cross-entropy of ``outputs`` (class logits) against the soft targets."""
        if is_probability_target(target):
            q = self.check_probabilities(outputs, target)
            table = self.soft_targets.to(q.dtype)
            if torch.is_autocast_enabled(q.device.type):  # keep the mixture in full precision
                with torch.autocast(q.device.type, enabled=False):
                    soft = q @ table
            else:
                soft = q @ table
            valid = torch.ones(q.shape[0], dtype=torch.bool, device=q.device)
        else:
            index, valid = self.check_inputs(outputs, target)
            soft = self.soft_targets[index]
        log_p = F.log_softmax(outputs.to(work_dtype(outputs)), dim=1)
        return self.reduce(-(soft.to(log_p.dtype) * log_p).sum(1), valid)


class HierarchicalSoftmax(_HierarchyObjective):
    """The hierarchical (conditional) softmax: one softmax over each internal node's children.

    The head gives one logit per non-root node; ``log p(v | parent(v))`` is a log-softmax
    over ``v`` and its siblings, and a node's log-probability is the sum of those down its
    path from the root. The loss is ``-log p(target)``, for a class or an internal node.

    Output columns: the classes in label order, then the internal nodes of
    ``hierarchy.nodes`` after the root, in that order (``nodes[num_classes + 1:]``). With a
    flat tree the outputs are the class logits and the loss is cross-entropy.

    Args:
        hierarchy: the class tree; its classes are the labels, in order. Or the loss
            context, whose structure is the tree (the class is its loss's factory).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped; not a node index.

    Shape: outputs (batch, num_nodes - 1) from :meth:`head`; target (batch,) class or node
    indices, or (batch, num_classes) probabilities; :meth:`scores` gives (batch,
    num_classes) class log-probabilities.

    Raises:
        OptionError: for a bad ``reduction`` or ``ignore_index``.
    """

    loss_name = "hier-softmax"

    def __init__(
        self,
        hierarchy: Hierarchy | LossContext,
        *,
        reduction: str = "mean",
        ignore_index: int = -100,
    ) -> None:
        super().__init__(hierarchy, reduction=reduction, ignore_index=ignore_index)
        hierarchy = self.hierarchy
        c = hierarchy.num_classes
        columns = [*range(c), *range(c + 1, hierarchy.num_nodes)]
        group = [hierarchy.parents[v] - c for v in columns]  # sibling group = parent's index
        self.register_buffer("groups", torch.tensor(group, dtype=torch.int64))

    @property
    def output_size(self) -> int:
        """One logit per non-root node: ``num_nodes - 1``."""
        return self.hierarchy.num_nodes - 1

    def conditional_log_probs(self, outputs: Tensor) -> Tensor:
        """(batch, num_nodes + 1) ``log p(v | parent(v))`` by node index; root and pad are 0."""
        self.check_outputs(outputs)
        s = outputs.to(work_dtype(outputs))
        batch, c = s.shape[0], self.num_classes
        groups = self.groups.expand(batch, -1)
        size = self.hierarchy.num_nodes - c
        top = s.new_full((batch, size), -math.inf).scatter_reduce(1, groups, s.detach(), "amax")
        top = torch.where(torch.isfinite(top), top, 0.0)
        total = s.new_zeros(batch, size).scatter_add(1, groups, (s - top.gather(1, groups)).exp())
        cond = s - (top + total.log()).gather(1, groups)
        zero = s.new_zeros(batch, 1)
        return torch.cat([cond[:, :c], zero, cond[:, c:], zero], dim=1)

    def scores(self, outputs: Tensor) -> Tensor:
        """Return (batch, num_classes) class log-probabilities (they sum to 1 in exp)."""
        cond = self.conditional_log_probs(outputs)
        return cond[:, self.ancestors[: self.num_classes]].sum(-1)

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Return ``-log p(target)`` under the hierarchical softmax of ``outputs``."""
        if is_probability_target(target):
            q = self.check_probabilities(outputs, target)
            per_sample = -(q * self.scores(outputs)).sum(1)
            valid = torch.ones_like(per_sample, dtype=torch.bool)
        else:
            index, valid = self.check_inputs(outputs, target)
            cond = self.conditional_log_probs(outputs)
            per_sample = -cond.gather(1, self.ancestors[index]).sum(1)
        return self.reduce(per_sample, valid)
