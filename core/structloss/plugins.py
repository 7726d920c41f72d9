"""The plugin host: built-ins, entry points, failures, and the registry they fill.

Built-in components are ordinary plugin modules (:data:`DEFAULT_PLUGINS`), registered exactly
like third-party ones. Entry points of the ``structloss`` group load one at a time; a plugin
that fails is recorded, not fatal (unless ``STRUCTLOSS_STRICT_PLUGINS=1``).

Environment variables:
    STRUCTLOSS_LOAD_PLUGINS: comma-separated entry-point or distribution names; when set,
        only these third-party plugins load (an empty value loads none).
    STRUCTLOSS_DISABLE_PLUGINS: comma-separated plugin or distribution names never loaded.
    STRUCTLOSS_STRICT_PLUGINS: ``1`` raises the first plugin failure or collision at load.
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Iterable, Mapping
from importlib import metadata
from typing import TYPE_CHECKING, Any

import pluggy

from structloss import hookspecs
from structloss.errors import ComponentBuildError, PluginLoadError, StructlossError, closest
from structloss.hookspecs import HOOK_NAMES, PROJECT
from structloss.registry import (
    KINDS,
    ComponentKind,
    PluginFailure,
    PluginInfo,
    Registry,
    duplicate_error,
)
from structloss.specs import COMPONENT_KINDS, KernelSpec

if TYPE_CHECKING:
    from structloss.backends import Backend, ComputeBackend

__all__ = [
    "DEFAULT_PLUGINS",
    "ENTRY_POINT_GROUP",
    "PluginHost",
    "default_host",
    "reset_default_host",
]

ENTRY_POINT_GROUP = PROJECT
DEFAULT_PLUGINS: tuple[str, ...] = (
    "structloss.builtin.backends",
    "structloss.builtin.losses",
    "structloss.builtin.structures",
)


def _names(value: str | None) -> set[str] | None:
    if value is None:
        return None
    return {part.strip() for part in value.split(",") if part.strip()}


class PluginHost:
    """A pluggy plugin manager plus what structloss needs around it.

    Args:
        entry_points: entry points to load instead of discovering the installed ones
            (tests pass fakes); None discovers the ``structloss`` group.
        builtins: register :data:`DEFAULT_PLUGINS`.
        env: environment to read the ``STRUCTLOSS_*`` variables from (default
            ``os.environ``).

    Raises:
        PluginLoadError: under ``STRUCTLOSS_STRICT_PLUGINS=1``, for the first failure.
    """

    def __init__(
        self,
        *,
        entry_points: Iterable[metadata.EntryPoint] | None = None,
        builtins: bool = True,
        env: Mapping[str, str] | None = None,
    ) -> None:
        env = os.environ if env is None else env
        self.strict = env.get("STRUCTLOSS_STRICT_PLUGINS", "") not in ("", "0")
        self._allow = _names(env.get("STRUCTLOSS_LOAD_PLUGINS"))
        self._deny = _names(env.get("STRUCTLOSS_DISABLE_PLUGINS")) or set()
        self.pm = pluggy.PluginManager(PROJECT)
        self.pm.add_hookspecs(hookspecs)
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []
        self.disabled: list[str] = []
        self._registry: Registry | None = None
        if builtins:
            for module in DEFAULT_PLUGINS:
                info = PluginInfo(module, "structloss", _version("structloss"), builtin=True)
                if self._blocked(info):
                    continue
                self._load(info, lambda module=module: importlib.import_module(module))
        if entry_points is None:
            entry_points = metadata.entry_points(group=ENTRY_POINT_GROUP)
        for ep in sorted(entry_points, key=lambda e: e.name):
            dist = getattr(ep, "dist", None)
            info = PluginInfo(
                ep.name,
                dist.metadata["Name"] if dist is not None else None,
                dist.version if dist is not None else None,
            )
            if self._blocked(info, third_party=True):
                continue
            self._load(info, ep.load)

    # -- loading ------------------------------------------------------------------------
    def _blocked(self, info: PluginInfo, *, third_party: bool = False) -> bool:
        labels = {info.name, info.distribution or ""}
        blocked = bool(labels & self._deny) or (
            third_party and self._allow is not None and not labels & self._allow
        )
        if blocked:
            self.disabled.append(info.name)
        return blocked

    def _load(self, info: PluginInfo, load: Any) -> None:
        try:
            plugin = load()
        except Exception as exc:
            self._fail(info, "import", exc)
            return
        self.register(plugin, info)

    def _fail(self, info: PluginInfo, stage: str, exc: BaseException) -> None:
        failure = PluginFailure(info, stage, exc)
        self.failures.append(failure)
        self._registry = None  # the registry reports failures: rebuild it
        if self.strict:
            raise PluginLoadError(
                f"{failure.describe()} (STRUCTLOSS_STRICT_PLUGINS is set)"
            ) from exc

    def register(self, plugin: object, info: PluginInfo | str) -> bool:
        """Register an in-process plugin (a module or object with hook implementations).

        Returns:
            True when registered; False when it was rejected (see :attr:`failures`).
        """
        if isinstance(info, str):
            info = PluginInfo(info)
        if info.name in self.plugins:
            self._fail(
                info,
                "registration",
                PluginLoadError(f"a plugin named {info.name!r} is already registered"),
            )
            return False
        try:
            self.pm.register(plugin, name=info.name)
        except Exception as exc:
            self._fail(info, "registration", exc)
            return False
        unknown = [c.name for c in self.pm.get_hookcallers(plugin) or () if c.spec is None]
        if unknown:
            self.pm.unregister(plugin)
            hints = "; ".join(f"{name!r}{closest(name, HOOK_NAMES)}" for name in unknown)
            self._fail(info, "registration", PluginLoadError(f"implements unknown hooks: {hints}"))
            return False
        self.plugins[info.name] = info
        self._registry = None
        return True

    # -- the registry -------------------------------------------------------------------
    @property
    def registry(self) -> Registry:
        """The specs every plugin provides, collected once (after the last registration)."""
        if self._registry is None:
            self._registry = self._collect()
        return self._registry

    def _collect(self) -> Registry:
        collected: list[tuple[ComponentKind, Any, PluginInfo]] = []
        failures = list(self.failures)
        for kind_info in COMPONENT_KINDS:
            hook_name, spec_type = kind_info.hook, kind_info.spec
            for impl in getattr(self.pm.hook, hook_name).get_hookimpls():
                info = self.plugins[impl.plugin_name]
                try:
                    specs = list(impl.function() or ())
                    for spec in specs:
                        if not isinstance(spec, spec_type):
                            raise PluginLoadError(
                                f"{hook_name} yielded {type(spec).__name__}, expected"
                                f" {spec_type.__name__}"
                            )
                except Exception as exc:
                    failure = PluginFailure(info, hook_name, exc)
                    failures.append(failure)
                    if self.strict:
                        raise PluginLoadError(failure.describe()) from exc
                    continue
                collected.extend((kind_info.kind, spec, info) for spec in specs)
        registry = Registry(failures)
        for kind, spec, info in collected:
            registry.add(kind, spec, info)
        if self.strict and registry.collisions():
            kind, name, regs = registry.collisions()[0]
            raise duplicate_error(kind, name, regs)
        return registry

    def spec(self, kind: ComponentKind, name: str) -> Any:
        """Return the spec of ``kind`` named ``name`` (see :meth:`Registry.get`)."""
        if kind not in KINDS:
            raise StructlossError(f"unknown component kind {kind!r}; choose one of {KINDS}")
        return self.registry.get(kind, name)

    def components(self, plugin: str) -> dict[str, list[str]]:
        """Return ``{kind: [names]}`` of what plugin ``plugin`` provides."""
        out: dict[str, list[str]] = {}
        for kind in KINDS:
            names = [r.spec.name for r in self.registry.entries(kind) if r.plugin.name == plugin]
            if names:
                out[kind] = names
        return out

    def backend(self, name: str = "auto") -> ComputeBackend:
        """Resolve backend ``name`` (or ``auto``) into a :class:`ComputeBackend`.

        Raises:
            UnknownComponentError: for an unknown backend name.
            BackendUnavailableError: when the named backend cannot run here.
        """
        from structloss.backends import ComputeBackend  # torch: only when a loss is built

        registry = self.registry
        if name != "auto":
            registry.get("backend", name)
        unique = [
            n for n in registry.names("backend") if len(registry.providers("backend", n)) == 1
        ]
        specs = sorted(
            (registry.get("backend", n) for n in unique), key=lambda s: (-s.priority, s.name)
        )
        backends: dict[str, Backend] = {}
        for spec in specs:
            try:
                backends[spec.name] = spec.factory()
            except Exception as exc:
                if spec.name == name:
                    raise ComponentBuildError(f"backend {name!r} failed to start: {exc}") from exc
        kernels: dict[tuple[str, str], KernelSpec | Exception] = {}
        for kernel_name in registry.names("kernel"):
            regs = registry.providers("kernel", kernel_name)
            spec = regs[0].spec
            if spec.backend in backends:
                clash = len(regs) > 1
                kernels[(spec.op, spec.backend)] = (
                    duplicate_error("kernel", kernel_name, regs) if clash else spec
                )
        return ComputeBackend(name, backends, kernels)


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


_DEFAULT: PluginHost | None = None


def default_host() -> PluginHost:
    """Return the process-wide host, built on first use from the installed plugins."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PluginHost()
    return _DEFAULT


def reset_default_host() -> None:
    """Forget the process-wide host, so the next use rediscovers plugins."""
    global _DEFAULT
    _DEFAULT = None
