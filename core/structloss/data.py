"""Datasets behind a ``[data]`` table: synthetic tasks, CIFAR-100 and generic feature files.

:func:`load_dataset` reads a ``[data]`` table (``name`` plus that dataset's options) and returns
a :class:`Dataset`: train and test tensors, the class names, and the structure the data knows
(a class tree and/or a superclass per class). Nothing is downloaded: real datasets are read
from a local copy named by ``path``. Training labels can be corrupted on purpose with the
``noise`` options (see :func:`inject_label_noise`) to study robustness to label noise.
"""

from __future__ import annotations

import inspect
import pickle
import zipfile
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import torch
from torch import Tensor

from structloss.errors import (
    ConfigError,
    StructlossError,
    UnknownComponentError,
    UnknownOptionError,
    choice_list,
    closest,
)
from structloss.options import check_types
from structloss.structures import Hierarchy, check_classes
from structloss.synthetic import cooccurrence_task, hierarchical_task

__all__ = [
    "DATASET_NAMES",
    "HIERARCHY_DEFAULTS",
    "Dataset",
    "block_groups",
    "hierarchy_groups",
    "inject_label_noise",
    "load_dataset",
]

#: The ``synthetic-hierarchy`` options of the default experiment (``structloss run``).
HIERARCHY_DEFAULTS: dict[str, Any] = dict(
    branching=[4, 5, 5], dim=64, train_per_class=10, test_per_class=50, input_noise=2.0, seed=0
)
NOISE_OPTIONS = ("noise", "noise_mode", "noise_seed", "noise_group_size")
NOISE_MODES = ("group", "uniform")
CIFAR_FILES = ("train", "test", "meta")
FEATURE_ARRAYS = ("X", "y", "X_test", "y_test", "class_names")


def _group_array(groups: Any) -> np.ndarray | None:
    if groups is None:
        return None
    array = np.array(groups, dtype=np.int64)
    array.setflags(write=False)
    return array


def _int(value: Any, what: str, minimum: int = 0) -> int:
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
    return np.arange(num_classes, dtype=np.int64) // _int(size, "noise_group_size", 1)


def inject_label_noise(
    labels: Tensor,
    p: float,
    *,
    mode: str,
    groups: np.ndarray | None,
    num_classes: int,
    seed: int,
) -> Tensor:
    """Return a copy of ``labels`` where each label is replaced with probability ``p``.

    A replaced label becomes a uniformly random *other* class: any class (``mode="uniform"``,
    ``groups`` ignored) or another class of the same group (``mode="group"``). A class alone
    in its group keeps its label. Equal seeds give equal results; flips and replacements are
    drawn for every sample whatever ``p``, so with one seed the labels flipped at a smaller
    ``p`` are a subset of those flipped at a larger one.

    Args:
        labels: integer class indices of shape (n,).
        p: the flip probability, in [0, 1].
        mode: ``"uniform"`` or ``"group"``.
        groups: the group index of each class (length ``num_classes``); needed by ``"group"``.
        num_classes: the number of classes.
        seed: the seed of the random generator (a non-negative integer).

    Raises:
        ConfigError: on a bad probability, mode, seed, groups, or labels.
    """
    if isinstance(p, bool) or not isinstance(p, int | float) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"noise must be a probability in [0, 1], got {p!r}")
    if mode not in NOISE_MODES:
        raise ConfigError(
            f"unknown noise_mode {mode!r}{closest(str(mode), NOISE_MODES)}; choose one of:"
            f" {choice_list(NOISE_MODES)}"
        )
    if labels.ndim != 1 or labels.dtype.is_floating_point or labels.dtype == torch.bool:
        raise ConfigError(
            "label noise needs single-label integer targets of shape (n,), got"
            f" {tuple(labels.shape)} {labels.dtype}; it cannot be applied to multi-label data"
        )
    y = labels.detach().cpu().numpy().astype(np.int64)
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ConfigError(f"labels must lie in [0, {num_classes}) for label noise")
    g = np.zeros(num_classes, np.int64) if mode == "uniform" else np.asarray(groups)
    if g.shape != (num_classes,) or not np.issubdtype(g.dtype, np.integer):
        raise ConfigError(f"noise_mode 'group' needs one integer group per class, got {groups!r}")
    # members of group k are order[start[k] : start[k] + counts[k]]
    _, inverse, counts = np.unique(g, return_inverse=True, return_counts=True)
    order = np.argsort(inverse, kind="stable")
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    position = np.empty(num_classes, dtype=np.int64)
    position[order] = np.arange(num_classes) - start[inverse[order]]
    rng = np.random.default_rng(_int(seed, "noise_seed"))
    flip, draw = rng.random(y.size) < p, rng.random(y.size)
    group, size = inverse[y], counts[inverse[y]]
    offset = 1 + np.floor(draw * (size - 1)).astype(np.int64)  # uniform over 1 .. size-1
    other = order[start[group] + (position[y] + offset) % size]
    noisy = np.where(flip & (size > 1), other, y)
    return torch.from_numpy(noisy).to(device=labels.device, dtype=labels.dtype)


# -- synthetic tasks --------------------------------------------------------------------------
def _generate(
    name: str,
    factory: Callable[..., Any],
    defaults: Mapping[str, Any],
    options: Mapping[str, Any],
    base_dir: Path,
) -> Dataset:
    check_types(f"[data] {name}", factory, options)
    try:
        task = factory(**{**defaults, **options})
    except StructlossError:
        raise
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"[data] {name}: bad option value: {exc}") from None
    tree = getattr(task, "hierarchy", None)
    groups, names = hierarchy_groups(tree) if tree is not None else (None, None)
    return Dataset(
        classes=task.classes,
        x_train=task.x_train,
        y_train=task.y_train,
        x_test=task.x_test,
        y_test=task.y_test,
        multilabel=tree is None,
        hierarchy=tree,
        groups=groups,
        group_names=names,
        name=name,
    )


# -- CIFAR-100 --------------------------------------------------------------------------------
def _path(options: Mapping[str, Any], base_dir: Path, dataset: str) -> Path:
    raw = options.get("path")
    if not isinstance(raw, str) or not raw:
        raise ConfigError(f'[data] {dataset} needs `path = "..."` naming a local copy of the data')
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base_dir / path


class _CifarUnpickler(pickle.Unpickler):
    """Unpickles only what the CIFAR-100 python files hold, so a crafted file runs no code.

    The real files are dicts of bytes keys holding lists of ints and bytes, and numpy arrays
    (uint8 images; integer labels in some re-saved copies). An array needs three globals:
    numpy's array reconstructor (or ``_frombuffer`` for protocol 5), ``ndarray`` and
    ``dtype``; ``dtype`` is wrapped so that only plain numeric and byte-string dtypes load.
    Copies re-saved by Python 3 at protocol 2 spell bytes as ``_codecs.encode(s, "latin1")``,
    allowed for that encoding only. Any other global is refused before it is imported.
    """

    def __init__(self, handle: Any, path: Path) -> None:
        super().__init__(handle, encoding="bytes")
        self.path = path

    def find_class(self, module: str, name: str) -> Any:
        allowed = _CIFAR_GLOBALS.get((module.replace("numpy._core", "numpy.core"), name))
        if allowed is None:
            raise ConfigError(
                f"{self.path} asks to load the Python object {module}.{name}, which a CIFAR-100"
                " file never holds; it was refused so the file could not run code. Use the"
                " original 'cifar-100-python' files (dicts of arrays, lists, bytes and ints)"
            )
        return allowed()

    def persistent_load(self, pid: Any) -> Any:
        raise ConfigError(f"{self.path} holds a persistent reference, which CIFAR-100 never does")


def _safe_dtype(spec: Any, *args: Any) -> np.dtype[Any]:
    dtype = np.dtype(spec, *args)
    if dtype.kind not in "biuf" and not (dtype.kind == "S" and dtype.itemsize > 0):
        raise ConfigError(f"a CIFAR-100 file holds an array of dtype {dtype}, which it never does")
    return dtype


def _numpy_global(name: str) -> Callable[[], Any]:
    def load() -> Any:
        core = getattr(np, "_core", None) or np.core
        module = core.numeric if name == "_frombuffer" else core.multiarray
        return getattr(module, name)

    return load


def _latin1_bytes(text: Any, encoding: str = "utf-8") -> bytes:
    """What Python 3 writes for ``bytes`` at pickle protocols 0-2: ``_codecs.encode(s, 'latin1')``."""
    if not isinstance(text, str) or encoding != "latin1":
        raise ConfigError(f"a CIFAR-100 file encodes bytes as {encoding!r}, which it never does")
    return text.encode("latin1")


_CIFAR_GLOBALS: dict[tuple[str, str], Callable[[], Any]] = {
    ("_codecs", "encode"): lambda: _latin1_bytes,
    ("numpy.core.multiarray", "_reconstruct"): _numpy_global("_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"): _numpy_global("_frombuffer"),
    ("numpy", "ndarray"): lambda: np.ndarray,
    ("numpy", "dtype"): lambda: _safe_dtype,
}


def _unpickle(path: Path, *keys: bytes) -> list[Any]:
    try:
        with path.open("rb") as f:
            data = _CifarUnpickler(f, path).load()
    except (OSError, pickle.UnpicklingError, EOFError, ValueError, TypeError) as exc:
        if isinstance(exc, ConfigError):
            raise
        raise ConfigError(f"cannot read the CIFAR-100 file {path}: {exc}") from None
    missing = [k.decode() for k in keys if not isinstance(data, dict) or k not in data]
    if missing:
        raise ConfigError(f"{path} is not a CIFAR-100 pickle: no entries {', '.join(missing)}")
    return [data[k] for k in keys]


def _decode(names: Any) -> tuple[str, ...]:
    return tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)


def _cifar_split(path: Path, fine: int, coarse: int) -> tuple[np.ndarray, ...]:
    images, *labels = _unpickle(path, b"data", b"fine_labels", b"coarse_labels")
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 2 or images.shape[1] != 3072 or not images.size:
        raise ConfigError(f"{path}: data must be uint8 (N >= 1, 3072), got {images.shape}")
    n = images.shape[0]
    fine_labels, coarse_labels = (np.asarray(a) for a in labels)
    for values, count, what in ((fine_labels, fine, "fine"), (coarse_labels, coarse, "coarse")):
        if (
            values.shape != (n,)
            or values.dtype.kind not in "iu"
            or not (values.min() >= 0 and values.max() < count)
        ):
            raise ConfigError(f"{path}: {what}_labels must be {n} integers in [0, {count})")
    return images, fine_labels.astype(np.int64), coarse_labels.astype(np.int64)


def _superclasses(fine: np.ndarray, coarse: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    """The coarse label of each fine class, checking that it has exactly one."""
    parent = np.full(len(names), -1, dtype=np.int64)
    for f, c in sorted(set(zip(fine.tolist(), coarse.tolist(), strict=True))):
        if parent[f] >= 0:
            raise ConfigError(
                f"CIFAR-100 fine class {names[f]!r} appears under coarse labels {parent[f]} and"
                f" {c}; each fine class must belong to exactly one superclass"
            )
        parent[f] = c
    if (parent < 0).any():
        lost = ", ".join(repr(names[f]) for f in np.flatnonzero(parent < 0))
        raise ConfigError(f"CIFAR-100 fine classes with no samples (superclass unknown): {lost}")
    return parent


def _normalised(train: np.ndarray, test: np.ndarray) -> tuple[Tensor, Tensor]:
    """uint8 rows -> float (N, 3, 32, 32) in [0, 1], standardised per channel by train stats."""
    x_train, x_test = (
        torch.from_numpy(np.ascontiguousarray(a)).reshape(-1, 3, 32, 32).float().div_(255)
        for a in (train, test)
    )
    std, mean = torch.std_mean(x_train, dim=(0, 2, 3), correction=0, keepdim=True)
    std = torch.where(std > 0, std, torch.ones_like(std))  # a constant channel stays finite
    return x_train.sub_(mean).div_(std), x_test.sub_(mean).div_(std)


def _cifar100(options: dict[str, Any], base_dir: Path) -> Dataset:
    path = _path(options, base_dir, "cifar100")
    n_train, n_test = (
        None if options.get(k) is None else _int(options[k], k, 1)
        for k in ("limit_train", "limit_test")
    )
    missing = [name for name in CIFAR_FILES if not (path / name).is_file()]
    if missing:
        nested = (path / "cifar-100-python" / "train").is_file()
        raise ConfigError(
            f"CIFAR-100 not found at {path}: missing {', '.join(missing)}. Set [data] path to"
            " the extracted 'cifar-100-python' folder (python version of CIFAR-100), which"
            " holds the pickle files train, test and meta"
            + (f" ({path / 'cifar-100-python'} looks right)" if nested else "")
            + ". Datasets cannot be downloaded at run time: fetch and extract a copy first"
        )
    fine, coarse = _unpickle(path / "meta", b"fine_label_names", b"coarse_label_names")
    fine_names, coarse_names = check_classes(_decode(fine)), _decode(coarse)
    x_tr, fine_tr, coarse_tr = _cifar_split(path / "train", len(fine_names), len(coarse_names))
    x_te, fine_te, coarse_te = _cifar_split(path / "test", len(fine_names), len(coarse_names))
    parent = _superclasses(
        np.concatenate([fine_tr, fine_te]), np.concatenate([coarse_tr, coarse_te]), fine_names
    )
    empty = sorted(set(coarse_names) - {coarse_names[c] for c in parent})
    if empty:
        raise ConfigError(f"CIFAR-100 coarse classes with no fine classes: {', '.join(empty)}")
    tree = {f: coarse_names[c] for f, c in zip(fine_names, parent.tolist(), strict=True)}
    hierarchy = Hierarchy.from_parents(fine_names, {**tree, **dict.fromkeys(coarse_names, "root")})
    x_train, x_test = _normalised(x_tr[:n_train], x_te[:n_test])
    return Dataset(
        classes=fine_names,
        x_train=x_train,
        y_train=torch.from_numpy(fine_tr[:n_train]),
        x_test=x_test,
        y_test=torch.from_numpy(fine_te[:n_test]),
        hierarchy=hierarchy,
        groups=parent,
        group_names=coarse_names,
        name="cifar100",
    )


# -- generic feature files --------------------------------------------------------------------
def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise ConfigError(f"features file not found: {path}; set [data] path to a local .npz file")
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile, AttributeError) as exc:
        raise ConfigError(
            f"cannot read {path} as a .npz file without pickles ({exc}); save it with"
            " np.savez(path, X=..., y=...) and store class_names as a str array"
        ) from None
    unknown = [k for k in arrays if k not in FEATURE_ARRAYS]
    if unknown:
        hints = "; ".join(f"{k!r}{closest(k, FEATURE_ARRAYS)}" for k in unknown)
        raise ConfigError(f"{path} has unknown arrays {hints}. Valid: {', '.join(FEATURE_ARRAYS)}")
    if "X" not in arrays or "y" not in arrays:
        raise ConfigError(f"{path} needs arrays X (n, features) and y (n,) or (n, classes)")
    if ("X_test" in arrays) != ("y_test" in arrays):
        raise ConfigError(f"{path}: give both X_test and y_test, or neither")
    return arrays


def _inputs(x: np.ndarray, what: str) -> Tensor:
    if x.ndim < 2 or not (np.issubdtype(x.dtype, np.number) or x.dtype == np.bool_):
        raise ConfigError(f"{what} must be numeric (samples, features), got {x.dtype} {x.shape}")
    if not np.isfinite(x).all():
        raise ConfigError(f"{what} holds NaN or infinite values")
    return torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))


def _targets(y: np.ndarray, n: int, what: str) -> Tensor:
    if y.shape[:1] != (n,) or y.ndim not in (1, 2):
        raise ConfigError(f"{what} must have shape ({n},) or ({n}, classes), got {y.shape}")
    if y.ndim == 2:
        if (
            not (y.dtype == np.bool_ or np.issubdtype(y.dtype, np.number))
            or not np.isin(y, (0, 1)).all()
        ):
            raise ConfigError(f"multi-hot {what} must hold only 0/1 or booleans")
        return torch.from_numpy(y.astype(np.bool_))
    if not np.issubdtype(y.dtype, np.integer):
        raise ConfigError(f"{what} must hold integer class indices, got {y.dtype}")
    if n and y.min() < 0:
        raise ConfigError(f"{what} has negative class indices (min {y.min()})")
    return torch.from_numpy(y.astype(np.int64))


def _split(x: Tensor, y: Tensor, options: Mapping[str, Any]) -> tuple[Tensor, ...]:
    fraction, seed = options.get("test_fraction", 0.2), _int(options.get("seed", 0), "seed")
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction < 1:
        raise ConfigError(f"[data] test_fraction must be in (0, 1), got {fraction!r}")
    if x.shape[0] < 2:
        raise ConfigError("a features file without X_test needs at least 2 samples to split")
    n_test = min(max(round(x.shape[0] * fraction), 1), x.shape[0] - 1)
    order = torch.from_numpy(np.random.default_rng(seed).permutation(x.shape[0]))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def _features(options: dict[str, Any], base_dir: Path) -> Dataset:
    path = _path(options, base_dir, "features")
    arrays = _read_npz(path)
    x, y = _inputs(arrays["X"], "X"), _targets(arrays["y"], arrays["X"].shape[0], "y")
    if "X_test" not in arrays:
        x, y, x_te, y_te = _split(x, y, options)
    elif "test_fraction" in options:
        raise ConfigError(f"{path} has X_test/y_test; remove test_fraction from [data]")
    else:
        x_te = _inputs(arrays["X_test"], "X_test")
        y_te = _targets(arrays["y_test"], x_te.shape[0], "y_test")
        if x_te.shape[1:] != x.shape[1:] or y_te.shape[1:] != y.shape[1:]:
            raise ConfigError(
                f"{path}: test arrays {tuple(x_te.shape)}, {tuple(y_te.shape)} do not match"
                f" the train arrays {tuple(x.shape)}, {tuple(y.shape)} beyond the sample count"
            )
    if x.shape[0] == 0:
        raise ConfigError(f"{path} has no training samples")
    num = y.shape[1] if y.ndim == 2 else int(torch.cat([y, y_te]).max()) + 1
    if "class_names" in arrays:
        names = arrays["class_names"]
        if names.ndim != 1 or names.dtype.kind not in "US":
            raise ConfigError(f"class_names must be a 1-D str array, got {names.dtype}")
        classes = check_classes(_decode(names), what="class_names")
        if len(classes) < num or (y.ndim == 2 and len(classes) != num):
            raise ConfigError(f"{path}: labels need {num} classes, class_names has {len(classes)}")
    else:
        classes = tuple(f"c{i:0{len(str(num - 1))}d}" for i in range(num))
    return Dataset(
        classes=classes,
        x_train=x,
        y_train=y,
        x_test=x_te,
        y_test=y_te,
        multilabel=y.ndim == 2,
        name="features",
    )


def _parameters(factory: Callable[..., Any], *skip: str) -> tuple[str, ...]:
    return tuple(p for p in inspect.signature(factory).parameters if p not in skip)


_Loader = Callable[[dict[str, Any], Path], Dataset]
_DATASETS: dict[str, tuple[_Loader, tuple[str, ...]]] = {
    "synthetic-hierarchy": (
        partial(_generate, "synthetic-hierarchy", hierarchical_task, HIERARCHY_DEFAULTS),
        _parameters(hierarchical_task, "hierarchy"),  # a config cannot pass a tree object
    ),
    "synthetic-multilabel": (
        partial(_generate, "synthetic-multilabel", cooccurrence_task, {}),
        _parameters(cooccurrence_task),
    ),
    "cifar100": (_cifar100, ("path", "limit_train", "limit_test")),
    "features": (_features, ("path", "test_fraction", "seed")),
}
#: The dataset names that ``[data] name`` accepts.
DATASET_NAMES: tuple[str, ...] = tuple(sorted(_DATASETS))


def _with_noise(dataset: Dataset, noise: dict[str, Any], default_seed: Any) -> Dataset:
    if dataset.multilabel:
        raise ConfigError(
            f"label noise ({', '.join(noise)}) applies to single-label data only, and"
            f" {dataset.name} is multi-label; remove the noise options"
        )
    mode, groups = noise.get("noise_mode", "uniform"), dataset.groups
    if "noise_group_size" in noise and (mode != "group" or groups is not None):
        raise ConfigError(
            "noise_group_size only applies with noise_mode = 'group' on a dataset without"
            f" groups of its own ({dataset.name} has {'them' if groups is not None else 'none'});"
            " remove it"
        )
    if mode == "group" and groups is None:
        groups = block_groups(dataset.num_classes, noise.get("noise_group_size", 5))
    seed = noise.get("noise_seed", default_seed)
    p = noise.get("noise", 0.0)
    n = dataset.num_classes
    noisy = inject_label_noise(
        dataset.y_train, p, mode=mode, groups=groups, num_classes=n, seed=seed
    )
    return attrs.evolve(dataset, y_train=noisy)


def load_dataset(table: Mapping[str, Any], *, base_dir: str | Path = ".") -> Dataset:
    """Load the dataset described by a ``[data]`` table.

    ``name`` picks the dataset (default ``"synthetic-hierarchy"``, the default experiment's
    task); every other key is an option of that dataset, or a label-noise option (``noise``,
    ``noise_mode``, ``noise_seed``, ``noise_group_size``) applied to the training labels.

    - ``synthetic-hierarchy``: options of :func:`~structloss.synthetic.hierarchical_task`
      (defaults :data:`HIERARCHY_DEFAULTS`); ``synthetic-multilabel``: options of
      :func:`~structloss.synthetic.cooccurrence_task`.
    - ``cifar100``: ``path`` (the extracted ``cifar-100-python`` folder; its pickles are
      read by a restricted unpickler that loads only arrays, lists, bytes and numbers, so a
      crafted file cannot run code), ``limit_train``, ``limit_test``.
    - ``features``: ``path`` (a ``.npz`` with ``X``, ``y``, optional ``X_test``, ``y_test``,
      ``class_names``), ``test_fraction`` (0.2) and ``seed`` (0) when it has no test split.
    - noise: ``noise`` (probability, 0), ``noise_mode`` (``"uniform"`` or ``"group"``),
      ``noise_seed`` (the data ``seed``), ``noise_group_size`` (5; group mode on data
      without groups).

    Args:
        table: the ``[data]`` table.
        base_dir: the directory that relative ``path`` options resolve against (usually the
            config file's directory).

    Returns:
        The :class:`Dataset`, with noisy training labels when ``noise`` is set.

    Raises:
        UnknownComponentError: for an unknown dataset name.
        UnknownOptionError: for an option the dataset does not take.
        ConfigError: for missing files, malformed data or bad option values.
        StructureError: for malformed class names.
    """
    if not isinstance(table, Mapping):
        raise ConfigError(f"[data] must be a table, got {type(table).__name__}")
    options = dict(table)
    name = options.pop("name", "synthetic-hierarchy")
    if not isinstance(name, str) or name not in _DATASETS:
        raise UnknownComponentError(
            f"unknown dataset {name!r}{closest(str(name), DATASET_NAMES)}; choose one of:"
            f" {choice_list(DATASET_NAMES)}"
        )
    loader, valid = _DATASETS[name]
    noise = {k: options.pop(k) for k in NOISE_OPTIONS if k in options}
    unknown = [k for k in options if k not in valid]
    if unknown:
        hints = "; ".join(f"{k!r}{closest(k, (*valid, *NOISE_OPTIONS))}" for k in unknown)
        raise UnknownOptionError(
            f"[data] {name} has no option {hints}. Valid options:"
            f" {', '.join((*valid, *NOISE_OPTIONS))}"
        )
    dataset = loader(options, Path(base_dir))
    return _with_noise(dataset, noise, options.get("seed", 0)) if noise else dataset
