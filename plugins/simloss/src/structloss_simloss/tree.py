"""SimLoss from a tree without the classes x classes matrix.

With ``S_ij = decay ** distance(i, j)`` (tree edges), the credited mass of a target ``y``
splits by the lowest common ancestor ``a_k`` (depth k) of ``y`` and each class::

    sum_c S[y, c] e_c = sum_k decay^(d_y - k) (W(a_k) - decay W(a_(k+1))),   a_(d_y) = y

with the subtree sums ``W(v) = sum_{c below v} decay^(d_c - d_v) e_c``, summed bottom-up level
by level (``W(y) = e_y``). That is O(batch x nodes) time and memory, forward and backward
(a hand-written backward in :mod:`.loss` for class targets, autograd elsewhere), against O(batch x classes) memory and a
classes x classes matrix for the dense form. The credits of every class at once (for
probability targets) come top-down: ``G(v) = decay (G(parent) + W(parent) - decay W(v))``,
credit ``G(c) + W(c)``.

``e = exp(z - max z)`` keeps the sums in range; entries whose credit would underflow (every
class near the target scored far below the best) are recomputed exactly in log space from
the tree's distances, for those entries only.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from structloss.structures import TreeSimilarity

__all__ = ["TreeCredit"]


class TreeCredit(nn.Module):
    """The tree of a :class:`~structloss.structures.TreeSimilarity`, as buffers, and its sums.

    Args:
        similarity: the tree similarity (``decay ** distance``).
    """

    def __init__(self, similarity: TreeSimilarity) -> None:
        super().__init__()
        tree = similarity.hierarchy
        self.hierarchy, self.decay = tree, float(similarity.decay)
        self.num_classes, self.num_nodes = tree.num_classes, tree.num_nodes
        c = tree.num_classes
        # the internal nodes below the root, level by level (the classes enter and leave
        # the sums in one step each, from and to their parents)
        inner = [level[level >= c] for level in tree.levels[1:]]
        self.levels = len(inner)
        for d, level in enumerate(inner):
            self.register_buffer(f"inner{d}", torch.tensor(level), persistent=False)
        parents = torch.tensor(np.asarray(tree.parents, dtype=np.int64))
        self.register_buffer("parents", parents, persistent=False)
        self.register_buffer("ancestors", torch.tensor(tree.ancestors[:c]), persistent=False)
        self.register_buffer("depths", torch.tensor(tree.depths[:c]), persistent=False)

    def _inner_levels(self) -> list[Tensor]:
        return [getattr(self, f"inner{d}") for d in range(self.levels)]

    def inner_sums(self, e: Tensor) -> Tensor:
        """(batch, internal nodes) ``W`` of the internal nodes (see :meth:`subtree_sums`)."""
        return self.levels_up(self.class_sums(e))

    def class_sums(self, e: Tensor) -> Tensor:
        """(batch, internal nodes) ``decay * sum`` of each internal node's own classes' ``e``."""
        c = self.num_classes
        inner = e.new_zeros((e.shape[0], self.num_nodes - c))
        return inner.index_add_(1, self.parents[:c] - c, e, alpha=self.decay)

    def levels_up(self, inner: Tensor) -> Tensor:
        """:meth:`inner_sums` from :meth:`class_sums`: the internal nodes, deepest first."""
        c = self.num_classes
        inner = inner.clone()
        for level in reversed(self._inner_levels()):
            inner.index_add_(1, self.parents[level] - c, inner[:, level - c], alpha=self.decay)
        return inner

    def subtree_sums(self, e: Tensor) -> Tensor:
        """(batch, nodes) ``W(v) = sum_{c below v} decay^(d_c - d_v) e_c``.

        The classes (many) are summed into their parents once, straight from ``e``; then
        the internal nodes (few) level by level, deepest first.
        """
        return torch.cat([e, self.inner_sums(e)], 1)

    def credit(self, e: Tensor, target: Tensor) -> Tensor:
        """(batch,) ``sum_c S[y, c] e_c`` for targets ``y``, gathered along each path."""
        return self.credit_from(self.inner_sums(e), e.gather(1, target[:, None]), target)

    def credit_from(self, inner: Tensor, own: Tensor, target: Tensor) -> Tensor:
        """:meth:`credit` from the internal nodes' sums and ``own = e_y`` (batch, 1)."""
        c = self.num_classes
        path = self.ancestors[target]  # (batch, height + 1), padded with the target
        depth = self.depths[target][:, None]
        k = torch.arange(path.shape[1], device=inner.device)
        above = k[None, :] < depth  # the strict ancestors a_k: internal nodes
        on_path = torch.where(above, inner.gather(1, torch.where(above, path - c, 0)), own)
        below = torch.cat([on_path[:, 1:], own], 1)  # W(a_(k+1))
        power = torch.where(above, (depth - k).clamp_min(0).to(inner.dtype), 0.0)
        weight = torch.where(above, torch.pow(inner.new_tensor(self.decay), power), 0.0)
        return own[:, 0] + (weight * (on_path - self.decay * below)).sum(1)

    def credits(self, e: Tensor) -> Tensor:
        """(batch, classes) ``sum_c S[y, c] e_c`` for every class ``y``, top-down."""
        sums = self.subtree_sums(e)
        c = self.num_classes
        climb = torch.zeros_like(sums)
        for level in self._inner_levels():  # internal nodes, the root's children first
            up = self.parents[level]
            step = self.decay * (climb[:, up] + sums[:, up] - self.decay * sums[:, level])
            climb = climb.index_copy(1, level, step)
        up = self.parents[:c]  # then every class at once, from its parent
        return self.decay * (climb[:, up] + sums[:, up]) + (1 - self.decay**2) * sums[:, :c]

    def log_credit_exact(self, logits: Tensor, rows: Tensor, classes: Tensor) -> Tensor:
        """``log sum_c S[y, c] softmax(z)_c`` for (row, target class) pairs, in log space.

        O(pairs x classes x depth): for the rare entries whose credit underflows.
        """
        distance = self.hierarchy.pair_distances(
            classes.cpu().numpy()[:, None], np.arange(self.num_classes)[None, :], "edges"
        )
        d = torch.as_tensor(distance, device=logits.device, dtype=logits.dtype)
        with np.errstate(divide="ignore"):
            log_decay = float(np.log(self.decay)) if self.decay > 0 else float("-inf")
        log_s = torch.where(d == 0, 0.0, d * log_decay)
        z = logits[rows]
        return torch.logsumexp(z + log_s, dim=1) - torch.logsumexp(z, dim=1)
