"""structloss.testing: the checks pass on the built-ins and catch each broken contract."""

from __future__ import annotations

import json
import types
from collections.abc import Callable, Iterable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import Tensor, nn

import structloss
import structloss.builtin.losses
import structloss.builtin.structures
from structloss import (
    Backend,
    BackendSpec,
    ClassListSpec,
    Hierarchy,
    KernelSpec,
    LabelEmbedding,
    LossSpec,
    Objective,
    PluginHost,
    Similarity,
    StructureSpec,
    hookimpl,
)
from structloss.plugins import DEFAULT_PLUGINS
from structloss.testing import (
    DEFAULT_CLASSES,
    check_loss,
    check_plugin,
    check_structure,
    example_hierarchy,
    example_structure,
    isolated_host,
)
from structloss.testing import plugins as testing_plugins
from structloss.testing.fixtures import plugin_host_fixture

CLASSES = ["cat", "dog", "truck", "bus", "lion"]


def compose(name: str, **options: Any) -> Objective:
    return structloss.compose({"classes": CLASSES, "loss": {"name": name, **options}})


# -- the built-ins pass ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "name, options",
    [
        ("cross-entropy", {}),
        ("cross-entropy", {"label_smoothing": 0.1}),
        ("cross-entropy", {"reduction": "none"}),
        ("cross-entropy", {"reduction": "sum", "ignore_index": -1}),
        ("binary-cross-entropy", {}),
        ("binary-cross-entropy", {"pos_weight": 2.0, "reduction": "none"}),
    ],
)
def test_builtin_losses_pass(name: str, options: dict[str, Any]) -> None:
    check_loss(compose(name, **options))


def test_builtin_loss_passes_with_a_factory() -> None:
    check_loss(compose("cross-entropy"), factory=lambda **o: compose("cross-entropy", **o))


def test_builtin_structures_pass(tmp_path: Path) -> None:
    flat = structloss.build_structure(
        {"classes": CLASSES, "structure": {"provider": "flat", "root": "everything"}}
    )
    assert flat is not None
    check_structure(flat, CLASSES, kind="hierarchy")
    tree = {
        "parents": {
            "cat": "animal",
            "dog": "animal",
            "lion": "animal",
            "truck": "car",
            "bus": "car",
            "animal": "root",
            "car": "root",
        }
    }
    (tmp_path / "tree.json").write_text(json.dumps(tree))
    config = {"classes": CLASSES, "structure": {"provider": "hierarchy-file", "path": "tree.json"}}
    from_file = structloss.build_structure(structloss.Config.from_dict(config, base_dir=tmp_path))
    assert from_file is not None
    check_structure(from_file, CLASSES)


@pytest.mark.parametrize("kind", ["hierarchy", "similarity", "embedding"])
def test_example_structures_pass(kind: str) -> None:
    check_structure(example_structure(kind, CLASSES), CLASSES, kind=kind)


def test_example_hierarchy_shape() -> None:
    tree = example_hierarchy(["a", "b", "c"])
    assert tree.parent("a") == tree.parent("b") == "_group0"
    assert tree.parent("c") == "_group1"
    assert example_hierarchy(["only"]).parent("only") == "_root"
    with pytest.raises(ValueError, match="unknown structure kind"):
        example_structure("graph")


def test_builtin_plugins_pass(tmp_path: Path) -> None:
    check_plugin(structloss.builtin.losses)
    check_plugin("structloss.builtin.backends")
    path = tmp_path / "tree.json"
    path.write_text(example_hierarchy(DEFAULT_CLASSES).to_json())
    host = check_plugin(
        structloss.builtin.structures, structures={"hierarchy-file": {"path": str(path)}}
    )
    assert "flat" in host.registry.names("structure")


# -- broken losses are caught -----------------------------------------------------------------
class Linear(Objective):
    """Cross-entropy with hooks to break one thing at a time."""

    def per_sample(self, outputs: Tensor, index: Tensor) -> Tensor:
        return torch.nn.functional.cross_entropy(outputs, index, reduction="none")

    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        index, valid = self.check_inputs(outputs, target)
        return self.reduce(self.per_sample(outputs, index), valid)


class PlainAttribute(Linear):
    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.scale = torch.ones(num_classes)  # not a buffer

    def per_sample(self, outputs: Tensor, index: Tensor) -> Tensor:
        return super().per_sample(outputs * self.scale, index)


class _Holder:
    def __init__(self, matrix: Tensor) -> None:
        self.matrix = matrix


class HiddenTensor(Linear):
    """A tensor out of reach of the attribute scan; only the .to() check sees it."""

    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.holder = _Holder(torch.eye(num_classes))

    def per_sample(self, outputs: Tensor, index: Tensor) -> Tensor:
        return super().per_sample(outputs @ self.holder.matrix, index)


class NaNLoss(Linear):
    def per_sample(self, outputs: Tensor, index: Tensor) -> Tensor:
        return super().per_sample(outputs, index) * float("nan")


class WrongScores(Linear):
    def scores(self, outputs: Tensor) -> Tensor:
        return outputs[:, :-1]


class DoubleSum(Linear):
    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        value = super().forward(outputs, target)
        return 2 * value if self.reduction == "sum" else value


class MeanOverAll(Linear):
    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        if self.reduction == "mean":
            index, valid = self.check_inputs(outputs, target)
            per = torch.where(valid, self.per_sample(outputs, index), 0.0)
            return per.sum() / len(per)  # counts ignored rows
        return super().forward(outputs, target)


class IgnoredRowCounts(Linear):
    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        index, valid = self.check_inputs(outputs, target)
        per = self.per_sample(outputs, index)
        if self.reduction == "none":
            return per
        return self.reduce(per, valid)


class AllIgnoredNaN(Linear):
    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        index, valid = self.check_inputs(outputs, target)
        per = torch.where(valid, self.per_sample(outputs, index), 0.0)
        if self.reduction == "mean":
            return per.sum() / valid.sum()
        return self.reduce(per, valid)


class Detached(Linear):
    def per_sample(self, outputs: Tensor, index: Tensor) -> Tensor:
        return super().per_sample(outputs.detach(), index) + 0 * outputs.sum()


class WrongShape(Linear):
    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        index, _ = self.check_inputs(outputs, target)
        return self.per_sample(outputs, index)  # ignores self.reduction


class Unpicklable(Linear):
    def __init__(self, num_classes: int) -> None:
        super().__init__(num_classes)
        self.transform = lambda x: x


class NonPersistentRandom(Linear):
    def __init__(self, num_classes: int, reduction: str = "mean") -> None:
        super().__init__(num_classes, reduction=reduction)
        self.register_buffer("bias", torch.randn(num_classes), persistent=False)

    def per_sample(self, outputs: Tensor, index: Tensor) -> Tensor:
        return super().per_sample(outputs + self.bias, index)


class NoIgnore(Linear):
    def forward(self, outputs: Tensor, target: Tensor) -> Tensor:
        per = -outputs.log_softmax(1).gather(1, target[:, None])[:, 0]  # -100 is out of range
        return per if self.reduction == "none" else getattr(per, self.reduction)()


@pytest.mark.parametrize(
    "loss, kwargs, message",
    [
        (PlainAttribute(5), {}, "scale is a tensor stored as a plain attribute"),
        (HiddenTensor(5), {}, r"after \.to\(torch\.float64\)"),
        (NaNLoss(5), {}, "is not finite"),
        (WrongScores(5), {}, r"scores\(outputs\) has shape \(4, 4\)"),
        (DoubleSum(5), {}, "reduction='sum' differs"),
        (MeanOverAll(5), {}, "reduction='mean' differs"),
        (IgnoredRowCounts(5), {}, "ignored rows must give 0"),
        (AllIgnoredNaN(5), {}, "all ignored must give 0"),
        (Detached(5), {}, "every gradient is zero"),
        (WrongShape(5), {}, r"shape \(4,\), expected \(\) \(reduction='mean'\)"),
        (Unpicklable(5), {}, "cannot be pickled"),
        (NoIgnore(5), {}, "ignored target raised"),
    ],
    ids=lambda v: type(v).__name__ if isinstance(v, nn.Module) else "",
)
def test_check_loss_catches(loss: Objective, kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(AssertionError, match=message):
        check_loss(loss, **kwargs)


def test_check_loss_skips_ignore_when_told() -> None:
    check_loss(NoIgnore(5), check_ignore=False)


def test_check_loss_catches_state_outside_the_state_dict() -> None:
    with pytest.raises(AssertionError, match="loaded state_dict gives another value"):
        check_loss(NonPersistentRandom(5), factory=lambda **o: NonPersistentRandom(5, **o))


def test_check_loss_rejects_non_objectives() -> None:
    with pytest.raises(AssertionError, match=r"expected a structloss\.Objective"):
        check_loss(nn.CrossEntropyLoss())  # type: ignore[arg-type]


def test_check_loss_messages_name_the_class() -> None:
    with pytest.raises(AssertionError, match=r"^check_loss\(NaNLoss\): "):
        check_loss(NaNLoss(5))


# -- broken structures are caught -------------------------------------------------------------
def test_check_structure_catches_order_and_kind() -> None:
    tree = Hierarchy.flat(["a", "b", "c"])
    with pytest.raises(AssertionError, match="another order"):
        check_structure(tree, ["b", "a", "c"])
    with pytest.raises(AssertionError, match="classes differ"):
        check_structure(tree, ["a", "b", "d"])
    with pytest.raises(AssertionError, match="expected a similarity, got a hierarchy"):
        check_structure(tree, kind="similarity")
    with pytest.raises(AssertionError, match="expected a Hierarchy, Similarity or"):
        check_structure("a tree")  # type: ignore[arg-type]


def test_check_structure_catches_a_conversion_that_should_not_exist() -> None:
    class Loose(Similarity):
        def convert(self, kind: str, **options: Any) -> Any:
            return self if kind == "similarity" else Hierarchy.flat(self.classes)

    loose = Loose(classes=("a", "b"), matrix=torch.eye(2).numpy())
    with pytest.raises(AssertionError, match="should raise IncompatibleStructureError"):
        check_structure(loose)


def test_check_structure_accepts_matrix_structures() -> None:
    check_structure(LabelEmbedding.from_matrix(["a", "b"], [[1.0, 0.0], [1.0, 1.0]]))
    check_structure(Similarity.identity(["a", "b"]), ("a", "b"), kind="similarity")


# -- broken plugins are caught ----------------------------------------------------------------
def plugin(**hooks: Callable[[], Iterable[Any]]) -> types.ModuleType:
    module = types.ModuleType("fake_structloss_plugin")
    for name, function in hooks.items():
        function.__name__ = name
        setattr(module, name, hookimpl(function) if not name.startswith("raw_") else function)
    return module


def losses(*specs: LossSpec) -> Callable[[], Iterable[LossSpec]]:
    return lambda: list(specs)


def test_check_plugin_passes_a_good_plugin() -> None:
    def build(context: Any, *, reduction: str = "mean") -> Objective:
        loss = Linear(context.num_classes, reduction=reduction)
        assert isinstance(context.structure, Similarity)
        return loss

    def tree(context: Any, *, root: str = "top") -> Hierarchy:
        return Hierarchy.flat(context.classes, root=root)

    good = plugin(
        structloss_losses=losses(LossSpec("good", build, "fine", needs="similarity")),
        structloss_structures=lambda: [StructureSpec("good-tree", tree, "flat", "hierarchy")],
        structloss_class_lists=lambda: [ClassListSpec("abc", lambda: ["a", "b", "c"], "abc")],
    )
    host = check_plugin(good)
    assert host.registry.names("loss") == ["binary-cross-entropy", "cross-entropy", "good"]


def test_check_plugin_catches_unmarked_hooks() -> None:
    module = types.ModuleType("unmarked")
    module.structloss_losses = losses(LossSpec("x", lambda c: Linear(2), "x"))  # type: ignore[attr-defined]
    with pytest.raises(AssertionError, match="structloss_losses defined but not registered"):
        check_plugin(module)


def test_check_plugin_catches_no_hooks_and_typos() -> None:
    with pytest.raises(AssertionError, match="implements none of the hooks"):
        check_plugin(types.ModuleType("empty"))
    with pytest.raises(AssertionError, match="unknown hooks: 'structloss_loss'"):
        check_plugin(plugin(structloss_loss=lambda: []))


def test_check_plugin_catches_a_wrong_spec_type() -> None:
    with pytest.raises(AssertionError, match="yielded StructureSpec, expected LossSpec"):
        check_plugin(
            plugin(structloss_losses=lambda: [StructureSpec("x", lambda c: None, "x", "hierarchy")])
        )


def test_check_plugin_runs_check_loss() -> None:
    broken = plugin(
        structloss_losses=losses(LossSpec("nan", lambda c: NaNLoss(c.num_classes), "broken"))
    )
    with pytest.raises(AssertionError, match=r"check_loss\(NaNLoss\).*not finite"):
        check_plugin(broken)
    check_plugin(broken, losses={"nan": None})  # skipped


def test_check_plugin_catches_multilabel_mismatch_and_collisions() -> None:
    spec = LossSpec("lin", lambda c: Linear(c.num_classes), "x", multilabel=True)
    with pytest.raises(AssertionError, match=r"LossSpec\.multilabel is True"):
        check_plugin(plugin(structloss_losses=losses(spec)))
    clash = LossSpec("cross-entropy", lambda c: Linear(c.num_classes), "mine")
    with pytest.raises(AssertionError, match="'cross-entropy' is provided by"):
        check_plugin(plugin(structloss_losses=losses(clash)))


def test_check_plugin_catches_bad_summaries_and_factories() -> None:
    spec = LossSpec("lin", lambda c: Linear(c.num_classes), "two\nlines")
    with pytest.raises(AssertionError, match="needs a one-line summary"):
        check_plugin(plugin(structloss_losses=losses(spec)))
    keyword_only = LossSpec("kw", lambda *, context: Linear(2), "x")
    with pytest.raises(AssertionError, match="first positional parameter"):
        check_plugin(plugin(structloss_losses=losses(keyword_only)))


def test_check_plugin_structure_providers() -> None:
    def needs_path(context: Any, *, path: str) -> Hierarchy:
        return Hierarchy.flat(context.classes)

    def reversed_classes(context: Any) -> Hierarchy:
        return Hierarchy.flat(context.classes[::-1])

    with pytest.raises(AssertionError, match=r"'p' needs option\(s\) path; pass structures="):
        check_plugin(
            plugin(structloss_structures=lambda: [StructureSpec("p", needs_path, "x", "hierarchy")])
        )
    check_plugin(
        plugin(structloss_structures=lambda: [StructureSpec("p", needs_path, "x", "hierarchy")]),
        structures={"p": {"path": "anything"}},
    )
    with pytest.raises(AssertionError, match="classes that differ"):
        check_plugin(
            plugin(structloss_structures=lambda: [StructureSpec("r", reversed_classes, "x")])
        )
    with pytest.raises(AssertionError, match="expected a similarity, got a hierarchy"):
        check_plugin(
            plugin(
                structloss_structures=lambda: [StructureSpec("p", needs_path, "x", "similarity")]
            ),
            structures={"p": {"path": "anything"}},
        )


class Gpu(Backend):
    name = "my-gpu"

    def unavailable_reason(self) -> str | None:
        return "no such accelerator here"


def test_check_plugin_backends_and_kernels() -> None:
    good = plugin(
        structloss_backends=lambda: [BackendSpec("my-gpu", Gpu, "gpu")],
        structloss_kernels=lambda: [
            KernelSpec("op", "my-gpu", lambda: 1 / 0, "never loaded: the backend cannot run"),
            KernelSpec("op", "torch", lambda: torch.add, "reference"),
        ],
    )
    check_plugin(good)
    with pytest.raises(AssertionError, match=r"not a structloss\.Backend"):
        check_plugin(plugin(structloss_backends=lambda: [BackendSpec("b", object, "b")]))
    with pytest.raises(AssertionError, match="backend 'elsewhere', which neither"):
        check_plugin(
            plugin(structloss_kernels=lambda: [KernelSpec("op", "elsewhere", lambda: abs, "x")])
        )
    with pytest.raises(AssertionError, match="must return a callable"):
        check_plugin(plugin(structloss_kernels=lambda: [KernelSpec("op", "torch", lambda: 3, "x")]))
    backend_only = plugin(structloss_backends=lambda: [BackendSpec("elsewhere", Gpu, "b")])
    kernels_only = plugin(
        structloss_kernels=lambda: [KernelSpec("op", "elsewhere", lambda: abs, "x")]
    )
    check_plugin(kernels_only, requires=[backend_only])


def test_check_plugin_class_lists() -> None:
    dupes = plugin(structloss_class_lists=lambda: [ClassListSpec("d", lambda: ["a", "a"], "d")])
    with pytest.raises(AssertionError, match="duplicate class names in class list 'd'"):
        check_plugin(dupes)


# -- the isolated host and its fixture --------------------------------------------------------
LINEAR = plugin(
    structloss_losses=losses(LossSpec("lin", lambda c: Linear(c.num_classes), "linear"))
)

plugin_host = plugin_host_fixture(LINEAR)


def test_the_plugin_host_fixture_is_a_fresh_isolated_host(plugin_host: PluginHost) -> None:
    assert plugin_host.components("plugin-under-test") == {"loss": ["lin"]}
    assert sorted(plugin_host.plugins) == sorted([*DEFAULT_PLUGINS, "plugin-under-test"])
    loss = structloss.compose({"classes": CLASSES, "loss": "lin"}, host=plugin_host)
    assert isinstance(loss, Linear)


def test_isolated_host_ignores_the_environment_and_installed_plugins(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("STRUCTLOSS_DISABLE_PLUGINS", "plugin-under-test")
    monkeypatch.setenv("STRUCTLOSS_LOAD_PLUGINS", "")
    host = isolated_host(LINEAR)
    assert host.registry.names("loss") == ["binary-cross-entropy", "cross-entropy", "lin"]
    assert isolated_host(LINEAR) is not host  # fresh every time


def test_isolated_host_names_an_installed_plugin_after_its_entry_point(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    module = types.ModuleType("acme_structloss_hooks_for_test")
    module.structloss_losses = LINEAR.structloss_losses  # type: ignore[attr-defined]
    entry = metadata.EntryPoint("acme", module.__name__, "structloss")
    monkeypatch.setattr(testing_plugins.metadata, "entry_points", lambda group: [entry])
    host = isolated_host(module)
    assert host.components("acme") == {"loss": ["lin"]}
    assert host.plugins["acme"].distribution is None  # a fake entry point has no distribution


def test_isolated_host_registers_requirements_and_reports_failures() -> None:
    backend_only = plugin(structloss_backends=lambda: [BackendSpec("elsewhere", Gpu, "b")])
    host = isolated_host("structloss.builtin.losses", requires=[backend_only])
    assert host.components("required-0") == {"backend": ["elsewhere"]}
    with pytest.raises(AssertionError, match=r"^isolated_host\(fake_structloss_plugin\): .*"):
        isolated_host(plugin(structloss_loss=lambda: []))


@pytest.mark.slow
def test_check_compiles_passes_a_traceable_loss_and_catches_a_graph_break():
    from structloss.builtin.losses import CrossEntropy
    from structloss.objective import Objective
    from structloss.testing import check_compiles

    check_compiles(
        CrossEntropy(5, label_smoothing=0.1), torch.randn(4, 5), torch.tensor([0, 4, 2, 2])
    )

    class Branchy(Objective):
        def forward(self, outputs, target):
            index, valid = self.check_inputs(outputs, target)
            if bool(outputs.sum() > 0):  # data-dependent Python branch: a graph break
                outputs = outputs * 2
            per_sample = torch.nn.functional.cross_entropy(outputs, index, reduction="none")
            return self.reduce(per_sample, valid)

    with pytest.raises(Exception, match=r"(?i)data-dependent|graph break|Unsupported"):
        check_compiles(Branchy(5), torch.randn(4, 5), torch.tensor([0, 4, 2, 2]))
