"""First-party plugins composed with each other.

Each plugin's own tests import only structloss and that plugin (its tox env installs nothing
else), so the tests of two plugins working together live here, and skip when either is not
installed.
"""

from __future__ import annotations

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from structloss import PluginHost, compose
from structloss.testing import isolated_host


def hooks_of(plugin: str) -> ModuleType:
    """The hooks module of first-party plugin ``plugin`` (``"simloss"``), or skip."""
    module = plugin.replace("-", "_")
    return pytest.importorskip(
        f"structloss_{module}.hooks", reason=f"structloss-{plugin} is not installed"
    )


def word2vec_file(directory: Path, words: dict[str, list[float]]) -> Path:
    """Write ``words`` as a word2vec text file with gensim (skip without gensim)."""
    gensim_models = pytest.importorskip("gensim.models")
    vectors = np.array(list(words.values()), dtype=np.float32)
    keyed = gensim_models.KeyedVectors(vector_size=vectors.shape[1])
    keyed.add_vectors(list(words), vectors)
    path = directory / "vectors.txt"
    keyed.save_word2vec_format(str(path))
    return path


@pytest.fixture
def simloss_with_embeddings() -> PluginHost:
    """An isolated host with simloss and embedding-similarity."""
    return isolated_host(hooks_of("simloss"), requires=[hooks_of("embedding-similarity")])


def simloss_config(tmp_path: Path, words: dict[str, list[float]], classes: list[str], bound: float):
    """simloss on an embedding-similarity from ``words``, cut at ``lower_bound = bound``."""
    return {
        "classes": classes,
        "structure": {
            "provider": "embedding-similarity",
            "vectors": str(word2vec_file(tmp_path, words)),
        },
        "convert": {"lower_bound": bound},
        "loss": {"name": "simloss"},
    }


# the embedding-similarity tests' vocabulary: animals along x, vehicles along z
WORDS = {"cat": [1.0, 0.1, 0.0, 0.0], "dog": [0.9, 0.2, 0.0, 0.1], "tiger": [1.0, 0.0, 0.1, 0.0],
         "car": [0.0, 0.1, 1.0, 0.0], "truck": [0.1, 0.0, 0.9, 0.2], "pickup": [0.0, 0.4, 0.8, 0.0]}  # fmt: skip


def test_embedding_similarity_feeds_simloss(simloss_with_embeddings, tmp_path):
    words = {name: WORDS[name] for name in ("cat", "dog", "car", "truck")}
    loss = compose(simloss_config(tmp_path, words, list(words), 0.2), host=simloss_with_embeddings)
    assert loss.similarity[0, 1] > 0.9 and loss.similarity[0, 2] == 0.0


def test_embedding_similarity_feeds_simloss_through_convert(simloss_with_embeddings, tmp_path):
    classes = ["cat", "dog", "tiger", "car", "pickup_truck"]
    loss = compose(simloss_config(tmp_path, WORDS, classes, 0.5), host=simloss_with_embeddings)
    assert loss.num_classes == 5
    assert 0.0 < float(loss.similarity[0, 1]) < 1.0 and float(loss.similarity[0, 3]) == 0.0
