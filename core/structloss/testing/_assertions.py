"""How the checks fail: one ``AssertionError`` style, naming the check and the culprit."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

RTOL, ATOL = 1e-5, 1e-6
"""The default tolerances of :func:`close`."""


def fail(who: str, message: str) -> AssertionError:
    """Return the ``AssertionError`` ``"who: message"`` for the caller to raise."""
    return AssertionError(f"{who}: {message}")


def close(who: str, what: str, actual: Tensor, expected: Tensor, **tolerance: float) -> None:
    """Raise :func:`fail` ``(who, what)`` with torch's report unless the tensors are close."""
    try:
        torch.testing.assert_close(
            actual.detach().cpu(),
            expected.detach().cpu(),
            rtol=tolerance.get("rtol", RTOL),
            atol=tolerance.get("atol", ATOL),
            check_dtype=False,
        )
    except AssertionError as exc:
        raise fail(who, f"{what}\n{exc}") from None


def call(who: str, what: str, function: Callable[..., Any], *args: Any) -> Any:
    """Return ``function(*args)``; an exception becomes :func:`fail` naming ``what``."""
    try:
        return function(*args)
    except Exception as exc:
        raise fail(who, f"{what} raised {type(exc).__name__}: {exc}") from exc


def assert_mentions(message: object, *parts: str) -> None:
    """Assert that ``message`` (an exception or a string) contains every one of ``parts``.

    For tests of error messages: the failure lists each missing part and the whole message.
    """
    text = str(message)
    missing = [part for part in parts if part not in text]
    if missing:
        raise AssertionError(f"the message lacks {missing!r}; it reads:\n{text}")
