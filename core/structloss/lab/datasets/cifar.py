"""CIFAR-100 in its python format, read with an unpickler that cannot run code."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from structloss.errors import ConfigError
from structloss.lab.datasets.base import Dataset, check_int, data_path, decode_names
from structloss.structures import Hierarchy, check_classes

__all__ = ["CIFAR_FILES", "load_cifar100"]

CIFAR_FILES = ("train", "test", "meta")


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


def load_cifar100(options: dict[str, Any], base_dir: Path) -> Dataset:
    path = data_path(options, base_dir, "cifar100")
    n_train, n_test = (
        None if options.get(k) is None else check_int(options[k], k, 1)
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
    fine_names, coarse_names = check_classes(decode_names(fine)), decode_names(coarse)
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
