"""Loading word vectors: every format, detection, named sources, errors, the cache."""

from __future__ import annotations

import gzip
import os
import pathlib
import pickle

import numpy as np
import pytest

import structloss_embedding_similarity.vectors as vectors_module
from structloss.errors import ConfigError, StructureError
from structloss_embedding_similarity import WordVectors, detect_format, load_vectors

FORMATS = ["word2vec-binary", "word2vec-text", "glove", "fasttext", "gensim"]
PARSED = [f for f in FORMATS if f != "gensim"]  # the formats "auto" reads (never a pickle)


@pytest.mark.parametrize("format", FORMATS)
def test_every_format_loads_with_explicit_format(vector_files, words_table, format):
    words = load_vectors(vector_files[format], format)
    assert isinstance(words, WordVectors)
    assert len(words) == len(words_table) and words.dim == 4
    for word, vector in words_table.items():
        np.testing.assert_allclose(words[word], vector, rtol=1e-6)


@pytest.mark.parametrize("format", FORMATS)
def test_detects_every_format(vector_files, format):
    assert detect_format(vector_files[format]) == format


@pytest.mark.parametrize("format", PARSED)
def test_auto_reads_every_parsed_format(vector_files, words_table, format):
    dog = load_vectors(vector_files[format])["dog"]
    np.testing.assert_allclose(dog, words_table["dog"], rtol=1e-6)


def test_auto_refuses_gensim_native_files(vector_files):
    path = vector_files["gensim"]
    with pytest.raises(ConfigError) as info:
        load_vectors(path)
    message = str(info.value)
    assert str(path) in message
    assert "gensim's native (pickle) format" in message and "execute code" in message
    assert 'set format = "gensim"' in message


class _Trap:
    """Unpickling it creates ``marker``: a stand-in for a malicious pickle."""

    def __init__(self, marker: pathlib.Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (pathlib.Path.touch, (self.marker,))


def test_auto_never_unpickles(tmp_path):
    marker = tmp_path / "pwned"
    payload = pickle.dumps(_Trap(marker), protocol=4)
    pickle.loads(payload)  # the payload is live: loading it runs code
    assert marker.exists()
    marker.unlink()
    path = tmp_path / "vectors.kv"
    path.write_bytes(payload)
    with pytest.raises(ConfigError, match=r"vectors\.kv.*pickle.*format = \"gensim\""):
        load_vectors(path)
    with pytest.raises(ConfigError, match=r"vectors\.kv.*pickle"):
        load_vectors(path.name, "auto", base_dir=tmp_path)
    assert not marker.exists()


def test_detects_compressed_text(tmp_path, writer, words_table):
    source = writer(tmp_path, "word2vec-text")
    packed = tmp_path / "vectors.txt.gz"
    packed.write_bytes(gzip.compress(source.read_bytes()))
    assert detect_format(packed) == "word2vec-text"
    np.testing.assert_allclose(load_vectors(packed)["cat"], words_table["cat"], rtol=1e-6)


def test_gensim_native_format_is_memory_mapped(vector_files):
    words = load_vectors(vector_files["gensim"], "gensim")
    assert isinstance(words.vectors, np.memmap)


def test_limit_reads_only_the_first_words(vector_files):
    for format in ("word2vec-text", "gensim"):
        words = load_vectors(vector_files[format], format, limit=3)
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
    for format, path in vector_files.items():
        load_vectors(path, format)
    assert len(vectors_module._cache) == 2
