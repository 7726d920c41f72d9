"""What every label structure shares: validated class names and conversion by kind."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, ClassVar

from structloss.errors import IncompatibleStructureError, StructureError

__all__ = ["LabelStructure", "check_classes"]


def check_classes(classes: Iterable[str], *, what: str = "classes") -> tuple[str, ...]:
    """Validate class names: a non-empty sequence of distinct, non-empty strings.

    Args:
        classes: the class names, in label order.
        what: how messages name the list.

    Returns:
        The names as a tuple.

    Raises:
        StructureError: naming every duplicate or invalid entry.
    """
    if isinstance(classes, str):
        raise StructureError(f"{what} must be a list of names, got the single string {classes!r}")
    names = tuple(classes)
    if not names:
        raise StructureError(f"{what} is empty; give at least one class name")
    bad = [repr(n) for n in names if not isinstance(n, str) or not n]
    if bad:
        raise StructureError(f"{what} must be non-empty strings; invalid: {', '.join(bad)}")
    seen: set[str] = set()
    dupes = sorted({n for n in names if n in seen or seen.add(n)})  # type: ignore[func-returns-value]
    if dupes:
        raise StructureError(
            f"duplicate class names in {what}: {', '.join(map(repr, dupes))}; each class needs"
            " a unique name"
        )
    return names


class LabelStructure:
    """Base of every label structure: knows its classes and how to convert itself."""

    __slots__ = ()
    kind: ClassVar[str]
    classes: tuple[str, ...]

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)

    def convert(self, kind: str, **options: Any) -> LabelStructure:
        """Return this structure as ``kind`` (``hierarchy``, ``similarity``, ``embedding``).

        Args:
            kind: the wanted kind.
            **options: passed to the conversion (for example ``rule`` for a hierarchy).

        Raises:
            IncompatibleStructureError: when no conversion exists.
        """
        if kind == self.kind:
            if options:
                raise IncompatibleStructureError(
                    f"conversion options {sorted(options)} given, but the {self.kind} needs no"
                    " conversion; remove the [convert] table"
                )
            return self
        if kind == "similarity" and hasattr(self, "to_similarity"):
            return self.to_similarity(**options)  # type: ignore[no-any-return]
        ours, theirs = (("an " if k[:1] in "aeiou" else "a ") + k for k in (self.kind, kind))
        raise IncompatibleStructureError(
            f"{ours} cannot be converted to {theirs}; only hierarchies and embeddings convert"
            f" (to similarities). Use a structure provider that produces {theirs}"
        )
