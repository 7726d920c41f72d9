"""Against the real WordNet 3.0, where one is installed (skipped, with the reason, if not)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from structloss import Hierarchy
from structloss.errors import StructureError
from structloss.specs import StructureContext
from structloss_wordnet_tree import AmbiguousSenseWarning
from structloss_wordnet_tree.classlists import BUILTIN_LISTS, cifar100_classes
from structloss_wordnet_tree.database import WordNet
from structloss_wordnet_tree.locate import Location, locate
from structloss_wordnet_tree.mapping import map_classes
from structloss_wordnet_tree.provider import build, build_from_wordnet
from structloss_wordnet_tree.tree import HypernymPaths

pytestmark = pytest.mark.wordnet


@pytest.fixture(scope="module")
def real() -> Location:
    """The installed WordNet 3.0, found the usual way."""
    try:
        found = locate()
    except StructureError as exc:
        pytest.skip(f"no WordNet database installed: {str(exc).splitlines()[0]}")
    if found.open().version != "3.0":
        pytest.skip(f"the WordNet at {found.path} is not version 3.0")
    return found


@pytest.mark.parametrize("name", ["cifar100", "imagenet1k"])
def test_shipped_trees_match_wordnet(real: Location, name: str) -> None:
    builtin = BUILTIN_LISTS[name]
    rebuilt = build(
        StructureContext(classes=builtin.classes()), wordnet_dir=str(real.path), cache=False
    )
    assert rebuilt == builtin.tree()  # speed: benchmarks/wordnet_tree_build.py, not a test


def test_warm_cache_gives_the_same_tree(real: Location) -> None:
    context = StructureContext(classes=BUILTIN_LISTS["imagenet1k"].classes())
    cold = build(context, wordnet_dir=str(real.path), hypernym_path="shortest")
    warm = build(context, wordnet_dir=str(real.path), hypernym_path="shortest")
    assert warm == cold


def test_cifar100_names_need_the_overrides(real: Location) -> None:
    db = real.open()
    classes = cifar100_classes()
    with pytest.raises(StructureError) as info:
        build_from_wordnet(db, classes)
    message = str(info.value)
    assert "2 class(es)" in message and "'aquarium_fish'" in message and "'maple_tree'" in message
    assert "maple" in message  # suggested
    # the overrides, applied by name to a subset of CIFAR-100
    subset = ["maple_tree", "oak_tree", "ray", "shark", "table"]
    tree = build(
        StructureContext(classes=tuple(subset)), synsets="cifar100", wordnet_dir=str(real.path)
    )
    assert tree.lca("ray", "shark") == "elasmobranch.n.01"
    assert tree.lca("maple_tree", "oak_tree") == "tree.n.01"


def test_imagenet_ids_are_wordnet_30_offsets(real: Location) -> None:
    db = real.open()
    names = {w: db.synset_name(int(w[1:])) for w in ("n01440764", "n02084071", "n15075141")}
    assert names == {
        "n01440764": "tench.n.01",
        "n02084071": "dog.n.01",
        "n15075141": "toilet_tissue.n.01",
    }


def test_bisection_finds_every_sampled_lemma(real: Location) -> None:
    db = WordNet.from_dir(real.path) if not real.archive else WordNet.from_zip(real.path)
    lemmas = db.lemmas
    assert len(lemmas) == 117798 and list(lemmas) == sorted(lemmas, key=str.encode)
    for lemma in lemmas[::97]:
        assert db.lookup(lemma), lemma


NLTK_CHILD = textwrap.dedent(
    """
    import json, sys
    from nltk.corpus.reader.wordnet import WordNetCorpusReader
    # Debian's wordnet-base lacks index.sense, which only the OMW version mapping reads
    WordNetCorpusReader.map_wn = lambda self, version="wordnet": None
    from nltk.corpus import wordnet as wn
    out = {}
    for offset in json.loads(sys.stdin.read()):
        s = wn.synset_from_pos_and_offset("n", offset)
        hypernyms = [h.offset() for h in s.hypernyms() + s.instance_hypernyms()]
        out[offset] = [s.name(), sorted(hypernyms), s.max_depth(), s.min_depth()]
    print(json.dumps(out))
    """
)

# lexnames, which nltk needs and Debian does not ship: lex_filenum -> file name
_LEXNAMES = (
    "adj.all",
    "adj.pert",
    "adv.all",
    "noun.Tops",
    "noun.act",
    "noun.animal",
    "noun.artifact",
    "noun.attribute",
    "noun.body",
    "noun.cognition",
    "noun.communication",
    "noun.event",
    "noun.feeling",
    "noun.food",
    "noun.group",
    "noun.location",
    "noun.motive",
    "noun.object",
    "noun.person",
    "noun.phenomenon",
    "noun.plant",
    "noun.possession",
    "noun.process",
    "noun.quantity",
    "noun.relation",
    "noun.shape",
    "noun.state",
    "noun.substance",
    "noun.time",
    "verb.body",
    "verb.change",
    "verb.cognition",
    "verb.communication",
    "verb.competition",
    "verb.consumption",
    "verb.contact",
    "verb.creation",
    "verb.emotion",
    "verb.motion",
    "verb.perception",
    "verb.possession",
    "verb.social",
    "verb.stative",
    "verb.weather",
    "adj.ppl",
)


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("nltk") is None, reason="nltk is not installed")
def test_agrees_with_nltk(real: Location, tmp_path: Path) -> None:
    """Names, hypernyms and depths of every synset on the ImageNet tree, as nltk sees them."""
    if real.archive:
        pytest.skip("the nltk cross-check copies a WordNet directory")
    corpus = tmp_path / "corpora" / "wordnet"
    corpus.mkdir(parents=True)
    for file in Path(real.path).iterdir():  # nltk refuses symlinks out of its data path
        if file.is_file():
            (corpus / file.name).write_bytes(file.read_bytes())
    pos = {"adj": 3, "adv": 4, "noun": 1, "verb": 2}
    (corpus / "lexnames").write_text(
        "".join(f"{i:02d}\t{n}\t{pos[n.split('.')[0]]}\n" for i, n in enumerate(_LEXNAMES))
    )
    db = real.open()
    classes = BUILTIN_LISTS["imagenet1k"].classes()
    full = build_from_wordnet(db, classes, collapse=False)
    internal = (db.synset_by_name(n) for n in full.nodes[full.num_classes :])
    offsets = sorted({o for o in internal if o is not None})
    env = {"NLTK_DATA": str(tmp_path), "PATH": "", "HOME": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", NLTK_CHILD],
        input=json.dumps(offsets),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    theirs = json.loads(result.stdout)
    longest, shortest = HypernymPaths(db, "longest"), HypernymPaths(db, "shortest")
    for offset in offsets:
        name, hypernyms, max_depth, min_depth = theirs[str(offset)]
        assert db.synset_name(offset) == name
        assert sorted(db.synset(offset).hypernyms) == hypernyms, name
        assert longest.depth(offset) == max_depth, name
        assert shortest.depth(offset) == min_depth, name
    assert isinstance(full, Hierarchy) and full.num_nodes > 2000


def test_sense_order_and_the_ambiguity_warning(real: Location) -> None:
    db = real.open()
    person, cat = 10710632, 2129604  # index.noun: "tiger n 2 ... 10710632 02129604"
    assert db.lookup("tiger") == (person, cat)
    assert db.synset_name(cat) == "tiger.n.02" and "feline" in db.synset(cat).gloss
    classes = ["tiger", "oak", "dog.n.01"]
    with pytest.warns(AmbiguousSenseWarning) as record:
        build_from_wordnet(db, classes)
    assert len(record) == 1
    message = str(record[0].message)
    assert "- 'tiger' -> tiger.n.01: a fierce or audacious person\n" in message
    assert "tiger.n.02: large feline of forests in most of Asia" in message
    assert "- 'oak' -> oak.n.01: the hard durable wood of any oak" in message
    assert 'synsets = {tiger = "tiger.n.02"}' in message and "dog.n.01" not in message
    for pin in ("tiger.n.02", "n02129604", "02129604"):
        mapped = map_classes(db, ["tiger", "oak"], {"tiger": pin, "oak": "oak.n.02"})
        assert mapped.offsets[0] == cat and mapped.ambiguous == ()
    with pytest.raises(StructureError, match=r"'Cat' and 'cat' -> cat\.n\.01"):
        map_classes(db, ["Cat", "cat"])
    # "tigers" is a lemma of its own (the Tamil Tigers) and a plural of "tiger"
    (tigers,) = map_classes(db, ["tigers"]).ambiguous
    assert tigers.chosen == "liberation_tigers_of_tamil_eelam.n.01"
    assert [name for name, _ in tigers.others] == ["tiger.n.01", "tiger.n.02"]


@pytest.mark.slow
def test_all_of_wordnet_noun_leaves_as_one_tree(real: Location, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("STRUCTLOSS_CACHE_DIR", str(tmp_path))
    from structloss import compose
    from structloss_wordnet_tree.classlists import noun_leaf_classes

    classes = noun_leaf_classes()
    db = real.open()
    assert 60_000 < len(classes) < 70_000 and len(set(classes)) == len(classes)
    dog = db.synset_by_name("dog.n.01")
    assert f"n{dog:08d}" not in classes  # dog has hyponyms (breeds)
    poodle = db.synset_by_name("standard_poodle.n.01")
    assert f"n{poodle:08d}" in classes
    config = {
        "classes": "wordnet-noun-leaves",
        "structure": {"provider": "wordnet-tree"},
        "loss": {"name": "cross-entropy"},
    }
    loss = compose(config)  # ids name synsets exactly: no ambiguity to warn about
    assert loss.num_classes == len(classes)
    tree = build(StructureContext(classes=classes))  # from the cache now
    assert tree.classes == classes and tree.num_nodes > len(classes)
    assert tree.root == "entity.n.01" and int(tree.depths.max()) >= 15
    assert tree.pair_distances(0, 1, "edges") >= 2  # tree tables work at this size
