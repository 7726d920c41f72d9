"""``check_structure``: a label structure is consistent, converts and round-trips."""

from __future__ import annotations

import pickle
from collections.abc import Sequence

import numpy as np

from structloss.errors import IncompatibleStructureError, StructlossError
from structloss.specs import STRUCTURE_KINDS
from structloss.structures import Hierarchy, LabelStructure, Similarity
from structloss.testing._assertions import fail

__all__ = ["check_structure"]


def check_structure(
    structure: LabelStructure, classes: Sequence[str] | None = None, *, kind: str | None = None
) -> None:
    """Check that ``structure`` is consistent, converts where it should and round-trips.

    It checks the kind; the classes (and their order, when ``classes`` is given); for a
    hierarchy, that the classes are its leaves in label order, that paths run from the root,
    that the path matrix fits, and that JSON (flat and nested) gives an equal hierarchy back;
    for matrix structures, the matrix's shape; that conversion to a similarity works for
    hierarchies and embeddings and nothing converts to a hierarchy or an embedding; and that
    pickling gives an equal structure.

    Args:
        structure: the structure under test.
        classes: the expected class names, in label order.
        kind: the expected kind (``"hierarchy"``, ``"similarity"``, ``"embedding"``).

    Raises:
        AssertionError: naming the first inconsistency.
    """
    who = f"check_structure({type(structure).__name__})"
    if not isinstance(structure, LabelStructure):
        raise fail(
            who,
            f"expected a Hierarchy, Similarity or LabelEmbedding, got {type(structure).__name__}",
        )
    if structure.kind not in STRUCTURE_KINDS:
        raise fail(who, f"kind {structure.kind!r} is not one of {STRUCTURE_KINDS}")
    if kind is not None and structure.kind != kind:
        raise fail(who, f"expected a {kind}, got a {structure.kind}")
    names = structure.classes
    if not isinstance(names, tuple) or not all(isinstance(n, str) for n in names):
        raise fail(who, f"classes must be a tuple of strings, got {names!r}")
    if classes is not None and names != tuple(classes):
        same = sorted(names) == sorted(classes)
        raise fail(
            who,
            ("the classes are in another order" if same else "the classes differ")
            + f": expected {tuple(classes)}, got {names}",
        )
    if structure.num_classes != len(names):
        raise fail(who, f"num_classes is {structure.num_classes}, not len(classes)={len(names)}")
    if isinstance(structure, Hierarchy):
        _check_hierarchy(structure, who)
    else:
        _check_matrix_structure(structure, who)
    _check_conversions(structure, who)
    try:
        restored = pickle.loads(pickle.dumps(structure))
    except Exception as exc:
        raise fail(who, f"the structure cannot be pickled: {type(exc).__name__}: {exc}") from exc
    if restored != structure:
        raise fail(who, "the unpickled structure differs from the original")


def _check_hierarchy(tree: Hierarchy, who: str) -> None:
    n = tree.num_classes
    if tree.nodes[:n] != tree.classes:
        raise fail(who, "nodes must start with the classes, in label order")
    for name in tree.classes:
        if tree.children(name):
            raise fail(who, f"class {name!r} has children; classes must be leaves")
        path = tree.path(name)
        if path[0] != tree.root or path[-1] != name:
            raise fail(who, f"path({name!r}) = {path} does not run from the root to the class")
    paths = tree.path_matrix()
    if paths.shape != (n, tree.num_nodes):
        raise fail(who, f"path_matrix() has shape {paths.shape}, not {(n, tree.num_nodes)}")
    depths = np.asarray(tree.depths[:n])
    if not np.array_equal(paths.sum(axis=1), depths + 1):
        raise fail(who, "each row of path_matrix() must hold depth + 1 ones (root to leaf)")
    for nested in (False, True):
        text = tree.to_json(nested=nested)
        try:
            back = Hierarchy.from_json(text)
        except StructlossError as exc:
            raise fail(who, f"to_json(nested={nested}) does not read back: {exc}") from exc
        if back != tree:
            raise fail(who, f"to_json(nested={nested}) reads back as another hierarchy")


def _check_matrix_structure(structure: LabelStructure, who: str) -> None:
    matrix = getattr(structure, "matrix", None)
    if not isinstance(matrix, np.ndarray) or matrix.ndim != 2:
        raise fail(who, "a similarity or embedding needs a 2-D numpy `matrix`")
    n = structure.num_classes
    if matrix.shape[0] != n:
        raise fail(who, f"matrix has {matrix.shape[0]} rows for {n} classes")
    if not np.isfinite(matrix).all():
        raise fail(who, "matrix has non-finite values")
    if isinstance(structure, Similarity):
        if matrix.shape != (n, n):
            raise fail(who, f"similarity matrix has shape {matrix.shape}, not {(n, n)}")
        if matrix.min() < 0 or matrix.max() > 1 or not np.all(np.diag(matrix) == 1):
            raise fail(who, "similarities must lie in [0, 1] with a unit diagonal")


def _check_conversions(structure: LabelStructure, who: str) -> None:
    if structure.convert(structure.kind) is not structure:
        raise fail(who, f"convert({structure.kind!r}) must return the structure itself")
    if structure.kind in ("hierarchy", "embedding"):
        try:
            similarity = structure.convert("similarity")
        except StructlossError as exc:
            raise fail(who, f"convert('similarity') failed: {exc}") from exc
        if not isinstance(similarity, Similarity) or similarity.classes != structure.classes:
            raise fail(who, "convert('similarity') must give a Similarity over the same classes")
    for target in ("hierarchy", "embedding"):
        if target == structure.kind:
            continue
        try:
            structure.convert(target)
        except IncompatibleStructureError:
            continue
        raise fail(who, f"convert({target!r}) should raise IncompatibleStructureError")
