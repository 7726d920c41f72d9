"""The provider through structloss: composition by name, options, class lists, import cost."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import pytest

import structloss
from structloss import Hierarchy, PluginHost, Similarity
from structloss.errors import ConfigError, StructureError, UnknownOptionError
from structloss_wordnet_tree import AmbiguousSenseWarning
from structloss_wordnet_tree.classlists import (
    BUILTIN_LISTS,
    CIFAR100_SYNSETS,
    cifar100_classes,
    imagenet1k_classes,
)


def build(host: PluginHost, classes: object, **options: object) -> Hierarchy:
    config = {"classes": classes, "structure": {"provider": "wordnet-tree", **options}}
    tree = structloss.build_structure(config, host=host)
    assert isinstance(tree, Hierarchy)
    return tree


def test_composes_by_name(plugin_host: PluginHost, tiny_dir: Path) -> None:
    tree = build(
        plugin_host,
        ["poodle", "Laika", "cat", "heron"],
        wordnet_dir=str(tiny_dir),
        synsets={"heron": "crane.n.02"},
    )
    assert tree.classes == ("poodle", "Laika", "cat", "heron")
    assert tree.parent("Laika") == "dog.n.01"
    assert tree.lca("heron", "cat") == "vertebrate.n.01"
    similarity = tree.convert("similarity")
    assert isinstance(similarity, Similarity) and similarity.matrix.shape == (4, 4)


def test_options_change_the_tree(plugin_host: PluginHost, tiny_dir: Path) -> None:
    classes = ["dog", "poodle", "cat"]
    longest = build(plugin_host, classes, wordnet_dir=str(tiny_dir))
    shortest = build(plugin_host, classes, wordnet_dir=str(tiny_dir), hypernym_path="shortest")
    full = build(plugin_host, classes, wordnet_dir=str(tiny_dir), collapse=False)
    assert longest.parent("cat") == "carnivore.n.01"
    assert shortest.parent("cat") == "domestic_animal.n.01"
    assert full.parent("cat") == "cat.n.01"


def test_relative_wordnet_dir_follows_the_config_file(
    plugin_host: PluginHost, tmp_path: Path, tiny_dir: Path
) -> None:
    from structloss_wordnet_tree.testing import write_database

    write_database(tmp_path / "wn")
    config = tmp_path / "config.toml"
    config.write_text(
        'classes = ["dog", "heron"]\n[structure]\nprovider = "wordnet-tree"\n'
        'wordnet_dir = "wn"\nsynsets = {heron = "crane.n.02"}\n',
        encoding="utf-8",
    )
    tree = structloss.build_structure(config, host=plugin_host)
    assert isinstance(tree, Hierarchy) and tree.lca("dog", "heron") == "vertebrate.n.01"


def test_unknown_classes_fail_once(plugin_host: PluginHost, tiny_dir: Path) -> None:
    with pytest.raises(StructureError, match=r"2 class\(es\) have no WordNet noun synset"):
        build(plugin_host, ["dog", "unicorn", "poodel"], wordnet_dir=str(tiny_dir))


@pytest.mark.parametrize(
    ("options", "error", "match"),
    [
        ({"hypernym_path": "longst"}, ConfigError, "did you mean 'longest'"),
        ({"collapse": "yes"}, ConfigError, "collapse'? must be true or false"),
        ({"cache": 1}, ConfigError, "cache'? must be true or false"),
        ({"synsets": ["dog.n.01"]}, ConfigError, "must be a table"),
        (
            {"synsets": "cifar10"},
            ConfigError,
            "names no built-in class list; did you mean 'cifar100'",
        ),
        ({"synsets": {"dgo": "dog.n.01"}}, ConfigError, "'dgo'; did you mean 'dog'"),
        ({"synsets": {"dog": 3}}, ConfigError, "'dog': 3"),
        ({"wordnet_dir": 5}, ConfigError, "wordnet_dir must be a path"),
        ({"path": "longest"}, UnknownOptionError, "Valid options: cache, collapse"),
    ],
)
def test_bad_options(
    plugin_host: PluginHost, tiny_dir: Path, options: dict, error: type, match: str
) -> None:
    options.setdefault("wordnet_dir", str(tiny_dir))
    with pytest.raises(error, match=match):
        build(plugin_host, ["dog", "cat"], **options)


def test_needs_classes(plugin_host: PluginHost) -> None:
    with pytest.raises(ConfigError, match="needs the classes"):
        structloss.build_structure({"structure": {"provider": "wordnet-tree"}}, host=plugin_host)


def test_class_lists_are_registered(plugin_host: PluginHost) -> None:
    assert plugin_host.registry.names("class-list") == [
        "cifar100",
        "imagenet1k",
        "wordnet-noun-leaves",
    ]
    components = plugin_host.components("wordnet-tree")
    assert components["structure"] == ["wordnet-tree"]


def test_builtin_lists() -> None:
    cifar, imagenet = cifar100_classes(), imagenet1k_classes()
    assert len(cifar) == len(set(cifar)) == 100
    assert cifar[:3] == ("apple", "aquarium_fish", "baby") and cifar[-1] == "worm"
    assert list(cifar) == sorted(cifar)
    assert len(imagenet) == len(set(imagenet)) == 1000
    assert imagenet[0] == "n01440764" and list(imagenet) == sorted(imagenet)
    assert set(CIFAR100_SYNSETS) <= set(cifar)


@pytest.mark.parametrize("name", ["cifar100", "imagenet1k"])
def test_shipped_trees_need_no_wordnet(
    plugin_host: PluginHost, no_wordnet: Path, cache_root: Path, name: str
) -> None:
    tree = build(plugin_host, name)
    assert tree.classes == BUILTIN_LISTS[name].classes()
    assert tree.root == "entity.n.01"
    assert tree == Hierarchy.from_json(tree.to_json())
    # the same classes given as a list, and the built-in overrides named explicitly
    assert build(plugin_host, list(tree.classes), synsets=name) == tree
    assert not cache_root.exists()  # the shipped tree is not cached again
    with pytest.raises(StructureError, match="no WordNet database found"):
        build(plugin_host, name, hypernym_path="shortest")


def test_shipped_cifar100_tree_is_sensible() -> None:
    tree = BUILTIN_LISTS["cifar100"].tree()
    assert tree.lca("maple_tree", "oak_tree") == "tree.n.01"
    assert tree.lca("leopard", "tiger") == "big_cat.n.01"
    assert tree.lca("ray", "shark") == "elasmobranch.n.01"
    assert tree.lca("table", "wardrobe") == "furniture.n.01"
    assert tree.lca("aquarium_fish", "trout") == "fish.n.01"
    assert tree.lca("bus", "streetcar") != tree.root


@pytest.mark.integration
def test_importing_the_hooks_does_not_import_nltk() -> None:
    code = (
        "import sys, structloss_wordnet_tree.hooks as h;"
        "list(h.structloss_structures()); list(h.structloss_class_lists());"
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'nltk', 'filelock'}"
        " or m.startswith('structloss_wordnet_tree.') and m.rsplit('.', 1)[1] in"
        " {'database', 'locate', 'mapping', 'tree', 'cache'});"
        "print(heavy); assert not heavy, heavy"
    )
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)


# -- ambiguous names through the provider ----------------------------------------------------
def test_ambiguous_names_warn_also_from_the_cache(
    plugin_host: PluginHost, two_mice_dir: Path, cache_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from structloss_wordnet_tree import locate

    classes = ["mouse", "dog", "crane"]
    with pytest.warns(AmbiguousSenseWarning, match="2 class") as first:
        tree = build(plugin_host, classes, wordnet_dir=str(two_mice_dir))
    assert len(list((cache_root / "wordnet-tree").glob("*.json"))) == 1

    def no_reading(self: locate.Location) -> None:
        raise AssertionError("the cached tree should be used")

    monkeypatch.setattr(locate.Location, "open", no_reading)
    with pytest.warns(AmbiguousSenseWarning) as again:  # a cache hit reports them again
        assert build(plugin_host, classes, wordnet_dir=str(two_mice_dir)) == tree
    assert str(again[0].message) == str(first[0].message)
    assert "'mouse' -> mouse.n.01: a small rodent" in str(first[0].message)


def test_pinned_classes_do_not_warn(
    plugin_host: PluginHost, two_mice_dir: Path, tmp_path: Path
) -> None:
    config = tmp_path / "config.toml"
    config.write_text(
        'classes = ["mouse", "dog", "crane"]\n[structure]\nprovider = "wordnet-tree"\n'
        f'wordnet_dir = "{two_mice_dir}"\n'
        'synsets = {mouse = "mouse.n.02", crane = "crane.n.02"}\n',
        encoding="utf-8",
    )
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        tree = structloss.build_structure(config, host=plugin_host)
    assert isinstance(tree, Hierarchy) and tree.lca("mouse", "crane") == "object.n.01"


def test_classes_of_a_builtin_list_were_reviewed(
    plugin_host: PluginHost, two_mice_dir: Path
) -> None:
    # "mouse" is a CIFAR-100 class: its first sense was checked by hand
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        build(plugin_host, ["mouse", "dog"], wordnet_dir=str(two_mice_dir), synsets="cifar100")
    with pytest.warns(AmbiguousSenseWarning, match="'mouse' -> mouse.n.01"):
        build(plugin_host, ["mouse", "dog"], wordnet_dir=str(two_mice_dir))


def test_damaged_notes_in_the_cache_are_rebuilt(
    plugin_host: PluginHost, two_mice_dir: Path, cache_root: Path
) -> None:
    import json

    with pytest.warns(AmbiguousSenseWarning):
        build(plugin_host, ["mouse", "dog"], wordnet_dir=str(two_mice_dir))
    (entry,) = (cache_root / "wordnet-tree").glob("*.json")
    document = json.loads(entry.read_text())
    document["notes"] = {"ambiguous": [{"name": "mouse"}]}
    entry.write_text(json.dumps(document))
    with (
        pytest.warns(RuntimeWarning, match="unreadable notes"),
        pytest.warns(AmbiguousSenseWarning, match="'mouse' -> mouse.n.01"),
    ):
        build(plugin_host, ["mouse", "dog"], wordnet_dir=str(two_mice_dir))


@pytest.mark.parametrize(
    ("classes", "synsets", "words"),
    [
        (["Cat", "cat"], None, "'Cat' and 'cat' -> cat.n.01"),
        (["dog", "pup"], {"pup": "dog.n.01"}, "'dog' and 'pup' -> dog.n.01"),
        (["crane", "dog"], {"crane": "crane.n.9"}, "'crane' -> 'crane.n.9'"),
        (["crane", "dog"], {"crane": "12345678"}, "'crane' -> '12345678'"),
    ],
)
def test_bad_mappings(
    plugin_host: PluginHost, tiny_dir: Path, classes: list[str], synsets: object, words: str
) -> None:
    options = {"synsets": synsets} if synsets is not None else {}
    with pytest.raises(StructureError) as info:
        build(plugin_host, classes, wordnet_dir=str(tiny_dir), **options)
    assert words in str(info.value) and "`synsets`" in str(info.value)


def test_unknown_pinned_class_is_named(plugin_host: PluginHost, tiny_dir: Path) -> None:
    with pytest.raises(ConfigError) as info:
        build(
            plugin_host,
            ["crane", "dog"],
            wordnet_dir=str(tiny_dir),
            synsets={"crame": "crane.n.02"},
        )
    assert "'crame'; did you mean 'crane'" in str(info.value)
