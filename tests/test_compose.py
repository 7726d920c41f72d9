"""Composing losses by name from dicts and TOML files: structures, conversions, errors."""

from __future__ import annotations

import json
import types
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from structloss import (
    ClassListSpec,
    ComputeBackend,
    Config,
    Hierarchy,
    LabelEmbedding,
    LossContext,
    LossSpec,
    Objective,
    PluginHost,
    Similarity,
    StructureContext,
    StructureSpec,
    build_structure,
    compose,
    hookimpl,
)
from structloss.builtin.losses import CrossEntropy
from structloss.errors import (
    ComponentBuildError,
    ConfigError,
    IncompatibleStructureError,
    InputError,
    StructureError,
    UnknownComponentError,
    UnknownOptionError,
)
from structloss.registry import PluginInfo

CLASSES = ["cat", "dog", "truck"]
PARENTS = {
    "cat": "animal",
    "dog": "animal",
    "truck": "vehicle",
    "animal": "root",
    "vehicle": "root",
}


# -- test plugins -------------------------------------------------------------------------
class Probe:
    """Loss and structure factories that record the contexts they receive."""

    def __init__(self) -> None:
        self.loss_contexts: list[LossContext] = []
        self.loss_options: list[dict[str, Any]] = []
        self.structure_contexts: list[StructureContext] = []

    def loss(self, context: LossContext, *, scale: float = 1.0) -> CrossEntropy:
        self.loss_contexts.append(context)
        self.loss_options.append({"scale": scale})
        return CrossEntropy(context.num_classes)

    def flat_reversed(self, context: StructureContext) -> Hierarchy:
        self.structure_contexts.append(context)
        assert context.classes is not None
        return Hierarchy.flat(list(reversed(context.classes)))

    def recording(self, context: StructureContext, *, size: int = 1) -> Hierarchy:
        self.structure_contexts.append(context)
        return Hierarchy.flat(context.classes or CLASSES)


def _identity_similarity(context: StructureContext) -> Similarity:
    return Similarity.identity(context.classes or CLASSES)


def _embedding(context: StructureContext) -> LabelEmbedding:
    return LabelEmbedding.from_matrix(CLASSES, [[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])


def _missing_class(context: StructureContext) -> Hierarchy:
    return Hierarchy.flat(["cat", "dog", "lorry"])


def _not_a_structure(context: StructureContext) -> dict[str, str]:
    return {"cat": "root"}


def _build_fails(context: LossContext) -> Objective:
    raise ValueError("the temperature must be positive")


def _not_an_objective(context: LossContext) -> nn.Module:
    return nn.Linear(4, context.num_classes)


def _wrong_width(context: LossContext) -> Objective:
    return CrossEntropy(context.num_classes + 2)


def make_host(probe: Probe | None = None) -> PluginHost:
    """The built-ins plus test losses (one per ``needs``) and test structure providers."""
    probe = probe or Probe()
    plugin = types.ModuleType("structloss_compose_test_plugin")

    def losses() -> list[LossSpec]:
        specs = [
            LossSpec(name="probe", factory=probe.loss, summary="records its context"),
            LossSpec(name="build-fails", factory=_build_fails, summary="raises ValueError"),
            LossSpec(name="not-objective", factory=_not_an_objective, summary="returns Linear"),
            LossSpec(name="wrong-width", factory=_wrong_width, summary="wrong num_classes"),
        ]
        specs += [
            LossSpec(name=f"needs-{kind}", factory=probe.loss, summary=kind, needs=kind)
            for kind in ("hierarchy", "similarity", "embedding")
        ]
        return specs

    def structures() -> list[StructureSpec]:
        return [
            StructureSpec(
                name="reversed", factory=probe.flat_reversed, summary="x", kind="hierarchy"
            ),
            StructureSpec(name="recording", factory=probe.recording, summary="x", kind="hierarchy"),
            StructureSpec(
                name="identity", factory=_identity_similarity, summary="x", kind="similarity"
            ),
            StructureSpec(name="embedding", factory=_embedding, summary="x", kind="embedding"),
            StructureSpec(name="missing-class", factory=_missing_class, summary="x"),
            StructureSpec(name="not-structure", factory=_not_a_structure, summary="x"),
        ]

    plugin.structloss_losses = hookimpl(losses)
    plugin.structloss_structures = hookimpl(structures)
    host = PluginHost(entry_points=[], env={})
    assert host.register(plugin, PluginInfo("compose-test", "compose-test-dist", "0.1"))
    return host


def ce_config(**extra: Any) -> dict[str, Any]:
    return {"classes": list(CLASSES), "loss": {"name": "cross-entropy"}, **extra}


def write_tree(path: Path, parents: dict[str, str] | None = None, **extra: Any) -> Path:
    path.write_text(json.dumps({"parents": parents or PARENTS, **extra}), encoding="utf-8")
    return path


# -- dicts and files ------------------------------------------------------------------------
def test_compose_from_a_dict() -> None:
    objective = compose(
        {"classes": CLASSES, "loss": {"name": "cross-entropy", "reduction": "sum"}},
        host=make_host(),
    )
    assert isinstance(objective, CrossEntropy)
    assert objective.num_classes == 3
    assert objective.reduction == "sum"


def test_compose_accepts_a_loss_given_as_a_bare_name_and_a_config_object() -> None:
    host = make_host()
    assert compose({"classes": CLASSES, "loss": "cross-entropy"}, host=host).num_classes == 3
    config = Config.from_dict(ce_config())
    assert compose(config, host=host).num_classes == 3


def test_compose_from_a_toml_file_resolves_paths_against_its_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "classes.txt").write_text("# label order\ncat\n\ndog\n truck \n", encoding="utf-8")
    write_tree(conf / "tree.json")
    (conf / "exp.toml").write_text(
        'classes = {file = "classes.txt"}\n'
        '[structure]\nprovider = "hierarchy-file"\npath = "tree.json"\n'
        '[loss]\nname = "needs-hierarchy"\nscale = 2.5\n',
        encoding="utf-8",
    )
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    probe = Probe()
    host = make_host(probe)
    for source in (conf / "exp.toml", str(conf / "exp.toml"), Path("../conf/exp.toml")):
        assert compose(source, host=host).num_classes == 3
    context = probe.loss_contexts[-1]
    assert context.classes == tuple(CLASSES)
    assert probe.loss_options[-1] == {"scale": 2.5}
    assert isinstance(context.structure, Hierarchy)
    assert context.structure.parent("truck") == "vehicle"


def test_classes_as_a_list_in_a_toml_file(tmp_path: Path) -> None:
    path = tmp_path / "exp.toml"
    path.write_text(
        'classes = ["b", "a"]\n[loss]\nname = "probe"\n[backend]\nname = "torch"\n',
        encoding="utf-8",
    )
    probe = Probe()
    compose(path, host=make_host(probe))
    assert probe.loss_contexts[0].classes == ("b", "a")
    assert probe.loss_contexts[0].backend.name == "torch"


def test_a_dict_config_resolves_paths_against_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_tree(tmp_path / "tree.json")
    (tmp_path / "classes.txt").write_text("cat\ndog\ntruck\n", encoding="utf-8")
    monkeypatch.chdir(tmp_path)
    config = {
        "classes": {"file": "classes.txt"},
        "structure": {"provider": "hierarchy-file", "path": "tree.json"},
        "loss": {"name": "cross-entropy"},
    }
    assert compose(config, host=make_host()).num_classes == 3


def test_runner_tables_are_kept_aside() -> None:
    config = Config.from_dict(ce_config(train={"epochs": 3}, data={"name": "cifar"}))
    assert config.extra == {"train": {"epochs": 3}, "data": {"name": "cifar"}}
    assert compose(config, host=make_host()).num_classes == 3


def test_config_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"config file not found: .*nope\.toml"):
        compose(tmp_path / "nope.toml", host=make_host())
    bad = tmp_path / "bad.toml"
    bad.write_text("[loss\nname = 1\n", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"invalid TOML in .*bad\.toml"):
        compose(bad, host=make_host())
    with pytest.raises(ConfigError, match=r"a config is a dict or a TOML file path, got int"):
        compose(3, host=make_host())  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        ({"file": "c.txt", "x": 1}, r"classes as a table takes exactly one key"),
        (["cat", "cat"], r"duplicate class names in classes: 'cat'"),
        ([], r"classes is empty"),
        (["cat", ""], r"must be non-empty strings; invalid: ''"),
    ],
)
def test_bad_classes(classes: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        compose({"classes": classes, "loss": "cross-entropy"}, host=make_host())


def test_unknown_class_list_names_the_available_ones() -> None:
    with pytest.raises(
        UnknownComponentError, match=r"unknown class list 'imagenet'\. Available: \(none\)"
    ):
        compose({"classes": "imagenet", "loss": "cross-entropy"}, host=make_host())


class _ClassLists:
    @staticmethod
    @hookimpl
    def structloss_class_lists():
        yield ClassListSpec(name="pets", factory=lambda: ["cat", "dog"], summary="two pets")
        yield ClassListSpec(name="broken", factory=lambda: 1 / 0, summary="fails")
        yield ClassListSpec(name="dupes", factory=lambda: ["a", "a"], summary="invalid")


def _class_list_host():
    host = make_host()
    host.register(_ClassLists(), PluginInfo("lists", "lists-dist", "1.0"))
    return host


def test_named_class_list_in_config_and_argument() -> None:
    host = _class_list_host()
    loss = compose({"classes": "pets", "loss": "cross-entropy"}, host=host)
    assert loss.num_classes == 2
    tree = build_structure({"structure": {"provider": "flat"}}, classes="pets", host=host)
    assert tree.classes == ("cat", "dog")
    with pytest.raises(
        UnknownComponentError, match=r"unknown class list 'pet'; did you mean 'pets'"
    ):
        compose({"classes": "pet", "loss": "cross-entropy"}, host=host)


def test_class_list_failures_are_clear() -> None:
    host = _class_list_host()
    with pytest.raises(ComponentBuildError, match=r"class list 'broken' failed to load"):
        compose({"classes": "broken", "loss": "cross-entropy"}, host=host)
    with pytest.raises(StructureError, match=r"duplicate class names in class list 'dupes'"):
        compose({"classes": "dupes", "loss": "cross-entropy"}, host=host)


def test_a_missing_classes_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"cannot read the classes file .*labels\.txt"):
        Config.from_dict({"classes": {"file": "labels.txt"}}, base_dir=tmp_path)


# -- unknown names and options --------------------------------------------------------------
def test_unknown_loss_lists_the_losses_and_suggests_the_closest() -> None:
    with pytest.raises(
        UnknownComponentError,
        match=r"unknown loss 'cross-entropi'; did you mean 'cross-entropy'\? Available: binary-cross-entropy,"
        r" build-fails,"
        r" cross-entropy, needs-embedding, .*, wrong-width\.",
    ):
        compose({"classes": CLASSES, "loss": "cross-entropi"}, host=make_host())


def test_unknown_structure_provider_lists_the_providers() -> None:
    with pytest.raises(
        UnknownComponentError,
        match=r"unknown structure provider 'hierarchy-fil'; did you mean 'hierarchy-file'\?"
        r" Available: embedding, flat, hierarchy-file, identity,",
    ):
        compose(ce_config(structure={"provider": "hierarchy-fil"}), host=make_host())


def test_unknown_backend_lists_the_backends() -> None:
    with pytest.raises(
        UnknownComponentError,
        match=r"unknown backend 'troch'; did you mean 'torch'\? Available: torch\.",
    ):
        compose(ce_config(backend={"name": "troch"}), host=make_host())
    with pytest.raises(UnknownComponentError, match=r"unknown backend 'triton'\. Available: torch"):
        compose(ce_config(backend="triton"), host=make_host())


def test_backend_takes_only_a_name() -> None:
    with pytest.raises(
        UnknownOptionError, match=r"\[backend\] takes only `name`, got \['device'\]"
    ):
        compose(ce_config(backend={"name": "torch", "device": "cuda"}), host=make_host())


def test_unknown_option_lists_the_valid_options() -> None:
    config = {"classes": CLASSES, "loss": {"name": "cross-entropy", "reductoin": "sum"}}
    with pytest.raises(
        UnknownOptionError,
        match=r"loss 'cross-entropy' has no option 'reductoin'; did you mean 'reduction'\?"
        r" Valid options: ignore_index, label_smoothing, reduction, weight",
    ):
        compose(config, host=make_host())


def test_unknown_structure_option() -> None:
    config = ce_config(structure={"provider": "flat", "rot": "top"})
    with pytest.raises(
        UnknownOptionError,
        match=r"structure provider 'flat' has no option 'rot'; did you mean 'root'\? Valid options: root",
    ):
        compose(config, host=make_host())


def test_missing_required_option() -> None:
    with pytest.raises(
        ConfigError, match=r"structure provider 'hierarchy-file' needs option\(s\): path"
    ):
        compose(ce_config(structure={"provider": "hierarchy-file"}), host=make_host())


@pytest.mark.parametrize(
    ("key", "match"),
    [
        ("los", r"unknown config keys: 'los'; did you mean 'loss'\? Valid keys: backend, classes,"),
        ("strcture", r"'strcture'; did you mean 'structure'\?"),
    ],
)
def test_unknown_top_level_key(key: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        compose({"classes": CLASSES, key: {}}, host=make_host())


def test_missing_loss_table() -> None:
    with pytest.raises(
        ConfigError,
        match=r'no \[loss\] table; add one such as \[loss\] name = "cross-entropy"\. Available'
        r" losses: binary-cross-entropy, build-fails, cross-entropy,",
    ):
        compose({"classes": CLASSES}, host=make_host())


@pytest.mark.parametrize(
    ("loss", "match"),
    [
        ({"reduction": "sum"}, r'\[loss\] needs `name = "\.\.\."` naming the component'),
        ({"name": 3}, r"\[loss\] name must be a string, got 3"),
        (["cross-entropy"], r"\[loss\] must be a table, got list"),
    ],
)
def test_malformed_loss_table(loss: Any, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        compose({"classes": CLASSES, "loss": loss}, host=make_host())


def test_convert_must_be_a_table() -> None:
    with pytest.raises(ConfigError, match=r"\[convert\] must be a table, got str"):
        compose(ce_config(convert="wu-palmer"), host=make_host())


# -- classes --------------------------------------------------------------------------------
def test_no_classes_anywhere_is_an_error() -> None:
    with pytest.raises(
        ConfigError, match=r"no classes given: set `classes` in the config, pass classes="
    ):
        compose({"loss": "cross-entropy"}, host=make_host())


def test_flat_without_classes_says_it_needs_them() -> None:
    with pytest.raises(
        ConfigError, match=r"structure provider 'flat' needs the class list; set `classes`"
    ):
        compose({"loss": "cross-entropy", "structure": {"provider": "flat"}}, host=make_host())


def test_a_hierarchy_file_provides_the_classes(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json")
    config = Config.from_dict(
        {"structure": {"provider": "hierarchy-file", "path": "tree.json"}, "loss": "probe"},
        base_dir=tmp_path,
    )
    probe = Probe()
    objective = compose(config, host=make_host(probe))
    assert objective.num_classes == 3
    assert probe.loss_contexts[0].classes == ("cat", "dog", "truck")


def test_a_hierarchy_file_class_order_field(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json", classes=["truck", "cat", "dog"])
    config = Config.from_dict(
        {
            "structure": {"provider": "hierarchy-file", "path": "tree.json"},
            "loss": "needs-hierarchy",
        },
        base_dir=tmp_path,
    )
    probe = Probe()
    compose(config, host=make_host(probe))
    context = probe.loss_contexts[0]
    assert context.classes == ("truck", "cat", "dog")
    assert context.structure is not None
    assert context.structure.classes == ("truck", "cat", "dog")


def test_config_classes_fix_the_order_of_a_hierarchy_file(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json")
    config = Config.from_dict(
        {
            "classes": ["truck", "dog", "cat"],
            "structure": {"provider": "hierarchy-file", "path": "tree.json"},
            "loss": "needs-hierarchy",
        },
        base_dir=tmp_path,
    )
    probe = Probe()
    compose(config, host=make_host(probe))
    structure = probe.loss_contexts[0].structure
    assert isinstance(structure, Hierarchy)
    assert structure.classes == ("truck", "dog", "cat")


def test_a_hierarchy_file_missing_a_config_class(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json")
    config = Config.from_dict(
        {
            "classes": ["cat", "dog", "truk"],
            "structure": {"provider": "hierarchy-file", "path": "tree.json"},
            "loss": "cross-entropy",
        },
        base_dir=tmp_path,
    )
    with pytest.raises(
        StructureError, match=r"classes missing from the hierarchy: 'truk'; did you mean 'truck'"
    ):
        compose(config, host=make_host())


def test_a_missing_hierarchy_file_is_named(tmp_path: Path) -> None:
    config = Config.from_dict(
        {"structure": {"provider": "hierarchy-file", "path": "tree.json"}, "loss": "cross-entropy"},
        base_dir=tmp_path,
    )
    with pytest.raises(StructureError, match=r"hierarchy file not found: .*tree\.json"):
        compose(config, host=make_host())


def test_classes_argument_overrides_the_config() -> None:
    probe = Probe()
    compose(ce_config(loss="probe"), classes=["x", "y"], host=make_host(probe))
    assert probe.loss_contexts[0].classes == ("x", "y")
    assert probe.loss_contexts[0].num_classes == 2


def test_a_structure_whose_classes_are_in_a_different_order() -> None:
    with pytest.raises(
        StructureError,
        match=r"structure provider 'reversed' returned classes that differ from the config's:"
        r" same names in a different order; the structure must follow the label order",
    ):
        compose(ce_config(structure={"provider": "reversed"}), host=make_host())


def test_a_structure_with_other_classes_names_the_difference() -> None:
    with pytest.raises(StructureError, match=r"missing \['truck'\], unexpected \['lorry'\]"):
        compose(ce_config(structure="missing-class"), host=make_host())


def test_a_structure_factory_returning_something_else() -> None:
    with pytest.raises(
        ComponentBuildError,
        match=r"structure provider 'not-structure' returned dict, not a Hierarchy, Similarity or LabelEmbedding",
    ):
        compose(ce_config(structure="not-structure"), host=make_host())


# -- structures reaching the loss ----------------------------------------------------------
def test_a_loss_context_carries_classes_and_backend() -> None:
    probe = Probe()
    compose(ce_config(loss="probe"), host=make_host(probe))
    (context,) = probe.loss_contexts
    assert context.classes == tuple(CLASSES)
    assert context.num_classes == 3
    assert context.structure is None
    assert isinstance(context.backend, ComputeBackend)
    assert context.backend.name == "auto"


def test_a_loss_without_needs_gets_the_structure_unconverted() -> None:
    probe = Probe()
    compose(ce_config(loss="probe", structure="flat"), host=make_host(probe))
    assert probe.loss_contexts[0].structure == Hierarchy.flat(CLASSES)


def test_needs_hierarchy_gets_the_hierarchy(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json")
    config = Config.from_dict(
        ce_config(
            structure={"provider": "hierarchy-file", "path": "tree.json"}, loss="needs-hierarchy"
        ),
        base_dir=tmp_path,
    )
    probe = Probe()
    compose(config, host=make_host(probe))
    structure = probe.loss_contexts[0].structure
    assert structure == Hierarchy.from_parents(CLASSES, PARENTS)


def test_needs_similarity_gets_the_converted_similarity(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json")
    config = Config.from_dict(
        ce_config(
            structure={"provider": "hierarchy-file", "path": "tree.json"}, loss="needs-similarity"
        ),
        base_dir=tmp_path,
    )
    probe = Probe()
    compose(config, host=make_host(probe))
    structure = probe.loss_contexts[0].structure
    assert isinstance(structure, Similarity)
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    assert structure == tree.to_similarity()
    # the default rule is exponential with decay 0.5: cat and dog are two edges apart,
    # cat and truck four
    assert structure.matrix[0, 1] == pytest.approx(0.25)
    assert structure.matrix[0, 2] == pytest.approx(0.0625)


def test_convert_options_reach_the_conversion() -> None:
    probe = Probe()
    structure = Hierarchy.from_parents(CLASSES, PARENTS)
    config = ce_config(loss="needs-similarity", convert={"rule": "exponential", "decay": 0.5})
    compose(config, structure=structure, host=make_host(probe))
    similarity = probe.loss_contexts[0].structure
    assert isinstance(similarity, Similarity)
    assert similarity == structure.to_similarity(rule="exponential", decay=0.5)
    np.testing.assert_allclose(similarity.matrix[0], [1.0, 0.5**2, 0.5**4])


def test_an_embedding_converts_to_a_similarity() -> None:
    probe = Probe()
    compose(
        ce_config(loss="needs-similarity", structure="embedding", convert={"lower_bound": 0.5}),
        host=make_host(probe),
    )
    similarity = probe.loss_contexts[0].structure
    assert isinstance(similarity, Similarity)
    assert similarity.matrix[0, 2] == 0.0
    assert similarity.matrix[0, 1] == pytest.approx((2**-0.5 - 0.5) / 0.5)


def test_an_unknown_convert_option_is_a_clear_error() -> None:
    config = ce_config(loss="needs-similarity", structure="flat", convert={"decey": 0.5})
    with pytest.raises(
        IncompatibleStructureError,
        match=r"bad \[convert\] options for hierarchy -> similarity: .*unexpected keyword argument 'decey'",
    ):
        compose(config, host=make_host())


@pytest.mark.parametrize(
    ("convert", "match"),
    [
        (
            {"rule": "wu-palmr"},
            r"unknown hierarchy-to-similarity rule 'wu-palmr'.*did you mean 'wu-palmer'",
        ),
        ({"rule": "exponential", "decay": 1.5}, r"decay must be in \[0, 1\], got 1\.5"),
    ],
)
def test_bad_convert_values_are_clear_errors(convert: dict[str, Any], match: str) -> None:
    config = ce_config(loss="needs-similarity", structure="flat", convert=convert)
    with pytest.raises(StructureError, match=match):
        compose(config, host=make_host())


def test_convert_options_for_a_structure_that_needs_no_conversion() -> None:
    config = ce_config(loss="needs-hierarchy", structure="flat", convert={"rule": "wu-palmer"})
    with pytest.raises(
        IncompatibleStructureError,
        match=r"loss 'needs-hierarchy' needs a hierarchy: conversion options \['rule'\] given.*remove the \[convert\] table",
    ):
        compose(config, host=make_host())


def test_needs_embedding_with_a_hierarchy_is_incompatible() -> None:
    with pytest.raises(
        IncompatibleStructureError,
        match=r"loss 'needs-embedding' needs an embedding: a hierarchy cannot be converted to an embedding",
    ):
        compose(ce_config(loss="needs-embedding", structure="flat"), host=make_host())


def test_needs_hierarchy_with_a_similarity_is_incompatible() -> None:
    with pytest.raises(
        IncompatibleStructureError, match=r"a similarity cannot be converted to a hierarchy"
    ):
        compose(ce_config(loss="needs-hierarchy", structure="identity"), host=make_host())


@pytest.mark.parametrize(
    ("loss", "installed"),
    [
        (
            "needs-hierarchy",
            "flat, hierarchy-file, missing-class, not-structure, recording, reversed",
        ),
        ("needs-embedding", "embedding, missing-class, not-structure"),
    ],
)
def test_needs_a_structure_but_none_is_configured(loss: str, installed: str) -> None:
    kind = loss.removeprefix("needs-")
    article = "an" if kind == "embedding" else "a"
    with pytest.raises(
        IncompatibleStructureError,
        match=rf"loss {loss!r} needs {article} {kind}; add a \[structure\] table with a provider that gives"
        rf" one \(installed: {installed}\)",
    ):
        compose(ce_config(loss=loss), host=make_host())


def test_structure_context_carries_classes_labels_and_base_dir(tmp_path: Path) -> None:
    probe = Probe()
    labels = torch.tensor([0, 2, 1])
    config = Config.from_dict(
        ce_config(structure={"provider": "recording", "size": 3}), base_dir=tmp_path
    )
    compose(config, labels=labels, host=make_host(probe))
    (context,) = probe.structure_contexts
    assert context.classes == tuple(CLASSES)
    assert context.labels is labels
    assert context.base_dir == str(tmp_path)


# -- factories that misbehave ----------------------------------------------------------------
def test_a_factory_raising_a_plain_error_is_wrapped() -> None:
    with pytest.raises(
        ComponentBuildError,
        match=r"loss 'build-fails' failed to build: ValueError: the temperature must be positive",
    ) as info:
        compose(ce_config(loss="build-fails"), host=make_host())
    assert isinstance(info.value.__cause__, ValueError)


def test_a_factory_raising_a_structloss_error_is_not_wrapped() -> None:
    config = ce_config(loss={"name": "cross-entropy", "reduction": "meen"})
    with pytest.raises(
        InputError,
        match=r"unknown reduction 'meen'; choose one of: mean, none, sum; did you mean 'mean'",
    ):
        compose(config, host=make_host())


def test_a_factory_returning_a_non_objective() -> None:
    with pytest.raises(
        ComponentBuildError,
        match=r"loss 'not-objective' returned Linear; a loss factory must return a structloss\.Objective",
    ):
        compose(ce_config(loss="not-objective"), host=make_host())


def test_a_factory_returning_the_wrong_number_of_classes() -> None:
    with pytest.raises(
        ComponentBuildError, match=r"loss 'wrong-width' was built for 5 classes, not 3"
    ):
        compose(ce_config(loss="wrong-width"), host=make_host())


# -- build_structure and ready structures ---------------------------------------------------
def test_build_structure_without_a_structure_is_none() -> None:
    assert build_structure(ce_config(), host=make_host()) is None


def test_build_structure_builds_the_structure_alone(tmp_path: Path) -> None:
    write_tree(tmp_path / "tree.json")
    (tmp_path / "exp.toml").write_text(
        '[structure]\nprovider = "hierarchy-file"\npath = "tree.json"\n', encoding="utf-8"
    )
    structure = build_structure(tmp_path / "exp.toml", host=make_host())
    assert structure == Hierarchy.from_parents(CLASSES, PARENTS)
    reordered = build_structure(
        tmp_path / "exp.toml", classes=["dog", "cat", "truck"], host=make_host()
    )
    assert reordered is not None
    assert reordered.classes == ("dog", "cat", "truck")


def test_a_ready_structure_is_used_as_given() -> None:
    probe = Probe()
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    compose({"loss": "needs-hierarchy"}, structure=tree, host=make_host(probe))
    (context,) = probe.loss_contexts
    assert context.structure is tree
    assert context.classes == tuple(CLASSES)


def test_a_ready_structure_replaces_the_configured_one() -> None:
    probe = Probe()
    tree = Hierarchy.from_parents(CLASSES, PARENTS)
    config = ce_config(loss="needs-hierarchy", structure={"provider": "reversed"})
    compose(config, structure=tree, host=make_host(probe))
    assert probe.structure_contexts == []
    assert probe.loss_contexts[0].structure is tree


def test_a_ready_structure_must_match_the_classes() -> None:
    tree = Hierarchy.flat(["truck", "dog", "cat"])
    with pytest.raises(
        StructureError,
        match=r"the structure's classes differ from the given classes: same names in a different order",
    ):
        compose(ce_config(loss="needs-hierarchy"), structure=tree, host=make_host())


def test_composed_objective_is_usable() -> None:
    objective = compose(ce_config(), host=make_host())
    head = objective.head(8)
    features = torch.randn(5, 8)
    target = torch.tensor([0, 1, 2, 1, 0])
    loss = objective(head(features), target)
    loss.backward()
    assert loss.ndim == 0
    assert head.weight.grad is not None


def test_compose_uses_the_host_it_is_given() -> None:
    host = PluginHost(entry_points=[], builtins=False, env={})
    with pytest.raises(ConfigError, match=r"Available losses: \(none\)"):
        compose({"classes": CLASSES}, host=host)
    with pytest.raises(UnknownComponentError, match=r"unknown loss 'cross-entropy'"):
        compose(ce_config(), host=host)
