"""A griffe extension: Sphinx-style markup in docstrings, rendered as Markdown.

The core's docstrings use reST roles (``:class:`Hierarchy```) and literal-block colons
(``Example::``). Markdown shows both verbatim, so this turns roles into code spans
(``~a.b.c`` shows ``c``) and ``::`` at the end of a line into ``:`` (the indented block after
it is already a Markdown code block). Registered in ``mkdocs.yml`` under the python handler's
``extensions``.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj|py:\w+):`(~?)([^`]+)`")
LITERAL_COLONS = re.compile(r"(?<=\S)::$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    return f"`{target.rsplit('.', 1)[-1] if short else target}`"


def to_markdown(text: str) -> str:
    """Return ``text`` with reST roles as code spans and literal-block ``::`` as ``:``."""
    return LITERAL_COLONS.sub(":", ROLE.sub(_role, text))


class RestToMarkdown(griffe.Extension):
    """Rewrite each object's docstring with :func:`to_markdown`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        """Rewrite ``obj``'s docstring, if it has one."""
        if obj.docstring is not None:
            obj.docstring.value = to_markdown(obj.docstring.value)
