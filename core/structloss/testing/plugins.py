"""``check_plugin``: a hooks module registers cleanly and everything it provides works."""

from __future__ import annotations

import importlib
import inspect
from collections.abc import Mapping, Sequence
from importlib import metadata
from typing import Any

import torch

from structloss.backends import Backend
from structloss.config import build_structure, compose, factory_options
from structloss.errors import StructlossError
from structloss.hookspecs import HOOK_NAMES
from structloss.objective import Objective
from structloss.plugins import ENTRY_POINT_GROUP, PluginHost
from structloss.registry import KINDS, PluginInfo
from structloss.structures import check_classes
from structloss.testing._assertions import call, fail
from structloss.testing.examples import DEFAULT_CLASSES, example_structure
from structloss.testing.losses import check_loss
from structloss.testing.structures import check_structure

__all__ = ["check_plugin", "isolated_host"]


def check_plugin(
    plugin: object | str,
    *,
    classes: Sequence[str] = DEFAULT_CLASSES,
    structures: Mapping[str, Mapping[str, Any] | None] | None = None,
    losses: Mapping[str, Mapping[str, Any] | None] | None = None,
    labels: Any = None,
    requires: Sequence[object | str] = (),
    in_features: int = 8,
    batch: int = 4,
) -> PluginHost:
    """Register a hooks module on a fresh host and check everything it provides.

    The module is registered on ``PluginHost(entry_points=[], env={})`` (the built-ins and
    nothing else installed), so the check does not depend on what else is installed. Then:
    registration succeeds and every hook is marked ``@structloss.hookimpl``; every hook yields
    valid specs of its kind with a one-line summary and no name clashes with the built-ins;
    every structure provider builds for ``classes`` and passes :func:`check_structure` with its
    declared kind; every loss composes for ``classes`` (with :func:`example_structure` of the
    kind it ``needs``), agrees with its spec on ``multilabel`` and passes :func:`check_loss`;
    every backend starts and answers ``unavailable_reason()`` and ``supports()``; every
    kernel names a registered backend and, where that backend can run, loads a callable;
    every class list gives distinct names.

    Args:
        plugin: the hooks module (or object), or its import path (``"my_plugin.hooks"``).
        classes: class names that losses are composed for and providers build structures for.
        structures: options per structure provider (``{"my-tree": {"depth": 2}}``); ``None``
            as a provider's value skips it. A provider with required options must be listed.
        losses: options per loss (``{"my-loss": {"margin": 0.5}}``); ``None`` skips that loss.
        labels: training labels passed to structure providers that learn from data (the
            ``labels`` of :class:`~structloss.StructureContext`).
        requires: plugins registered first (hooks modules or import paths), such as one
            that provides the backend this plugin's kernels are for.
        in_features: passed to :func:`check_loss`.
        batch: passed to :func:`check_loss`.

    Returns:
        The host with the plugin registered, for further checks.

    Raises:
        AssertionError: naming the first problem.
    """
    module = _load(plugin)
    who = f"check_plugin({_label(module)})"
    required = [(_load(other), PluginInfo(f"required-{i}")) for i, other in enumerate(requires)]
    host, under_test = _fresh_host(module, PluginInfo("plugin-under-test"), required)
    if host.failures:
        raise fail(who, "; ".join(f.describe() for f in host.failures))
    _check_hooks_marked(module, host, who)
    registry = host.registry
    if registry.failures:
        raise fail(who, "; ".join(f.describe() for f in registry.failures))
    for kind, name, regs in registry.collisions():
        raise fail(
            who,
            f"{kind} {name!r} is provided by {' and '.join(r.plugin.describe() for r in regs)};"
            " pick another name",
        )
    entries = {
        kind: [r.spec for r in registry.entries(kind) if r.plugin.name == under_test]
        for kind in KINDS
    }
    for kind, specs in entries.items():
        for spec in specs:
            _check_summary(spec, kind, who)
    for spec in entries["structure"]:
        _check_provider(spec, host, classes, structures or {}, labels, who)
    for spec in entries["loss"]:
        _check_plugin_loss(spec, host, classes, losses or {}, in_features, batch, who)
    for spec in entries["backend"]:
        _check_backend(spec, who)
    for spec in entries["kernel"]:
        _check_kernel(spec, host, who)
    for spec in entries["class-list"]:
        names = call(who, f"class list {spec.name!r}", spec.factory)
        try:
            check_classes(names, what=f"class list {spec.name!r}")
        except StructlossError as exc:
            raise fail(who, str(exc)) from exc
    return host


def isolated_host(plugin: object | str, *, requires: Sequence[object | str] = ()) -> PluginHost:
    """Return a fresh host with the built-ins and ``plugin`` registered, and nothing else.

    The host is ``PluginHost(entry_points=[], env={})``: neither the other installed plugins
    nor ``STRUCTLOSS_*`` variables change what a test sees. ``plugin`` (and each of
    ``requires``, registered first) is registered under the name, distribution and version of
    its installed entry point, as discovery would record it, or under ``plugin-under-test``
    (``required-0``, ...) when it is not installed. This is what the ``plugin_host`` fixture of
    :mod:`structloss.testing.fixtures` returns.

    Args:
        plugin: the hooks module (or object), or its import path (``"my_plugin.hooks"``).
        requires: plugins registered first (hooks modules or import paths).

    Returns:
        The host; build components on it with ``compose(config, host=host)``.

    Raises:
        AssertionError: when a plugin fails to register, with the reason.
    """
    module = _load(plugin)
    required = [
        (other, _installed_info(other, f"required-{i}"))
        for i, other in enumerate(map(_load, requires))
    ]
    host, _ = _fresh_host(module, _installed_info(module, "plugin-under-test"), required)
    if host.failures:
        raise fail(
            f"isolated_host({_label(module)})", "; ".join(f.describe() for f in host.failures)
        )
    return host


def _load(plugin: object | str) -> object:
    return importlib.import_module(plugin) if isinstance(plugin, str) else plugin


def _label(module: object) -> str:
    return getattr(module, "__name__", type(module).__name__)


def _installed_info(module: object, default: str) -> PluginInfo:
    """The entry point that names ``module`` as a :class:`PluginInfo`, else ``default``."""
    name = getattr(module, "__name__", None)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if ep.value == name:
            dist = ep.dist
            if dist is None:
                return PluginInfo(ep.name)
            return PluginInfo(ep.name, dist.metadata["Name"], dist.version)
    return PluginInfo(default)


def _fresh_host(
    module: object, info: PluginInfo, required: Sequence[tuple[object, PluginInfo]]
) -> tuple[PluginHost, str]:
    """A fresh host with ``required``, then ``module``; return it and ``module``'s name."""
    host = PluginHost(entry_points=[], env={})
    for other, other_info in required:
        if not host.pm.is_registered(other):  # a built-in is there already
            host.register(other, other_info)
    if host.pm.is_registered(module):  # a built-in module, such as structloss.builtin.losses
        return host, host.pm.get_name(module)
    host.register(module, info)
    return host, info.name


def _check_hooks_marked(module: object, host: PluginHost, who: str) -> None:
    callers = {caller.name for caller in host.pm.get_hookcallers(module) or ()}
    unmarked = [n for n in HOOK_NAMES if callable(getattr(module, n, None)) and n not in callers]
    if unmarked:
        raise fail(
            who,
            f"{', '.join(unmarked)} defined but not registered: decorate it with"
            " @structloss.hookimpl",
        )
    if not callers:
        raise fail(who, f"implements none of the hooks {', '.join(HOOK_NAMES)}")


def _check_summary(spec: Any, kind: str, who: str) -> None:
    summary = spec.summary
    if not summary.strip() or "\n" in summary:
        raise fail(who, f"{kind} {spec.name!r} needs a one-line summary, got {summary!r}")
    if kind in ("structure", "loss"):
        params = list(inspect.signature(spec.factory).parameters.values())
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        if not params or params[0].kind not in positional:
            raise fail(
                who,
                f"the factory of {kind} {spec.name!r} must take the context as its first"
                " positional parameter: factory(context, **options)",
            )


def _check_provider(
    spec: Any,
    host: PluginHost,
    classes: Sequence[str],
    structures: Mapping[str, Mapping[str, Any] | None],
    labels: Any,
    who: str,
) -> None:
    if spec.name in structures and structures[spec.name] is None:
        return
    options = dict(structures.get(spec.name) or {})
    accepted = factory_options(spec.factory) or {}
    required = [n for n, p in accepted.items() if p.default is inspect.Parameter.empty]
    missing = [n for n in required if n not in options]
    if missing:
        raise fail(
            who,
            f"structure provider {spec.name!r} needs option(s) {', '.join(missing)}; pass"
            f" structures={{{spec.name!r}: {{...}}}} (or {{{spec.name!r}: None}} to skip it)",
        )
    config = {"classes": list(classes), "structure": {"provider": spec.name, **options}}
    try:
        structure = build_structure(config, labels=labels, host=host)
    except StructlossError as exc:
        raise fail(
            who, f"structure provider {spec.name!r} failed for classes {list(classes)}: {exc}"
        ) from exc
    assert structure is not None
    check_structure(structure, classes, kind=spec.kind)


def _check_plugin_loss(
    spec: Any,
    host: PluginHost,
    classes: Sequence[str],
    losses: Mapping[str, Mapping[str, Any] | None],
    in_features: int,
    batch: int,
    who: str,
) -> None:
    if spec.name in losses and losses[spec.name] is None:
        return
    options = dict(losses.get(spec.name) or {})
    structure = example_structure(spec.needs, classes) if spec.needs else None
    accepted = factory_options(spec.factory)
    takes_reduction = accepted is None or "reduction" in accepted

    def factory(**overrides: Any) -> Objective:
        reduction = None if takes_reduction else overrides.pop("reduction", None)
        config = {"classes": list(classes), "loss": {"name": spec.name, **options, **overrides}}
        made = compose(config, structure=structure, host=host)
        if reduction is not None:
            made.reduction = reduction
        return made

    try:
        objective = factory()
    except StructlossError as exc:
        raise fail(who, f"loss {spec.name!r} does not compose for {list(classes)}: {exc}") from exc
    if bool(objective.multilabel) != spec.multilabel:
        raise fail(
            who,
            f"loss {spec.name!r}: LossSpec.multilabel is {spec.multilabel} but the objective's"
            f" multilabel is {objective.multilabel}; make them agree",
        )
    check_loss(
        objective,
        in_features=in_features,
        batch=batch,
        multilabel=spec.multilabel,
        factory=factory,
    )


def _check_backend(spec: Any, who: str) -> None:
    backend = call(who, f"backend {spec.name!r} factory()", spec.factory)
    if not isinstance(backend, Backend):
        raise fail(
            who,
            f"backend {spec.name!r}: factory() returned {type(backend).__name__}, not a"
            " structloss.Backend",
        )
    reason = call(who, f"backend {spec.name!r} unavailable_reason()", backend.unavailable_reason)
    if reason is not None and not (isinstance(reason, str) and reason):
        raise fail(who, f"backend {spec.name!r}: unavailable_reason() must be None or a reason")
    supports = call(who, f"backend {spec.name!r} supports()", backend.supports, torch.device("cpu"))
    if not isinstance(supports, bool):
        raise fail(who, f"backend {spec.name!r}: supports(device) must return a bool")


def _check_kernel(spec: Any, host: PluginHost, who: str) -> None:
    if spec.backend not in host.registry.names("backend"):
        raise fail(
            who,
            f"kernel {spec.name!r} is for backend {spec.backend!r}, which neither this plugin"
            " nor structloss provides; pass the plugin that does as requires=[...]",
        )
    backend = host.registry.get("backend", spec.backend).factory()
    if backend.unavailable_reason() is not None:
        return
    function = call(who, f"kernel {spec.name!r} factory()", spec.factory)
    if not callable(function):
        raise fail(who, f"kernel {spec.name!r}: factory() must return a callable")
