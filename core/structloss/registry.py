"""Name -> spec tables for each kind of component, with collisions and helpful misses."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import attrs

from structloss.errors import (
    DuplicateComponentError,
    UnknownComponentError,
    choice_list,
    closest,
)
from structloss.specs import COMPONENT_KINDS, ComponentKind

__all__ = ["KINDS", "ComponentKind", "PluginFailure", "PluginInfo", "Registered", "Registry"]

KINDS: tuple[ComponentKind, ...] = tuple(info.kind for info in COMPONENT_KINDS)
"""Every component kind (from :data:`structloss.specs.COMPONENT_KINDS`)."""
_CONFIG_WORD = {info.kind: info.config_word for info in COMPONENT_KINDS}


@attrs.frozen
class PluginInfo:
    """A loaded plugin: its registration name and the distribution that ships it."""

    name: str
    distribution: str | None = None
    version: str | None = None
    builtin: bool = False

    def describe(self) -> str:
        """Return ``"name (distribution version)"`` for messages."""
        if self.distribution is None:
            return f"plugin {self.name!r}"
        return f"plugin {self.name!r} ({self.distribution} {self.version or ''})".replace(" )", ")")


@attrs.frozen
class PluginFailure:
    """A plugin that could not be loaded, or whose hook failed, and why."""

    plugin: PluginInfo
    stage: str
    error: BaseException = attrs.field(eq=False)

    @property
    def message(self) -> str:
        """The error as ``"Type: text"``."""
        return f"{type(self.error).__name__}: {self.error}"

    def describe(self) -> str:
        """Return a one-line description for messages and ``structloss plugins``."""
        return f"{self.plugin.describe()} failed at {self.stage}: {self.message}"


@attrs.frozen
class Registered:
    """A spec together with the plugin that provided it."""

    spec: Any
    plugin: PluginInfo


class Registry:
    """Specs by kind and name. Built by the plugin host; read by ``compose``.

    Collisions are kept, not resolved: asking for a name two plugins provide raises
    :class:`DuplicateComponentError` naming both.
    """

    def __init__(self, failures: Iterable[PluginFailure] = ()) -> None:
        self._table: dict[str, dict[str, list[Registered]]] = {kind: {} for kind in KINDS}
        self.failures: tuple[PluginFailure, ...] = tuple(failures)

    def add(self, kind: ComponentKind, spec: Any, plugin: PluginInfo) -> None:
        """Record ``spec`` of ``kind`` provided by ``plugin``."""
        regs = self._table[kind].setdefault(spec.name, [])
        regs.append(Registered(spec, plugin))
        regs.sort(key=lambda r: r.plugin.name)  # collisions read the same in any load order

    def names(self, kind: ComponentKind) -> list[str]:
        """Return the registered names of ``kind``, sorted."""
        return sorted(self._table[kind])

    def entries(self, kind: ComponentKind) -> list[Registered]:
        """Return every registration of ``kind``, sorted by name then plugin."""
        rows = [r for regs in self._table[kind].values() for r in regs]
        return sorted(rows, key=lambda r: (r.spec.name, r.plugin.name))

    def providers(self, kind: ComponentKind, name: str) -> list[Registered]:
        """Return every registration of ``name`` (more than one is a collision)."""
        return list(self._table[kind].get(name, ()))

    def collisions(self) -> list[tuple[ComponentKind, str, list[Registered]]]:
        """Return every (kind, name, registrations) provided more than once."""
        return [
            (kind, name, regs)
            for kind in KINDS
            for name, regs in sorted(self._table[kind].items())
            if len(regs) > 1
        ]

    def get(self, kind: ComponentKind, name: str) -> Any:
        """Return the spec registered as ``name``.

        Raises:
            UnknownComponentError: listing the available names, the closest one, and any
                installed plugin that failed to load and might provide it.
            DuplicateComponentError: when two plugins provide ``name``.
        """
        regs = self._table[kind].get(name)
        if not regs:
            raise self._unknown(kind, name)
        if len(regs) > 1:
            raise duplicate_error(kind, name, regs)
        return regs[0].spec

    def _unknown(self, kind: ComponentKind, name: str) -> UnknownComponentError:
        word = _CONFIG_WORD[kind]
        message = (
            f"unknown {word} {name!r}{closest(str(name), self._table[kind]) or '.'}"
            f" Available: {choice_list(self._table[kind])}."
        )
        suspects = sorted(self.failures, key=lambda f: _relevance(name, f), reverse=True)
        if suspects:
            lines = "\n".join(f"  - {f.describe()}" for f in suspects)
            message += (
                f"\nThese installed plugins failed to load and may provide it:\n{lines}\n"
                "Fix or reinstall the plugin (or disable it with STRUCTLOSS_DISABLE_PLUGINS)."
            )
        else:
            message += " Is the plugin that provides it installed? `structloss plugins` lists them."
        error = UnknownComponentError(message)
        if suspects:
            error.__cause__ = suspects[0].error
        return error


def _relevance(name: str, failure: PluginFailure) -> int:
    labels = (failure.plugin.name, failure.plugin.distribution or "")
    return int(any(name in label or label.endswith(name) for label in labels))


def duplicate_error(kind: str, name: str, regs: list[Registered]) -> DuplicateComponentError:
    """Return the error for ``name`` being provided by every plugin in ``regs``."""
    who = " and ".join(r.plugin.describe() for r in regs)
    disable = ",".join(r.plugin.name for r in regs if not r.plugin.builtin)
    return DuplicateComponentError(
        f"{_CONFIG_WORD.get(kind, kind)} {name!r} is provided by both {who}. Uninstall one of"
        f" them, or disable one with STRUCTLOSS_DISABLE_PLUGINS (plugins: {disable or 'none'})"
    )
