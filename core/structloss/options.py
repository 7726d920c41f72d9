"""Type checks for option values, read from a factory's annotations.

Config values come from TOML or a dict, so a typo such as ``label_smoothing = "0.1"`` or
``epochs = 1.5`` must fail with a message naming the option, the value and the type it
needs, instead of being coerced or failing deep inside torch. :func:`check_types` reads the
annotations of the function that receives the options and checks each value against them.
It understands the annotations options use (``int``, ``float``, ``bool``, ``str``,
``Literal``, unions, ``None``, sequences and mappings of those); any other annotation
(``Any``, a tensor, a class of a plugin) is accepted as is, so a factory never gets stricter
than it asked to be. Ranges stay the constructors' business.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

from structloss.errors import OptionError

__all__ = ["check_types", "check_value", "describe", "matches"]

_UNCHECKED = object()


def _hints(func: Callable[..., Any]) -> dict[str, Any]:
    """The resolved annotations of ``func`` (empty when they cannot be resolved)."""
    while isinstance(func, partial):
        func = func.func
    # a class: its field annotations (attrs) and its constructor's
    targets = [func, func.__init__] if inspect.isclass(func) else [func]  # type: ignore[misc]
    hints: dict[str, Any] = {}
    for target in targets:
        try:
            hints.update(typing.get_type_hints(target))
        except Exception:  # an annotation naming a type imported only for type checkers
            continue
    return hints


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` fits the annotation ``hint`` (unknown annotations always fit)."""
    if hint is Any or hint is _UNCHECKED or isinstance(hint, typing.TypeVar):
        return True
    if hint is None or hint is type(None):
        return value is None
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin is typing.Union or origin is types.UnionType:
        return any(matches(value, arg) for arg in args)
    if origin is typing.Literal:
        return any(value == arg and type(value) is type(arg) for arg in args)
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return _is_int(value)
    if hint is float:
        return _is_number(value)
    if hint is str:
        return isinstance(value, str | os.PathLike)  # path options take a Path too
    if origin in (list, tuple, Sequence, typing.Sequence) or hint in (list, tuple, Sequence):
        if isinstance(value, str | bytes) or not isinstance(value, Sequence):
            return _array_like(value)
        if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
            args = (args[0],)
        elif origin is tuple and args:
            return len(value) == len(args) and all(map(matches, value, args))
        return not args or all(matches(item, args[0]) for item in value)
    if origin in (dict, Mapping, typing.Mapping) or hint in (dict, Mapping):
        if not isinstance(value, Mapping):
            return False
        if len(args) == 2:
            return all(matches(k, args[0]) and matches(v, args[1]) for k, v in value.items())
        return True
    return True  # a tensor, a callable, a plugin's own class: not ours to judge


def _array_like(value: Any) -> bool:
    """A numpy array or tensor passed where a sequence is annotated (Python API callers)."""
    return hasattr(value, "shape") and hasattr(value, "dtype")


def describe(hint: Any) -> str:
    """A readable name for an annotation: ``a number``, ``a list of numbers``, ``'a' or 'b'``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is None or hint is type(None):
        return "none (leave it out)"
    if origin is typing.Union or origin is types.UnionType:
        named = [describe(a) for a in args if a is not type(None)]
        return " or ".join(dict.fromkeys(named))
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    simple = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    if hint in simple:
        return simple[hint]
    if origin in (list, tuple, Sequence, typing.Sequence):
        inner = args[0] if args else Any
        return "a list" if inner is Any else f"a list of {_plural(describe(inner))}"
    if origin in (dict, Mapping, typing.Mapping):
        return "a table"
    return getattr(hint, "__name__", str(hint))


def _plural(text: str) -> str:
    for single, many in (
        ("an integer", "integers"),
        ("a number", "numbers"),
        ("a string", "strings"),
        ("true or false", "booleans"),
    ):
        text = text.replace(single, many)
    return text


def check_value(what: str, name: str, value: Any, hint: Any) -> None:
    """Raise :class:`OptionError` when ``value`` does not fit ``hint``.

    NaN never fits a number option (infinity may: some options mean it).

    Raises:
        OptionError: naming ``what``, the option, the value and the type it needs.
    """
    ok = matches(value, hint)
    if ok and _is_number(value) and not _is_int(value) and math.isnan(value):
        ok = False
    if not ok:
        shown = repr(value) if len(repr(value)) <= 80 else repr(value)[:77] + "..."
        raise OptionError(
            f"{what}: option {name!r} must be {describe(hint)}, got {shown}"
            f" ({type(value).__name__})"
            + ("; write it without quotes" if isinstance(value, str) and _numeric(value) else "")
        )


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def check_types(what: str, func: Callable[..., Any], options: Mapping[str, Any]) -> None:
    """Check every value in ``options`` against the annotation of ``func``'s parameter.

    Args:
        what: how the error names the component, e.g. ``"loss 'cross-entropy'"``.
        func: the factory, class or function that receives ``options`` as keywords.
        options: option name -> value; names ``func`` does not annotate are not checked.

    Raises:
        OptionError: for the first value of the wrong type.
    """
    hints = _hints(func)
    for name, value in options.items():
        if name in hints:
            check_value(what, name, value, hints[name])
