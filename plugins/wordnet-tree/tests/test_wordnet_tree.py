"""Synsets to trees: path policies, ties, union, collapse, naming, roots."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from structloss.errors import StructureError
from structloss_wordnet_tree import AmbiguousSenseWarning
from structloss_wordnet_tree.database import WordNet
from structloss_wordnet_tree.mapping import resolve_classes
from structloss_wordnet_tree.provider import build_from_wordnet
from structloss_wordnet_tree.testing import Spec, database_bytes
from structloss_wordnet_tree.tree import HypernymPaths

CLASSES = ["dog", "poodle", "cat"]


def names(db: WordNet, path: list[int]) -> list[str]:
    return [db.synset_name(o) for o in path]


@pytest.mark.parametrize(
    ("policy", "dog_parent", "cat_parent"),
    [
        ("longest", "canine.n.01", "feline.n.01"),
        ("shortest", "domestic_animal.n.01", "domestic_animal.n.01"),
        ("first", "canine.n.01", "domestic_animal.n.01"),
    ],
)
def test_policies_choose_parents(
    tiny: WordNet, tiny_offsets: dict[str, int], policy: str, dog_parent: str, cat_parent: str
) -> None:
    paths = HypernymPaths(tiny, policy)
    dog, cat = paths.path(tiny_offsets["dog"]), paths.path(tiny_offsets["cat"])
    assert names(tiny, dog)[-2:] == [dog_parent, "dog.n.01"]
    assert names(tiny, cat)[-2:] == [cat_parent, "cat.n.01"]
    assert names(tiny, dog)[0] == "entity.n.01"


def test_depths(tiny: WordNet, tiny_offsets: dict[str, int]) -> None:
    assert HypernymPaths(tiny, "longest").depth(tiny_offsets["dog"]) == 10
    assert HypernymPaths(tiny, "shortest").depth(tiny_offsets["dog"]) == 6
    assert HypernymPaths(tiny, "longest").depth(tiny_offsets["entity"]) == 0


@pytest.mark.parametrize("policy", ["longest", "shortest"])
def test_ties_go_to_the_first_listed(
    tiny: WordNet, tiny_offsets: dict[str, int], policy: str
) -> None:
    paths = HypernymPaths(tiny, policy)
    assert paths.parent(tiny_offsets["dogcat"]) == tiny_offsets["canine"]
    assert paths.parent(tiny_offsets["catdog"]) == tiny_offsets["feline"]


def test_unknown_policy(tiny: WordNet) -> None:
    with pytest.raises(StructureError, match="unknown hypernym_path policy 'long'"):
        HypernymPaths(tiny, "long")


@pytest.mark.parametrize(
    ("policy", "parents"),
    [
        (
            "longest",
            {
                "carnivore.n.01": "entity.n.01",
                "dog.n.01": "carnivore.n.01",
                "dog": "dog.n.01",
                "poodle": "dog.n.01",
                "cat": "carnivore.n.01",
            },
        ),
        (
            "shortest",
            {
                "domestic_animal.n.01": "entity.n.01",
                "dog.n.01": "domestic_animal.n.01",
                "dog": "dog.n.01",
                "poodle": "dog.n.01",
                "cat": "domestic_animal.n.01",
            },
        ),
        (
            "first",
            {
                "animal.n.01": "entity.n.01",
                "dog.n.01": "animal.n.01",
                "dog": "dog.n.01",
                "poodle": "dog.n.01",
                "cat": "animal.n.01",
            },
        ),
    ],
)
def test_collapsed_trees(tiny: WordNet, policy: str, parents: dict[str, str]) -> None:
    tree = build_from_wordnet(tiny, CLASSES, hypernym_path=policy)
    assert tree.classes == tuple(CLASSES)
    assert tree.to_parents() == parents
    assert tree.root == "entity.n.01"  # kept although it has one child


def test_uncollapsed_tree_keeps_every_synset(tiny: WordNet) -> None:
    tree = build_from_wordnet(tiny, CLASSES, collapse=False)
    assert tree.path("poodle") == (
        "entity.n.01",
        "physical_entity.n.01",
        "object.n.01",
        "organism.n.01",
        "animal.n.01",
        "chordate.n.01",
        "vertebrate.n.01",
        "mammal.n.01",
        "carnivore.n.01",
        "canine.n.01",
        "dog.n.01",
        "poodle.n.01",
        "poodle",
    )
    assert tree.parent("dog") == "dog.n.01"
    assert tree.parent("cat") == "cat.n.01"
    assert tree.num_nodes == 3 + 14  # the classes and the 14 synsets on their paths


def test_instance_hypernym_and_ambiguous_lemma(tiny: WordNet) -> None:
    with pytest.warns(AmbiguousSenseWarning, match="'crane' -> crane.n.01"):
        tree = build_from_wordnet(
            tiny, ["Laika", "poodle", "crane", "heron"], {"heron": "crane.n.02"}
        )
    assert tree.parent("Laika") == tree.parent("poodle") == "dog.n.01"
    assert tree.lca("crane", "heron") == "object.n.01"  # a device and a bird


def test_single_class(tiny: WordNet) -> None:
    tree = build_from_wordnet(tiny, ["poodle"])
    assert tree.to_parents() == {"poodle": "entity.n.01"}
    assert build_from_wordnet(tiny, ["entity"]).to_parents() == {"entity": "entity.n.01"}


def test_classes_sharing_a_synset_are_an_error(tiny: WordNet) -> None:
    with pytest.raises(StructureError, match=r"'dog' and 'domestic dog' -> dog\.n\.01"):
        build_from_wordnet(tiny, ["dog", "domestic dog", "cat"])


def test_class_named_like_its_synset(tiny: WordNet) -> None:
    tree = build_from_wordnet(tiny, ["dog.n.01", "poodle"])
    assert tree.parent("dog.n.01") == tree.parent("poodle") == "dog.n.01 (synset)"
    assert tree.classes == ("dog.n.01", "poodle")


def test_several_roots_are_joined(tiny: WordNet) -> None:
    tree = build_from_wordnet(tiny, ["dog", "void", "cat"])
    assert tree.root == "root"
    assert set(tree.children("root")) == {"carnivore.n.01", "void"}  # entity.n.01 collapsed
    uncollapsed = build_from_wordnet(tiny, ["dog", "void", "cat"], collapse=False)
    assert set(uncollapsed.children("root")) == {"entity.n.01", "void.n.01"}
    renamed = build_from_wordnet(tiny, ["root", "void", "dog"], {"root": "box"})
    assert renamed.root == "root (wordnet)"


def test_hypernym_cycle_is_reported() -> None:
    spec = [
        ("top", ("top",), (), "root"),
        ("a", ("a",), (("@", "top"), ("@", "b")), "a"),
        ("b", ("b",), (("@", "a"),), "b"),
    ]
    index, data, exceptions, _ = database_bytes(spec)
    db = WordNet(index=index, data=data, exceptions=exceptions, source="cyclic")
    with pytest.raises(StructureError, match="cycle"):
        build_from_wordnet(db, ["b"])


# -- properties over random hypernym DAGs -------------------------------------------------


@st.composite
def dags(draw: st.DrawFn) -> Spec:
    size = draw(st.integers(2, 14))
    spec = []
    for i in range(size):
        earlier = list(range(i))
        parents = draw(st.lists(st.sampled_from(earlier), unique=True, max_size=3)) if i else []
        if i and not parents and draw(st.booleans()):
            parents = [0]
        symbols = [draw(st.sampled_from(["@", "@i"])) for _ in parents]
        spec.append(
            (
                f"s{i}",
                (f"w{i}",),
                tuple((s, f"s{p}") for s, p in zip(symbols, parents, strict=True)),
                "g",
            )
        )
    return spec


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    spec=dags(),
    picks=st.lists(st.integers(0, 13), min_size=1, max_size=6, unique=True),
    policy=st.sampled_from(["longest", "shortest", "first"]),
    collapse=st.booleans(),
)
def test_tree_properties(spec: Spec, picks: list[int], policy: str, collapse: bool) -> None:
    index, data, exceptions, offsets = database_bytes(spec)
    db = WordNet(index=index, data=data, exceptions=exceptions, source="random")
    classes = [f"w{i}" for i in picks if i < len(spec)] or ["w0"]
    tree = build_from_wordnet(db, classes, hypernym_path=policy, collapse=collapse)
    assert tree.classes == tuple(classes)  # leaves are exactly the classes, in order
    by_name = {db.synset_name(o): o for o in offsets.values()}
    paths = HypernymPaths(db, policy)
    for name, synset in zip(classes, resolve_classes(db, classes), strict=True):
        chosen = [db.synset_name(o) for o in paths.path(synset)]
        on_tree = [n for n in tree.path(name)[:-1] if n != "root"]
        # the tree path is the chosen hypernym path, less the collapsed nodes
        assert on_tree == [n for n in chosen if n in set(on_tree)]
        if not collapse:
            assert on_tree == chosen
        # every tree edge between synsets follows hypernym pointers upwards
        for upper, lower in itertools.pairwise(on_tree):
            assert by_name[upper] in _ancestors(db, by_name[lower])
    if collapse:
        for node in tree.nodes[tree.num_classes :]:
            assert node == tree.root or len(tree.children(node)) >= 2


def _ancestors(db: WordNet, offset: int) -> set[int]:
    seen: set[int] = set()
    todo = list(db.synset(offset).hypernyms)
    while todo:
        o = todo.pop()
        if o not in seen:
            seen.add(o)
            todo.extend(db.synset(o).hypernyms)
    return seen
