"""The SimLoss objective: cross-entropy that gives partial credit to similar classes.

SimLoss (Kobs et al., 2020) replaces the probability of the true class ``y`` in
cross-entropy by the similarity-weighted probability mass of all classes::

    L(z, y) = -log( sum_c S[y, c] * softmax(z)_c )

With ``S = I`` it is cross-entropy. Predicting a class similar to the truth is punished
less, so the model learns to make its mistakes among similar classes. For a target given as
class probabilities ``q`` (Mixup, CutMix, label smoothing) it is the expectation over ``q``::

    L(z, q) = -sum_y q_y log( sum_c S[y, c] * softmax(z)_c )
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor

from structloss.errors import InputError
from structloss.objective import Objective, is_probability_target
from structloss.specs import LossContext
from structloss.structures import Similarity, TreeSimilarity
from structloss_simloss.neighbours import NeighbourCredit, NeighbourSimilarity, nearest_neighbours
from structloss_simloss.tree import TreeCredit

__all__ = ["SimLoss", "build_simloss", "build_simloss_neighbours"]

#: The matrix-free similarities: each gives ``credit``, ``credits`` and ``log_credit_exact``.
MatrixFree = TreeCredit | NeighbourCredit


def _as_similarity(
    similarity: Similarity
    | TreeSimilarity
    | NeighbourSimilarity
    | np.ndarray
    | Tensor
    | Sequence[Any],
) -> Similarity | TreeSimilarity | NeighbourSimilarity:
    """Return ``similarity`` as a validated :class:`Similarity` (values in [0, 1], unit diagonal)."""
    if isinstance(similarity, Similarity | TreeSimilarity | NeighbourSimilarity):
        return similarity
    if isinstance(similarity, Tensor):
        similarity = similarity.detach().cpu().double().numpy()
    matrix = np.asarray(similarity, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise InputError(f"SimLoss needs a square similarity matrix, got shape {matrix.shape}")
    # the core validates range, finiteness and the unit diagonal, naming the culprit
    return Similarity.from_matrix([str(i) for i in range(matrix.shape[0])], matrix)


def _log_space_simloss(logits: Tensor, similarity: Tensor, index: Tensor) -> Tensor:
    """``logsumexp(z) - logsumexp(z + log S[y])`` with plain autograd (``log 0 = -inf``)."""
    credited = logits + similarity.index_select(0, index).log()
    return torch.logsumexp(logits, dim=1) - torch.logsumexp(credited, dim=1)


def _soft_simloss(
    logits: Tensor,
    q: Tensor,
    credits: Callable[[Tensor], Tensor],
    exact: Callable[[Tensor, Tensor], Tensor],
) -> Tensor:
    """Per-sample ``-sum_y q_y log(sum_c S[y, c] p_c)`` for probability targets ``q``.

    ``credits(e)`` gives every class's credit ``sum_c S[y, c] e_c`` (batch, classes) of the
    shifted exponentials ``e = exp(z - max z)`` (the dense matrix's one product, or the
    tree's subtree sums); classes with ``q_y = 0`` are masked before the logarithm, so they
    contribute exactly nothing (no ``0 * log 0``) to value and gradient. Credits that would
    underflow (every class similar to ``y`` scored far below the best) are replaced by
    ``exact(rows, classes)``, their log credit computed in log space, for those entries
    only. Traced graphs (``torch.compile``) skip that data-dependent step and bound such a
    credit below by the dtype's smallest normal number instead.
    """
    top = logits.detach().amax(1, keepdim=True)
    e = (logits - top).exp()
    credit = credits(e)
    used = q > 0
    finfo = torch.finfo(logits.dtype)
    log_total = e.sum(1, keepdim=True).log()
    log_credit = torch.where(used, credit.clamp_min(finfo.tiny), 1.0).log() - log_total
    low = used & (credit < finfo.tiny / finfo.eps)
    if not torch.compiler.is_compiling() and bool(low.any()):
        rows, classes = low.nonzero(as_tuple=True)
        log_credit = log_credit.index_put((rows, classes), exact(rows, classes))
    return -(q * torch.where(used, log_credit, 0.0)).sum(1)


def _dense_soft_simloss(logits: Tensor, similarity: Tensor, q: Tensor) -> Tensor:
    """:func:`_soft_simloss` of a dense similarity matrix."""

    def exact(rows: Tensor, classes: Tensor) -> Tensor:
        z = logits[rows]
        return torch.logsumexp(z + similarity[classes].log(), 1) - torch.logsumexp(z, 1)

    return _soft_simloss(logits, q, lambda e: e @ similarity.T, exact)


def _tree_simloss(tree: MatrixFree, logits: Tensor, index: Tensor) -> Tensor:
    """Per-sample SimLoss of a matrix-free similarity: a tree's subtree sums (see
    :mod:`.tree`) or each class's kept neighbours (see :mod:`.neighbours`)."""
    if isinstance(tree, TreeCredit) and not torch.compiler.is_compiling():
        return _TreeSimLossFunction.apply(logits, index, tree)
    return _tree_simloss_autograd(tree, logits, index)


class _TreeSimLossFunction(torch.autograd.Function):
    """:func:`_tree_simloss` of a tree with a hand-written backward: three passes over
    (batch, classes) where autograd through the subtree sums makes about ten.

    With ``e = exp(z - max z)``, the loss ``log sum(e) - log credit`` has ``dL/de_c =
    1 / sum(e) - (decay g[parent(c)] + [c = y] g_y) / credit``, where ``g`` and ``g_y`` are
    the gradients of the credit with respect to the internal nodes' class sums and to
    ``e_y``: both small, from autograd through :meth:`TreeCredit.credit_from`. Rows whose
    credit underflows take the log-space form's gradient. Double backward recomputes
    through plain autograd.
    """

    @staticmethod
    def forward(ctx: Any, logits: Tensor, index: Tensor, tree: TreeCredit) -> Tensor:
        e = (logits - logits.amax(1, keepdim=True)).exp_()
        total, base = e.sum(1), tree.class_sums(e)
        own = e.gather(1, index[:, None])
        credit = tree.credit_from(tree.levels_up(base), own, index)
        finfo = torch.finfo(logits.dtype)
        per_sample = total.log() - credit.clamp_min(finfo.tiny).log()
        low = (credit < finfo.tiny / finfo.eps).nonzero()[:, 0]
        if len(low):
            exact = -tree.log_credit_exact(logits, low, index[low])
            per_sample = per_sample.index_put((low,), exact)
        ctx.tree = tree
        ctx.save_for_backward(logits, index, e, total, base, own, credit, low)
        return per_sample

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        logits, index, e, total, base, own, credit, low = ctx.saved_tensors
        tree = ctx.tree
        if torch.is_grad_enabled():  # create_graph: the same gradient, differentiably
            per_sample = _tree_simloss_autograd(tree, logits, index)
            (out,) = torch.autograd.grad(per_sample, logits, grad, create_graph=True)
            return out, None, None
        with torch.enable_grad():
            base, own = base.detach().requires_grad_(), own.detach().requires_grad_()
            small = tree.credit_from(tree.levels_up(base), own, index)
            g_base, g_own = torch.autograd.grad(small, (base, own), -grad / credit)
        c = tree.num_classes
        out = (g_base * tree.decay).index_select(1, tree.parents[:c] - c)
        out.add_((grad / total)[:, None]).mul_(e)
        out.scatter_add_(1, index[:, None], g_own * own)
        if len(low):
            with torch.enable_grad():
                z = logits[low].detach().requires_grad_()
                rows = torch.arange(len(low), device=z.device)
                exact = -tree.log_credit_exact(z, rows, index[low])
                (out_low,) = torch.autograd.grad(exact, z, grad[low])
            out[low] = out_low
        return out, None, None


def _tree_simloss_autograd(tree: MatrixFree, logits: Tensor, index: Tensor) -> Tensor:
    """:func:`_tree_simloss` through plain autograd: the neighbours form, traced graphs
    (which skip the data-dependent underflow step) and double backward."""
    top = logits.detach().amax(1, keepdim=True)
    e = (logits - top).exp()
    credit = tree.credit(e, index)
    finfo = torch.finfo(logits.dtype)
    low = credit < finfo.tiny / finfo.eps
    per_sample = e.sum(1).log() - credit.clamp_min(finfo.tiny).log()
    if not torch.compiler.is_compiling() and bool(low.any()):
        rows = low.nonzero()[:, 0]
        exact = -tree.log_credit_exact(logits, rows, index[rows])
        per_sample = per_sample.index_put((rows,), exact)
    return per_sample


def _tree_soft_simloss(tree: MatrixFree, logits: Tensor, q: Tensor) -> Tensor:
    """:func:`_soft_simloss` of a matrix-free similarity, every credit at once (subtree
    sums, or one sparse product)."""
    return _soft_simloss(
        logits, q, tree.credits, lambda rows, classes: tree.log_credit_exact(logits, rows, classes)
    )


class _SimLossFunction(torch.autograd.Function):
    """Per-sample SimLoss from one fused softmax forward, with an exact backward.

    With ``p = softmax(z)`` and the credited mass ``c = sum_c S[y, c] p_c``, the loss is
    ``-log c`` and its gradient ``p * (1 - S[y] / c)`` (softmax minus the
    similarity-weighted softmax). Rows whose ``c`` would lose precision to underflow (every
    credited class scored far below the best one) are computed in log space instead:
    ``logsumexp(z) - logsumexp(z + log S[y])``, with the same gradient written as
    ``softmax(z) - softmax(z + log S[y])``. Both forms are exact; the switch only avoids
    underflow.
    """

    @staticmethod
    def forward(ctx: Any, logits: Tensor, similarity: Tensor, index: Tensor) -> Tensor:
        p = torch.softmax(logits, dim=1)
        rows = similarity.index_select(0, index)
        credit = torch.bmm(rows.unsqueeze(1), p.unsqueeze(2)).view(-1)  # row-wise dot
        loss = -credit.log()
        finfo = torch.finfo(logits.dtype)
        low = credit < finfo.tiny / finfo.eps
        fallback = None
        if bool(low.any()):
            which = low.nonzero().squeeze(1)
            z = logits.index_select(0, which)
            credited = z + rows.index_select(0, which).log()
            loss[which] = torch.logsumexp(z, dim=1) - torch.logsumexp(credited, dim=1)
            fallback = (which, torch.softmax(z, dim=1) - torch.softmax(credited, dim=1))
        ctx.fallback = fallback
        ctx.save_for_backward(logits, p, rows, credit)
        return loss

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, None, None]:
        logits, p, rows, credit = ctx.saved_tensors
        if torch.is_grad_enabled():
            # create_graph=True (double backward): the same gradient from differentiable ops
            credited = logits + rows.log()
            unit = torch.softmax(logits, dim=1) - torch.softmax(credited, dim=1)
            return grad[:, None] * unit, None, None
        # g * p * (1 - S[y] / c) in two passes over (batch, classes)
        out = torch.addcmul(grad[:, None], rows, (-grad / credit)[:, None]).mul_(p)
        if ctx.fallback is not None:
            which, unit = ctx.fallback
            out[which] = grad[which, None] * unit
        return out, None, None


class SimLoss(Objective):
    """SimLoss: ``-log(sum_c S[y, c] softmax(z)_c)`` for logits ``z`` and target ``y``.

    Only the batch's rows of ``S`` are gathered, so time and memory are
    O(batch x classes); no (batch, classes, classes) tensor or full ``S p`` product is
    formed. With ``p = softmax(z)``::

        L = -log(sum_c S[y, c] p_c)

    one fused softmax and one row-wise dot give the value, and a custom backward gives the
    exact gradient ``p - S[y] p / (S[y] . p)`` in two passes. Zero similarities contribute
    exactly nothing to value and gradient; the unit diagonal keeps every sum non-empty.
    Rows where every credited class scores so far below the best class that the second
    sum would underflow are computed in log space (``logsumexp``), so value and gradient
    stay finite and accurate for any logits.

    Targets are class indices, or (batch, classes) probabilities ``q`` (rows >= 0 summing
    to 1, as Mixup and CutMix build them), for which the loss is the expectation
    ``-sum_y q_y log(sum_c S[y, c] p_c)``: one (batch, classes) x (classes, classes)
    product, exact for one-hot ``q``.

    S is the registered buffer ``similarity``, so it follows ``.to(device)`` and
    ``.to(dtype)``. Half-precision outputs are computed in float32 (the loss is float32),
    as ``F.cross_entropy`` is under autocast.

    Args:
        similarity: a :class:`~structloss.Similarity`, or an n x n matrix (array or tensor)
            with values in [0, 1] and a unit diagonal. ``similarity[i, j]`` is the credit for
            predicting class j when the truth is i.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped.
        validate: check target values on every call (see :class:`~structloss.Objective`).

    Raises:
        StructureError: for a matrix out of [0, 1], non-finite, or without a unit diagonal.
        InputError: for a non-square matrix, a bad reduction or ignore_index.

    Example::

        >>> loss = SimLoss(Similarity.identity(["a", "b"]))  # cross-entropy
        >>> loss(torch.zeros(1, 2), torch.tensor([0]))
        tensor(0.6931)
    """

    similarity: Tensor

    def __init__(
        self,
        similarity: Similarity | np.ndarray | Tensor | Sequence[Any],
        *,
        reduction: str = "mean",
        ignore_index: int = -100,
        validate: bool = True,
    ) -> None:
        structure = _as_similarity(similarity)
        super().__init__(
            structure.num_classes,
            reduction=reduction,
            ignore_index=ignore_index,
            validate=validate,
        )
        self.classes = structure.classes
        self.tree = TreeCredit(structure) if isinstance(structure, TreeSimilarity) else None
        near = isinstance(structure, NeighbourSimilarity)
        self.neighbours = NeighbourCredit(structure) if near else None
        dense = None if self.tree is not None or near else structure.matrix
        self.register_buffer(
            "similarity",
            None if dense is None else torch.tensor(dense, dtype=torch.get_default_dtype()),
        )

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        """Return the SimLoss of ``outputs`` (logits, (batch, classes)) against ``target``.

        ``target`` holds class indices (batch,), or class probabilities (batch, classes)
        whose rows sum to 1, as ``nn.CrossEntropyLoss`` takes them (Mixup's targets work
        unchanged); the loss is then ``-sum_y q_y log(sum_c S[y, c] p_c)``.

        Raises:
            InputError: for bad shapes, dtypes, devices or labels (see ``check_inputs``), a
                probability row that is negative or does not sum to 1, or outputs on
                another device than the loss.
        """
        if is_probability_target(target):
            q = self.check_probabilities(outputs, target)
            self._check_device(outputs)
            logits = outputs.to(q.dtype)
            if self._matrix_free is not None:
                per_sample = _tree_soft_simloss(self._matrix_free, logits, q)
            else:
                per_sample = _dense_soft_simloss(logits, self.similarity.to(q.dtype), q)
            return self.reduce(per_sample, torch.ones_like(per_sample, dtype=torch.bool))
        index, valid = self.check_inputs(outputs, target)
        self._check_device(outputs)
        # half-precision outputs are computed in float32, as cross-entropy is under autocast
        logits = outputs.to(torch.promote_types(outputs.dtype, torch.float32))
        if self._matrix_free is not None:
            return self.reduce(_tree_simloss(self._matrix_free, logits, index), valid)
        similarity = self.similarity.to(logits.dtype)
        if torch.compiler.is_compiling():
            # the eager kernel branches on the data (underflow fallback); traced graphs use
            # the branch-free log-space form, which the compiler fuses
            per_sample = _log_space_simloss(logits, similarity, index)
        else:
            per_sample = _SimLossFunction.apply(logits, similarity, index)
        return self.reduce(per_sample, valid)

    @property
    def _matrix_free(self) -> MatrixFree | None:
        return self.tree if self.tree is not None else self.neighbours

    def _check_device(self, outputs: Tensor) -> None:
        free = self._matrix_free
        held = self.similarity if free is None else next(free.buffers())
        if held.device != outputs.device:
            raise InputError(
                f"outputs are on {outputs.device} but the loss's similarity is on"
                f" {held.device}; move the loss with loss.to(device)"
            )

    def extra_repr(self) -> str:
        text = f"{super().extra_repr()}, ignore_index={self.ignore_index}"
        if self.neighbours is not None:
            kept = self.neighbours.index.shape[1]
            text += f", neighbours={kept}, max_dropped={self.neighbours.max_dropped:.3g}"
        return text


def build_simloss(
    context: LossContext, *, reduction: str = "mean", ignore_index: int = -100
) -> SimLoss:
    """Factory of loss ``simloss``: :class:`SimLoss` over the context's similarity.

    ``compose`` hands over the structure already converted to a :class:`Similarity`
    (hierarchies through ``[convert] rule``/``decay``, embeddings through
    ``[convert] lower_bound``). A function rather than the class, whose constructor also
    takes ``validate`` and raw matrices, which configs do not pass.

    Args:
        context: the loss context; ``context.structure`` is the similarity.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped.

    Raises:
        IncompatibleStructureError: when the context holds no similarity.
    """
    similarity = context.require_similarity("simloss")
    return SimLoss(similarity, reduction=reduction, ignore_index=ignore_index)


def build_simloss_neighbours(
    context: LossContext,
    *,
    lower_bound: float = 0.0,
    neighbours: int = 32,
    reduction: str = "mean",
    ignore_index: int = -100,
) -> SimLoss:
    """Factory of loss ``simloss-neighbours``: SimLoss over each class's nearest classes.

    For embeddings of many classes (tens of thousands), where the dense similarity does not
    fit: each class keeps its ``neighbours`` most similar classes (itself included) under
    ``S = max(0, (cos - b) / (1 - b))``, ``b = lower_bound``, found without the matrix (see
    :mod:`structloss_simloss.neighbours` for the form and its error bound: exact where a row
    keeps every class above the lower bound).

    Args:
        context: the loss context; ``context.structure`` is the embedding.
        lower_bound: cosines at or below it count as unrelated, in [-1, 1).
        neighbours: classes kept per row (at most every class).
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        ignore_index: a target value that is skipped.

    Raises:
        IncompatibleStructureError: when the context holds no embedding.
        OptionError: for a lower bound or a number of neighbours out of range.
    """
    embedding = context.require_embedding("simloss-neighbours")
    similarity = nearest_neighbours(embedding, lower_bound, neighbours)
    return SimLoss(similarity, reduction=reduction, ignore_index=ignore_index)
