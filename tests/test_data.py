"""Dataset loading (``[data]`` tables) and label-noise injection."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from structloss.errors import (
    ConfigError,
    StructlossError,
    UnknownComponentError,
    UnknownOptionError,
)
from structloss.lab.datasets import (
    DATASET_NAMES,
    HIERARCHY_DEFAULTS,
    Dataset,
    block_groups,
    hierarchy_groups,
    inject_label_noise,
    load_dataset,
)
from structloss.lab.datasets.synthetic import cooccurrence_task, hierarchical_task

FINE = [b"apple", b"pear", b"bee", b"cat"]
COARSE = [b"fruit", b"animal"]
FINE_TO_COARSE = [0, 0, 1, 1]
TRAIN_FINE = [0, 1, 2, 3, 0, 2]
TEST_FINE = [3, 2, 1, 0]


def _dump(path: Path, data: dict[bytes, object], protocol: int = 2) -> None:
    # protocol 2 is what the real files (written by Python 2's cPickle) use
    path.write_bytes(pickle.dumps(data, protocol=protocol))


def _images(n: int, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(n, 3072), dtype=np.uint8)


@pytest.fixture
def cifar_dir(tmp_path: Path) -> Path:
    """A tiny CIFAR-100-format folder: 6 train and 4 test images, 4 fine in 2 coarse classes."""
    root = tmp_path / "cifar-100-python"
    root.mkdir()
    for split, fine, seed in (("train", TRAIN_FINE, 1), ("test", TEST_FINE, 2)):
        _dump(
            root / split,
            {
                b"filenames": [f"{split}{i}.png".encode() for i in range(len(fine))],
                b"data": _images(len(fine), seed),
                b"fine_labels": list(fine),
                b"coarse_labels": [FINE_TO_COARSE[f] for f in fine],
            },
        )
    _dump(root / "meta", {b"fine_label_names": FINE, b"coarse_label_names": COARSE})
    return root


# -- CIFAR-100 ----------------------------------------------------------------------------------
def test_cifar100_shapes_labels_and_structure(cifar_dir: Path):
    data = load_dataset({"name": "cifar100", "path": str(cifar_dir)})
    assert isinstance(data, Dataset) and data.name == "cifar100" and not data.multilabel
    assert data.classes == ("apple", "pear", "bee", "cat")
    assert data.x_train.shape == (6, 3, 32, 32) and data.x_train.dtype == torch.float32
    assert data.x_test.shape == (4, 3, 32, 32) and data.input_shape == (3, 32, 32)
    assert data.y_train.dtype == torch.int64 and data.y_train.tolist() == TRAIN_FINE
    assert data.y_test.tolist() == TEST_FINE
    assert data.hierarchy is not None
    assert data.hierarchy.parent("pear") == "fruit" and data.hierarchy.parent("cat") == "animal"
    assert data.hierarchy.children("root") == ("fruit", "animal")
    assert data.groups.tolist() == FINE_TO_COARSE and data.group_names == ("fruit", "animal")


def test_cifar100_normalises_per_channel_by_train_statistics(cifar_dir: Path):
    data = load_dataset({"name": "cifar100", "path": str(cifar_dir)})
    std, mean = torch.std_mean(data.x_train, dim=(0, 2, 3), correction=0)
    assert torch.allclose(mean, torch.zeros(3), atol=1e-5)
    assert torch.allclose(std, torch.ones(3), atol=1e-5)
    raw = torch.from_numpy(_images(6, 1)).double().reshape(6, 3, 32, 32) / 255
    test = torch.from_numpy(_images(4, 2)).double().reshape(4, 3, 32, 32) / 255
    std, mean = torch.std_mean(raw, dim=(0, 2, 3), correction=0, keepdim=True)
    assert torch.allclose(data.x_test.double(), (test - mean) / std, atol=1e-5)


def test_cifar100_limits_and_relative_path(cifar_dir: Path):
    table = {"name": "cifar100", "path": cifar_dir.name, "limit_train": 3, "limit_test": 2}
    data = load_dataset(table, base_dir=str(cifar_dir.parent))
    assert data.x_train.shape[0] == 3 and data.y_train.tolist() == TRAIN_FINE[:3]
    assert data.x_test.shape[0] == 2 and data.y_test.tolist() == TEST_FINE[:2]
    with pytest.raises(ConfigError, match="limit_train"):
        load_dataset({"name": "cifar100", "path": str(cifar_dir), "limit_train": 0})


def test_cifar100_missing_files_say_how_to_fix(cifar_dir: Path, tmp_path: Path):
    (cifar_dir / "test").unlink()
    with pytest.raises(ConfigError, match="missing test") as err:
        load_dataset({"name": "cifar100", "path": str(cifar_dir)})
    message = str(err.value)
    assert "cifar-100-python" in message and "cannot be downloaded" in message
    with pytest.raises(ConfigError, match="missing train, test, meta"):
        load_dataset({"name": "cifar100", "path": str(tmp_path / "nowhere")})
    with pytest.raises(ConfigError, match="needs `path"):
        load_dataset({"name": "cifar100"})


def test_cifar100_rejects_a_fine_class_under_two_superclasses(cifar_dir: Path):
    train = pickle.loads((cifar_dir / "train").read_bytes())
    train[b"coarse_labels"][1] = 1  # 'pear' (fine 1) now also under 'animal'
    _dump(cifar_dir / "train", train)
    with pytest.raises(ConfigError, match=r"'pear'.*exactly one superclass"):
        load_dataset({"name": "cifar100", "path": str(cifar_dir)})


def test_cifar100_rejects_malformed_pickles(cifar_dir: Path):
    _dump(cifar_dir / "meta", {b"fine_label_names": FINE})
    with pytest.raises(ConfigError, match="coarse_label_names"):
        load_dataset({"name": "cifar100", "path": str(cifar_dir)})
    (cifar_dir / "meta").write_bytes(b"not a pickle")
    with pytest.raises(ConfigError, match="cannot read"):
        load_dataset({"name": "cifar100", "path": str(cifar_dir)})


@pytest.mark.parametrize("protocol", [2, 4, 5])
def test_cifar100_reads_numpy_arrays_of_every_pickle_protocol(cifar_dir: Path, protocol: int):
    train = pickle.loads((cifar_dir / "train").read_bytes())
    train[b"fine_labels"] = np.array(train[b"fine_labels"], dtype=np.int64)
    _dump(cifar_dir / "train", train, protocol)
    data = load_dataset({"name": "cifar100", "path": str(cifar_dir)})
    assert data.y_train.tolist() == TRAIN_FINE


class _Payload:
    """Unpickling this creates ``marker``: the code execution the loader must refuse."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[object, ...]]:
        return (Path.touch, (self.marker,))


@pytest.mark.parametrize("split", ["meta", "train", "test"])
def test_cifar100_refuses_a_code_payload_without_running_it(
    cifar_dir: Path, tmp_path: Path, split: str
):
    marker = tmp_path / "payload-ran"
    data = pickle.loads((cifar_dir / split).read_bytes())
    data[b"extra"] = _Payload(marker)
    _dump(cifar_dir / split, data)
    with pytest.raises(
        ConfigError, match=r"Python object (__builtin__|builtins)\.getattr.*refused"
    ) as info:
        load_dataset({"name": "cifar100", "path": str(cifar_dir)})
    assert str(cifar_dir / split) in str(info.value)
    assert not marker.exists()


def test_cifar100_refuses_object_arrays(cifar_dir: Path):
    meta = {b"fine_label_names": np.array(FINE, dtype=object), b"coarse_label_names": COARSE}
    _dump(cifar_dir / "meta", meta)
    with pytest.raises(ConfigError, match=r"refused|dtype object"):
        load_dataset({"name": "cifar100", "path": str(cifar_dir)})


# -- feature files ------------------------------------------------------------------------------
def _npz(tmp_path: Path, **arrays: np.ndarray) -> str:
    path = tmp_path / "features.npz"
    np.savez(path, **arrays)
    return str(path)


def test_features_with_test_split_and_class_names(tmp_path: Path):
    x, x_test = np.arange(12.0).reshape(4, 3), np.ones((2, 3))
    path = _npz(
        tmp_path,
        X=x,
        y=np.array([0, 1, 2, 1]),
        X_test=x_test,
        y_test=np.array([2, 0]),
        class_names=np.array(["a", "b", "c"]),
    )
    data = load_dataset({"name": "features", "path": path})
    assert data.classes == ("a", "b", "c") and data.input_shape == (3,)
    assert torch.equal(data.x_train, torch.from_numpy(x).float())
    assert data.y_test.tolist() == [2, 0] and data.y_train.dtype == torch.int64
    assert data.hierarchy is None and data.groups is None and not data.multilabel


def test_features_without_test_split_shuffles_with_the_seed(tmp_path: Path):
    x = np.arange(20.0).reshape(10, 2)
    path = _npz(tmp_path, X=x, y=np.arange(10) % 3)
    data = load_dataset({"name": "features", "path": path, "test_fraction": 0.3, "seed": 4})
    assert data.x_train.shape == (7, 2) and data.x_test.shape == (3, 2)
    assert data.classes == ("c0", "c1", "c2")
    rows = sorted(torch.cat([data.x_train, data.x_test])[:, 0].tolist())
    assert rows == x[:, 0].tolist()  # a partition of the samples
    labels = {int(r[0]) // 2: int(t) for r, t in zip(data.x_train, data.y_train, strict=True)}
    assert all(label == i % 3 for i, label in labels.items())  # rows keep their labels
    again = load_dataset({"name": "features", "path": path, "test_fraction": 0.3, "seed": 4})
    other = load_dataset({"name": "features", "path": path, "test_fraction": 0.3, "seed": 5})
    assert torch.equal(again.x_test, data.x_test) and not torch.equal(other.x_test, data.x_test)
    default = load_dataset({"name": "features", "path": path})
    assert default.x_test.shape == (2, 2)


def test_features_multi_hot(tmp_path: Path):
    y = np.array([[1, 0, 1], [0, 1, 0], [1, 1, 0], [0, 0, 1], [1, 0, 0]])
    data = load_dataset({"name": "features", "path": _npz(tmp_path, X=np.zeros((5, 4)), y=y)})
    assert data.multilabel and data.y_train.dtype == torch.bool
    assert data.y_train.shape == (4, 3) and data.y_test.shape == (1, 3)
    assert len(data.classes) == 3


@pytest.mark.parametrize(
    ("arrays", "match"),
    [
        ({"X": np.zeros(4), "y": np.zeros(4, int)}, "X must be numeric"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(3, int)}, r"y must have shape \(4,\)"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4)}, "integer class indices"),
        ({"X": np.zeros((4, 2)), "y": np.array([0, -1, 0, 1])}, "negative"),
        ({"X": np.full((4, 2), np.nan), "y": np.zeros(4, int)}, "NaN"),
        ({"X": np.zeros((4, 2)), "y": np.full((4, 2), 2)}, "0/1"),
        ({"X": np.zeros((4, 2))}, "needs arrays X"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4, int), "Y_test": np.zeros(2)}, "did you mean"),
        ({"X": np.zeros((4, 2)), "y": np.zeros(4, int), "X_test": np.zeros((2, 2))}, "both"),
        (
            {
                "X": np.zeros((4, 2)),
                "y": np.zeros(4, int),
                "X_test": np.zeros((2, 3)),
                "y_test": np.zeros(2, int),
            },
            "do not match",
        ),
        (
            {"X": np.zeros((4, 2)), "y": np.arange(4), "class_names": np.array(["a", "b"])},
            "need 4 classes",
        ),
    ],
)
def test_features_reject_bad_arrays(tmp_path: Path, arrays: dict, match: str):
    with pytest.raises(ConfigError, match=match):
        load_dataset({"name": "features", "path": _npz(tmp_path, **arrays)})


def test_features_file_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="not found"):
        load_dataset({"name": "features", "path": str(tmp_path / "none.npz")})
    (tmp_path / "bad.npz").write_bytes(b"garbage")
    with pytest.raises(ConfigError, match="cannot read"):
        load_dataset({"name": "features", "path": str(tmp_path / "bad.npz")})
    names = np.array(["a", "b"], dtype=object)
    path = _npz(tmp_path, X=np.zeros((2, 2)), y=np.arange(2), class_names=names)
    with pytest.raises(ConfigError, match="str array"):
        load_dataset({"name": "features", "path": path})
    path = _npz(tmp_path, X=np.zeros((4, 2)), y=np.arange(4), X_test=np.zeros((1, 2)), y_test=[0])
    with pytest.raises(ConfigError, match="remove test_fraction"):
        load_dataset({"name": "features", "path": path, "test_fraction": 0.5})
    path = _npz(tmp_path, X=np.zeros((4, 2)), y=np.arange(4))
    with pytest.raises(ConfigError, match=r"test_fraction must be in \(0, 1\)"):
        load_dataset({"name": "features", "path": path, "test_fraction": 1.5})


# -- synthetic ----------------------------------------------------------------------------------
# the task `structloss run` has always trained on (experiment.DATA_DEFAULTS before [data] loading)
DEFAULT_EXPERIMENT = {
    "name": "synthetic-hierarchy",
    "branching": [4, 5, 5],
    "dim": 64,
    "train_per_class": 10,
    "test_per_class": 50,
    "input_noise": 2.0,
    "seed": 0,
}


def test_defaults_are_the_default_experiment():
    assert {"name": "synthetic-hierarchy", **HIERARCHY_DEFAULTS} == DEFAULT_EXPERIMENT
    data = load_dataset({})
    task = hierarchical_task(**{k: v for k, v in DEFAULT_EXPERIMENT.items() if k != "name"})
    assert data.name == "synthetic-hierarchy" and data.classes == task.classes
    assert torch.equal(data.x_train, task.x_train) and torch.equal(data.y_test, task.y_test)
    assert data.input_shape == (64,) and data.num_classes == 100


def test_synthetic_hierarchy_matches_the_generator():
    options = {"branching": [2, 3], "dim": 5, "train_per_class": 4, "test_per_class": 2}
    data = load_dataset({"name": "synthetic-hierarchy", **options, "seed": 3, "class_noise": 0.1})
    task = hierarchical_task(**options, seed=3, class_noise=0.1, input_noise=2.0)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(data, key), getattr(task, key))
    assert data.hierarchy == task.hierarchy
    assert data.groups.tolist() == [0, 0, 0, 1, 1, 1] and data.group_names == ("g1.0", "g1.1")
    groups, names = hierarchy_groups(task.hierarchy)
    assert groups.tolist() == data.groups.tolist() and names == data.group_names


def test_synthetic_multilabel_matches_the_generator():
    options = {"num_labels": 12, "num_topics": 3, "labels_per_topic": 5, "dim": 4}
    sizes = {"train_size": 30, "test_size": 10, "seed": 2}
    data = load_dataset({"name": "synthetic-multilabel", **options, **sizes})
    task = cooccurrence_task(**options, **sizes)
    assert data.multilabel and data.hierarchy is None and data.groups is None
    assert data.classes == task.classes and data.y_train.dtype == torch.bool
    for key in ("x_train", "y_train", "x_test", "y_test"):
        assert torch.equal(getattr(data, key), getattr(task, key))


def test_synthetic_bad_values_are_config_errors():
    with pytest.raises(ConfigError, match="synthetic-hierarchy"):
        load_dataset({"dim": "wide"})
    with pytest.raises(ConfigError, match="branching"):
        load_dataset({"branching": [2, 0]})


# -- names and options --------------------------------------------------------------------------
def test_unknown_dataset_name_suggests_the_closest():
    with pytest.raises(UnknownComponentError, match="did you mean 'cifar100'") as err:
        load_dataset({"name": "cifar10"})
    assert all(name in str(err.value) for name in DATASET_NAMES)


def test_unknown_option_lists_the_valid_ones():
    with pytest.raises(UnknownOptionError, match="did you mean 'limit_train'") as err:
        load_dataset({"name": "cifar100", "path": "x", "limt_train": 3})
    assert "limit_test" in str(err.value) and "noise_mode" in str(err.value)
    with pytest.raises(UnknownOptionError, match="hierarchy"):
        load_dataset({"hierarchy": {}})
    with pytest.raises(ConfigError, match="must be a table"):
        load_dataset(["synthetic-hierarchy"])  # type: ignore[arg-type]


# -- label noise --------------------------------------------------------------------------------
def _labels(n: int = 20000, classes: int = 20, seed: int = 0) -> torch.Tensor:
    return torch.from_numpy(np.random.default_rng(seed).integers(0, classes, n))


@pytest.mark.parametrize("mode", ["uniform", "group"])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.8])
def test_flip_rate_is_close_to_p(mode: str, p: float):
    y = _labels()
    noisy = inject_label_noise(y, p, mode=mode, groups=block_groups(20, 4), num_classes=20, seed=1)
    assert abs(float((noisy != y).float().mean()) - p) < 0.02
    assert noisy.dtype == y.dtype and noisy.shape == y.shape and noisy is not y


def test_p_zero_keeps_and_p_one_changes_every_label_that_can_change():
    y = _labels(classes=7)
    groups = np.array([0, 0, 1, 1, 1, 2, 3])  # classes 5 and 6 are alone in their group
    assert torch.equal(
        inject_label_noise(y, 0.0, mode="group", groups=groups, num_classes=7, seed=0), y
    )
    noisy = inject_label_noise(y, 1.0, mode="group", groups=groups, num_classes=7, seed=0)
    alone = (y == 5) | (y == 6)
    assert torch.equal(noisy[alone], y[alone]) and bool((noisy[~alone] != y[~alone]).all())
    uniform = inject_label_noise(y, 1.0, mode="uniform", groups=None, num_classes=7, seed=0)
    assert bool((uniform != y).all())


def test_group_noise_stays_in_the_group_and_reaches_every_other_member():
    y = _labels(classes=10)
    groups = np.array([2, 0, 2, 1, 0, 2, 1, 0, 2, 2])
    noisy = inject_label_noise(y, 0.6, mode="group", groups=groups, num_classes=10, seed=3)
    assert np.array_equal(groups[noisy.numpy()], groups[y.numpy()])
    flipped = noisy != y
    for c in range(10):
        targets = set(noisy[flipped & (y == c)].tolist())
        assert targets == {d for d in range(10) if groups[d] == groups[c] and d != c}


def test_uniform_noise_reaches_all_other_classes_evenly():
    y = torch.zeros(20000, dtype=torch.int64)
    noisy = inject_label_noise(y, 1.0, mode="uniform", groups=None, num_classes=5, seed=0)
    counts = torch.bincount(noisy, minlength=5)
    assert counts[0] == 0 and bool((abs(counts[1:] / 20000 - 0.25) < 0.02).all())


def test_noise_is_reproducible_and_nested_in_p():
    y = _labels()
    args = {"mode": "uniform", "groups": None, "num_classes": 20}
    a = inject_label_noise(y, 0.3, seed=5, **args)
    assert torch.equal(a, inject_label_noise(y, 0.3, seed=5, **args))
    assert not torch.equal(a, inject_label_noise(y, 0.3, seed=6, **args))
    b = inject_label_noise(y, 0.6, seed=5, **args)
    assert bool((b[a != y] == a[a != y]).all())  # flips at p=0.3 persist at p=0.6


def test_noise_argument_errors():
    y = _labels(n=10, classes=4)
    ok = {"mode": "uniform", "groups": None, "num_classes": 4, "seed": 0}
    for p in (-0.1, 1.5, float("nan"), True):
        with pytest.raises(ConfigError, match=r"probability in \[0, 1\]"):
            inject_label_noise(y, p, **ok)
    with pytest.raises(ConfigError, match="did you mean 'uniform'"):
        inject_label_noise(y, 0.1, **{**ok, "mode": "unifrom"})
    with pytest.raises(ConfigError, match="one integer group per class"):
        inject_label_noise(y, 0.1, **{**ok, "mode": "group"})
    with pytest.raises(ConfigError, match="multi-label"):
        inject_label_noise(torch.zeros(3, 4, dtype=torch.bool), 0.1, **ok)
    with pytest.raises(ConfigError, match=r"\[0, 3\)"):
        inject_label_noise(y, 0.1, **{**ok, "num_classes": 3})
    with pytest.raises(ConfigError, match="noise_seed"):
        inject_label_noise(y, 0.1, **{**ok, "seed": -1})


# -- label noise through [data] -----------------------------------------------------------------
SMALL = {"branching": [3, 4], "dim": 3, "train_per_class": 50, "test_per_class": 1}


def test_data_noise_applies_to_training_labels_only():
    clean = load_dataset(SMALL)
    noisy = load_dataset({**SMALL, "noise": 0.5, "noise_mode": "group"})
    assert torch.equal(noisy.x_train, clean.x_train) and torch.equal(noisy.y_test, clean.y_test)
    changed = noisy.y_train != clean.y_train
    assert 0.35 < float(changed.float().mean()) < 0.65
    groups = clean.groups
    assert np.array_equal(groups[noisy.y_train.numpy()], groups[clean.y_train.numpy()])
    expected = inject_label_noise(
        clean.y_train, 0.5, mode="group", groups=groups, num_classes=12, seed=0
    )
    assert torch.equal(noisy.y_train, expected)  # noise_seed defaults to the data seed
    reseeded = load_dataset({**SMALL, "noise": 0.5, "noise_seed": 9})
    assert not torch.equal(reseeded.y_train, load_dataset({**SMALL, "noise": 0.5}).y_train)


def test_data_group_noise_without_groups_uses_blocks(tmp_path: Path):
    y = np.arange(400) % 8
    path = _npz(tmp_path, X=np.zeros((400, 2)), y=y, X_test=np.zeros((1, 2)), y_test=[0])
    table = {"name": "features", "path": path, "noise": 1.0, "noise_mode": "group"}
    data = load_dataset({**table, "noise_group_size": 4})
    assert np.array_equal(data.y_train.numpy() // 4, y // 4) and bool(
        (data.y_train.numpy() != y).all()
    )
    assert bool((load_dataset(table).y_train.numpy() // 5 == y // 5).all())  # default size 5


def test_data_noise_errors(tmp_path: Path):
    with pytest.raises(ConfigError, match="multi-label"):
        load_dataset({"name": "synthetic-multilabel", "noise": 0.1, "test_size": 2})
    with pytest.raises(ConfigError, match=r"probability in \[0, 1\]"):
        load_dataset({**SMALL, "noise": 1.2})
    with pytest.raises(ConfigError, match="noise_mode"):
        load_dataset({**SMALL, "noise": 0.1, "noise_mode": "flip"})
    with pytest.raises(ConfigError, match="noise_group_size only applies"):
        load_dataset({**SMALL, "noise": 0.1, "noise_mode": "group", "noise_group_size": 2})
    with pytest.raises(ConfigError, match="noise_group_size"):
        path = _npz(tmp_path, X=np.zeros((5, 2)), y=np.arange(5))
        load_dataset(
            {
                "name": "features",
                "path": path,
                "noise": 0.1,
                "noise_mode": "group",
                "noise_group_size": 0,
            }
        )


def test_dataset_record_validates_its_fields():
    x, y = torch.zeros(3, 2), torch.zeros(3, dtype=torch.int64)
    good = Dataset(classes=["a", "b"], x_train=x, y_train=y, x_test=x, y_test=y, name="t")
    assert good.classes == ("a", "b") and good.groups is None
    with pytest.raises(StructlossError, match="float32"):
        Dataset(classes=["a"], x_train=x.double(), y_train=y, x_test=x, y_test=y)
    with pytest.raises(StructlossError, match="group_names"):
        Dataset(classes=["a", "b"], x_train=x, y_train=y, x_test=x, y_test=y, groups=[0, 1])
    grouped = Dataset(
        classes=["a", "b"],
        x_train=x,
        y_train=y,
        x_test=x,
        y_test=y,
        groups=[0, 0],
        group_names=["g"],
    )
    with pytest.raises(ValueError, match="read-only"):
        grouped.groups[0] = 1


def test_cnn_trains_on_cifar100_format_end_to_end(cifar_dir: Path, tmp_path: Path):
    from structloss import PluginHost
    from structloss.lab import run_experiment

    config = {
        "data": {"name": "cifar100", "path": str(cifar_dir)},
        "model": {"name": "cnn", "width": 4},
        "train": {"epochs": 2, "batch_size": 3},
        "losses": ["cross-entropy"],
    }
    (result,) = run_experiment(config, host=PluginHost(entry_points=[], env={}), out_dir=tmp_path)
    assert result.skipped is None
    # the superclass tree of the data gives the structure-aware metrics
    assert {"top1", "superclass_accuracy", "mistake_severity"} <= set(result.final)
    assert (tmp_path / "trials" / result.key / "model.pt").is_file()
