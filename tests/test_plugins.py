"""The plugin host: built-ins, entry points, failures, collisions, specs and backends."""

from __future__ import annotations

import sys
import types
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
import torch

from structloss import (
    Backend,
    BackendSpec,
    KernelSpec,
    LossSpec,
    PluginHost,
    StructureSpec,
    compose,
    hookimpl,
)
from structloss.builtin.losses import CrossEntropy, build_cross_entropy
from structloss.errors import (
    BackendUnavailableError,
    ComponentBuildError,
    DuplicateComponentError,
    PluginLoadError,
    StructlossError,
    UnknownComponentError,
)
from structloss.registry import PluginInfo
from structloss.testing import assert_mentions, mixup_target

BUILTIN_PLUGINS = (
    "structloss.builtin.backends",
    "structloss.builtin.losses",
    "structloss.builtin.structures",
)
CLASSES = ["cat", "dog", "truck"]


# -- helpers ----------------------------------------------------------------------------
def make_host(
    *plugins: tuple[object, PluginInfo],
    env: dict[str, str] | None = None,
    entry_points: list[Any] | None = None,
) -> PluginHost:
    """A host with the built-ins, the given entry points (none by default) and plugins."""
    host = PluginHost(entry_points=entry_points or [], env=env or {})
    for plugin, info in plugins:
        assert host.register(plugin, info), host.failures
    return host


def make_plugin(module_name: str = "structloss_test_plugin", **hooks: Callable[[], Any]) -> Any:
    """A plugin module whose hooks return what the given zero-argument callables return."""
    module = types.ModuleType(module_name)
    for hook_name, function in hooks.items():
        setattr(module, hook_name, hookimpl(function))
    return module


def loss_plugin(*names: str, module_name: str = "structloss_test_losses") -> Any:
    """A plugin providing cross-entropy under each of ``names``."""
    return make_plugin(
        module_name,
        structloss_losses=lambda: [
            LossSpec(name=n, factory=build_cross_entropy, summary=f"test loss {n}") for n in names
        ],
    )


def broken_entry_point(name: str = "broken") -> metadata.EntryPoint:
    return metadata.EntryPoint(name=name, value="no_such_module_xyz", group="structloss")


def fake_distribution(tmp_path: Path, dist_name: str, version: str, entry_points: str) -> Any:
    """A real ``PathDistribution`` in ``tmp_path`` with a ``[structloss]`` entry-point table."""
    info = tmp_path / f"{dist_name.replace('-', '_')}-{version}.dist-info"
    info.mkdir()
    info.joinpath("METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {dist_name}\nVersion: {version}\n", encoding="utf-8"
    )
    info.joinpath("entry_points.txt").write_text(
        f"[structloss]\n{entry_points}\n", encoding="utf-8"
    )
    return metadata.Distribution.at(info)


def compose_ce(host: PluginHost, name: str = "cross-entropy", **extra: Any) -> Any:
    return compose({"classes": CLASSES, "loss": {"name": name}, **extra}, host=host)


# -- built-ins --------------------------------------------------------------------------
def test_builtins_are_registered_as_plugins_of_the_structloss_distribution() -> None:
    host = make_host()
    assert set(host.plugins) == set(BUILTIN_PLUGINS)
    for name in BUILTIN_PLUGINS:
        info = host.plugins[name]
        assert info.distribution == "structloss"
        assert info.builtin
    assert host.failures == []
    registry = host.registry
    assert registry.names("loss") == ["binary-cross-entropy", "cross-entropy"]
    assert registry.names("structure") == ["flat", "hierarchy-file"]
    assert registry.names("backend") == ["torch"]
    for kind in ("loss", "structure", "backend"):
        assert {r.plugin.distribution for r in registry.entries(kind)} == {"structloss"}
    assert registry.collisions() == []


def test_builtins_false_registers_nothing() -> None:
    host = PluginHost(entry_points=[], builtins=False, env={})
    assert host.plugins == {}
    assert host.registry.names("loss") == []
    with pytest.raises(UnknownComponentError, match=r"unknown loss 'cross-entropy'.*\(none\)"):
        host.spec("loss", "cross-entropy")


def test_components_lists_what_one_plugin_provides() -> None:
    kernels = make_plugin(
        "kern",
        structloss_kernels=lambda: [
            KernelSpec(op="double", backend="torch", factory=lambda: lambda x: 2 * x, summary="x2")
        ],
    )
    host = make_host(
        (loss_plugin("loss-b", "loss-a"), PluginInfo("mine", "my-dist", "1.0")),
        (kernels, PluginInfo("kern")),
    )
    assert host.components("mine") == {"loss": ["loss-a", "loss-b"]}
    assert host.components("kern") == {"kernel": ["double@torch"]}
    assert host.components("structloss.builtin.structures") == {
        "structure": ["flat", "hierarchy-file"]
    }
    assert host.components("no-such-plugin") == {}


def test_spec_rejects_an_unknown_component_kind() -> None:
    host = make_host()
    with pytest.raises(StructlossError, match=r"unknown component kind 'losses'.*'loss'"):
        host.spec("losses", "cross-entropy")  # type: ignore[arg-type]


# -- broken plugins -----------------------------------------------------------------------
def test_import_failure_is_recorded_and_the_host_still_works() -> None:
    host = make_host(entry_points=[broken_entry_point("acme-losses")])
    assert [(f.plugin.name, f.stage) for f in host.failures] == [("acme-losses", "import")]
    assert isinstance(host.failures[0].error, ModuleNotFoundError)
    assert "no_such_module_xyz" in host.failures[0].describe()
    assert "acme-losses" not in host.plugins
    objective = compose_ce(host)
    assert isinstance(objective, CrossEntropy)


def test_import_failure_surfaces_when_a_config_asks_for_a_missing_name() -> None:
    host = make_host(entry_points=[broken_entry_point("acme-losses")])
    with pytest.raises(UnknownComponentError) as info:
        compose_ce(host, name="acme-tree-loss")
    assert_mentions(
        info.value,
        "unknown loss 'acme-tree-loss'",
        "Available: binary-cross-entropy, cross-entropy",
        "plugin 'acme-losses' failed at import",
        "No module named 'no_such_module_xyz'",
        "STRUCTLOSS_DISABLE_PLUGINS",
    )
    assert info.value.__cause__ is host.failures[0].error


def test_unknown_name_without_failures_points_at_installing_the_plugin() -> None:
    host = make_host()
    with pytest.raises(UnknownComponentError, match=r"Is the plugin that provides it installed"):
        compose_ce(host, name="tree-loss")


def test_the_most_relevant_failure_is_the_cause() -> None:
    host = make_host(entry_points=[broken_entry_point("aaa"), broken_entry_point("tree-loss")])
    with pytest.raises(
        UnknownComponentError, match=r"plugin 'tree-loss'.*\n.*plugin 'aaa'"
    ) as info:
        host.spec("loss", "tree-loss")
    relevant = next(f for f in host.failures if f.plugin.name == "tree-loss")
    assert info.value.__cause__ is relevant.error
    assert str(info.value).index("'tree-loss' failed") < str(info.value).index("'aaa' failed")


def test_entry_point_that_loads_is_registered(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "structloss_fake_ep", loss_plugin("ep-loss"))
    ep = metadata.EntryPoint(name="fake", value="structloss_fake_ep", group="structloss")
    host = make_host(entry_points=[ep, broken_entry_point()])
    assert "fake" in host.plugins
    assert not host.plugins["fake"].builtin
    assert host.components("fake") == {"loss": ["ep-loss"]}
    assert isinstance(compose_ce(host, name="ep-loss"), CrossEntropy)


def test_entry_point_distribution_name_and_version_are_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "acme_mod", loss_plugin("acme-loss"))
    dist = fake_distribution(tmp_path, "acme-sl", "2.0", "acme = acme_mod")
    host = make_host(entry_points=list(dist.entry_points))
    assert host.plugins["acme"] == PluginInfo("acme", "acme-sl", "2.0")
    (entry,) = [r for r in host.registry.entries("loss") if r.spec.name == "acme-loss"]
    assert entry.plugin.distribution == "acme-sl"


def test_a_hook_that_raises_is_recorded_and_other_plugins_still_work() -> None:
    def explode() -> list[LossSpec]:
        raise RuntimeError("database offline")

    bad = make_plugin("bad", structloss_losses=explode)
    host = make_host(
        (bad, PluginInfo("bad", "bad-dist", "0.1")), (loss_plugin("ok-loss"), PluginInfo("ok"))
    )
    failures = host.registry.failures
    assert [(f.plugin.name, f.stage) for f in failures] == [("bad", "structloss_losses")]
    assert "RuntimeError: database offline" in failures[0].describe()
    assert isinstance(compose_ce(host, name="ok-loss"), CrossEntropy)
    with pytest.raises(
        UnknownComponentError, match=r"(?s)'bad-loss'.*plugin 'bad' \(bad-dist 0.1\)"
    ):
        compose_ce(host, name="bad-loss")


def test_a_hook_that_yields_a_wrong_type_is_recorded() -> None:
    wrong = make_plugin(
        "wrong",
        structloss_losses=lambda: [
            StructureSpec(name="oops", factory=lambda c: None, summary="misplaced")
        ],
    )
    host = make_host((wrong, PluginInfo("wrong")), (loss_plugin("ok-loss"), PluginInfo("ok")))
    (failure,) = host.registry.failures
    assert failure.plugin.name == "wrong"
    assert isinstance(failure.error, PluginLoadError)
    assert "structloss_losses yielded StructureSpec, expected LossSpec" in failure.message
    assert "oops" not in host.registry.names("structure")
    assert "oops" not in host.registry.names("loss")
    assert isinstance(compose_ce(host, name="ok-loss"), CrossEntropy)


def test_a_hook_yielding_an_invalid_spec_is_recorded() -> None:
    bad = make_plugin(
        "bad",
        structloss_losses=lambda: [
            LossSpec(name="fine", factory=build_cross_entropy, summary="ok"),
            LossSpec(name="Bad Name", factory=build_cross_entropy, summary="bad"),
        ],
    )
    host = make_host((bad, PluginInfo("bad")))
    (failure,) = host.registry.failures
    assert "'Bad Name'" in failure.message
    # the plugin's specs are dropped together: a half-registered plugin would be confusing
    assert host.registry.names("loss") == ["binary-cross-entropy", "cross-entropy"]


def test_a_hook_failure_under_strict_mode_raises() -> None:
    def explode() -> list[LossSpec]:
        raise RuntimeError("database offline")

    host = make_host(
        (make_plugin("bad", structloss_losses=explode), PluginInfo("bad")),
        env={"STRUCTLOSS_STRICT_PLUGINS": "1"},
    )
    with pytest.raises(
        PluginLoadError, match=r"plugin 'bad' failed at structloss_losses.*database offline"
    ):
        host.registry  # noqa: B018


def test_an_unknown_hook_name_is_rejected_with_a_suggestion() -> None:
    typo = make_plugin("typo", structloss_loss=lambda: [])
    host = make_host()
    assert host.register(typo, PluginInfo("typo", "typo-dist", "1.0")) is False
    (failure,) = host.failures
    assert failure.stage == "registration"
    assert isinstance(failure.error, PluginLoadError)
    assert "implements unknown hooks: 'structloss_loss'; did you mean 'structloss_losses'?" in (
        failure.message
    )
    assert "typo" not in host.plugins
    assert host.pm.get_plugin("typo") is None
    assert isinstance(compose_ce(host), CrossEntropy)


def test_an_unknown_hook_under_strict_mode_raises() -> None:
    host = make_host(env={"STRUCTLOSS_STRICT_PLUGINS": "1"})
    with pytest.raises(
        PluginLoadError, match=r"did you mean 'structloss_losses'.*STRUCTLOSS_STRICT"
    ):
        host.register(make_plugin("typo", structloss_loss=lambda: []), PluginInfo("typo"))


def test_registering_the_same_plugin_name_twice_is_rejected() -> None:
    host = make_host((loss_plugin("one"), PluginInfo("mine")))
    assert host.register(loss_plugin("two", module_name="other"), PluginInfo("mine")) is False
    assert "a plugin named 'mine' is already registered" in host.failures[-1].message
    assert host.registry.names("loss") == ["binary-cross-entropy", "cross-entropy", "one"]


def test_a_registration_failure_after_the_registry_was_built_still_surfaces() -> None:
    host = make_host()
    assert host.registry.names("loss") == ["binary-cross-entropy", "cross-entropy"]
    host.register(make_plugin("typo", structloss_loss=lambda: []), PluginInfo("acme-typo"))
    with pytest.raises(UnknownComponentError, match=r"plugin 'acme-typo' failed at registration"):
        compose_ce(host, name="acme-loss")


def test_a_plain_object_with_staticmethod_hooks_is_a_plugin() -> None:
    class Plugin:
        @staticmethod
        @hookimpl
        def structloss_losses() -> list[LossSpec]:
            return [LossSpec(name="obj-loss", factory=build_cross_entropy, summary="obj")]

    host = make_host((Plugin, PluginInfo("obj")))
    assert host.components("obj") == {"loss": ["obj-loss"]}


# -- environment variables ----------------------------------------------------------------
def test_strict_plugins_raises_at_construction() -> None:
    with pytest.raises(
        PluginLoadError,
        match=r"plugin 'broken' failed at import: ModuleNotFoundError.*STRUCTLOSS_STRICT_PLUGINS is set",
    ) as info:
        PluginHost(entry_points=[broken_entry_point()], env={"STRUCTLOSS_STRICT_PLUGINS": "1"})
    assert isinstance(info.value.__cause__, ModuleNotFoundError)


def test_strict_plugins_zero_is_off() -> None:
    host = PluginHost(entry_points=[broken_entry_point()], env={"STRUCTLOSS_STRICT_PLUGINS": "0"})
    assert not host.strict
    assert len(host.failures) == 1


def test_disable_plugins_by_entry_point_name() -> None:
    host = make_host(
        entry_points=[broken_entry_point("broken"), broken_entry_point("other")],
        env={"STRUCTLOSS_DISABLE_PLUGINS": " broken , unrelated"},
    )
    assert host.disabled == ["broken"]
    assert [f.plugin.name for f in host.failures] == ["other"]


def test_disable_plugins_by_distribution_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "acme_mod", loss_plugin("acme-loss"))
    dist = fake_distribution(tmp_path, "acme-sl", "2.0", "acme = acme_mod")
    host = make_host(
        entry_points=list(dist.entry_points), env={"STRUCTLOSS_DISABLE_PLUGINS": "acme-sl"}
    )
    assert "acme" not in host.plugins
    assert host.disabled == ["acme"]
    assert host.failures == []
    with pytest.raises(UnknownComponentError, match=r"unknown loss 'acme-loss'"):
        compose_ce(host, name="acme-loss")


def test_disable_plugins_can_disable_a_builtin() -> None:
    host = make_host(env={"STRUCTLOSS_DISABLE_PLUGINS": "structloss.builtin.losses"})
    assert "structloss.builtin.losses" in host.disabled
    assert host.registry.names("loss") == []
    assert host.registry.names("backend") == ["torch"]


def test_load_plugins_is_an_allow_list(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "acme_mod", loss_plugin("acme-loss"))
    monkeypatch.setitem(sys.modules, "other_mod", loss_plugin("other-loss", module_name="other"))
    acme = fake_distribution(tmp_path, "acme-sl", "2.0", "acme = acme_mod")
    eps = [
        *acme.entry_points,
        metadata.EntryPoint(name="other", value="other_mod", group="structloss"),
        broken_entry_point(),
    ]

    by_name = make_host(entry_points=eps, env={"STRUCTLOSS_LOAD_PLUGINS": "other"})
    assert set(by_name.plugins) == {*BUILTIN_PLUGINS, "other"}
    assert sorted(by_name.disabled) == ["acme", "broken"]
    assert by_name.failures == []

    by_dist = make_host(entry_points=eps, env={"STRUCTLOSS_LOAD_PLUGINS": "acme-sl"})
    assert set(by_dist.plugins) == {*BUILTIN_PLUGINS, "acme"}

    none = make_host(entry_points=eps, env={"STRUCTLOSS_LOAD_PLUGINS": ""})
    assert set(none.plugins) == set(BUILTIN_PLUGINS)  # built-ins are not third-party
    assert none.failures == []


def test_disable_wins_over_load(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "other_mod", loss_plugin("other-loss"))
    ep = metadata.EntryPoint(name="other", value="other_mod", group="structloss")
    host = make_host(
        entry_points=[ep],
        env={"STRUCTLOSS_LOAD_PLUGINS": "other", "STRUCTLOSS_DISABLE_PLUGINS": "other"},
    )
    assert "other" not in host.plugins


# -- collisions ---------------------------------------------------------------------------
def colliding_host(env: dict[str, str] | None = None) -> PluginHost:
    return make_host(
        (
            loss_plugin("tree-loss", "alpha-loss", module_name="a"),
            PluginInfo("acme", "acme-losses", "1.0"),
        ),
        (
            loss_plugin("tree-loss", "beta-loss", module_name="b"),
            PluginInfo("bolt", "bolt-losses", "2.5"),
        ),
        env=env,
    )


def test_a_collision_raises_only_when_the_name_is_requested() -> None:
    host = colliding_host()
    [(kind, name, regs)] = host.registry.collisions()
    assert (kind, name) == ("loss", "tree-loss")
    assert {r.plugin.name for r in regs} == {"acme", "bolt"}
    with pytest.raises(DuplicateComponentError) as info:
        compose_ce(host, name="tree-loss")
    assert_mentions(
        info.value,
        "loss 'tree-loss' is provided by both",
        "plugin 'acme' (acme-losses 1.0)",
        "plugin 'bolt' (bolt-losses 2.5)",
        "STRUCTLOSS_DISABLE_PLUGINS (plugins: acme,bolt)",
    )
    for other in ("alpha-loss", "beta-loss", "cross-entropy"):
        assert isinstance(compose_ce(host, name=other), CrossEntropy)


def test_a_collision_with_a_builtin_names_only_the_third_party_to_disable() -> None:
    host = make_host((loss_plugin("cross-entropy"), PluginInfo("acme", "acme-losses", "1.0")))
    with pytest.raises(
        DuplicateComponentError,
        match=r"plugin 'structloss.builtin.losses' \(structloss .*\).*plugins: acme\)",
    ):
        compose_ce(host)


def test_disabling_one_side_resolves_a_collision(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "acme_mod", loss_plugin("tree-loss", module_name="a"))
    monkeypatch.setitem(sys.modules, "bolt_mod", loss_plugin("tree-loss", module_name="b"))
    eps = [
        metadata.EntryPoint(name="acme", value="acme_mod", group="structloss"),
        metadata.EntryPoint(name="bolt", value="bolt_mod", group="structloss"),
    ]
    with pytest.raises(DuplicateComponentError, match="STRUCTLOSS_DISABLE_PLUGINS"):
        compose_ce(make_host(entry_points=eps), name="tree-loss")
    host = make_host(entry_points=eps, env={"STRUCTLOSS_DISABLE_PLUGINS": "bolt"})
    assert isinstance(compose_ce(host, name="tree-loss"), CrossEntropy)


def test_a_collision_in_strict_mode_raises_when_the_registry_is_built() -> None:
    host = colliding_host(env={"STRUCTLOSS_STRICT_PLUGINS": "1"})
    with pytest.raises(
        DuplicateComponentError, match=r"'tree-loss' is provided by both.*acme.*bolt"
    ):
        host.registry  # noqa: B018
    with pytest.raises(DuplicateComponentError, match="STRUCTLOSS_DISABLE_PLUGINS"):
        compose_ce(host, name="alpha-loss")


def test_registration_order_does_not_change_results() -> None:
    def build(order: list[int]) -> PluginHost:
        plugins = [
            (
                loss_plugin("zeta", "tree-loss", module_name="a"),
                PluginInfo("acme", "acme-losses", "1.0"),
            ),
            (
                loss_plugin("alpha", "tree-loss", module_name="b"),
                PluginInfo("bolt", "bolt-losses", "2.5"),
            ),
            (loss_plugin("mid", module_name="c"), PluginInfo("core")),
        ]
        return make_host(*(plugins[i] for i in order))

    def snapshot(host: PluginHost) -> tuple[Any, ...]:
        entries = [(r.spec.name, r.plugin.name) for r in host.registry.entries("loss")]
        collisions = [
            (k, n, [r.plugin.name for r in regs]) for k, n, regs in host.registry.collisions()
        ]
        with pytest.raises(DuplicateComponentError) as info:
            host.spec("loss", "tree-loss")
        return entries, host.registry.names("loss"), collisions, str(info.value)

    first = snapshot(build([0, 1, 2]))
    assert first == snapshot(build([2, 1, 0]))
    assert first == snapshot(build([1, 2, 0]))
    entries = first[0]
    assert entries == sorted(entries)
    assert ("tree-loss", "acme") in entries
    assert ("tree-loss", "bolt") in entries


# -- specs ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["Bad Name", "UPPER", "-leading", "", "spa ce", "a/b"])
def test_spec_names_must_be_lower_case_identifiers(name: str) -> None:
    with pytest.raises(ValueError, match=rf"LossSpec.name must be a lower-case name.*got {name!r}"):
        LossSpec(name=name, factory=build_cross_entropy, summary="x")


@pytest.mark.parametrize("name", ["tree-loss", "a", "v2.loss_x", "0-one"])
def test_valid_spec_names(name: str) -> None:
    assert LossSpec(name=name, factory=build_cross_entropy, summary="x").name == name


def test_auto_is_a_reserved_backend_name() -> None:
    with pytest.raises(ValueError, match=r"'auto' is reserved"):
        BackendSpec(name="auto", factory=Backend, summary="x")


@pytest.mark.parametrize("needs", ["tree", "Hierarchy", "similarities", 3])
def test_loss_needs_must_be_a_structure_kind(needs: Any) -> None:
    with pytest.raises(
        ValueError,
        match=rf"LossSpec.needs must be one of hierarchy, similarity, embedding or None, got {needs!r}",
    ):
        LossSpec(name="x", factory=build_cross_entropy, summary="x", needs=needs)


def test_structure_kind_is_validated() -> None:
    with pytest.raises(ValueError, match=r"StructureSpec.kind must be one of"):
        StructureSpec(name="x", factory=lambda c: None, summary="x", kind="graph")  # type: ignore[arg-type]


def test_spec_factory_must_be_callable_and_summary_a_string() -> None:
    with pytest.raises(TypeError, match="factory"):
        LossSpec(name="x", factory="not callable", summary="x")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="summary"):
        LossSpec(name="x", factory=build_cross_entropy, summary=None)  # type: ignore[arg-type]


def test_kernel_spec_name_and_validation() -> None:
    spec = KernelSpec(op="smooth-topk", backend="triton", factory=lambda: abs, summary="x")
    assert spec.name == "smooth-topk@triton"
    with pytest.raises(ValueError, match=r"KernelSpec.backend must be a lower-case name"):
        KernelSpec(op="op", backend="Triton", factory=lambda: abs, summary="x")


# -- backends -------------------------------------------------------------------------------
class FakeBackend(Backend):
    """A backend that can be made unavailable or restricted to some device types."""

    def __init__(self, name: str, reason: str | None = None, devices: tuple[str, ...] = ("cpu",)):
        self.name = name
        self.reason = reason
        self.devices = devices

    def unavailable_reason(self) -> str | None:
        return self.reason

    def supports(self, device: torch.device) -> bool:
        return device.type in self.devices


class CountingFactory:
    """A kernel factory that counts how often it was called."""

    def __init__(self, tag: str) -> None:
        self.tag = tag
        self.calls = 0

    def __call__(self) -> Callable[[torch.Tensor], str]:
        self.calls += 1
        return lambda x: self.tag


def backend_host(
    *,
    reason: str | None = None,
    devices: tuple[str, ...] = ("cpu",),
    fast_ops: tuple[str, ...] = ("double",),
    torch_ops: tuple[str, ...] = ("double",),
) -> tuple[PluginHost, dict[str, CountingFactory]]:
    factories = {f"{op}@fast": CountingFactory(f"{op}@fast") for op in fast_ops}
    factories.update({f"{op}@torch": CountingFactory(f"{op}@torch") for op in torch_ops})
    plugin = make_plugin(
        "fast",
        structloss_backends=lambda: [
            BackendSpec(
                name="fast",
                factory=lambda: FakeBackend("fast", reason, devices),
                summary="fast",
                priority=10,
            ),
            BackendSpec(
                name="slow", factory=lambda: FakeBackend("slow"), summary="slow", priority=-5
            ),
        ],
        structloss_kernels=lambda: [
            KernelSpec(op=key.split("@")[0], backend=key.split("@")[1], factory=f, summary=key)
            for key, f in factories.items()
        ],
    )
    return make_host((plugin, PluginInfo("fast", "fast-dist", "1.0"))), factories


def test_auto_picks_the_highest_priority_backend_with_a_kernel() -> None:
    host, _ = backend_host()
    backend = host.backend("auto")
    assert backend.name == "auto"
    assert backend.ops() == ["double"]
    assert backend.select("double", "cpu") == "fast"
    assert backend.kernel("double", torch.device("cpu"))(None) == "double@fast"
    assert host.backend().name == "auto"


def test_auto_falls_back_to_torch_when_the_fast_backend_is_unavailable() -> None:
    host, factories = backend_host(reason="needs the fastlib package")
    backend = host.backend("auto")
    assert backend.select("double", "cpu") == "torch"
    assert backend.kernel("double", "cpu")(None) == "double@torch"
    assert factories["double@fast"].calls == 0


def test_auto_falls_back_to_torch_when_the_fast_backend_does_not_support_the_device() -> None:
    host, _ = backend_host(devices=("cuda",))
    backend = host.backend("auto")
    assert backend.select("double", "cpu") == "torch"
    assert backend.select("double", "meta") == "torch"


def test_auto_uses_the_only_backend_with_a_kernel_for_the_op() -> None:
    host, _ = backend_host(fast_ops=("double",), torch_ops=())
    assert host.backend("auto").select("double", "cpu") == "fast"
    host, _ = backend_host(fast_ops=(), torch_ops=("double",))
    assert host.backend("auto").select("double", "cpu") == "torch"


@pytest.mark.parametrize(
    ("options", "backend", "op", "message"),
    [  # auto, with no runnable kernel, says where kernels exist
        ({"devices": ("cuda",), "torch_ops": ()}, "auto", "double",
         r"no available backend runs op 'double' on cpu tensors; kernels exist for: fast"),
        # a named backend without the op names the backends that have it
        ({"fast_ops": ("double", "fancy")}, "torch", "fancy",
         r"backend 'torch' has no kernel for op 'fancy'; backends that do: fast"),
    ],
)  # fmt: skip
def test_a_missing_kernel_says_which_backends_have_it(
    options: dict[str, Any], backend: str, op: str, message: str
) -> None:
    host, _ = backend_host(**options)
    with pytest.raises(BackendUnavailableError, match=message):
        host.backend(backend).kernel(op, "cpu")


def test_a_named_backend_is_used_even_when_a_higher_priority_one_exists() -> None:
    host, _ = backend_host()
    backend = host.backend("torch")
    assert backend.name == "torch"
    assert backend.select("double", "cpu") == "torch"


def test_a_named_unavailable_backend_raises_at_resolution() -> None:
    host, _ = backend_host(reason="needs the fastlib package")
    with pytest.raises(
        BackendUnavailableError,
        match=r"backend 'fast' cannot run here: needs the fastlib package\. Use backend 'auto' or 'torch'",
    ):
        host.backend("fast")
    with pytest.raises(BackendUnavailableError, match="needs the fastlib package"):
        compose_ce(host, backend={"name": "fast"})


def test_a_named_backend_that_does_not_support_the_device() -> None:
    host, _ = backend_host(devices=("cuda",))
    backend = host.backend("fast")
    with pytest.raises(
        BackendUnavailableError,
        match=r"backend 'fast' cannot run op 'double' on cpu tensors;.*'auto'",
    ):
        backend.kernel("double", "cpu")


def test_an_unknown_backend_lists_the_available_ones() -> None:
    host, _ = backend_host()
    with pytest.raises(
        UnknownComponentError,
        match=r"unknown backend 'fats'; did you mean 'fast'\? Available: fast, slow, torch\.",
    ):
        host.backend("fats")


def test_an_unknown_op_is_a_clear_error() -> None:
    host, _ = backend_host()
    with pytest.raises(
        BackendUnavailableError,
        match=r"no kernel implements op 'tripple'; ops with kernels: double\. Install",
    ):
        host.backend("auto").kernel("tripple", "cpu")


def test_kernels_are_loaded_once() -> None:
    host, factories = backend_host()
    backend = host.backend("auto")
    first = backend.kernel("double", "cpu")
    assert backend.kernel("double", torch.device("cpu")) is first
    assert backend.kernel("double", "cpu") is first
    assert factories["double@fast"].calls == 1
    assert factories["double@torch"].calls == 0


def test_a_backend_whose_factory_fails() -> None:
    def explode() -> Backend:
        raise OSError("driver missing")

    plugin = make_plugin(
        "bad-backend",
        structloss_backends=lambda: [
            BackendSpec(name="broken", factory=explode, summary="x", priority=99)
        ],
        structloss_kernels=lambda: [
            KernelSpec(op="double", backend="broken", factory=lambda: abs, summary="x"),
            KernelSpec(op="double", backend="torch", factory=lambda: abs, summary="x"),
        ],
    )
    host = make_host((plugin, PluginInfo("bad-backend")))
    assert host.backend("auto").select("double", "cpu") == "torch"
    with pytest.raises(
        ComponentBuildError, match=r"backend 'broken' failed to start: driver missing"
    ):
        host.backend("broken")


def test_backends_are_not_started_until_resolution() -> None:
    started: list[str] = []

    def start() -> Backend:
        started.append("lazy")
        return FakeBackend("lazy")

    plugin = make_plugin(
        "lazy",
        structloss_backends=lambda: [BackendSpec(name="lazy", factory=start, summary="x")],
    )
    host = make_host((plugin, PluginInfo("lazy")))
    assert host.registry.names("backend") == ["lazy", "torch"]
    assert started == []
    host.backend("auto")
    assert started == ["lazy"]


def test_two_plugins_providing_one_kernel_fail_when_it_is_used() -> None:
    class First:
        @staticmethod
        @hookimpl
        def structloss_kernels():
            yield KernelSpec(op="op-a", backend="torch", factory=lambda: abs, summary="one")
            yield KernelSpec(op="op-b", backend="torch", factory=lambda: min, summary="b")

    class Second:
        @staticmethod
        @hookimpl
        def structloss_kernels():
            yield KernelSpec(op="op-a", backend="torch", factory=lambda: max, summary="two")

    host = PluginHost(entry_points=[], env={})
    host.register(First(), PluginInfo("first", "first-dist", "1.0"))
    host.register(Second(), PluginInfo("second", "second-dist", "2.0"))
    backend = host.backend("auto")
    assert backend.kernel("op-b", "cpu") is min
    with pytest.raises(
        DuplicateComponentError, match=r"kernel 'op-a@torch'.*first-dist.*second-dist"
    ):
        backend.kernel("op-a", "cpu")


def test_duplicate_backend_names_do_not_break_auto_for_others() -> None:
    class Clash:
        def __init__(self, summary: str) -> None:
            self.summary = summary

        @hookimpl
        def structloss_backends(self):
            yield BackendSpec(name="gpu-x", factory=Backend, summary=self.summary)

    host = PluginHost(entry_points=[], env={})
    host.register(Clash("a"), PluginInfo("a", "a-dist", "1"))
    host.register(Clash("b"), PluginInfo("b", "b-dist", "1"))
    resolved = host.backend("auto")
    assert "gpu-x" not in repr(resolved)
    with pytest.raises(DuplicateComponentError, match="gpu-x"):
        host.backend("gpu-x")


# -- the table of component kinds -----------------------------------------------------------
def test_the_kinds_table_names_exactly_the_hooks_of_hookspecs() -> None:
    from structloss import hookspecs
    from structloss.specs import COMPONENT_KINDS

    defined = {name for name in vars(hookspecs) if name.startswith("structloss_")}
    assert set(hookspecs.HOOK_NAMES) == defined
    assert tuple(info.hook for info in COMPONENT_KINDS) == hookspecs.HOOK_NAMES
    assert len(defined) == 5
    assert "five hooks" in (hookspecs.__doc__ or "")  # the docstring counts them right


def test_each_hook_is_annotated_with_the_spec_of_its_kind() -> None:
    from structloss import hookspecs
    from structloss.specs import COMPONENT_KINDS

    for info in COMPONENT_KINDS:
        returns = getattr(hookspecs, info.hook).__annotations__["return"]
        assert returns == f"Iterable[{info.spec.__name__}]", info.kind


def test_the_kind_literal_registry_and_report_follow_the_table() -> None:
    import typing

    from structloss.cli import plugins_report
    from structloss.registry import KINDS
    from structloss.specs import COMPONENT_KINDS, ComponentKind

    kinds = tuple(info.kind for info in COMPONENT_KINDS)
    assert typing.get_args(ComponentKind) == kinds == KINDS
    assert len({info.plural for info in COMPONENT_KINDS}) == len(kinds)
    row = plugins_report(make_host())["plugins"][0]
    assert {info.plural for info in COMPONENT_KINDS} <= set(row)


def test_unknown_component_messages_use_the_word_of_the_kind() -> None:
    host = make_host()
    with pytest.raises(UnknownComponentError, match="unknown structure provider 'nope'"):
        host.spec("structure", "nope")
    with pytest.raises(UnknownComponentError, match="unknown class list 'nope'"):
        host.spec("class-list", "nope")


def test_a_bad_option_value_is_an_option_error_and_a_config_error() -> None:
    from structloss.errors import ConfigError, OptionError

    config = {"classes": CLASSES, "loss": {"name": "cross-entropy", "label_smoothing": "0.1"}}
    with pytest.raises(OptionError, match=r"'label_smoothing' must be a number") as info:
        compose(config)
    assert isinstance(info.value, ConfigError)
    assert isinstance(info.value, ValueError)


def test_provides_is_a_hook_implementation_yielding_its_specs() -> None:
    from structloss import provides

    spec = LossSpec("short-form", build_cross_entropy, "cross-entropy, declared by provides")
    plugin = types.ModuleType("short_form_plugin")
    plugin.structloss_losses = provides(spec)  # type: ignore[attr-defined]
    host = PluginHost(entry_points=[], env={})
    assert host.register(plugin, PluginInfo(name="short-form"))
    assert host.spec("loss", "short-form") is spec
    loss = compose({"classes": ["a", "b"], "loss": "short-form"}, host=host)
    assert isinstance(loss, CrossEntropy) and loss.num_classes == 2


def test_assert_mentions_lists_what_a_message_lacks() -> None:
    assert_mentions(ValueError("alpha must be >= 0, got -1"), "alpha", "got -1")
    with pytest.raises(AssertionError, match=r"lacks \['beta'\]; it reads:\nalpha"):
        assert_mentions("alpha must be >= 0", "alpha", "beta")


def test_mixup_target_mixes_smoothed_one_hots_of_the_batch_and_its_reverse() -> None:
    y = torch.tensor([0, 2, 1, 1])
    q = mixup_target(y, 4, lam=0.7, smoothing=0.2, dtype=torch.float64)
    on, off = 1 - 0.2 + 0.05, 0.05  # timm: on = 1 - s + s / C, off = s / C
    expected = torch.full((4, 4), off, dtype=torch.float64)
    for row, (a, b) in enumerate(zip(y.tolist(), y.flip(0).tolist(), strict=True)):
        expected[row] = off
        expected[row, a] += 0.7 * (on - off)
        expected[row, b] += 0.3 * (on - off)
    torch.testing.assert_close(q, expected)
    torch.testing.assert_close(q.sum(1), torch.ones(4, dtype=torch.float64))
    assert mixup_target(y, 4, lam=1.0).dtype == torch.float32
