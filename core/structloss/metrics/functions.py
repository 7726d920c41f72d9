"""One-shot metric functions: torch tensors in, floats out.

Every single-label metric is a ratio of two per-batch sums (the ``_*_sums`` helpers), so
these functions and the accumulating classes of :mod:`structloss.metrics.classes` share one
code path and agree to the last bit.
"""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from structloss.errors import InputError
from structloss.structures import Hierarchy, Similarity, check_distance

__all__ = [
    "average_precision",
    "conditional_risk",
    "crm_decode",
    "hierarchical_distance_at_k",
    "mean_average_precision",
    "mistake_severity",
    "precision_at_k",
    "recall_at_k",
    "similarity_accuracy",
    "superclass_accuracy",
    "top_k_accuracy",
]

Sums = tuple[Tensor, Tensor]
Groups = Tensor | np.ndarray | Sequence[int]
SimilarityLike = Similarity | Tensor | np.ndarray
Costs = Hierarchy | Tensor | np.ndarray
"""A class tree (with a ``distance``) or a (classes, classes) cost matrix."""


# -- validation and tables ---------------------------------------------------------------------


def _shape(x: Tensor) -> tuple[int, ...]:
    return tuple(x.shape)


def _check_indices(
    what: str, name: str, values: Tensor, classes: int, tree: Hierarchy | None = None
) -> None:
    if values.dtype.is_floating_point or values.dtype.is_complex or values.dtype == torch.bool:
        raise InputError(f"{what} needs integer class indices as {name}, got {values.dtype}")
    if values.numel():
        # an out-of-range index would be a device-side assert on CUDA, so check it here
        low, high = torch.stack(torch.aminmax(values)).tolist()  # one device sync
        if low < 0 or high >= (classes if tree is None else tree.num_nodes):
            nodes = (
                "" if tree is None else f" and internal nodes {classes + 1}..{tree.num_nodes - 1}"
            )
            raise InputError(
                f"{what}: {name} holds class indices from {low} to {high}, outside"
                f" 0..{classes - 1}{nodes}"
            )


def _ranked(
    what: str,
    values: Tensor,
    target: Tensor,
    *,
    classes: int | None = None,
    k: int = 1,
    scores_only: bool = False,
    tree: Hierarchy | None = None,
) -> tuple[Tensor, Tensor]:
    """Validate a batch; return its (batch, k) predicted classes, best first, and the target.

    ``values`` are scores (batch, classes), ranked with ties going to the lower class index,
    or (unless ``scores_only``, and for k = 1) predicted class indices (batch,). With a
    ``tree``, targets may also name its internal nodes (not the root).
    """
    indices = values.ndim == 1 and not scores_only
    if not (values.ndim == 2 or indices) or target.ndim != 1 or len(target) != len(values):
        takes = "scores (batch, classes)" + ("" if scores_only else " or predictions (batch,)")
        raise InputError(
            f"{what} needs {takes} and target (batch,), got {_shape(values)} and {_shape(target)}"
        )
    classes = values.shape[1] if classes is None and values.ndim == 2 else classes
    assert classes is not None
    if values.ndim == 2 and values.shape[1] != classes:
        raise InputError(f"{what}: expected {classes} score columns, got {values.shape[1]}")
    if not 1 <= k <= classes or (indices and k != 1):
        raise InputError(f"k must be in 1..{classes} (the number of classes), got {k}")
    _check_indices(what, "target", target, classes, tree)
    if tree is not None and bool((target == tree.root_index).any()):
        raise InputError(
            f"{what}: target {tree.root_index} names the root {tree.root!r}, below which every"
            " class is; drop such rows"
        )
    if indices:
        _check_indices(what, "predictions", values, classes)
        return values.long()[:, None], target.long()
    return _ranking(values, k), target.long()


_last_ranking: list[Any] = [None]
"""The last scores ranked, their identity and their ranking: the metrics of a collection rank
the same batch's scores (each through its own ``detach()`` view), so it is ranked once, to
the largest k asked. The scores are held until the next ranking, so their memory cannot be
reused by another tensor that would then look the same."""


def _identity(values: Tensor) -> tuple[Any, ...]:
    where = (values.data_ptr(), values._version, values.dtype, values.device)
    return (*where, *values.shape, *values.stride())


def _ranking(values: Tensor, k: int) -> Tensor:
    """:func:`_top_k` of ``values``, reusing the last ranking of the same, unchanged scores."""
    last = _last_ranking[0]
    if last is not None and last[1] == _identity(values) and last[2].shape[1] >= k:
        return last[2][:, :k]
    # ties: the lowest class index wins
    top = values.argmax(dim=1, keepdim=True) if k == 1 else _top_k(values, k)
    _last_ranking[0] = (values, _identity(values), top)
    return top


def _top_k(values: Tensor, k: int) -> Tensor:
    """The (batch, k) indices of the k largest values per row, best first, ties to lower index.

    ``topk`` finds each row's k-th value; where exactly k entries reach it (the usual case)
    they are the answer, ordered by a stable sort of k values. Rows with ties across the
    k-th value, or NaN, are ranked exactly by an int64 key that orders like the float and
    then by index (float32 and narrower), or by a stable ``argsort``.
    """
    kth = values.topk(k, dim=1).values[:, -1:]
    reach = values >= kth
    plain = reach.sum(1) == k
    out = torch.empty((values.shape[0], k), dtype=torch.int64, device=values.device)
    if bool(plain.any()):
        index = reach[plain].nonzero()[:, 1].view(-1, k)  # ascending class index
        order = values[plain].gather(1, index).argsort(dim=1, descending=True, stable=True)
        out[plain] = index.gather(1, order)
    if not bool(plain.all()):
        out[~plain] = _exact_top_k(values[~plain], k)
    return out


def _exact_top_k(values: Tensor, k: int) -> Tensor:
    if values.dtype not in (torch.float32, torch.float16, torch.bfloat16):
        return values.argsort(dim=1, descending=True, stable=True)[:, :k]
    bits = (values.float() + 0.0).contiguous().view(torch.int32)  # + 0.0: -0.0 ties 0.0
    ordered = (bits ^ ((bits >> 31) & 0x7FFFFFFF)).long()  # monotone in the float's value
    classes = values.shape[1]
    rank = torch.arange(classes - 1, -1, -1, device=values.device)  # lower index wins ties
    return (ordered * classes + rank).topk(k, dim=1).indices


def _check_tree(hierarchy: Hierarchy) -> Hierarchy:
    if not isinstance(hierarchy, Hierarchy):
        raise InputError(f"hierarchy must be a Hierarchy, got {type(hierarchy).__name__}")
    return hierarchy


class _TreePairs(torch.nn.Module):
    """Per-pair tree lookups, ``pairs[targets, classes]``, from ancestor paths (no dense table).

    With a ``distance`` it gives :meth:`Hierarchy.pair_distances`; without, whether each class
    is below (or is) its target node. Index tensors broadcast, as in ``table[t, c]``; the work
    is O(pairs x depth), so trees of any size cost what the batch costs. The tree's tables
    are buffers and follow ``.to(device)``.
    """

    def __init__(self, hierarchy: Hierarchy, distance: str | None = None) -> None:
        super().__init__()
        tree = _check_tree(hierarchy)
        if distance is not None:
            check_distance(distance)
        self.distance, self.top = distance, int(tree.depths.max())
        self.shape = (tree.num_nodes, tree.num_classes)
        for name in ("ancestors", "depths", "heights"):
            self.register_buffer(name, torch.tensor(getattr(tree, name)), persistent=False)

    def __getitem__(self, index: tuple[Tensor, Tensor]) -> Tensor:
        t, c = torch.broadcast_tensors(*index)
        depth_t = self.depths[t]
        below = self.ancestors[c].gather(-1, depth_t[..., None])[..., 0] == t
        if self.distance is None:
            return below
        at = self.ancestors[t]
        same = (at == self.ancestors[c]).cumprod(-1).sum(-1) - 1
        lca_depth = torch.minimum(same, torch.minimum(depth_t, self.depths[c]))
        if self.distance == "edges":
            table = depth_t + self.depths[c] - 2 * lca_depth
        elif self.distance == "lca-height":
            table = self.heights[at.gather(-1, lca_depth[..., None])[..., 0]]
        else:
            table = self.top - lca_depth
        return torch.where(below, 0, table)


def _distance_table(hierarchy: Hierarchy, distance: str = "lca-height") -> _TreePairs:
    """Distances from targets (nodes) to classes, looked up pair by pair."""
    return _TreePairs(hierarchy, distance)


def _below_table(hierarchy: Hierarchy) -> _TreePairs:
    """``[t, c]``: whether class c is below (or is) target node t."""
    return _TreePairs(hierarchy)


def _similarity_table(similarity: SimilarityLike) -> Tensor:
    """A similarity (or an n x n tensor/array) as a float64 tensor."""
    matrix = similarity.matrix if isinstance(similarity, Similarity) else similarity
    table = _cpu_tensor(matrix).to(torch.float64)
    if table.ndim != 2 or table.shape[0] != table.shape[1]:
        raise InputError(f"similarity must be a square matrix, got shape {_shape(table)}")
    return table


def _group_table(groups: Groups) -> Tensor:
    """Superclass ids (one integer per class) as an int64 tensor."""
    table = _cpu_tensor(groups)
    if table.ndim != 1 or table.is_floating_point() or table.dtype == torch.bool:
        raise InputError(f"groups must be one integer per class, got {table.dtype} {_shape(table)}")
    return table.long()


def _cpu_tensor(value: Any) -> Tensor:
    if isinstance(value, Tensor):
        return value.detach().cpu()
    return torch.as_tensor(np.array(value))  # a copy: Similarity.matrix is read-only


def _classes(what: str, table: Tensor, name: str, classes: int | None) -> int:
    if classes is not None and table.shape[0] != classes:
        raise InputError(f"{what}: the {name} has {table.shape[0]} classes, not {classes}")
    return table.shape[0]


def _ratio(sums: Sums) -> float:
    total, count = sums
    return float(total) / float(count) if float(count) > 0 else 0.0


def _count(x: Tensor) -> Tensor:
    return torch.as_tensor(x.numel(), dtype=torch.int64, device=x.device)


# -- single-label: sums ------------------------------------------------------------------------


def _top_k_sums(top: Tensor, target: Tensor, below: Tensor | None = None) -> Sums:
    """Rows whose target is among ``top`` (or, with ``below``, has one below it); rows."""
    right = top == target[:, None] if below is None else below[target[:, None], top]
    return right.any(dim=1).sum(), _count(target)


def _severity_sums(top: Tensor, target: Tensor, distances: Tensor) -> Sums:
    """Distance from the target to the top-1 class over all rows (right ones add 0); mistakes.

    Every distance definition puts a wrong class at least 1 away, so ``> 0`` marks mistakes.
    """
    d = distances[target, top[:, 0]]
    return d.sum(), (d > 0).sum()


def _hier_distance_sums(top: Tensor, target: Tensor, distances: Tensor) -> Sums:
    """Distances from the target to each of the top k; rows times k."""
    return distances[target[:, None], top].sum(), _count(top)


def _similarity_sums(top: Tensor, target: Tensor, similarity: Tensor) -> Sums:
    """``S[y, top-1]`` summed; rows."""
    return similarity[target, top[:, 0]].sum(), _count(target)


def _superclass_sums(top: Tensor, target: Tensor, groups: Tensor) -> Sums:
    """Rows whose top-1 class shares the target's superclass; rows."""
    return (groups[top[:, 0]] == groups[target]).sum(), _count(target)


# -- single-label: functions -------------------------------------------------------------------


def top_k_accuracy(
    scores: Tensor, target: Tensor, k: int = 1, *, hierarchy: Hierarchy | None = None
) -> float:
    """Return the fraction of rows whose target is among the ``k`` highest scores.

    Args:
        scores: (batch, classes) class scores; ties rank the lower class index first.
        target: (batch,) integer class indices; with ``hierarchy``, also internal nodes.
        k: how many top classes count, in 1..classes.
        hierarchy: the class tree, for internal-node targets (coarse labels): a row is
            right when one of its top ``k`` classes is below its node.

    Raises:
        InputError: for mismatched shapes, non-integer or out-of-range targets, or a bad k.
    """
    below = None if hierarchy is None else _below_table(hierarchy).to(scores.device)
    what = "top_k_accuracy"
    top, target = _ranked(what, scores, target, k=k, scores_only=True, tree=hierarchy)
    return _ratio(_top_k_sums(top, target, below))


def mistake_severity(
    pred_or_scores: Tensor, target: Tensor, hierarchy: Hierarchy, *, distance: str = "lca-height"
) -> float:
    """Mean tree distance between the true and the top-1 class, over mistakes only.

    With the default ``"lca-height"`` that is the height of their lowest common ancestor
    (leaves 0; see :meth:`Hierarchy.class_distances` for ``"bertinetto"`` and ``"edges"``).
    Only wrong top-1 predictions count, so with no mistakes (or no rows) the result is 0.0,
    never NaN: read it next to top-1 accuracy.

    Args:
        pred_or_scores: (batch, classes) scores (top-1: the argmax, ties to the lowest
            index) or (batch,) predicted class indices.
        target: (batch,) integer class indices, or internal nodes of the tree (coarse
            labels: a prediction below the node is right; see
            :meth:`Hierarchy.target_distances`).
        hierarchy: the class tree, one leaf per class, in label order.
        distance: one of :data:`structloss.structures.DISTANCES`.

    Raises:
        InputError: for mismatched shapes or sizes, or out-of-range indices.
        ConfigError: for an unknown distance.
    """
    what, table = "mistake_severity", _distance_table(hierarchy, distance)
    top, target = _ranked(
        what, pred_or_scores, target, classes=hierarchy.num_classes, tree=hierarchy
    )
    return _ratio(_severity_sums(top, target, table.to(top.device)))


def hierarchical_distance_at_k(
    scores: Tensor,
    target: Tensor,
    hierarchy: Hierarchy,
    k: int = 5,
    *,
    distance: str = "lca-height",
) -> float:
    """Mean tree distance between the true class and each of the ``k`` top-scored classes.

    The "average hierarchical distance of the top-k" of Bertinetto et al., *Making Better
    Mistakes* (CVPR 2020): averaged over the k predictions and over rows; the true class
    among them contributes 0. Their numbers use ``distance="bertinetto"``. Arguments and
    errors as :func:`mistake_severity`, but ``scores`` must be (batch, classes).
    """
    what, table = "hierarchical_distance_at_k", _distance_table(hierarchy, distance)
    top, target = _ranked(
        what, scores, target, classes=hierarchy.num_classes, k=k, scores_only=True, tree=hierarchy
    )
    return _ratio(_hier_distance_sums(top, target, table.to(top.device)))


def similarity_accuracy(
    pred_or_scores: Tensor, target: Tensor, similarity: SimilarityLike
) -> float:
    """Mean ``S[y, top-1]``: top-1 accuracy with partial credit from a similarity.

    Args:
        pred_or_scores: scores (batch, classes) or predictions (batch,), as
            :func:`mistake_severity` takes them.
        similarity: a :class:`Similarity` or an n x n tensor/array; rows are true classes.
    """
    what, table = "similarity_accuracy", _similarity_table(similarity)
    top, target = _ranked(
        what, pred_or_scores, target, classes=_classes(what, table, "similarity", None)
    )
    return _ratio(_similarity_sums(top, target, table.to(top.device)))


def superclass_accuracy(pred_or_scores: Tensor, target: Tensor, groups: Groups) -> float:
    """Fraction of rows whose top-1 class is in the same superclass as the true class.

    Args:
        pred_or_scores: scores (batch, classes) or predictions (batch,).
        groups: (classes,) integers: ``groups[c]`` is the superclass of class c.
    """
    what, table = "superclass_accuracy", _group_table(groups)
    top, target = _ranked(what, pred_or_scores, target, classes=table.shape[0])
    return _ratio(_superclass_sums(top, target, table.to(top.device)))


# -- conditional risk minimisation -------------------------------------------------------------


def conditional_risk(
    probs: Tensor, hierarchy: Costs, *, distance: str = "lca-height", from_logits: bool = False
) -> Tensor:
    """Return the expected cost of predicting each class: ``R[b, c] = sum_j p[b, j] d(c, j)``.

    Args:
        probs: (batch, classes) class probabilities (rows summing to 1), or logits with
            ``from_logits=True`` (a softmax over classes first).
        hierarchy: the class tree, whose ``distance`` gives d; or a (classes, classes) cost
            matrix ``d[c, j]``: the cost of predicting c when the truth is j.
        distance: one of :data:`structloss.structures.DISTANCES` (for a tree).

    Returns:
        (batch, classes) float64 risks.
    """
    costs = _costs(hierarchy, distance)
    if probs.ndim != 2 or tuple(costs.shape) != (probs.shape[1], probs.shape[1]):
        raise InputError(
            f"conditional risk needs probabilities (batch, classes) and a classes x classes cost"
            f" matrix, got {_shape(probs)} and {tuple(costs.shape)}"
        )
    if isinstance(costs, _TreeRisk):
        return costs(probs.detach(), from_logits=from_logits)
    probs = probs.detach().double()
    if from_logits:
        probs = probs.softmax(dim=1)
    return probs @ costs.to(probs).T


class _TreeRisk(torch.nn.Module):
    """``R[b, c] = sum_j p[b, j] d(c, j)`` for a tree distance, without the classes^2 costs.

    With ``M(v)`` the probability mass below node v (summed bottom-up, level by level) and
    ``L(c, j)`` the depth of the lowest common ancestor, ``sum_j p_j L(c, j)`` is ``S(c)``, the
    sum of ``M`` over c's path below the root, and the chance that c and j part at node a is
    ``M(a) - M(child of a towards c)``. So, top-down over the levels, in O(batch x nodes):

    - ``"edges"``: ``R = depth(c) sum(p) + sum_j p_j depth(j) - 2 S(c)``;
    - ``"bertinetto"`` (H the tree's height): ``R = H (sum(p) - p_c) - (S(c) - p_c depth(c))``;
    - ``"lca-height"``: ``R = T(c)`` with ``T(v) = T(parent) + height(parent) (M(parent) -
      M(v))``, ``T(root) = 0``.

    Rows go in chunks, so memory is a few (chunk, nodes) arrays whatever the batch.
    """

    def __init__(self, hierarchy: Hierarchy, distance: str) -> None:
        super().__init__()
        tree = _check_tree(hierarchy)
        check_distance(distance)
        self.distance, self.top = distance, int(tree.depths.max())
        self.shape = (tree.num_classes, tree.num_classes)
        self.num_classes, self.num_nodes = tree.num_classes, tree.num_nodes
        levels = [level[level >= tree.num_classes] for level in tree.levels]  # internal nodes
        self.inner_levels = len(levels)
        for d, level in enumerate(levels):  # as positions among the internal nodes
            inner = torch.as_tensor(level - tree.num_classes)
            self.register_buffer(f"inner{d}", inner, persistent=False)
        parents = torch.as_tensor(np.asarray(tree.parents, dtype=np.int64))
        self.register_buffer("parents", parents, persistent=False)
        self.register_buffer("depths", torch.tensor(tree.depths), persistent=False)
        self.register_buffer("heights", torch.tensor(tree.heights), persistent=False)

    def _cached(self, kind: str, probs: Tensor, from_logits: bool, make: Any) -> Tensor:
        """``make()``, kept for the same, unchanged input tensor (held by a weak reference).

        The CRM metrics of one collection share this module, so a batch is decoded once.
        """
        key = (kind, probs._version, from_logits, tuple(probs.shape))
        cache = self.__dict__.setdefault("_cache", {})
        last = cache.get(kind)
        if last is not None and last[0]() is probs and last[1] == key:
            return last[2]
        value = make()
        cache[kind] = (weakref.ref(probs), key, value)
        return value

    def decoded(self, probs: Tensor, *, from_logits: bool) -> Tensor:
        """``-conditional_risk(probs)``: scores whose ranking orders classes by risk."""
        return self._cached(
            "scores", probs, from_logits, lambda: self(probs, from_logits=from_logits, sign=-1.0)
        )

    def decide(self, probs: Tensor, *, from_logits: bool) -> Tensor:
        """(batch,) ``argmin_c R[b, c]``, ties to the lowest class index, in one pass.

        For the children c of one node g the risk is ``K_g - w_g p_c`` with ``w_g > 0`` (for
        ``"lca-height"`` ``w_g`` is g's height, for ``"edges"`` 2, for ``"bertinetto"`` H
        minus g's depth), so each node's best child is its most probable one and only the
        nodes need comparing. Rows where two nodes come within rounding of the least risk
        take the full risk, so the decision is :func:`conditional_risk`'s argmin exactly.
        """
        return self._cached("classes", probs, from_logits, lambda: self._decide(probs, from_logits))

    def _chunks(self, probs: Tensor, from_logits: bool) -> Any:
        rows = max(1, 2**23 // self.num_nodes)
        for start in range(0, probs.shape[0], rows):
            p = probs[start : start + rows].detach().double()
            yield start, (p.softmax(dim=1) if from_logits else p)

    def forward(self, probs: Tensor, *, from_logits: bool = False, sign: float = 1.0) -> Tensor:
        """(batch, classes) float64 risks (times ``sign``) of probabilities or logits."""
        out = torch.empty(
            (probs.shape[0], self.num_classes), dtype=torch.float64, device=probs.device
        )
        for start, p in self._chunks(probs, from_logits):
            risk = self._risk(p)
            out[start : start + len(p)] = risk if sign == 1.0 else risk.mul_(sign)
        return out

    def _decide(self, probs: Tensor, from_logits: bool) -> Tensor:
        out = torch.empty(probs.shape[0], dtype=torch.int64, device=probs.device)
        c = self.num_classes
        up = self.parents[:c] - c
        for start, p in self._chunks(probs, from_logits):
            mass, acc = self._inner(p)
            best = p.new_full(mass.shape, float("-inf"))
            best.scatter_reduce_(1, up.expand(len(p), -1), p, "amax")
            inner_depth = self.depths[c:].to(p)
            total = p.sum(1, keepdim=True)
            if self.distance == "lca-height":
                height = self.heights[c:].to(p)
                base, weight = acc + height * mass, height
            elif self.distance == "edges":
                spread = (p * self.depths[:c].to(p)).sum(1, keepdim=True)
                base, weight = (inner_depth + 1) * total + spread - 2 * acc, p.new_full((1,), 2.0)
            else:
                base, weight = self.top * total - acc, self.top - inner_depth
            risk = torch.where(best > float("-inf"), base - weight * best, float("inf"))
            node = risk.argmin(dim=1)
            pick = torch.where(up[None, :] == node[:, None], p, float("-inf")).argmax(dim=1)
            # nodes within rounding of the least risk: the full risk decides, exactly as
            # conditional_risk ranks them (ties to the lowest class index)
            least = risk.gather(1, node[:, None])
            ties = (risk <= least + 1e-9 * (least.abs() + 1)).sum(1) > 1
            if bool(ties.any()):
                pick[ties] = self._risk(p[ties]).argmin(dim=1)
            out[start : start + len(p)] = pick
        return out

    def _inner(self, p: Tensor) -> tuple[Tensor, Tensor]:
        """Per internal node: the mass below it, and the sum the risk climbs down with.

        ``acc`` is ``sum over the node's path below the root of M`` (edges, bertinetto) or
        ``T`` (lca-height), as in the class docstring, for the internal nodes only: the
        classes (many) enter once, summed into their parents, and leave once, read from
        their parents.
        """
        c = self.num_classes
        mass = p.new_zeros((p.shape[0], self.num_nodes - c))
        mass.index_add_(1, self.parents[:c] - c, p)
        levels = [getattr(self, f"inner{d}") for d in range(self.inner_levels)]
        for level in reversed(levels[1:]):  # deepest first: children before their parents
            mass.index_add_(1, self.parents[level + c] - c, mass[:, level])
        acc = torch.zeros_like(mass)
        height = self.heights[c:].to(p)
        for level in levels[1:]:
            parent = self.parents[level + c] - c
            if self.distance == "lca-height":
                step = height[parent] * (mass[:, parent] - mass[:, level])
            else:
                step = mass[:, level]
            acc[:, level] = acc[:, parent] + step
        return mass, acc

    def _risk(self, p: Tensor) -> Tensor:
        c = self.num_classes
        up = self.parents[:c] - c  # each class's parent, among the internal nodes
        mass, acc = self._inner(p)
        if self.distance == "lca-height":
            height = self.heights[c:].to(p)
            return acc[:, up] + height[up] * (mass[:, up] - p)
        below = acc[:, up] + p  # S(c): the path's masses below the root, the class's own last
        total, depth = p.sum(1, keepdim=True), self.depths[:c].to(p)
        if self.distance == "edges":
            return depth * total + (p * depth).sum(1, keepdim=True) - 2 * below
        return self.top * (total - p) - (below - p * depth)


def _costs(hierarchy: Costs | _TreeRisk, distance: str) -> Tensor | _TreeRisk:
    if isinstance(hierarchy, _TreeRisk):
        return hierarchy
    if isinstance(hierarchy, Hierarchy):
        return _TreeRisk(hierarchy, distance)
    # a tensor stays on its device: CRMDecoding passes its buffer
    return hierarchy.detach() if isinstance(hierarchy, Tensor) else _cpu_tensor(hierarchy)


def crm_decode(
    probs: Tensor, hierarchy: Costs, *, distance: str = "lca-height", from_logits: bool = False
) -> Tensor:
    """Decode by conditional risk minimisation: the class of least expected tree distance.

    Karthik et al., *No Cost Likelihood Manipulation at Test Time for Making Better
    Mistakes in Deep Networks* (ICLR 2021): ``argmin_c sum_j p_j d(c, j)``, for any model's
    probabilities, with no retraining. With a 0/1 cost (a flat tree) it is the argmax. Ties go
    to the lowest class index. Arguments as :func:`conditional_risk`.

    Returns:
        (batch,) int64 predicted classes.
    """
    if isinstance(hierarchy, Hierarchy):
        if probs.ndim != 2 or probs.shape[1] != hierarchy.num_classes:
            raise InputError(
                f"crm_decode needs probabilities (batch, {hierarchy.num_classes}), got"
                f" {_shape(probs)}"
            )
        return _TreeRisk(hierarchy, distance).decide(probs.detach(), from_logits=from_logits)
    risk = conditional_risk(probs, hierarchy, distance=distance, from_logits=from_logits)
    return risk.argmin(dim=1)


# -- multi-label ------------------------------------------------------------------------------


def _check_multilabel(
    scores: Tensor, target: Tensor, k: int | None = None, classes: int | None = None
) -> Tensor:
    """Validate scores and multi-hot targets of one shape; return the targets as bool."""
    if scores.ndim != 2 or target.shape != scores.shape:
        raise InputError(
            "multi-label metrics need scores and multi-hot targets of one shape (batch, classes),"
            f" got {_shape(scores)} and {_shape(target)}"
        )
    if classes is not None and scores.shape[1] != classes:
        raise InputError(f"expected {classes} score columns, got {scores.shape[1]}")
    if k is not None and not 1 <= k <= scores.shape[1]:
        raise InputError(f"k must be in 1..{scores.shape[1]} (the number of classes), got {k}")
    return target.bool()


def _precision_sums(scores: Tensor, hot: Tensor, k: int) -> Sums:
    """Labels among each row's top k; rows times k."""
    top = scores.argsort(dim=1, descending=True, stable=True)[:, :k]
    found = hot.gather(1, top)
    return found.sum(), _count(found)


def _recall_sums(scores: Tensor, hot: Tensor, k: int) -> Sums:
    """Per-row fractions of the labels found in the top k; rows with labels."""
    labels = hot.sum(1)
    keep = labels > 0
    top = scores.argsort(dim=1, descending=True, stable=True)[:, :k]
    found = hot.gather(1, top).sum(1)
    return (found[keep].double() / labels[keep]).sum(), keep.sum()


def precision_at_k(scores: Tensor, target: Tensor, k: int = 5) -> float:
    """Mean over rows of the fraction of the ``k`` top-scored classes that are labels.

    Args:
        scores: (batch, classes) class scores; ties rank the lower class index first.
        target: (batch, classes) multi-hot labels.
        k: how many top classes to look at.
    """
    return _ratio(_precision_sums(scores, _check_multilabel(scores, target, k), k))


def recall_at_k(scores: Tensor, target: Tensor, k: int = 5) -> float:
    """Mean over rows with labels of the fraction of their labels in the top ``k``.

    Rows without any label are left out (their recall is undefined).
    """
    return _ratio(_recall_sums(scores, _check_multilabel(scores, target, k), k))


def average_precision(scores: Tensor, target: Tensor) -> Tensor:
    """Average precision of every class, as scikit-learn's ``average_precision_score``.

    A class ranks all rows by its score; AP is the mean over its positive rows of the
    precision at that row's score threshold, so tied scores form one step (the result
    does not depend on the order of the rows).

    Returns:
        (classes,) float64 tensor; NaN for a class without positive rows.
    """
    hot = _check_multilabel(scores, target)
    ordered, order = scores.sort(dim=0, descending=True, stable=True)
    ranked_hot = hot.gather(0, order).double()
    hits = ranked_hot.cumsum(0)
    rows = torch.arange(len(scores), device=scores.device)[:, None].expand_as(ordered)
    last = torch.ones_like(ordered, dtype=torch.bool)  # the last row of its group of ties
    last[:-1] = ordered[1:] != ordered[:-1]
    end = torch.where(last, rows, len(scores)).flip(0).cummin(0).values.flip(0)
    precision = hits.gather(0, end) / (end + 1)
    return (precision * ranked_hot).sum(0) / ranked_hot.sum(0)


def mean_average_precision(scores: Tensor, target: Tensor) -> float:
    """Macro mean average precision: :func:`average_precision` over classes with positives.

    Over no such class the result is 0.0.
    """
    per_class = average_precision(scores, target)
    kept = per_class[~per_class.isnan()]
    return float(kept.mean()) if kept.numel() else 0.0
