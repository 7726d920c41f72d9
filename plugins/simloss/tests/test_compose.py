"""``simloss`` composed by name with every similarity source."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from structloss import Hierarchy, LabelEmbedding, LossContext, Similarity, compose
from structloss.errors import IncompatibleStructureError, UnknownOptionError
from structloss_simloss import SimLoss, build_simloss

CLASSES = ["cat", "dog", "car", "truck"]
PARENTS = {"cat": "animal", "dog": "animal", "car": "vehicle", "truck": "vehicle"}
PARENTS |= {"animal": "thing", "vehicle": "thing"}


@pytest.fixture
def tree_file(tmp_path):
    path = tmp_path / "tree.json"
    path.write_text(json.dumps({"classes": CLASSES, "parents": PARENTS}))
    return path


def test_hooks_register_loss_and_provider(plugin_host):
    assert plugin_host.components("simloss") == {
        "structure": ["ordinal"],
        "loss": ["simloss", "simloss-neighbours"],
    }
    assert plugin_host.spec("loss", "simloss").needs == "similarity"
    assert plugin_host.spec("structure", "ordinal").kind == "similarity"


def test_ordinal_by_name(plugin_host):
    config = {
        "classes": ["1", "2", "3"],
        "structure": {"provider": "ordinal", "r": 0.5},
        "loss": {"name": "simloss", "reduction": "sum", "ignore_index": -1},
    }
    loss = compose(config, host=plugin_host)
    assert isinstance(loss, SimLoss)
    assert loss.reduction == "sum" and loss.ignore_index == -1
    torch.testing.assert_close(loss.similarity[0], torch.tensor([1.0, 0.5, 0.25]))


@pytest.mark.parametrize(
    ("convert", "expected_row"),
    [
        ({}, [1.0, 0.25, 0.0625, 0.0625]),  # exponential, decay 0.5: 0.5 ** edges
        ({"rule": "wu-palmer"}, [1.0, 0.5, 0.0, 0.0]),
        ({"rule": "exponential", "decay": 0.5}, [1.0, 0.25, 0.0625, 0.0625]),
        ({"rule": "exponential", "decay": 0.0}, [1.0, 0.0, 0.0, 0.0]),
    ],
)
def test_hierarchy_file_converts(plugin_host, tree_file, convert, expected_row):
    config = {
        "structure": {"provider": "hierarchy-file", "path": str(tree_file)},
        "convert": convert,
        "loss": {"name": "simloss"},
    }
    loss = compose(config, host=plugin_host)
    assert loss.classes == tuple(CLASSES)
    torch.testing.assert_close(loss.similarity[0], torch.tensor(expected_row))
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    expected = tree.to_similarity(**convert).matrix
    torch.testing.assert_close(
        loss.similarity.double(), torch.tensor(expected), rtol=1e-6, atol=1e-7
    )


def test_hierarchy_file_from_toml_with_convert_table(plugin_host, tree_file):
    config = tree_file.parent / "simloss.toml"
    config.write_text(
        '[structure]\nprovider = "hierarchy-file"\npath = "tree.json"\n'
        '[convert]\nrule = "exponential"\ndecay = 0.3\n'
        '[loss]\nname = "simloss"\n'
    )
    loss = compose(config, host=plugin_host)
    assert loss.similarity[0, 1].item() == pytest.approx(0.09)


def test_ready_similarity_passed_to_compose(plugin_host):
    structure = Similarity.from_matrix(CLASSES, np.eye(4) * 0.5 + 0.5)
    loss = compose({"loss": {"name": "simloss"}}, host=plugin_host, structure=structure)
    torch.testing.assert_close(loss.similarity, torch.full((4, 4), 0.5) + torch.eye(4) * 0.5)


def test_ready_hierarchy_and_embedding_passed_to_compose(plugin_host):
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    loss = compose({"loss": {"name": "simloss"}}, host=plugin_host, structure=tree)
    torch.testing.assert_close(loss.similarity[2, 3].item(), 0.25)  # 0.5 ** 2 edges
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [-1.0, 0.0]])
    embedding = LabelEmbedding.from_matrix(CLASSES, vectors)
    config = {"loss": {"name": "simloss"}, "convert": {"lower_bound": 0.5}}
    loss = compose(config, host=plugin_host, structure=embedding)
    # cos(cat, dog) = 0.8 -> (0.8 - 0.5) / 0.5 = 0.6; cos(cat, car) = 0 -> 0
    assert loss.similarity[0, 1].item() == pytest.approx(0.6)
    assert loss.similarity[0, 2].item() == 0.0 and loss.similarity[0, 3].item() == 0.0


def test_without_structure_is_a_clear_error(plugin_host):
    with pytest.raises(IncompatibleStructureError, match=r"needs a similarity.*ordinal"):
        compose({"classes": CLASSES, "loss": {"name": "simloss"}}, host=plugin_host)


def test_factory_called_directly_names_the_loss_and_the_fix(plugin_host):
    context = LossContext(tuple(CLASSES), None, plugin_host.backend())
    with pytest.raises(
        IncompatibleStructureError,
        match=r"'simloss' needs a similarity, got no structure; add a \[structure\]",
    ):
        build_simloss(context)
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    with pytest.raises(IncompatibleStructureError, match="got a hierarchy"):
        build_simloss(LossContext(tuple(CLASSES), tree, plugin_host.backend()))


def test_unknown_option_lists_valid_ones(plugin_host):
    config = {
        "classes": ["1", "2"],
        "structure": {"provider": "ordinal"},
        "loss": {"name": "simloss", "reductio": "sum"},
    }
    with pytest.raises(UnknownOptionError, match=r"did you mean 'reduction'.*ignore_index"):
        compose(config, host=plugin_host)


def test_trains_a_linear_model(plugin_host):
    torch.manual_seed(0)
    config = {
        "classes": [str(i) for i in range(5)],
        "structure": {"provider": "ordinal", "r": 0.3},
        "loss": {"name": "simloss"},
    }
    loss = compose(config, host=plugin_host)
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
