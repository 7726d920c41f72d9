"""The :class:`Hierarchy`: a rooted tree whose leaves are the classes, and how to read one."""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Mapping, Sequence
from functools import cached_property
from pathlib import Path
from typing import Any, ClassVar

import attrs
import numpy as np

from structloss.errors import ConfigError, StructureError, closest
from structloss.structures.base import LabelStructure, check_classes
from structloss.structures.matrices import Similarity

__all__ = ["DISTANCES", "Hierarchy", "TreeSimilarity", "check_distance"]


def _tree_nodes(
    classes: tuple[str, ...], parents: Mapping[str, str]
) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Validate a parent map and return (nodes, parent indices), classes first."""
    children: dict[str, list[str]] = {}
    for child, parent in parents.items():
        if not isinstance(child, str) or not isinstance(parent, str) or not child or not parent:
            raise StructureError(
                f"parent map entries must be non-empty strings: {child!r}: {parent!r}"
            )
        children.setdefault(parent, []).append(child)
    names = set(parents) | set(children)
    roots = sorted(names - set(parents))
    _check_cycles(parents)
    if len(roots) != 1:
        found = ", ".join(map(repr, roots)) if roots else "none"
        raise StructureError(
            f"a hierarchy needs exactly one root (a node with no parent); found {found}."
            " Give the roots a common parent"
        )
    missing = [c for c in classes if c not in names]
    if missing:
        hints = "; ".join(f"'{c}'{closest(c, names)}" for c in missing)
        raise StructureError(f"classes missing from the hierarchy: {hints}")
    inner = [c for c in classes if c in children]
    if inner:
        detail = ", ".join(f"'{c}' (parent of '{children[c][0]}')" for c in inner)
        raise StructureError(
            f"classes must be leaves, but these have children: {detail}. Give each such class"
            " its own leaf under a differently named internal node"
        )
    class_set = set(classes)
    extra = sorted(n for n in names if n not in children and n not in class_set)
    if extra:
        raise StructureError(
            f"leaves that are not classes: {', '.join(map(repr, extra))}; every leaf must be"
            " a class: remove them or add them to the classes"
        )
    order = list(classes)
    queue = deque([roots[0]])
    while queue:
        node = queue.popleft()
        order.append(node)
        queue.extend(c for c in children.get(node, ()) if c not in class_set)
    index = {name: i for i, name in enumerate(order)}
    parent_index = tuple(index[parents[n]] if n in parents else -1 for n in order)
    return tuple(order), parent_index


def _check_cycles(parents: Mapping[str, str]) -> None:
    done: set[str] = set()
    for start in parents:
        trail: list[str] = []
        on_trail: set[str] = set()
        node: str | None = start
        while node is not None and node not in done:
            if node in on_trail:
                cycle = [*trail[trail.index(node) :], node]
                raise StructureError(f"the hierarchy has a cycle: {' -> '.join(cycle)}")
            trail.append(node)
            on_trail.add(node)
            node = parents.get(node)
        done.update(trail)


@attrs.frozen
class Hierarchy(LabelStructure):
    """A rooted tree whose leaves are exactly the classes, in label order.

    Nodes are named; ``nodes`` lists the classes first (so a node's index equals its label
    for leaves), then the internal nodes breadth-first from the root. Depth counts edges from
    the root (root depth 0); the height of a node is the longest distance down to a leaf.

    Build one with :meth:`from_parents`, :meth:`from_json` or :meth:`flat`.
    """

    kind: ClassVar[str] = "hierarchy"
    classes: tuple[str, ...]
    nodes: tuple[str, ...]
    parents: tuple[int, ...]

    def __attrs_post_init__(self) -> None:
        classes = check_classes(self.classes)
        if self.nodes[: len(classes)] != classes or len(self.parents) != len(self.nodes):
            raise StructureError(
                "Hierarchy fields are inconsistent; build it with Hierarchy.from_parents"
            )
        parent_map = {self.nodes[i]: self.nodes[p] for i, p in enumerate(self.parents) if p >= 0}
        if _tree_nodes(classes, parent_map) != (tuple(self.nodes), tuple(self.parents)):
            raise StructureError(
                "Hierarchy fields are inconsistent; build it with Hierarchy.from_parents"
            )

    # -- named constructors -------------------------------------------------------------
    @classmethod
    def from_parents(cls, classes: Sequence[str] | None, parents: Mapping[str, str]) -> Hierarchy:
        """Build from a map of every non-root node to its parent.

        Args:
            classes: class names in label order; None takes the leaves in the order they
                first appear in ``parents``.
            parents: ``{node: parent}`` for every node but the root.

        Raises:
            StructureError: on a cycle, several roots, a class that is missing or not a
                leaf, a leaf that is not a class, or duplicate classes.
        """
        if not isinstance(parents, Mapping):
            raise StructureError(
                f"parents must be a mapping of node to parent, got {type(parents).__name__}"
            )
        if classes is None:
            inner = set(parents.values())
            classes = [n for n in parents if n not in inner]
        names = check_classes(classes)
        nodes, parent_index = _tree_nodes(names, parents)
        return cls(classes=names, nodes=nodes, parents=parent_index)

    @classmethod
    def flat(cls, classes: Sequence[str], root: str = "root") -> Hierarchy:
        """Every class directly under one root: the hierarchy that says nothing."""
        names = check_classes(classes)
        return cls.from_parents(names, dict.fromkeys(names, root))

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], classes: Sequence[str] | None = None) -> Hierarchy:
        """Build from ``{"parents": {...}}`` or a nested ``{"name", "children"}`` tree.

        A ``"classes"`` list in ``data`` fixes the label order; an explicit ``classes``
        argument overrides it. Without either, leaves are taken in document order.
        """
        if not isinstance(data, Mapping):
            raise StructureError(
                f"a hierarchy document must be a JSON object, got {type(data).__name__}"
            )
        if classes is None and "classes" in data:
            classes = data["classes"]
        if "parents" in data:
            return cls.from_parents(classes, data["parents"])
        if "name" in data:
            parents: dict[str, str] = {}
            leaves: list[str] = []
            _flatten_nested(data, parents, leaves)
            return cls.from_parents(classes if classes is not None else leaves, parents)
        raise StructureError(
            "a hierarchy document needs a 'parents' map or a nested tree"
            ' {"name": ..., "children": [...]}; found keys: ' + ", ".join(sorted(data))
        )

    @classmethod
    def from_json(cls, source: str | Path, classes: Sequence[str] | None = None) -> Hierarchy:
        """Read a hierarchy from a JSON file path or JSON text (see :meth:`from_dict`)."""
        text = _read_json_source(source)
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise StructureError(f"invalid JSON in hierarchy {_describe(source)}: {exc}") from None
        return cls.from_dict(data, classes)

    # -- export -------------------------------------------------------------------------
    def to_parents(self) -> dict[str, str]:
        """Return ``{node: parent}`` for every node but the root."""
        return {self.nodes[i]: self.nodes[p] for i, p in enumerate(self.parents) if p >= 0}

    def to_nested(self) -> dict[str, Any]:
        """Return the tree as nested ``{"name": ..., "children": [...]}`` dicts."""

        def build(i: int) -> dict[str, Any]:
            kids = self._children[i]
            node: dict[str, Any] = {"name": self.nodes[i]}
            if kids:
                node["children"] = [build(k) for k in kids]
            return node

        return build(self.root_index)

    def to_json(self, *, nested: bool = False, indent: int | None = 2) -> str:
        """Serialise to JSON that :meth:`from_json` reads back into an equal hierarchy."""
        body = self.to_nested() if nested else {"parents": self.to_parents()}
        return json.dumps({"classes": list(self.classes), **body}, indent=indent)

    # -- navigation ---------------------------------------------------------------------
    @cached_property
    def _index(self) -> dict[str, int]:
        return {name: i for i, name in enumerate(self.nodes)}

    @cached_property
    def _children(self) -> tuple[tuple[int, ...], ...]:
        kids: list[list[int]] = [[] for _ in self.nodes]
        for i, p in enumerate(self.parents):
            if p >= 0:
                kids[p].append(i)
        # children in a stable, name-independent order: internal nodes and leaves by index
        return tuple(tuple(k) for k in kids)

    @property
    def root(self) -> str:
        """The root node's name."""
        return self.nodes[self.root_index]

    @property
    def root_index(self) -> int:
        """The root node's index in :attr:`nodes` (the first internal node)."""
        return len(self.classes)

    @property
    def num_nodes(self) -> int:
        """The number of nodes, leaves included."""
        return len(self.nodes)

    def index(self, name: str) -> int:
        """Return the index of node ``name`` in :attr:`nodes`."""
        try:
            return self._index[name]
        except KeyError:
            raise StructureError(
                f"no node named {name!r} in the hierarchy{closest(name, self.nodes)}"
            ) from None

    def parent(self, name: str) -> str | None:
        """Return the parent of ``name``, or None for the root."""
        p = self.parents[self.index(name)]
        return self.nodes[p] if p >= 0 else None

    def children(self, name: str) -> tuple[str, ...]:
        """Return the children of ``name`` (empty for a class)."""
        return tuple(self.nodes[k] for k in self._children[self.index(name)])

    def path(self, name: str) -> tuple[str, ...]:
        """Return the nodes from the root down to ``name``, both included."""
        i = self.index(name)
        out: list[str] = []
        while i >= 0:
            out.append(self.nodes[i])
            i = self.parents[i]
        return tuple(reversed(out))

    @cached_property
    def depths(self) -> np.ndarray:
        """Depth of every node (edges from the root), indexed like :attr:`nodes`."""
        depth = np.zeros(self.num_nodes, dtype=np.int64)
        for i in self._top_down:
            p = self.parents[i]
            depth[i] = depth[p] + 1 if p >= 0 else 0
        depth.setflags(write=False)
        return depth

    @cached_property
    def heights(self) -> np.ndarray:
        """Height of every node (longest edge count down to a leaf); leaves have 0."""
        height = np.zeros(self.num_nodes, dtype=np.int64)
        for i in reversed(self._top_down):
            p = self.parents[i]
            if p >= 0:
                height[p] = max(height[p], height[i] + 1)
        height.setflags(write=False)
        return height

    @cached_property
    def _top_down(self) -> tuple[int, ...]:
        order = [self.root_index]
        for i in order:
            order.extend(self._children[i])
        return tuple(order)

    @cached_property
    def levels(self) -> tuple[np.ndarray, ...]:
        """The node indices at each depth, root first: ``levels[d]`` holds depth d's nodes.

        What level-by-level sums over the tree loop over (bottom-up reversed, top-down
        forward), in breadth-first order.
        """
        order = np.asarray(self._top_down, dtype=np.int64)
        return tuple(np.split(order, np.flatnonzero(np.diff(self.depths[order])) + 1))

    @cached_property
    def ancestors(self) -> np.ndarray:
        """(nodes, height + 1) int64: row v lists v's path from the root, padded with v.

        ``ancestors[v, d]`` is v's ancestor at depth d for ``d <= depth(v)`` (the root at 0, v
        itself at its depth) and v beyond. O(nodes x depth) memory: the basis of every
        pairwise table (LCA, distances, "below"), so none needs a nodes x nodes matrix.
        """
        table = np.empty((self.num_nodes, len(self.levels)), dtype=np.int64)
        parents = np.asarray(self.parents, dtype=np.int64)
        for d, level in enumerate(self.levels):  # each level after its parents'
            if d:
                table[level, :d] = table[parents[level], :d]
            table[level, d:] = level[:, None]
        table.setflags(write=False)
        return table

    @property
    def _class_paths(self) -> np.ndarray:
        """(classes, height + 1) node indices from the root down, padded with the class."""
        return self.ancestors[: self.num_classes]

    def _pairs(self, a: Any, b: Any) -> tuple[np.ndarray, np.ndarray]:
        a, b = np.broadcast_arrays(np.asarray(a, dtype=np.int64), np.asarray(b, dtype=np.int64))
        n = self.num_nodes
        if a.size and (min(a.min(), b.min()) < 0 or max(a.max(), b.max()) >= n):
            raise StructureError(f"node indices must be in 0..{n - 1}")
        return a, b

    def lca_depths(self, a: Any, b: Any) -> np.ndarray:
        """Depths of the lowest common ancestors of node index arrays ``a`` and ``b``.

        ``a`` and ``b`` broadcast; the work is O(pairs x depth), from :attr:`ancestors`.
        """
        a, b = self._pairs(a, b)
        same = np.cumprod(self.ancestors[a] == self.ancestors[b], axis=-1).sum(axis=-1) - 1
        return np.minimum(same, np.minimum(self.depths[a], self.depths[b]))

    def lca_indices(self, a: Any, b: Any) -> np.ndarray:
        """Node indices of the lowest common ancestors of node index arrays ``a`` and ``b``."""
        a, b = self._pairs(a, b)
        return np.take_along_axis(self.ancestors[a], self.lca_depths(a, b)[..., None], -1)[..., 0]

    def pair_distances(
        self, targets: Any, classes: Any, distance: str = "lca-height"
    ) -> np.ndarray:
        """Distances from target nodes to classes, pair by pair (arrays that broadcast).

        The entries of :meth:`target_distances` without building it: O(pairs x depth) time
        and memory, for trees of any size. A class below (or equal to) its target is at 0.

        Raises:
            ConfigError: for an unknown distance name.
            StructureError: for an index outside the tree.
        """
        check_distance(distance)
        t, c = self._pairs(targets, classes)
        lca_depth = self.lca_depths(t, c)
        if distance == "edges":
            table = self.depths[t] + self.depths[c] - 2 * lca_depth
        elif distance == "lca-height":
            lca = np.take_along_axis(self.ancestors[t], lca_depth[..., None], -1)[..., 0]
            table = self.heights[lca]
        else:
            table = int(self.depths.max()) - lca_depth
        below = np.take_along_axis(self.ancestors[c], self.depths[t][..., None], -1)[..., 0] == t
        return np.where(below, 0, table).astype(np.int64)

    def _dense(self, rows: int, cols: int, itemsize: int, what: str, instead: str) -> None:
        """Refuse a dense table larger than :attr:`DENSE_LIMIT` bytes, naming the way out."""
        size = rows * cols * itemsize
        if size > self.DENSE_LIMIT:
            raise StructureError(
                f"{what} of this tree would be a dense {rows:,} x {cols:,} table of"
                f" {size / 2**30:.1f} GiB, over the {self.DENSE_LIMIT / 2**30:.0f} GiB limit"
                f" (Hierarchy.DENSE_LIMIT); {instead}"
            )

    #: The largest dense table (bytes) a Hierarchy builds when asked for one.
    DENSE_LIMIT: ClassVar[int] = 2 * 2**30

    def _rows(self, rows: int, fill: Any) -> np.ndarray:
        """(rows, classes) int64 table, filled chunk by chunk of rows by ``fill(start, stop)``."""
        out = np.empty((rows, self.num_classes), dtype=np.int64)
        step = max(1, 2**24 // max(1, self.num_classes * self.ancestors.shape[1]))
        for start in range(0, rows, step):
            stop = min(rows, start + step)
            out[start:stop] = fill(np.arange(start, stop)[:, None], np.arange(self.num_classes))
        return out

    def path_matrix(self, dtype: Any = np.float32) -> np.ndarray:
        """Return the leaf-by-node matrix A: ``A[c, v] = 1`` iff node v is on class c's path.

        The path includes the class's own leaf and the root, so ``A @ V`` sums node vectors
        from the root to each class (the tree loss's weight matrix).

        Raises:
            StructureError: when the matrix would exceed :attr:`DENSE_LIMIT` bytes.
        """
        self._dense(
            self.num_classes,
            self.num_nodes,
            np.dtype(dtype).itemsize,
            "path_matrix()",
            "use Hierarchy.ancestors (each class's path as node indices) instead",
        )
        matrix = np.zeros((self.num_classes, self.num_nodes), dtype=dtype)
        np.put_along_axis(matrix, self._class_paths, 1, axis=1)
        return matrix

    def lca_matrix(self) -> np.ndarray:
        """Return the (classes, classes) matrix of lowest-common-ancestor node indices.

        Raises:
            StructureError: when it would exceed :attr:`DENSE_LIMIT` bytes; use
                :meth:`lca_indices` on the pairs you need.
        """
        c = self.num_classes
        self._dense(c, c, 8, "lca_matrix()", "use Hierarchy.lca_indices(a, b) on the pairs")
        return self._rows(c, self.lca_indices)

    def lca_height_matrix(self) -> np.ndarray:
        """Return the heights of the lowest common ancestors of all class pairs."""
        return self.heights[self.lca_matrix()]

    def distance_matrix(self) -> np.ndarray:
        """Return tree distances (edges on the path) between all class pairs."""
        return self.class_distances("edges")

    def class_distances(self, distance: str = "lca-height") -> np.ndarray:
        """Return (classes, classes) int64 distances between classes, by a named definition.

        - ``"lca-height"``: the height of the lowest common ancestor (leaves 0): how far up
          the tree two classes part. structloss's default in every metric.
        - ``"bertinetto"``: the tree's height minus the depth of the lowest common ancestor,
          as the reference code of Bertinetto et al. (*Making Better Mistakes*, CVPR 2020)
          computes it; 0 for a class and itself. It equals ``"lca-height"`` when every leaf
          is at the same depth, and differs on unbalanced trees.
        - ``"edges"``: the number of edges on the tree path between the two classes.

        Raises:
            ConfigError: for an unknown name, listing :data:`DISTANCES`.
            StructureError: when the table would exceed :attr:`DENSE_LIMIT` bytes.
        """
        return self._distances(self.num_classes, distance)

    def target_distances(self, distance: str = "lca-height") -> np.ndarray:
        """Return (nodes, classes) int64 distances from each possible target to each class.

        Row ``t < num_classes`` is :meth:`class_distances`; a row ``t >= num_classes`` is an
        internal-node target (a coarse label, ``nodes[t]``): the classes below it are right
        (distance 0) and any other class ``c`` is as far as the definition puts ``nodes[t]``
        and ``c`` (for ``"lca-height"`` the height of their lowest common ancestor, for
        ``"bertinetto"`` the tree's height minus its depth, for ``"edges"`` the path
        length). Every definition gives a wrong class a distance of at least 1.

        Raises:
            ConfigError: for an unknown name, listing :data:`DISTANCES`.
            StructureError: when the table would exceed :attr:`DENSE_LIMIT` bytes; use
                :meth:`pair_distances` on the pairs you need.
        """
        return self._distances(self.num_nodes, distance)

    def _distances(self, rows: int, distance: str) -> np.ndarray:
        check_distance(distance)
        what = f"the {distance!r} distances"
        self._dense(
            rows,
            self.num_classes,
            8,
            what,
            "use Hierarchy.pair_distances on the pairs"
            " you need; structloss.metrics work from ancestor paths, at any size",
        )
        return self._rows(rows, lambda t, c: self.pair_distances(t, c, distance))

    def lca(self, a: str, b: str) -> str:
        """Return the name of the lowest common ancestor of nodes ``a`` and ``b``."""
        path_a, path_b = self.path(a), self.path(b)
        common = 0
        while common < min(len(path_a), len(path_b)) and path_a[common] == path_b[common]:
            common += 1
        return path_a[common - 1]

    def lca_height(self, a: str, b: str) -> int:
        """Return the height of the lowest common ancestor of ``a`` and ``b`` (0 if equal)."""
        return int(self.heights[self.index(self.lca(a, b))])

    def distance(self, a: str, b: str) -> int:
        """Return the number of edges on the tree path between nodes ``a`` and ``b``."""
        top = self.index(self.lca(a, b))
        depth = self.depths
        return int(depth[self.index(a)] + depth[self.index(b)] - 2 * depth[top])

    # -- conversion ---------------------------------------------------------------------
    #: Above this many classes ``to_similarity(form="auto")`` gives the tree form.
    TREE_FORM_CLASSES: ClassVar[int] = 4096

    def to_similarity(
        self, rule: str = "exponential", decay: float = 0.5, form: str = "auto"
    ) -> Similarity | TreeSimilarity:
        """Return class similarities derived from the tree.

        Args:
            rule: ``"exponential"`` (default): ``S_ij = decay ** distance(i, j)``, decaying
                with the number of tree edges between the classes (siblings get
                ``decay ** 2``). ``"wu-palmer"``: ``S_ij = 2 depth(lca) / (depth_i +
                depth_j)`` with the root at depth 0, so classes that meet only at the root
                have similarity 0 and a flat hierarchy gives the identity; on deep trees it
                gives siblings nearly full credit (0.83 at depth 6), which costs SimLoss most
                of its top-1 accuracy on real data (docs/plugins/simloss.md), so it is no
                longer the default.
            decay: the base for ``"exponential"``, in [0, 1]; 0 gives the identity.
            form: ``"dense"``: a :class:`Similarity` matrix (classes x classes);
                ``"tree"``: a :class:`TreeSimilarity`, the same similarity kept as the tree
                and the rule, which SimLoss evaluates from subtree sums in O(batch x nodes)
                (``"exponential"`` only); ``"auto"`` (default): the tree form above
                :attr:`TREE_FORM_CLASSES` classes with the exponential rule, else dense.

        Raises:
            StructureError: for an unknown rule or form, a decay outside [0, 1], the tree
                form of another rule, or a dense matrix over :attr:`DENSE_LIMIT` bytes.
        """
        if form not in ("auto", "dense", "tree"):
            raise StructureError(
                f'unknown similarity form {form!r}; choose "auto", "dense" or "tree"'
                f"{closest(str(form), ['auto', 'dense', 'tree'])}"
            )
        if rule == "exponential" and not (0.0 <= decay <= 1.0):  # NaN fails too
            raise StructureError(f"decay must be in [0, 1], got {decay!r}")
        tree_form = form == "tree" or (form == "auto" and self.num_classes > self.TREE_FORM_CLASSES)
        if tree_form and rule == "exponential":
            return TreeSimilarity(hierarchy=self, decay=float(decay))
        if form == "tree":
            raise StructureError(
                f'form = "tree" supports rule = "exponential" only, got {rule!r}; use form ='
                ' "dense" (a classes x classes matrix) or the exponential rule'
            )
        c = self.num_classes
        self._dense(
            c,
            c,
            8,
            "the similarity matrix",
            'use rule = "exponential" with form = "tree" (SimLoss then needs no matrix)',
        )
        if rule == "wu-palmer":
            depth = self.depths[: self.num_classes].astype(np.float64)
            lca_depth = self.depths[self.lca_matrix()].astype(np.float64)
            matrix = 2.0 * lca_depth / (depth[:, None] + depth[None, :])
        elif rule == "exponential":
            matrix = np.power(float(decay), self.distance_matrix().astype(np.float64))
        else:
            raise StructureError(
                f"unknown hierarchy-to-similarity rule {rule!r}; choose one of: exponential,"
                f" wu-palmer{closest(rule, ['wu-palmer', 'exponential'])}"
            )
        np.fill_diagonal(matrix, 1.0)
        return Similarity.from_matrix(self.classes, matrix)


@attrs.frozen(eq=False)
class TreeSimilarity(LabelStructure):
    """The similarity ``S_ij = decay ** distance(i, j)`` of a tree, kept as the tree.

    What :meth:`Hierarchy.to_similarity` gives with ``form = "tree"`` (and, by default,
    above :attr:`Hierarchy.TREE_FORM_CLASSES` classes): a similarity of kind
    ``"similarity"`` that never builds the classes x classes matrix. SimLoss computes
    ``sum_c S[y, c] p_c`` from it by subtree sums in O(batch x nodes). :attr:`matrix` builds
    the dense matrix on request (refused over :attr:`Hierarchy.DENSE_LIMIT` bytes).

    Attributes:
        hierarchy: the class tree.
        decay: the base, in [0, 1].
    """

    kind: ClassVar[str] = "similarity"
    hierarchy: Hierarchy
    decay: float
    rule: ClassVar[str] = "exponential"

    @property
    def classes(self) -> tuple[str, ...]:  # type: ignore[override]
        """The classes, in label order."""
        return self.hierarchy.classes

    @property
    def matrix(self) -> np.ndarray:
        """The dense (classes, classes) matrix, built on request."""
        return self.hierarchy.to_similarity("exponential", self.decay, form="dense").matrix

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.hierarchy == other.hierarchy and self.decay == other.decay

    __hash__ = None  # type: ignore[assignment]


def _flatten_nested(node: Mapping[str, Any], parents: dict[str, str], leaves: list[str]) -> None:
    stack = [node]
    while stack:
        current = stack.pop()
        if not isinstance(current, Mapping) or not isinstance(current.get("name"), str):
            raise StructureError(f'every nested node needs a string "name": {current!r}')
        kids = current.get("children") or []
        if not kids:
            leaves.append(current["name"])
        for kid in kids:
            if isinstance(kid, Mapping) and isinstance(kid.get("name"), str):
                if kid["name"] in parents:
                    raise StructureError(f"node {kid['name']!r} appears twice in the tree")
                parents[kid["name"]] = current["name"]
        stack.extend(reversed(kids))


def _describe(source: str | Path) -> str:
    if isinstance(source, str) and source.lstrip().startswith(("{", "[")):
        return "text"
    return f"file {str(source)!r}"


def _read_json_source(source: str | Path) -> str:
    if isinstance(source, str) and source.lstrip().startswith(("{", "[")):
        return source
    path = Path(source)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise StructureError(f"hierarchy file not found: {str(path)!r}") from None
    except OSError as exc:
        raise StructureError(f"cannot read hierarchy file {str(path)!r}: {exc}") from None


#: The names :meth:`Hierarchy.class_distances` (and every metric's ``distance``) accept.
DISTANCES = ("lca-height", "bertinetto", "edges")


def check_distance(distance: str, *, where: str = "") -> str:
    """Return ``distance`` if it names a definition in :data:`DISTANCES`, else raise.

    Raises:
        ConfigError: naming the bad value (after ``where``, such as ``"[train] distance"``)
            and the valid ones.
    """
    if distance not in DISTANCES:
        raise ConfigError(
            f"{where + ': ' if where else ''}unknown distance {distance!r}"
            f"{closest(str(distance), DISTANCES)}; choose one of: {', '.join(DISTANCES)}"
        )
    return distance
