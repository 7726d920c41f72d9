"""Loss ``pmi-embedding``: regress the normalised sum of a sample's label vectors.

Chollet (2016): instead of one sigmoid per label, the network outputs a ``dim``-vector ``o``
and is trained towards the target ``t = sum_{l in labels} e_l / ||sum_{l in labels} e_l||``
(unit label vectors ``e_l``) with the cosine proximity loss ``1 - cos(o, t)``. At test time
labels are ranked by the cosine of ``o`` to each label vector.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from structloss.errors import ConfigError, InputError
from structloss.objective import Objective
from structloss.specs import LossContext
from structloss.structures import LabelEmbedding

__all__ = ["PMIEmbeddingLoss", "build_pmi_embedding_loss"]


class PMIEmbeddingLoss(Objective):
    """Cosine proximity to the normalised sum of the sample's label vectors.

    For outputs ``o`` (batch, dim) and multi-hot targets ``y`` (batch, classes)::

        t = y E / max(||y E||, eps)          # E: (classes, dim), unit rows
        loss = 1 - o . t / max(||o||, eps)   # per sample, then reduced

    A sample without any label has no target direction: it is left out of the mean
    (``reduction="mean"`` divides by the number of samples with labels; a batch with none
    gives 0) and contributes 0 under ``"sum"`` and ``"none"``. Zero outputs give cosine 0
    (loss 1) with finite gradients, never NaN. Soft targets in [0, 1] weight the label
    vectors in the sum.

    The output layer is ``head(in_features) = nn.Linear(in_features, dim)``, so the last
    layer has ``dim`` rather than ``classes`` outputs. :meth:`scores` gives the cosine of
    the outputs to every label vector, (batch, classes), for ranking metrics; :meth:`decode`
    turns them into label sets (top-k or a cosine threshold).

    The unit label vectors are the registered buffer ``embedding``, so they follow
    ``.to(device)``; the forward pass casts them to the outputs' dtype.

    Args:
        embedding: the label vectors, e.g. from provider ``pmi-embedding``; rows are scaled
            to unit length here.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        eps: the smallest norm divided by (keeps zero vectors finite).
        validate: check targets on every call (see :class:`~structloss.Objective`).

    Raises:
        InputError: for a bad reduction or eps.

    Example::

        >>> emb = LabelEmbedding.from_matrix(["a", "b", "c"], [[1, 0], [0, 1], [1, 1]])
        >>> loss = PMIEmbeddingLoss(emb)
        >>> float(loss(torch.tensor([[1.0, 0.0]]), [[0]]))
        0.0
    """

    multilabel = True
    embedding: Tensor

    def __init__(
        self,
        embedding: LabelEmbedding,
        *,
        reduction: str = "mean",
        eps: float = 1e-8,
        validate: bool = True,
    ) -> None:
        if not isinstance(embedding, LabelEmbedding):
            raise InputError(
                "PMIEmbeddingLoss needs a structloss.LabelEmbedding, got"
                f" {type(embedding).__name__}; build one with LabelEmbedding.from_matrix"
            )
        super().__init__(embedding.num_classes, reduction=reduction, validate=validate)
        if isinstance(eps, bool) or not isinstance(eps, int | float) or not eps > 0:
            raise InputError(f"eps must be a positive number, got {eps!r}")
        self.eps = float(eps)
        self.classes = embedding.classes
        self.dim = embedding.dim
        unit = torch.as_tensor(embedding.normalized(), dtype=torch.get_default_dtype())
        self.register_buffer("embedding", unit)

    @property
    def output_size(self) -> int:
        """The width of the outputs: the embedding dimension."""
        return self.dim

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, dim={self.dim}"

    def _label_sums(self, hot: Tensor) -> tuple[Tensor, Tensor]:
        """Return ``(hot @ E, rows with a label)``, touching only the labels present.

        A sample holds a few of many labels, so gathering their vectors and adding them up
        costs O(labels x dim) instead of the O(batch x classes x dim) of a dense product.
        """
        rows, cols = hot.nonzero(as_tuple=True)
        vectors = self.embedding.to(hot.dtype).index_select(0, cols) * hot[rows, cols, None]
        summed = hot.new_zeros(hot.shape[0], self.dim).index_add_(0, rows, vectors)
        valid = torch.zeros(hot.shape[0], dtype=torch.bool, device=hot.device)
        return summed, valid.index_fill_(0, rows, True)

    def targets(self, hot: Tensor) -> Tensor:
        """Return the unit target directions (batch, dim) of multi-hot rows (zero if empty)."""
        return F.normalize(self._label_sums(hot)[0], dim=1, eps=self.eps)

    def forward(self, outputs: Tensor, target: Tensor | Sequence[Iterable[int]]) -> Tensor:
        """Return the cosine proximity loss of ``outputs`` (batch, dim) against label sets.

        Args:
            outputs: (batch, dim) outputs of :meth:`head`.
            target: (batch, classes) multi-hot tensor (bool, integer or float in [0, 1]) or
                a list of label sets (class indices per sample).

        Raises:
            InputError: for bad shapes or values, 1-D class indices (a single-label target),
                or outputs on another device than the loss.
        """
        hot = self.check_multilabel_inputs(outputs, target)
        if self.embedding.device != outputs.device:
            raise InputError(
                f"outputs are on {outputs.device} but the loss's embedding is on"
                f" {self.embedding.device}; move the loss with loss.to(device)"
            )
        summed, valid = self._label_sums(hot)
        target_direction = F.normalize(summed, dim=1, eps=self.eps)
        cosine = (F.normalize(outputs, dim=1, eps=self.eps) * target_direction).sum(dim=1)
        return self.reduce(1.0 - cosine, valid)

    def scores(self, outputs: Tensor) -> Tensor:
        """Return the (batch, classes) cosines of ``outputs`` to every label vector.

        Higher is more likely; the core's ranking metrics (precision@k, mAP) apply as is.

        Raises:
            InputError: for outputs not of shape (batch, dim).
        """
        if not isinstance(outputs, Tensor) or outputs.ndim != 2 or outputs.shape[1] != self.dim:
            shape = tuple(outputs.shape) if isinstance(outputs, Tensor) else type(outputs).__name__
            raise InputError(
                f"PMIEmbeddingLoss.scores expects outputs of shape (batch, {self.dim}), got {shape}"
            )
        unit = F.normalize(outputs, dim=1, eps=self.eps)
        return unit @ self.embedding.to(outputs.dtype).T

    def decode(
        self, outputs: Tensor, *, k: int | None = None, threshold: float | None = None
    ) -> Tensor:
        """Return predicted label sets as a (batch, classes) bool tensor.

        Labels are ranked by :meth:`scores` (cosine to the output); give exactly one of:

        Args:
            outputs: (batch, dim) outputs of :meth:`head`.
            k: predict the ``k`` labels with the highest cosine (when the number of labels
                per sample is known or fixed, e.g. precision@k).
            threshold: predict every label with cosine >= ``threshold`` (in [-1, 1]; pick
                it on validation data).

        Raises:
            InputError: unless exactly one of ``k`` and ``threshold`` is given and valid.
        """
        if (k is None) == (threshold is None):
            raise InputError("decode needs exactly one of k (top-k) or threshold (cosine)")
        scores = self.scores(outputs)
        if threshold is not None:
            if not -1.0 <= float(threshold) <= 1.0:
                raise InputError(f"threshold is a cosine in [-1, 1], got {threshold!r}")
            return scores >= float(threshold)
        if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= self.num_classes:
            raise InputError(f"k must be an integer in 1..{self.num_classes}, got {k!r}")
        top = scores.topk(k, dim=1).indices
        return torch.zeros_like(scores, dtype=torch.bool).scatter_(1, top, True)


def build_pmi_embedding_loss(
    context: LossContext, *, reduction: str = "mean", eps: float = 1e-8
) -> PMIEmbeddingLoss:
    """Factory of loss ``pmi-embedding``: :class:`PMIEmbeddingLoss` over the context's embedding.

    ``compose`` hands over the configured structure, a label embedding (provider
    ``pmi-embedding`` or any other embedding provider). A function rather than the class:
    a bad option is a config error here, and the constructor's ``validate`` is not an option.

    Args:
        context: the loss context; ``context.structure`` is the label embedding.
        reduction: ``"mean"``, ``"sum"`` or ``"none"``.
        eps: the smallest norm divided by.

    Raises:
        IncompatibleStructureError: when the context holds no label embedding.
        ConfigError: for a bad option.
    """
    embedding = context.require_embedding("pmi-embedding")
    try:
        return PMIEmbeddingLoss(embedding, reduction=reduction, eps=eps)
    except InputError as exc:
        raise ConfigError(f"loss 'pmi-embedding': {exc}") from None
