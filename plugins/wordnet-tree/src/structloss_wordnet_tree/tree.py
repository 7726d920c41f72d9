"""From synsets to a tree: one hypernym path per class, their union, and collapse.

WordNet's hypernym graph (``@`` and ``@i`` pointers) is a DAG: a synset may have several
hypernyms. A path policy picks one hypernym for every synset, so each synset has exactly one
path to a root and the paths of any set of synsets nest: their union is always a tree.

- ``"longest"``: the hypernym with the longest path to a root (the most specific route,
  like WordNet's ``max_depth``);
- ``"shortest"``: the hypernym with the shortest path to a root (``min_depth``);
- ``"first"``: the first hypernym listed in ``data.noun``.

Ties go to the hypernym listed first in ``data.noun``, so trees are deterministic.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from structloss.errors import StructureError
from structloss.structures import Hierarchy
from structloss_wordnet_tree.database import WordNet

__all__ = ["PATH_POLICIES", "SYNTHETIC_ROOT", "HypernymPaths", "build_hierarchy"]

PATH_POLICIES: tuple[str, ...] = ("longest", "shortest", "first")

#: The name of the root added when the classes' paths end at more than one root synset.
SYNTHETIC_ROOT = "root"

_Node = tuple[str, int]  # ("synset", offset) | ("class", label) | ("root", 0)


class HypernymPaths:
    """One root-ward hypernym path per synset, chosen by a path policy.

    Args:
        db: the WordNet database.
        policy: ``"longest"``, ``"shortest"`` or ``"first"`` (see the module docstring).

    Raises:
        StructureError: for an unknown policy.
    """

    def __init__(self, db: WordNet, policy: str = "longest") -> None:
        if policy not in PATH_POLICIES:
            raise StructureError(
                f"unknown hypernym_path policy {policy!r}; choose one of: {', '.join(PATH_POLICIES)}"
            )
        self._db = db
        self.policy = policy
        self._depth: dict[int, int] = {}

    def depth(self, offset: int) -> int:
        """Return the longest (``"longest"``) or shortest (other policies) edge count to a root.

        Raises:
            StructureError: when the hypernym graph has a cycle through ``offset``.
        """
        done = self._depth
        stack = [offset]
        expanded: set[int] = set()
        while stack:
            node = stack[-1]
            if node in done:
                stack.pop()
                continue
            hypernyms = self._db.synset(node).hypernyms
            pending = [h for h in hypernyms if h not in done]
            if not pending:
                depths = [done[h] for h in hypernyms]
                done[node] = (
                    0
                    if not depths
                    else 1 + (max(depths) if self.policy == "longest" else min(depths))
                )
                expanded.discard(node)
                stack.pop()
                continue
            expanded.add(node)
            for h in pending:
                if h in expanded:  # everything above an expanded node descends from it
                    raise StructureError(
                        f"the hypernym graph of {self._db.source} has a cycle through"
                        f" {self._db.synset(h).wnid}; the database is corrupt, reinstall it"
                    )
                stack.append(h)
        return done[offset]

    def parent(self, offset: int) -> int | None:
        """Return the chosen hypernym of synset ``offset``, or None for a root."""
        hypernyms = self._db.synset(offset).hypernyms
        if not hypernyms:
            return None
        if self.policy == "first" or len(hypernyms) == 1:
            return hypernyms[0]
        # max and min return the first of equals: ties go to the hypernym listed first
        return (max if self.policy == "longest" else min)(hypernyms, key=self.depth)

    def path(self, offset: int) -> list[int]:
        """Return the chosen path from a root down to ``offset``, both included."""
        out = [offset]
        seen = {offset}
        parent = self.parent(offset)
        while parent is not None:
            if parent in seen:
                raise StructureError(
                    f"the hypernym graph of {self._db.source} has a cycle through"
                    f" {self._db.synset(parent).wnid}; the database is corrupt, reinstall it"
                )
            out.append(parent)
            seen.add(parent)
            parent = self.parent(parent)
        out.reverse()
        return out


def build_hierarchy(
    db: WordNet,
    classes: Sequence[str],
    offsets: Sequence[int],
    *,
    policy: str = "longest",
    collapse: bool = True,
) -> Hierarchy:
    """Build the class tree: the union of the classes' hypernym paths.

    Every class becomes a leaf, named by the class, under the node of its synset; so a class
    whose synset is a hypernym of another class's (``dog``, ``poodle``) still is a leaf
    (``dog`` under ``dog.n.01``). Internal nodes are named like nltk's synsets
    (``dog.n.01``); one whose name is also a class name gets `` (synset)`` appended. When
    the paths end at several roots, a node named ``root`` joins them.

    Args:
        db: the WordNet database.
        classes: class names in label order.
        offsets: the synset offset of each class (see :mod:`.mapping`).
        policy: the path policy (see the module docstring).
        collapse: remove every internal node with a single child (but not the root),
            attaching the child to the removed node's parent.

    Raises:
        StructureError: for an unknown policy or a corrupt database.
    """
    paths = HypernymPaths(db, policy)
    parent_of: dict[_Node, _Node | None] = {}
    for label, offset in enumerate(offsets):
        above: _Node | None = None
        for synset in paths.path(offset):
            node = ("synset", synset)
            parent_of.setdefault(node, above)
            above = node
        parent_of[("class", label)] = above
    roots = [node for node, parent in parent_of.items() if parent is None]
    root = roots[0]
    if len(roots) > 1:
        root = ("root", 0)
        parent_of = {
            root: None,
            **{n: (p if p is not None else root) for n, p in parent_of.items()},
        }
    if collapse:
        parent_of = _collapse(parent_of, root)
    names = _names(db, classes, parent_of)
    return Hierarchy.from_parents(
        classes,
        {names[n]: names[p] for n, p in parent_of.items() if p is not None},
    )


def _collapse(parent_of: dict[_Node, _Node | None], root: _Node) -> dict[_Node, _Node | None]:
    # removing a single-child node never changes another node's child count
    counts = Counter(p for p in parent_of.values() if p is not None)
    removed = {n for n in parent_of if n[0] == "synset" and n != root and counts[n] == 1}
    kept: dict[_Node, _Node | None] = {}
    for node, parent in parent_of.items():
        if node in removed:
            continue
        while parent is not None and parent in removed:
            parent = parent_of[parent]
        kept[node] = parent
    return kept


def _names(
    db: WordNet, classes: Sequence[str], parent_of: dict[_Node, _Node | None]
) -> dict[_Node, str]:
    taken = set(classes)
    names: dict[_Node, str] = {}
    for node in parent_of:
        kind, key = node
        if kind == "class":
            names[node] = classes[key]
            continue
        base = db.synset_name(key) if kind == "synset" else SYNTHETIC_ROOT
        name = (
            base if base not in taken else f"{base} ({'synset' if kind == 'synset' else 'wordnet'})"
        )
        names[node] = name
        taken.add(name)
    return names
