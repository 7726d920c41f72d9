"""Every exception structloss raises, in one place.

All of them derive from :class:`StructlossError`, so ``except StructlossError`` catches any
problem the library reports. Each message names the culprit and says how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BackendUnavailableError",
    "ComponentBuildError",
    "ConfigError",
    "DuplicateComponentError",
    "IncompatibleStructureError",
    "InputError",
    "OptionError",
    "PluginLoadError",
    "StructlossError",
    "StructureError",
    "UnknownComponentError",
    "UnknownOptionError",
    "closest",
    "sentence",
]


class StructlossError(Exception):
    """Base class of every error raised by structloss and its plugins."""


class ConfigError(StructlossError, ValueError):
    """A configuration (dict or TOML file) is malformed."""


class UnknownComponentError(ConfigError, LookupError):
    """A config names a structure provider, loss, backend or kernel that is not registered."""


class UnknownOptionError(ConfigError, TypeError):
    """A config passes an option that the named component does not accept."""


class PluginLoadError(StructlossError, ImportError):
    """A plugin could not be imported or registered."""


class DuplicateComponentError(StructlossError):
    """Two plugins register a component under the same name."""


class StructureError(StructlossError, ValueError):
    """A label structure (hierarchy, similarity, embedding) is invalid."""


class IncompatibleStructureError(StructureError):
    """A loss needs a kind of structure that the configured one cannot be converted to."""


class ComponentBuildError(StructlossError):
    """A component's factory failed for a reason that is not a structloss error."""


class BackendUnavailableError(StructlossError, RuntimeError):
    """A compute backend or kernel was requested where it cannot run."""


class InputError(StructlossError, ValueError):
    """A loss received outputs or targets of the wrong shape, dtype or range.

    This is about what a loss is called with; a bad constructor option is an
    :class:`OptionError`.
    """


class OptionError(ConfigError, InputError):
    """An option of a component has a bad value: the wrong type, or out of its range.

    Raised for the options a config (or a Python caller) passes to a structure provider,
    loss, conversion or a lab table (``[train]``, ``[model]``, ``[data]``), e.g.
    ``label_smoothing = "0.1"`` (a string, not a number) or ``label_smoothing = 2`` (outside
    [0, 1]). The message names the component, the option, the value and what it must be.
    It is the one class every component raises for this. It derives from both
    :class:`ConfigError` and :class:`InputError`, the two classes such errors used to be,
    so code catching either keeps working. An option the component does not take at all is
    an :class:`UnknownOptionError`.
    """


def closest(word: str, choices: Iterable[str]) -> str:
    """Return a ``"; did you mean 'x'?"`` suffix for the closest choice, or ``""``.

    Args:
        word: what the user wrote.
        choices: the valid spellings.

    Returns:
        A message suffix, empty when nothing is close.
    """
    match = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean '{match[0]}'?" if match else ""


def sentence(text: str) -> str:
    """End ``text`` with a full stop unless it already ends a sentence."""
    return text if text.endswith((".", "?", "!")) else text + "."


def choice_list(choices: Iterable[str]) -> str:
    """Format valid names as ``a, b, c`` (sorted), or ``(none)``."""
    names = sorted(choices)
    return ", ".join(names) if names else "(none)"
