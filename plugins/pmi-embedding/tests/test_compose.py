"""Provider and loss ``pmi-embedding`` composed by name through a fresh plugin host."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from structloss import (
    Hierarchy,
    LabelEmbedding,
    LossContext,
    Similarity,
    build_structure,
    compose,
)
from structloss.errors import (
    ConfigError,
    IncompatibleStructureError,
    InputError,
    StructureError,
    UnknownOptionError,
)
from structloss_pmi_embedding import PMIEmbeddingLoss, build_pmi_embedding_loss, pmi_embedding


def config(classes, dim=8, **loss):
    return {
        "classes": classes,
        "structure": {"provider": "pmi-embedding", "dim": dim},
        "loss": {"name": "pmi-embedding", **loss},
    }


def test_hooks_register_provider_and_loss(plugin_host):
    assert plugin_host.components("pmi-embedding") == {
        "structure": ["pmi-embedding"],
        "loss": ["pmi-embedding"],
    }
    assert plugin_host.spec("structure", "pmi-embedding").kind == "embedding"
    spec = plugin_host.spec("loss", "pmi-embedding")
    assert spec.needs == "embedding" and spec.multilabel


def test_compose_by_name(plugin_host, labels, classes):
    loss = compose(config(classes), labels=labels, host=plugin_host)
    assert isinstance(loss, PMIEmbeddingLoss)
    assert loss.classes == tuple(classes) and loss.output_size == 8
    expected = pmi_embedding(labels, classes, dim=8)
    torch.testing.assert_close(loss.embedding, torch.tensor(expected.matrix, dtype=torch.float32))
    head = loss.head(16)
    value = loss(head(torch.randn(5, 16)), torch.from_numpy(labels[:5]))
    assert value.shape == () and torch.isfinite(value)
    assert loss.scores(head(torch.randn(5, 16))).shape == (5, 12)


def test_options_reach_provider_and_loss(plugin_host, labels, classes):
    cfg = config(classes, dim=4, reduction="sum", eps=1e-6)
    cfg["structure"] |= {"smoothing": 0.75, "min_count": 2, "diagonal": "zero", "seed": 3}
    loss = compose(cfg, labels=labels, host=plugin_host)
    assert loss.reduction == "sum" and loss.eps == 1e-6 and loss.dim == 4
    expected = pmi_embedding(labels, classes, dim=4, smoothing=0.75, min_count=2, diagonal="zero")
    np.testing.assert_allclose(loss.embedding.numpy(), expected.matrix, atol=1e-6)


def test_build_structure_and_similarity_conversion(plugin_host, labels, classes):
    cfg = {"classes": classes, "structure": {"provider": "pmi-embedding", "dim": 4}}
    structure = build_structure(cfg, labels=labels, host=plugin_host)
    assert isinstance(structure, LabelEmbedding) and structure.dim == 4
    similarity = structure.convert("similarity", lower_bound=0.1)
    assert isinstance(similarity, Similarity) and similarity.num_classes == 12


def test_composes_from_a_toml_file(plugin_host, labels, classes, tmp_path):
    path = tmp_path / "pmi.toml"
    path.write_text(
        f"classes = {classes!r}\n\n[structure]\nprovider = 'pmi-embedding'\ndim = 5\n"
        "positive = true\n\n[loss]\nname = 'pmi-embedding'\n".replace("'", '"')
    )
    sets = [np.flatnonzero(row).tolist() for row in labels]
    assert compose(path, labels=sets, host=plugin_host).dim == 5


def test_any_label_embedding_works(plugin_host, classes):
    vectors = LabelEmbedding.from_matrix(classes, np.eye(12, 3) + 0.1)
    loss = compose({"loss": {"name": "pmi-embedding"}}, structure=vectors, host=plugin_host)
    assert loss.dim == 3


def test_missing_labels_tell_the_user_to_pass_them(plugin_host, classes):
    with pytest.raises(ConfigError, match=r"labels=train_labels"):
        compose(config(classes), host=plugin_host)


def test_missing_classes(plugin_host, labels):
    cfg = config(None)
    del cfg["classes"]
    with pytest.raises(ConfigError, match="class names"):
        compose(cfg, labels=labels, host=plugin_host)


def test_errors_by_name(plugin_host, labels, classes):
    with pytest.raises(ConfigError, match="fewer than the 12 classes"):
        compose(config(classes, dim=12), labels=labels, host=plugin_host)
    with pytest.raises(InputError, match=r"outside 0\.\.11"):
        compose(config(classes), labels=[[0, 1], [12]], host=plugin_host)
    with pytest.raises(StructureError, match="no label at all"):
        compose(config(classes), labels=[[], []], host=plugin_host)
    unseen = labels.copy()
    unseen[:, 2] = False
    with pytest.raises(StructureError, match=r"never occur.*'c02'"):
        compose(config(classes), labels=unseen, host=plugin_host)
    cfg = config(classes)
    cfg["structure"]["unseen"] = "random"
    assert compose(cfg, labels=unseen, host=plugin_host).dim == 8
    cfg["structure"]["dimension"] = 8
    with pytest.raises(UnknownOptionError, match="dimension"):
        compose(cfg, labels=labels, host=plugin_host)


def test_needs_an_embedding(plugin_host, classes):
    tree = Hierarchy.flat(classes)
    with pytest.raises(IncompatibleStructureError, match="embedding"):
        compose({"loss": {"name": "pmi-embedding"}}, structure=tree, host=plugin_host)
    with pytest.raises(IncompatibleStructureError, match="pmi-embedding"):
        compose({"classes": classes, "loss": {"name": "pmi-embedding"}}, host=plugin_host)


def test_factory_called_directly_names_the_loss_and_the_fix(plugin_host, classes):
    context = LossContext(tuple(classes), Hierarchy.flat(classes), plugin_host.backend())
    with pytest.raises(
        IncompatibleStructureError,
        match=r"'pmi-embedding' needs a label embedding, got a hierarchy; add a \[structure\]",
    ):
        build_pmi_embedding_loss(context)


def test_multi_hot_target_to_a_single_label_loss(plugin_host, classes):
    cross_entropy = compose(
        {"classes": classes, "loss": {"name": "cross-entropy"}}, host=plugin_host
    )
    with pytest.raises(InputError, match="single-label loss"):
        cross_entropy(torch.zeros(2, 12), torch.zeros(2, 12, dtype=torch.long))


def test_single_label_target_to_the_multi_label_loss(plugin_host, labels, classes):
    loss = compose(config(classes), labels=labels, host=plugin_host)
    with pytest.raises(InputError, match="single-label loss such as cross-entropy"):
        loss(torch.zeros(2, 8), torch.tensor([0, 3]))


@pytest.mark.slow
def test_importing_the_hooks_stays_light():
    code = (
        "import sys, structloss_pmi_embedding, structloss_pmi_embedding.hooks;"
        "print(sorted(m for m in ('scipy', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
