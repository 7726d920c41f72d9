"""Loading word vectors: every format, detection, named sources, errors, the cache."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest

import structloss_embedding_similarity.vectors as vectors_module
from structloss.errors import ConfigError, StructureError
from structloss_embedding_similarity import WordVectors, detect_format, load_vectors

FORMATS = ["word2vec-binary", "word2vec-text", "glove", "fasttext", "gensim"]


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_loads_with_explicit_format(vector_files, words_table, format):
    words = load_vectors(vector_files[format], format)
    assert isinstance(words, WordVectors)
    assert len(words) == len(words_table) and words.dim == 4
    for word, vector in words_table.items():
        np.testing.assert_allclose(words[word], vector, rtol=1e-6)


@pytest.mark.parametrize("format", FORMATS)
def test_auto_detects_every_format(vector_files, words_table, format):
    assert detect_format(vector_files[format]) == format
    dog = load_vectors(vector_files[format])["dog"]
    np.testing.assert_allclose(dog, words_table["dog"], rtol=1e-6)


def test_detects_compressed_text(tmp_path, writer, words_table):
    source = writer(tmp_path, "word2vec-text")
    packed = tmp_path / "vectors.txt.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert detect_format(packed) == "word2vec-text"
    np.testing.assert_allclose(load_vectors(packed)["cat"], words_table["cat"], rtol=1e-6)


def test_gensim_native_format_is_memory_mapped(vector_files):
    words = load_vectors(vector_files["gensim"])
    assert isinstance(words.vectors, np.memmap)


def test_limit_reads_only_the_first_words(vector_files):
    for format in ("word2vec-text", "gensim"):
        words = load_vectors(vector_files[format], limit=3)
        assert len(words) == 3 and "cat" in words and "car" not in words


def test_relative_path_resolves_against_base_dir(vector_files):
    path = vector_files["glove"]
    words = load_vectors(path.name, base_dir=path.parent)
    assert "tiger" in words


def test_missing_file_names_path_and_named_sources(tmp_path):
    with pytest.raises(StructureError, match=r"not found: .*nope\.txt.*glove-6b-50d"):
        load_vectors("nope.txt", base_dir=tmp_path)


def test_unknown_format_and_bad_limit(vector_files):
    with pytest.raises(ConfigError, match="did you mean 'glove'"):
        load_vectors(vector_files["glove"], "glov")
    with pytest.raises(ConfigError, match="positive integer"):
        load_vectors(vector_files["glove"], limit=0)


def test_undetectable_file_asks_for_a_format(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("these are not\nword vectors\n")
    with pytest.raises(StructureError, match=r"cannot tell the format.*set format"):
        load_vectors(path)


def test_wrong_explicit_format_is_a_clear_error(vector_files):
    with pytest.raises(StructureError, match="as word2vec-binary vectors"):
        load_vectors(vector_files["glove"], "word2vec-binary")


def test_second_load_is_served_from_the_cache(vector_files, monkeypatch):
    reads = []
    real_read = vectors_module._read

    def counting_read(*args, **kwargs):
        reads.append(args)
        return real_read(*args, **kwargs)

    monkeypatch.setattr(vectors_module, "_read", counting_read)
    path = vector_files["word2vec-text"]
    first = load_vectors(path)
    assert load_vectors(str(path)) is first
    assert load_vectors(path.name, base_dir=path.parent) is first
    assert len(reads) == 1
    load_vectors(path, limit=5)  # another limit is another entry
    assert len(reads) == 2
    stat = path.stat()  # a changed file is read again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert load_vectors(path) is not first
    assert len(reads) == 3


def test_cache_keeps_only_a_few_sets(vector_files, monkeypatch):
    monkeypatch.setattr(vectors_module, "CACHE_SIZE", 2)
    for path in vector_files.values():
        load_vectors(path)
    assert len(vectors_module._cache) == 2
