"""The core's plugin contract checks (structloss.testing) on this plugin."""

from __future__ import annotations

from pathlib import Path

import pytest

import structloss_wordnet_tree.hooks as hooks
from structloss.testing import check_plugin, check_structure
from structloss_wordnet_tree.classlists import BUILTIN_LISTS

# classes of the tiny database (structloss_wordnet_tree.testing.TINY) at several depths
CLASSES = ["dog", "cat", "mouse", "poodle", "bird", "box", "device", "T-shirt"]


def test_plugin_contract(tiny_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WNSEARCHDIR", str(tiny_dir))  # wordnet-noun-leaves reads WordNet
    host = check_plugin(
        hooks, classes=CLASSES, structures={"wordnet-tree": {"wordnet_dir": str(tiny_dir)}}
    )
    assert host.registry.names("class-list") == ["cifar100", "imagenet1k", "wordnet-noun-leaves"]


def test_shipped_trees_pass_check_structure() -> None:
    for builtin in BUILTIN_LISTS.values():
        check_structure(builtin.tree(), builtin.classes(), kind="hierarchy")
