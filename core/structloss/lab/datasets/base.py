"""The :class:`Dataset` record every loader returns, and class groupings."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from structloss.errors import ConfigError
from structloss.structures import Hierarchy, check_classes

__all__ = ["Dataset", "block_groups", "check_int", "data_path", "decode_names", "hierarchy_groups"]


def _group_array(groups: Any) -> np.ndarray | None:
    if groups is None:
        return None
    array = np.array(groups, dtype=np.int64)
    array.setflags(write=False)
    return array


def check_int(value: Any, what: str, minimum: int = 0) -> int:
    """``value`` when it is an integer >= ``minimum``, else a ConfigError naming ``what``."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"[data] {what} must be an integer >= {minimum}, got {value!r}")
    return value


@attrs.frozen(kw_only=True, eq=False)
class Dataset:
    """A loaded dataset: tensors, class names and the structure the data knows.

    Inputs are float32 with samples first; targets are int64 ``(n,)`` class indices, or bool
    ``(n, classes)`` multi-hot rows when ``multilabel``. ``hierarchy`` is the tree the data
    was made from or annotated with; ``groups[c]`` is the superclass index of class ``c``
    (named by ``group_names``). Both are None when the data knows no such structure.

    Raises:
        ConfigError: when tensors, classes, hierarchy and groups do not fit together.
    """

    classes: tuple[str, ...] = attrs.field(converter=tuple)
    x_train: Tensor
    y_train: Tensor
    x_test: Tensor
    y_test: Tensor
    multilabel: bool = False
    hierarchy: Hierarchy | None = None
    groups: np.ndarray | None = attrs.field(default=None, converter=_group_array)
    group_names: tuple[str, ...] | None = attrs.field(
        default=None, converter=attrs.converters.optional(tuple)
    )
    name: str = ""

    def __attrs_post_init__(self) -> None:
        k = len(check_classes(self.classes))
        want = (torch.bool, 2) if self.multilabel else (torch.int64, 1)
        for x, y in ((self.x_train, self.y_train), (self.x_test, self.y_test)):
            if (
                (x.dtype, y.dtype, y.ndim) != (torch.float32, *want)
                or x.ndim < 2
                or (y.shape[0] != x.shape[0] or (self.multilabel and y.shape[1] != k))
            ):
                raise ConfigError(
                    f"a Dataset needs float32 (n, ...) inputs and {want[0]} targets with"
                    f" {want[1]} dims, one per input; got {tuple(x.shape)} {x.dtype} inputs and"
                    f" {tuple(y.shape)} {y.dtype} targets for {k} classes"
                )
        if self.hierarchy is not None and self.hierarchy.classes != self.classes:
            raise ConfigError("the hierarchy's classes differ from the dataset's classes")
        names = self.group_names or ()
        if self.groups is not None and (
            self.groups.shape != (k,) or not set(self.groups.tolist()) <= set(range(len(names)))
        ):
            raise ConfigError("groups must give each class an index into group_names")

    @property
    def input_shape(self) -> tuple[int, ...]:
        """The shape of one input, e.g. ``(64,)`` or ``(3, 32, 32)``."""
        return tuple(int(d) for d in self.x_train.shape[1:])

    @property
    def num_classes(self) -> int:
        """The number of classes."""
        return len(self.classes)


def hierarchy_groups(hierarchy: Hierarchy) -> tuple[np.ndarray, tuple[str, ...]]:
    """Group classes by their parent node.

    Returns:
        ``(groups, names)``: ``groups[c]`` is the index of class c's parent among the distinct
        parents (in order of first appearance), ``names`` the parents' node names.
    """
    parents = [hierarchy.parents[c] for c in range(hierarchy.num_classes)]
    index = {p: i for i, p in enumerate(dict.fromkeys(parents))}
    groups = np.array([index[p] for p in parents], dtype=np.int64)
    return groups, tuple(hierarchy.nodes[p] for p in index)


def block_groups(num_classes: int, size: int) -> np.ndarray:
    """Group classes into consecutive blocks of ``size`` (the last block may be smaller).

    Raises:
        ConfigError: when ``size`` is not a positive integer.
    """
    return np.arange(num_classes, dtype=np.int64) // check_int(size, "noise_group_size", 1)


def data_path(options: Mapping[str, Any], base_dir: Path, dataset: str) -> Path:
    """The ``path`` option of a dataset read from disk, relative to ``base_dir``."""
    raw = options.get("path")
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f'[data] {dataset} needs `path = "..."` naming a local copy of the data')
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


def decode_names(names: Any) -> tuple[str, ...]:
    """Class names from a file: bytes are decoded as UTF-8."""
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
