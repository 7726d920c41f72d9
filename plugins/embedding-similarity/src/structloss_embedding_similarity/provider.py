"""Structure provider ``embedding-similarity``: class structure from word vectors.

It embeds every class name with word vectors and returns, by the option ``as``:

- ``"embedding"`` (default): a :class:`~structloss.LabelEmbedding`; a loss that needs a
  similarity gets ``S = max(0, (cos - b) / (1 - b))`` through ``[convert] lower_bound = b``;
- ``"similarity"``: that similarity directly, with the option ``lower_bound``;
- ``"hierarchy"``: a :class:`~structloss.Hierarchy` by agglomerative clustering, for losses
  that need a tree on classes no taxonomy knows.

``as`` is a Python keyword, so the factory takes ``**options`` and validates every option
itself (:meth:`EmbeddingOptions.from_options`): an unknown option is an error listing the
valid ones, exactly as the core does for factories with explicit keyword parameters.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import attrs

from structloss.errors import ConfigError, UnknownOptionError, choice_list, closest
from structloss.specs import StructureContext
from structloss.structures import LabelEmbedding, LabelStructure
from structloss_embedding_similarity.class_vectors import class_vectors
from structloss_embedding_similarity.clustering import LINKAGE_METHODS, cluster_hierarchy
from structloss_embedding_similarity.vectors import FORMATS, load_vectors

__all__ = ["OUTPUTS", "EmbeddingOptions", "build_embedding_similarity", "embed_classes"]

PROVIDER = "embedding-similarity"
OUTPUTS: tuple[str, ...] = ("embedding", "similarity", "hierarchy")
_HIERARCHY_ONLY = ("method", "collapse", "prefix")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and not math.isnan(value)


@attrs.frozen
class EmbeddingOptions:
    """The validated options of ``[structure] provider = "embedding-similarity"``.

    Attributes:
        vectors: a word-vector file (relative to the config) or a named source
            (``"glove-6b-50d"``). Required.
        format: ``auto``, ``word2vec-binary``, ``word2vec-text``, ``glove``, ``fasttext``
            or ``gensim``. ``gensim`` (``KeyedVectors.save``) is a pickle, which can execute
            code: ``auto`` never reads it, so give it explicitly, and only for trusted files.
        limit: read only the first ``limit`` words of the file.
        lowercase: fall back to lower-case forms of words the vocabulary lacks.
        aliases: ``{class: text}`` to look up instead of the class name.
        output: the config key ``as``: ``embedding``, ``similarity`` or ``hierarchy``.
        lower_bound: for ``as = "similarity"``: cosines at or below it count as unrelated.
        method: for ``as = "hierarchy"``: the linkage method.
        collapse: for ``as = "hierarchy"``: fuse merges whose distances differ by at most it.
        prefix: for ``as = "hierarchy"``: internal nodes are named ``<prefix><k>``.
    """

    vectors: str
    format: str = "auto"
    limit: int | None = None
    lowercase: bool = True
    aliases: Mapping[str, str] = attrs.field(factory=dict)
    output: str = "embedding"
    lower_bound: float = 0.0
    method: str = "average"
    collapse: float = 0.0
    prefix: str = "cluster-"

    @staticmethod
    def valid_keys() -> tuple[str, ...]:
        """The option names a config may use (``as`` for :attr:`output`)."""
        return tuple("as" if f.name == "output" else f.name for f in attrs.fields(EmbeddingOptions))

    @classmethod
    def from_options(cls, options: Mapping[str, Any]) -> EmbeddingOptions:
        """Validate the ``[structure]`` options (without ``provider``).

        Raises:
            UnknownOptionError: for an option this provider does not take, listing the valid
                ones.
            ConfigError: for a missing ``vectors``, a value of the wrong type or range, or an
                option that does not apply to the chosen ``as``.
        """
        what = f"structure provider {PROVIDER!r}"
        valid = cls.valid_keys()
        unknown = [key for key in options if key not in valid]
        if unknown:
            hints = "; ".join(
                f"{key!r}"
                + ("; did you mean 'as'?" if key == "output" else closest(str(key), valid))
                for key in unknown
            )
            raise UnknownOptionError(
                f"{what} has no option {hints}. Valid options: {choice_list(valid)}"
            )
        if "vectors" not in options:
            raise ConfigError(
                f'{what} needs option(s): vectors (a word-vector file, or "glove-6b-50d")'
            )
        values = {("output" if key == "as" else key): value for key, value in options.items()}
        _check_types(values, what)
        output = values.get("output", "embedding")
        misplaced = [k for k in _HIERARCHY_ONLY if k in values and output != "hierarchy"]
        if "lower_bound" in values and output != "similarity":
            raise ConfigError(
                f"{what}: lower_bound applies to as = 'similarity'; with as = {output!r} put"
                " it in the [convert] table (lower_bound = ...) instead"
            )
        if misplaced:
            raise ConfigError(
                f"{what}: {', '.join(misplaced)} apply only to as = 'hierarchy' (now"
                f" as = {output!r})"
            )
        return cls(**values)


def _check_types(values: Mapping[str, Any], what: str) -> None:
    """Raise ConfigError naming the first option whose value has the wrong type or range."""
    checks: dict[str, Callable[[Any], bool]] = {
        "vectors": lambda v: isinstance(v, str) and bool(v),
        "format": lambda v: v in FORMATS,
        "limit": lambda v: v is None or (isinstance(v, int) and not isinstance(v, bool) and v > 0),
        "lowercase": lambda v: isinstance(v, bool),
        "aliases": lambda v: isinstance(v, Mapping),
        "output": lambda v: v in OUTPUTS,
        "lower_bound": lambda v: _is_number(v) and -1.0 <= v < 1.0,
        "method": lambda v: v in LINKAGE_METHODS,
        "collapse": lambda v: _is_number(v) and v >= 0,
        "prefix": lambda v: isinstance(v, str) and bool(v),
    }
    expected = {
        "vectors": "a file path or a source name",
        "format": f"one of {', '.join(FORMATS)}",
        "limit": "a positive integer",
        "lowercase": "true or false",
        "aliases": 'a table such as {aquarium_fish = "goldfish"}',
        "output": f"one of {', '.join(OUTPUTS)}",
        "lower_bound": "a number in [-1, 1)",
        "method": f"one of {', '.join(LINKAGE_METHODS)}",
        "collapse": "a number >= 0",
        "prefix": "a non-empty string",
    }
    for key, value in values.items():
        if not checks[key](value):
            name = "as" if key == "output" else key
            hint = closest(value, _choices(key)) if isinstance(value, str) else ""
            raise ConfigError(f"{what}: {name} must be {expected[key]}, got {value!r}{hint}")


def _choices(key: str) -> tuple[str, ...]:
    return {"format": FORMATS, "output": OUTPUTS, "method": LINKAGE_METHODS}.get(key, ())


def embed_classes(
    classes: tuple[str, ...] | list[str],
    vectors: str,
    *,
    format: str = "auto",
    limit: int | None = None,
    lowercase: bool = True,
    aliases: Mapping[str, str] | None = None,
    base_dir: str = ".",
) -> LabelEmbedding:
    """Return a :class:`~structloss.LabelEmbedding` of ``classes`` from word vectors.

    See :func:`~structloss_embedding_similarity.vectors.load_vectors` for ``vectors``,
    ``format`` and ``limit``, and :func:`~structloss_embedding_similarity.class_vectors.class_vectors`
    for how names are looked up.

    Raises:
        ConfigError: for a bad format or limit, or a gensim native (pickle) file under
            ``format = "auto"``.
        StructureError: for unreadable vectors or classes missing from the vocabulary (one
            error listing all of them).
    """
    words = load_vectors(vectors, format, limit=limit, base_dir=base_dir)
    matrix = class_vectors(classes, words, aliases=aliases, lowercase=lowercase)
    return LabelEmbedding.from_matrix(classes, matrix)


def build_embedding_similarity(context: StructureContext, **options: Any) -> LabelStructure:
    """Factory of structure provider ``embedding-similarity`` (options: :class:`EmbeddingOptions`).

    Returns:
        A LabelEmbedding (``as = "embedding"``, default), a Similarity
        (``as = "similarity"``) or a Hierarchy (``as = "hierarchy"``) over
        ``context.classes``.

    Raises:
        ConfigError: for bad options, when the config lists no classes, or for a gensim
            native (pickle) file under ``format = "auto"``.
        StructureError: for unreadable vectors or classes missing from the vocabulary.
    """
    opts = EmbeddingOptions.from_options(options)
    if context.classes is None:
        raise ConfigError(
            f"structure provider {PROVIDER!r} needs the class names to look up; set"
            " `classes` in the config or pass classes=[...]"
        )
    embedding = embed_classes(
        context.classes,
        opts.vectors,
        format=opts.format,
        limit=opts.limit,
        lowercase=opts.lowercase,
        aliases=opts.aliases,
        base_dir=context.base_dir,
    )
    if opts.output == "similarity":
        return embedding.to_similarity(lower_bound=opts.lower_bound)
    if opts.output == "hierarchy":
        return cluster_hierarchy(
            embedding, method=opts.method, collapse=opts.collapse, prefix=opts.prefix
        )
    return embedding
