"""Provider ``embedding-similarity`` composed by name through a fresh plugin host."""

from __future__ import annotations

import numpy as np
import pytest

from structloss import (
    Hierarchy,
    LabelEmbedding,
    Similarity,
    build_structure,
)
from structloss.errors import (
    ConfigError,
    IncompatibleStructureError,
    StructureError,
    UnknownOptionError,
)
from structloss_embedding_similarity import EmbeddingOptions

CLASSES = ["cat", "dog", "tiger", "car", "pickup_truck"]


@pytest.fixture
def vectors_file(tmp_path, writer):
    return writer(tmp_path, "word2vec-binary")


def config(path, **options):
    return {
        "classes": CLASSES,
        "structure": {"provider": "embedding-similarity", "vectors": str(path), **options},
    }


def test_registered_with_option_dependent_kind(plugin_host):
    spec = plugin_host.spec("structure", "embedding-similarity")
    assert spec.kind is None
    assert plugin_host.components("embedding-similarity") == {"structure": ["embedding-similarity"]}


def test_default_output_is_a_label_embedding(plugin_host, vectors_file, words_table):
    structure = build_structure(config(vectors_file), host=plugin_host)
    assert isinstance(structure, LabelEmbedding)
    assert structure.classes == tuple(CLASSES)
    expected = (np.array(words_table["pickup"]) + np.array(words_table["truck"])) / 2
    np.testing.assert_allclose(structure.matrix[4], expected, rtol=1e-6)


def test_similarity_output_and_convert_lower_bound_agree(plugin_host, vectors_file):
    direct = build_structure(
        config(vectors_file, **{"as": "similarity", "lower_bound": 0.3}), host=plugin_host
    )
    assert isinstance(direct, Similarity)
    embedding = build_structure(config(vectors_file), host=plugin_host)
    np.testing.assert_allclose(direct.matrix, embedding.to_similarity(0.3).matrix)
    assert direct.matrix[0, 1] > 0.9 and direct.matrix[0, 3] == 0.0


def test_hierarchy_output(plugin_host, vectors_file):
    tree = build_structure(
        config(vectors_file, **{"as": "hierarchy", "method": "complete", "prefix": "k"}),
        host=plugin_host,
    )
    assert isinstance(tree, Hierarchy)
    assert tree.classes == tuple(CLASSES)
    assert tree.lca("cat", "dog") != tree.root
    assert tree.lca("cat", "car") == tree.root == "k0"


def test_toml_config_with_relative_path_and_aliases(plugin_host, tmp_path, writer):
    writer(tmp_path, "glove")
    path = tmp_path / "structure.toml"
    path.write_text(
        'classes = ["cat", "aquarium_fish"]\n'
        "[structure]\n"
        'provider = "embedding-similarity"\n'
        'vectors = "glove.txt"\n'
        'format = "glove"\n'
        'aliases = {aquarium_fish = "goldfish"}\n'
    )
    structure = build_structure(path, host=plugin_host)
    assert structure.classes == ("cat", "aquarium_fish")


def test_unknown_option_lists_valid_ones(plugin_host, vectors_file):
    with pytest.raises(
        UnknownOptionError,
        match=r"'lowercse'; did you mean 'lowercase'.*Valid options: aliases, as,",
    ):
        build_structure(config(vectors_file, lowercse=False), host=plugin_host)
    with pytest.raises(UnknownOptionError, match="'output'; did you mean 'as'"):
        build_structure(config(vectors_file, output="hierarchy"), host=plugin_host)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"as": "tree"}, "as must be one of embedding, similarity, hierarchy"),
        ({"format": "word2vec"}, "format must be one of"),
        ({"limit": -3}, "limit must be a positive integer"),
        ({"lowercase": "yes"}, "lowercase must be true or false"),
        ({"aliases": ["cat"]}, "aliases must be a table"),
        ({"lower_bound": 0.2}, "put it in the [convert] table"),
        ({"as": "similarity", "lower_bound": 1.0}, "lower_bound must be a number in [-1, 1)"),
        ({"method": "ward"}, "apply only to as = 'hierarchy'"),
        ({"as": "hierarchy", "method": "median"}, "method must be one of"),
    ],
)
def test_invalid_option_values(plugin_host, vectors_file, options, words):
    with pytest.raises(ConfigError) as info:
        build_structure(config(vectors_file, **options), host=plugin_host)
    assert words in str(info.value)


def test_vectors_is_required(plugin_host):
    with pytest.raises(ConfigError, match=r"needs option.*vectors"):
        build_structure(
            {"classes": CLASSES, "structure": {"provider": "embedding-similarity"}},
            host=plugin_host,
        )


def test_needs_classes(plugin_host, vectors_file):
    with pytest.raises(ConfigError, match="needs the class names"):
        build_structure(
            {"structure": {"provider": "embedding-similarity", "vectors": str(vectors_file)}},
            host=plugin_host,
        )


def test_missing_classes_reach_the_user(plugin_host, vectors_file):
    cfg = config(vectors_file)
    cfg["classes"] = ["cat", "platypus", "unicorn_horse"]
    with pytest.raises(StructureError, match=r"2 of 3 classes.*'platypus'.*'unicorn_horse'"):
        build_structure(cfg, host=plugin_host)


def test_hierarchy_output_cannot_feed_a_loss_needing_an_embedding(plugin_host, vectors_file):
    # a hierarchy converts to a similarity, not to an embedding: the core says so
    tree = build_structure(config(vectors_file, **{"as": "hierarchy"}), host=plugin_host)
    with pytest.raises(IncompatibleStructureError):
        tree.convert("embedding")


def test_options_record_maps_as_to_output():
    options = EmbeddingOptions.from_options({"vectors": "v.txt", "as": "hierarchy"})
    assert options.output == "hierarchy"
    assert "as" in EmbeddingOptions.valid_keys() and "output" not in EmbeddingOptions.valid_keys()


class _Trap:
    """Unpickling it creates ``marker``: a stand-in for a malicious pickle."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        import pathlib

        return (pathlib.Path.touch, (self.marker,))


def test_config_with_a_pickle_and_auto_format_runs_no_code(plugin_host, tmp_path):
    import pickle

    marker = tmp_path / "pwned"
    trap = tmp_path / "vectors.kv"
    trap.write_bytes(pickle.dumps(_Trap(marker), protocol=4))
    with pytest.raises(ConfigError) as info:
        build_structure(config(trap), host=plugin_host)
    message = str(info.value)
    assert str(trap) in message and "pickle" in message and 'format = "gensim"' in message
    assert not marker.exists()


def test_config_with_explicit_gensim_format_reads_it(plugin_host, tmp_path, writer):
    path = writer(tmp_path, "gensim")
    with pytest.raises(ConfigError, match="pickle"):
        build_structure(config(path), host=plugin_host)
    structure = build_structure(config(path, format="gensim"), host=plugin_host)
    assert isinstance(structure, LabelEmbedding)
