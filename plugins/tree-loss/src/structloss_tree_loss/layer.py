"""The tree loss's last layer: class weights are sums of node vectors down a class tree.

``TreeLinear`` holds one learnable vector per node of a :class:`structloss.Hierarchy`
(``V``, nodes x in_features). Class c's weight vector is the sum of the vectors on its path
from the root, ``W = A V`` with ``A = hierarchy.path_matrix()``, and the layer returns the
ordinary logits ``x W^T + b``. Classes that share ancestors share those vectors, so what is
learnt for one class moves its relatives too.

``W`` is computed without forming ``A``: one ``embedding_bag`` sums, for every class, the rows
of ``V`` on its path (a single vectorised gather-sum). The gradient ``A^T dW`` flows back up
the tree one depth level at a time: each class row is added into its parent, then each
level's rows into their parents, deepest first, so every node collects the class rows below
it in O(nodes x features) work. The two directions are autograd functions that are each
other's adjoint, so higher-order gradients work too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.autograd.function import FunctionCtx

from structloss.errors import InputError, StructureError
from structloss.structures import Hierarchy

__all__ = ["TreeLinear", "node_variance_shares"]

Levels = tuple[tuple[int, int], ...]


def node_variance_shares(hierarchy: Hierarchy) -> np.ndarray:
    """Return each node's share of a class weight's initial variance; shares on a path sum to 1.

    With ``F(v) = (depth(v) + 1) / (depth(v) + 1 + height(v))`` (root depth 0, leaves height 0)
    node v gets ``F(v) - F(parent(v))``, and the root ``F(root) = 1 / (1 + tree height)``.
    ``F`` grows strictly down every path and is 1 at every leaf, so the shares are positive and
    telescope to exactly 1 along every root-to-class path, whatever the class's depth. In a tree
    whose leaves all have depth D every node gets ``1 / (D + 1)``.

    Args:
        hierarchy: the class tree.

    Returns:
        A float64 array indexed like ``hierarchy.nodes``.
    """
    depth = hierarchy.depths.astype(np.float64)
    height = hierarchy.heights.astype(np.float64)
    cumulative = (depth + 1.0) / (depth + 1.0 + height)
    parents = np.asarray(hierarchy.parents)
    above = np.where(parents >= 0, cumulative[np.maximum(parents, 0)], 0.0)
    return cumulative - above


def _tree_indices(hierarchy: Hierarchy) -> tuple[np.ndarray, ...]:
    """Index tables of the path sums and of their transpose.

    Returns ``(path_index, path_offsets, class_parent, inner_parent)``: the node indices on
    every class's root path, class after class, with each class's start offset (the
    ``embedding_bag`` form of ``A``); each class's parent and each internal node's parent as
    positions among the internal nodes (``nodes[num_classes:]``; the root's own entry is 0
    and never used).
    """
    classes = hierarchy.num_classes
    parents = np.asarray(hierarchy.parents, dtype=np.int64)
    owners, members = [], []
    owner, node = np.arange(classes), np.arange(classes)
    while node.size:  # one step up every unfinished path at a time
        owners.append(owner)
        members.append(node)
        up = parents[node]
        keep = up >= 0
        owner, node = owner[keep], up[keep]
    owner, node = np.concatenate(owners), np.concatenate(members)
    order = np.lexsort((hierarchy.depths[node], owner))  # by class, then root first
    path_index = node[order]
    path_offsets = np.searchsorted(owner[order], np.arange(classes))
    class_parent = parents[:classes] - classes
    inner_parent = np.maximum(parents[classes:] - classes, 0)
    return path_index, path_offsets, class_parent, inner_parent


def _depth_levels(hierarchy: Hierarchy) -> Levels:
    """The ``(start, stop)`` slices of the internal nodes at depth 1, 2, ...

    Raises:
        StructureError: when the internal nodes are not listed breadth-first after the
            classes, as :meth:`Hierarchy.from_parents` lists them.
    """
    inner_depth = hierarchy.depths[hierarchy.num_classes :]
    if inner_depth.size == 0 or inner_depth[0] != 0 or np.any(np.diff(inner_depth) < 0):
        raise StructureError(
            "TreeLinear needs the hierarchy's internal nodes listed breadth-first from the root"
            " after the classes, as Hierarchy.from_parents builds them; rebuild the hierarchy"
            " with Hierarchy.from_parents(classes, hierarchy.to_parents())"
        )
    bounds = np.searchsorted(inner_depth, np.arange(int(inner_depth[-1]) + 2)).tolist()
    return tuple((bounds[d], bounds[d + 1]) for d in range(1, len(bounds) - 1))


def _path_sums(vectors: Tensor, path_index: Tensor, path_offsets: Tensor) -> Tensor:
    """``A V``: for each class, the sum of the node vectors on its root path."""
    return F.embedding_bag(path_index, vectors, path_offsets, mode="sum")


def _subtree_sums(
    grad: Tensor, class_parent: Tensor, inner_parent: Tensor, levels: Levels, frozen_root: bool
) -> Tensor:
    """``A^T G``: each node's row is the sum of the class rows below it (itself for a class).

    With ``frozen_root`` the root's row is 0 instead (``P A^T G``, P zeroing the root row).
    """
    classes = grad.shape[0]
    out = grad.new_empty((classes + inner_parent.shape[0], grad.shape[1]))
    out[:classes] = grad
    inner = out[classes:]
    inner.zero_()
    inner.index_add_(0, class_parent, grad)
    for start, stop in reversed(levels):  # children are complete before their parents
        inner[:start].index_add_(0, inner_parent[start:stop], inner[start:stop])
    if frozen_root:
        inner[0] = 0  # the root is the first internal node
    return out


def _save_tree(ctx: FunctionCtx, tree: tuple[Any, ...]) -> None:
    """Keep the tree's index tensors and constants for the backward pass."""
    ctx.save_for_backward(*tree[:4])
    ctx.constants = tree[4:]  # type: ignore[attr-defined]


class _PathSum(torch.autograd.Function):
    """``W = A V``; its gradient is ``A^T dW`` (:class:`_SubtreeSum`).

    With ``frozen_root`` the root's vector is treated as a constant: its gradient is 0.
    """

    @staticmethod
    def forward(ctx: FunctionCtx, vectors: Tensor, *tree: Any) -> Tensor:  # type: ignore[override]
        """``tree``: path_index, path_offsets, class_parent, inner_parent, levels, frozen_root."""
        _save_tree(ctx, tree)
        return _path_sums(vectors, tree[0], tree[1])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return (None,) * 7
        tree = (*ctx.saved_tensors, *ctx.constants)
        return _SubtreeSum.apply(grad, *tree), *(None,) * 6


class _SubtreeSum(torch.autograd.Function):
    """``G = A^T dW`` (``P A^T dW`` with ``frozen_root``); its gradient is ``A dG`` (``A P dG``)."""

    @staticmethod
    def forward(ctx: FunctionCtx, grad: Tensor, *tree: Any) -> Tensor:  # type: ignore[override]
        """``tree`` as for :class:`_PathSum`."""
        _save_tree(ctx, tree)
        return _subtree_sums(grad, *tree[2:])

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor | None, ...]:  # type: ignore[override]
        if not ctx.needs_input_grad[0]:
            return (None,) * 7
        path_index, path_offsets, class_parent, inner_parent = ctx.saved_tensors
        levels, frozen_root = ctx.constants
        if frozen_root:  # P is symmetric: zero the root's row before A
            grad = grad.clone()
            grad[class_parent.shape[0]] = 0
        tree = (path_index, path_offsets, class_parent, inner_parent, levels, frozen_root)
        return _PathSum.apply(grad, *tree), *(None,) * 6


class TreeLinear(nn.Module):
    """A linear layer whose class weights are sums of node vectors along a class tree.

    ``forward(x) = x W^T + b`` with ``W = A V``: ``V`` (:attr:`node_vectors`, one row per node
    of ``hierarchy.nodes``, classes first) and ``A = hierarchy.path_matrix()``, so class c's
    weight is the sum of the vectors of the nodes on its root path, itself included. The
    outputs are ordinary class logits in label order.

    The bias (:attr:`bias`) is one number per *class*, not per node: a per-node bias would
    only re-parameterise the same per-class offsets (the path sums of node biases), so it
    would add parameters without changing what the layer can express.

    Initialisation (:meth:`reset_parameters`): node v's vector is drawn from
    ``N(0, s_v / (3 in_features))`` with the shares ``s_v`` of :func:`node_variance_shares`,
    which sum to 1 along every root-to-class path; every class weight thus starts with
    ``nn.Linear``'s variance ``1 / (3 in_features)`` per entry, whatever its depth. The bias is
    drawn like ``nn.Linear``'s, from ``U(-1/sqrt(in_features), 1/sqrt(in_features))``.

    The tree is stored as integer buffers, so ``.to(device)`` moves it and DDP sees only
    ordinary parameters; the persistent ``parents`` buffer records the tree in the state dict,
    and loading a state dict saved for another tree is refused.

    Args:
        hierarchy: the class tree; its classes fix the output order.
        in_features: size of each input sample.
        bias: learn a per-class additive bias (as ``nn.Linear``).
        train_root: let the root's vector learn. The root is on every class's path, so its
            vector adds ``x . v_root`` to every logit alike; under a softmax loss its gradient
            is exactly zero in exact arithmetic and only rounding noise in practice, which
            adaptive optimisers (Adam) would amplify into a random drift. ``False`` keeps it
            at its initial value (no gradient flows to it); the tree loss does that.
        device: where to create the parameters.
        dtype: the parameters' floating-point dtype.

    Raises:
        InputError: for a bad ``in_features``.
        StructureError: when ``hierarchy`` is not a :class:`~structloss.Hierarchy`.
    """

    node_vectors: Tensor
    bias: Tensor | None
    parents: Tensor
    path_index: Tensor
    path_offsets: Tensor
    class_parent: Tensor
    inner_parent: Tensor
    node_variance: Tensor

    def __init__(
        self,
        hierarchy: Hierarchy,
        in_features: int,
        *,
        bias: bool = True,
        train_root: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.train_root = train_root
        if not isinstance(hierarchy, Hierarchy):
            raise StructureError(
                f"TreeLinear needs a structloss.Hierarchy, got {type(hierarchy).__name__};"
                " build one with Hierarchy.from_parents or a hierarchy structure provider"
            )
        if isinstance(in_features, bool) or not isinstance(in_features, int) or in_features < 1:
            raise InputError(f"in_features must be a positive integer, got {in_features!r}")
        self.in_features = in_features
        self.num_classes = hierarchy.num_classes
        self.num_nodes = hierarchy.num_nodes
        self._levels = _depth_levels(hierarchy)
        shares = node_variance_shares(hierarchy) / (3.0 * in_features)
        factory = {"device": device, "dtype": dtype}
        self.node_vectors = nn.Parameter(torch.empty(self.num_nodes, in_features, **factory))
        self.bias = nn.Parameter(torch.empty(self.num_classes, **factory)) if bias else None
        parents = torch.tensor(hierarchy.parents, dtype=torch.int64, device=device)
        self.register_buffer("parents", parents)
        names = ("path_index", "path_offsets", "class_parent", "inner_parent")
        for name, table in zip(names, _tree_indices(hierarchy), strict=True):
            self.register_buffer(name, torch.from_numpy(table).to(device), persistent=False)
        variance = torch.from_numpy(shares).to(device=device, dtype=self.node_vectors.dtype)
        self.register_buffer("node_variance", variance, persistent=False)
        self.reset_parameters()

    @property
    def depth(self) -> int:
        """The depth of the deepest internal node (the loop length of the backward pass)."""
        return len(self._levels)

    def reset_parameters(self) -> None:
        """Draw fresh parameters with the initialisation rule in the class docstring."""
        with torch.no_grad():
            self.node_vectors.normal_()
            self.node_vectors.mul_(self.node_variance.sqrt().unsqueeze(1))
            if self.bias is not None:
                bound = 1.0 / math.sqrt(self.in_features)
                self.bias.uniform_(-bound, bound)

    def class_weight(self) -> Tensor:
        """Return ``W = A V``, the (classes, in_features) weight matrix of the logits."""
        return _PathSum.apply(  # type: ignore[no-any-return]
            self.node_vectors,
            self.path_index,
            self.path_offsets,
            self.class_parent,
            self.inner_parent,
            self._levels,
            not self.train_root,  # the root's gradient is zeroed in the backward pass
        )

    def forward(self, x: Tensor) -> Tensor:
        """Return the class logits ``x W^T + b``, shape (..., classes).

        Raises:
            InputError: when the last dimension of ``x`` is not ``in_features``.
        """
        if x.ndim < 1 or x.shape[-1] != self.in_features:
            raise InputError(
                f"TreeLinear expects inputs whose last dimension is in_features ="
                f" {self.in_features}, got shape {tuple(x.shape)}"
            )
        return F.linear(x, self.class_weight(), self.bias)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, classes={self.num_classes},"
            f" nodes={self.num_nodes}, depth={self.depth}, bias={self.bias is not None}"
        )

    def _load_from_state_dict(
        self,
        state_dict: Mapping[str, Any],
        prefix: str,
        local_metadata: dict[str, Any],
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        saved = state_dict.get(prefix + "parents")
        if isinstance(saved, Tensor) and not torch.equal(saved.cpu(), self.parents.cpu()):
            raise StructureError(
                f"the state dict at {prefix or '(top level)'!r} was saved for another class tree"
                f" ({saved.numel()} nodes, this layer has {self.num_nodes}, or the same count"
                " wired differently); build the TreeLinear from the hierarchy it was trained on"
            )
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )
