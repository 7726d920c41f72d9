"""The core's plugin contract checks (structloss.testing) on this plugin."""

from __future__ import annotations

import numpy as np

import structloss_pmi_embedding.hooks as hooks
from structloss import LabelEmbedding
from structloss.testing import DEFAULT_CLASSES, check_loss, check_plugin, check_structure
from structloss_pmi_embedding import PMIEmbeddingLoss, pmi_embedding


def test_plugin_contract(make_labels):
    labels = make_labels(num_classes=len(DEFAULT_CLASSES))
    host = check_plugin(hooks, labels=labels, structures={"pmi-embedding": {"dim": 3}})
    assert host.spec("loss", "pmi-embedding").multilabel


def test_loss_contract_with_a_learned_embedding(labels, classes):
    embedding = pmi_embedding(labels, classes, dim=5)
    check_structure(embedding, classes, kind="embedding")

    def factory(**overrides: object) -> PMIEmbeddingLoss:
        return PMIEmbeddingLoss(embedding, **overrides)  # type: ignore[arg-type]

    check_loss(factory(), batch=6, factory=factory)


def test_loss_contract_with_soft_targets():
    rng = np.random.default_rng(0)
    vectors = LabelEmbedding.from_matrix([f"l{i}" for i in range(9)], rng.normal(size=(9, 4)))
    check_loss(PMIEmbeddingLoss(vectors, reduction="sum"), in_features=5)
