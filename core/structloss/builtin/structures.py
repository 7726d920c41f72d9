"""Built-in structure providers ``flat`` and ``hierarchy-file``."""

from __future__ import annotations

from pathlib import Path

from structloss.errors import ConfigError
from structloss.hookspecs import provides
from structloss.specs import StructureContext, StructureSpec
from structloss.structures import Hierarchy


def build_flat(context: StructureContext, *, root: str = "root") -> Hierarchy:
    """Every class directly under one root node (the hierarchy that says nothing)."""
    if context.classes is None:
        raise ConfigError("structure provider 'flat' needs the class list; set `classes`")
    return Hierarchy.flat(context.classes, root=root)


def build_hierarchy_file(context: StructureContext, *, path: str) -> Hierarchy:
    """Read a hierarchy from a JSON file: a parent map or a nested tree.

    Args:
        path: the file, relative to the config file's directory. It holds
            ``{"parents": {node: parent, ...}}`` or ``{"name": ..., "children": [...]}``,
            optionally with ``"classes"`` giving the label order.

    When the config lists ``classes``, they fix the label order and must be exactly the
    tree's leaves; otherwise the file's order is used.
    """
    resolved = Path(context.base_dir, Path(path).expanduser())
    return Hierarchy.from_json(resolved, classes=context.classes)


structloss_structures = provides(
    StructureSpec(
        "flat", build_flat, "no structure: every class directly under the root", "hierarchy"
    ),
    StructureSpec(
        "hierarchy-file",
        build_hierarchy_file,
        "a class tree from a JSON file (parent map or nested tree)",
        kind="hierarchy",
    ),
)
