"""Fixtures: the shared isolated host ``plugin_host``, and small word-vector files in every
format, written with gensim into a temp dir."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

import structloss_embedding_similarity.hooks
from structloss.testing.fixtures import plugin_host_fixture
from structloss_embedding_similarity import clear_cache

plugin_host = plugin_host_fixture(structloss_embedding_similarity.hooks)

# 4-d vectors with a known geometry: animals along x, vehicles along z
WORDS: dict[str, list[float]] = {
    "cat": [1.0, 0.1, 0.0, 0.0], "dog": [0.9, 0.2, 0.0, 0.1], "tiger": [1.0, 0.0, 0.1, 0.0],
    "car": [0.0, 0.1, 1.0, 0.0], "truck": [0.1, 0.0, 0.9, 0.2], "pickup": [0.0, 0.4, 0.8, 0.0],
    "maple": [0.0, 1.0, 0.0, 0.3], "tree": [0.1, 0.8, 0.0, 0.5], "goldfish": [0.6, 0.0, 0.0, 0.8],
    "sea": [0.0, 0.0, 0.3, 1.0], "lion": [0.8, 0.0, 0.0, 0.4], "New_York": [0.3, 0.3, 0.3, 0.3],
}  # fmt: skip

# the suffix each format is written with; "auto" must detect all of them
FILES = {
    "word2vec-binary": "vectors.bin",
    "word2vec-text": "vectors.txt",
    "glove": "glove.txt",
    "fasttext": "vectors.vec",
    "gensim": "vectors.kv",
}


def keyed_vectors():
    """The test vocabulary as gensim KeyedVectors."""
    from gensim.models import KeyedVectors

    keyed = KeyedVectors(vector_size=4)
    keyed.add_vectors(list(WORDS), np.array(list(WORDS.values()), dtype=np.float32))
    return keyed


def write_vectors(directory: Path, format: str) -> Path:
    """Write the test vocabulary to ``directory`` in ``format``; return the path."""
    keyed = keyed_vectors()
    path = directory / FILES[format]
    if format == "gensim":
        keyed.save(str(path), sep_limit=0)  # arrays in .npy side files, so mmap applies
    else:
        keyed.save_word2vec_format(
            str(path), binary=format == "word2vec-binary", write_header=format != "glove"
        )
    return path


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def words_table() -> dict[str, list[float]]:
    """The test vocabulary: word -> 4-d vector."""
    return WORDS


@pytest.fixture
def writer() -> Callable[[Path, str], Path]:
    """``writer(directory, format)`` writes the test vocabulary and returns its path."""
    return write_vectors


@pytest.fixture
def vector_files(tmp_path: Path) -> dict[str, Path]:
    """One file per format."""
    return {format: write_vectors(tmp_path, format) for format in FILES}
