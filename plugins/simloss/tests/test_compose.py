"""``simloss`` composed by name with every similarity source."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import structloss_simloss.hooks as hooks
from structloss import Hierarchy, LabelEmbedding, PluginHost, Similarity, compose
from structloss.errors import IncompatibleStructureError, UnknownOptionError
from structloss.registry import PluginInfo
from structloss_simloss import SimLoss

CLASSES = ["cat", "dog", "car", "truck"]
PARENTS = {"cat": "animal", "dog": "animal", "car": "vehicle", "truck": "vehicle"}
PARENTS |= {"animal": "thing", "vehicle": "thing"}


@pytest.fixture
def host() -> PluginHost:
    """A fresh host with the built-ins and this plugin only."""
    host = PluginHost(entry_points=[], env={})
    assert host.register(hooks, PluginInfo("simloss", "structloss-simloss", "0.1.0"))
    return host


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps({"classes": CLASSES, "parents": PARENTS}))
    return path


def test_hooks_register_loss_and_provider(host):
    assert host.components("simloss") == {"structure": ["ordinal"], "loss": ["simloss"]}
    assert host.spec("loss", "simloss").needs == "similarity"
    assert host.spec("structure", "ordinal").kind == "similarity"


def test_ordinal_by_name(host):
    config = {
        "classes": ["1", "2", "3"],
        "structure": {"provider": "ordinal", "r": 0.5},
        "loss": {"name": "simloss", "reduction": "sum", "ignore_index": -1},
    }
    loss = compose(config, host=host)
    assert isinstance(loss, SimLoss)
    assert loss.reduction == "sum" and loss.ignore_index == -1
    torch.testing.assert_close(loss.similarity[0], torch.tensor([1.0, 0.5, 0.25]))


@pytest.mark.parametrize(
    ("convert", "expected_row"),
    [
        ({}, [1.0, 0.5, 0.0, 0.0]),  # wu-palmer: depth(lca) = 1, depths 2 -> 2/4
        ({"rule": "wu-palmer"}, [1.0, 0.5, 0.0, 0.0]),
        ({"rule": "exponential", "decay": 0.5}, [1.0, 0.25, 0.0625, 0.0625]),
        ({"rule": "exponential", "decay": 0.0}, [1.0, 0.0, 0.0, 0.0]),
    ],
)
def test_hierarchy_file_converts(host, tree_file, convert, expected_row):
    config = {
        "structure": {"provider": "hierarchy-file", "path": str(tree_file)},
        "convert": convert,
        "loss": {"name": "simloss"},
    }
    loss = compose(config, host=host)
    assert loss.classes == tuple(CLASSES)
    torch.testing.assert_close(loss.similarity[0], torch.tensor(expected_row))
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    expected = tree.to_similarity(**convert).matrix
    torch.testing.assert_close(
        loss.similarity.double(), torch.tensor(expected), rtol=1e-6, atol=1e-7
    )


def test_hierarchy_file_from_toml_with_convert_table(host, tree_file):
    config = tree_file.parent / "simloss.toml"
    config.write_text(
        '[structure]\nprovider = "hierarchy-file"\npath = "tree.json"\n'
        '[convert]\nrule = "exponential"\ndecay = 0.3\n'
        '[loss]\nname = "simloss"\n'
    )
    loss = compose(config, host=host)
    assert loss.similarity[0, 1].item() == pytest.approx(0.09)


def test_ready_similarity_passed_to_compose(host):
    structure = Similarity.from_matrix(CLASSES, np.eye(4) * 0.5 + 0.5)
    loss = compose({"loss": {"name": "simloss"}}, host=host, structure=structure)
    torch.testing.assert_close(loss.similarity, torch.full((4, 4), 0.5) + torch.eye(4) * 0.5)


def test_ready_hierarchy_and_embedding_passed_to_compose(host):
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    loss = compose({"loss": {"name": "simloss"}}, host=host, structure=tree)
    torch.testing.assert_close(loss.similarity[2, 3].item(), 0.5)
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    embedding = LabelEmbedding.from_matrix(CLASSES, vectors)
    config = {"loss": {"name": "simloss"}, "convert": {"lower_bound": 0.5}}
    loss = compose(config, host=host, structure=embedding)
    # cos(cat, dog) = 0.8 -> (0.8 - 0.5) / 0.5 = 0.6; cos(cat, car) = 0 -> 0
    assert loss.similarity[0, 1].item() == pytest.approx(0.6)
    assert loss.similarity[0, 2].item() == 0.0 and loss.similarity[0, 3].item() == 0.0


def test_embedding_similarity_plugin_when_installed(host, tmp_path):
    plugin = pytest.importorskip(
        "structloss_embedding_similarity.hooks",
        reason="structloss-embedding-similarity is not installed",
    )
    gensim_models = pytest.importorskip("gensim.models")
    words = ["cat", "dog", "car", "truck"]
    vectors = np.array([[1.0, 0.1, 0.0], [0.9, 0.2, 0.0], [0.0, 0.1, 1.0], [0.1, 0.0, 0.9]])
    keyed = gensim_models.KeyedVectors(vector_size=3)
    keyed.add_vectors(words, vectors.astype(np.float32))
    keyed.save_word2vec_format(str(tmp_path / "vectors.txt"))
    host.register(plugin, PluginInfo("embedding-similarity", "structloss-embedding-similarity"))
    config = {
        "classes": CLASSES,
        "structure": {"provider": "embedding-similarity", "vectors": str(tmp_path / "vectors.txt")},
        "convert": {"lower_bound": 0.2},
        "loss": {"name": "simloss"},
    }
    loss = compose(config, host=host)
    assert loss.similarity[0, 1] > 0.9 and loss.similarity[0, 2] == 0.0


def test_without_structure_is_a_clear_error(host):
    with pytest.raises(IncompatibleStructureError, match=r"needs a similarity.*ordinal"):
        compose({"classes": CLASSES, "loss": {"name": "simloss"}}, host=host)


def test_unknown_option_lists_valid_ones(host):
    config = {
        "classes": ["1", "2"],
        "structure": {"provider": "ordinal"},
        "loss": {"name": "simloss", "reductio": "sum"},
    }
    with pytest.raises(UnknownOptionError, match=r"did you mean 'reduction'.*ignore_index"):
        compose(config, host=host)


def test_trains_a_linear_model(host):
    torch.manual_seed(0)
    config = {
        "classes": [str(i) for i in range(5)],
        "structure": {"provider": "ordinal", "r": 0.3},
        "loss": {"name": "simloss"},
    }
    loss = compose(config, host=host)
    head = loss.head(4)
    x = torch.randn(64, 4)
    y = (x[:, 0] > 0).long() * 4
    optimizer = torch.optim.SGD(head.parameters(), lr=0.5)
    first = float(loss(head(x), y).detach())
    for _ in range(50):
        optimizer.zero_grad()
        loss(head(x), y).backward()
        optimizer.step()
    assert float(loss(head(x), y).detach()) < first / 2
