"""Bad inputs across the public API and the command line: each gets a clear error.

Every case asserts the error type and that the message names the bad value (or file), so a
user sees what to fix. Cases that need a plugin skip where it is not installed (the core
tox env); the integration env runs them all.
"""

from __future__ import annotations

import importlib.util
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import attrs
import numpy as np
import pytest

from structloss import PluginHost, build_structure, compose
from structloss.cli import main
from structloss.errors import (
    ConfigError,
    InputError,
    StructlossError,
    StructureError,
    UnknownComponentError,
    UnknownOptionError,
)
from structloss.lab import TrainSettings, run_comparison, run_experiment
from structloss.plugins import reset_default_host

CLASSES = ["cat", "dog", "truck"]
SMALL_DATA = {"branching": [2, 2], "dim": 4, "train_per_class": 2, "test_per_class": 1}


def host() -> PluginHost:
    return PluginHost(entry_points=[], env={})


@attrs.frozen
class Case:
    """``run(tmp_path)`` must raise ``error`` with every string of ``names`` in the message.

    ``{tmp}`` in a name stands for the test's temporary folder.
    """

    id: str
    run: Callable[[Path], Any]
    error: type[BaseException]
    names: tuple[str, ...]
    plugin: str | None = None


def _loss(**options: Any) -> Callable[[Path], Any]:
    return lambda tmp: compose({"classes": CLASSES, "loss": options}, host=host())


def _compose(config: dict[str, Any]) -> Callable[[Path], Any]:
    return lambda tmp: compose(config, host=host())


def _structure(**table: Any) -> Callable[[Path], Any]:
    return lambda tmp: build_structure(
        {"classes": CLASSES, "structure": table, "loss": "cross-entropy"}, host=host()
    )


def _train(**table: Any) -> Callable[[Path], Any]:
    return lambda tmp: TrainSettings.from_table(table)


def _run(**tables: Any) -> Callable[[Path], Any]:
    config = {"data": SMALL_DATA, "model": {"name": "linear"}, "train": {"epochs": 1}}
    return lambda tmp: run_experiment({**config, **tables}, host=host())


def _data(**table: Any) -> Callable[[Path], Any]:
    from structloss.lab.datasets import load_dataset

    return lambda tmp: load_dataset(table, base_dir=tmp)


def _classes_file(tmp: Path, data: bytes) -> Any:
    (tmp / "classes.txt").write_bytes(data)
    return compose({"classes": {"file": "classes.txt"}, "loss": "cross-entropy"}, host=host())


def _npz(tmp: Path, **arrays: Any) -> Path:
    path = tmp / "f.npz"
    np.savez(path, **arrays)
    return path


def _features(tmp: Path, test_fraction: float = 0.2, **arrays: Any) -> Any:
    from structloss.lab.datasets import load_dataset

    path = str(_npz(tmp, **arrays))
    return load_dataset({"name": "features", "path": path, "test_fraction": test_fraction})


def _cifar(tmp: Path, meta: Any) -> Any:
    from structloss.lab.datasets import load_dataset

    root = tmp / "cifar-100-python"
    root.mkdir()
    for name in ("train", "test"):
        (root / name).write_bytes(pickle.dumps({b"data": np.zeros((1, 3072), np.uint8)}))
    (root / "meta").write_bytes(pickle.dumps(meta, protocol=2))
    return load_dataset({"name": "cifar100", "path": str(root)})


def _cifar_bytes(tmp: Path) -> Any:
    from structloss.lab.datasets import load_dataset

    root = tmp / "cifar-100-python"
    root.mkdir()
    for name in ("train", "test", "meta"):
        (root / name).write_bytes(b"not a pickle")
    return load_dataset({"name": "cifar100", "path": str(root)})


def _load_data_raw(table: Any) -> Any:
    from structloss.lab.datasets import load_dataset

    return load_dataset(table)


class _Payload:
    def __reduce__(self) -> tuple[Any, ...]:
        return (print, ("payload ran",))


def _feature_run(tmp: Path, **extra: Any) -> Any:
    y = np.repeat(np.arange(3), 4)
    path = _npz(tmp, X=np.eye(12, 4), y=y, class_names=np.array(CLASSES))
    config = {
        "data": {"name": "features", "path": str(path)},
        "model": {"name": "linear"},
        "train": {"epochs": 1},
        "losses": ["cross-entropy"],
        **extra,
    }
    return run_experiment(config, host=host())


def _wordnet(tmp: Path, classes: list[str], **options: Any) -> Any:
    from structloss_wordnet_tree.testing import write_database

    write_database(tmp / "wn")
    table = {"provider": "wordnet-tree", "wordnet_dir": str(tmp / "wn"), "cache": False}
    return build_structure({"classes": classes, "structure": {**table, **options}})


def _vectors_pickle(tmp: Path) -> Any:
    from structloss_embedding_similarity.vectors import load_vectors

    path = tmp / "vectors.bin"
    path.write_bytes(pickle.dumps(_Payload()))
    return load_vectors(path, "auto")


API_CASES = [
    # -- compose: names, options and their types ----------------------------------------
    Case("unknown-loss", _loss(name="cross-entropi"), UnknownComponentError, ("cross-entropi", "cross-entropy")),
    Case("unknown-loss-option", _loss(name="cross-entropy", label_smothing=0.1), UnknownOptionError, ("label_smothing", "label_smoothing")),
    Case("quoted-label-smoothing", _loss(name="cross-entropy", label_smoothing="0.1"), ConfigError, ("label_smoothing", "'0.1'", "without quotes")),
    Case("label-smoothing-range", _loss(name="cross-entropy", label_smoothing=2.0), InputError, ("label_smoothing", "2.0")),
    Case("float-ignore-index", _loss(name="cross-entropy", ignore_index=1.5), ConfigError, ("ignore_index", "1.5")),
    Case("bad-reduction", _loss(name="cross-entropy", reduction="avg"), InputError, ("'avg'", "mean")),
    Case("reduction-not-a-string", _loss(name="cross-entropy", reduction=1), ConfigError, ("reduction", "1")),
    Case("weight-length", _loss(name="cross-entropy", weight=[1.0]), InputError, ("weight", "(1,)")),
    Case("weight-of-strings", _loss(name="cross-entropy", weight=["a", "b", "c"]), ConfigError, ("weight", "'a'")),
    Case("loss-name-not-a-string", _compose({"classes": CLASSES, "loss": {"name": 3}}), ConfigError, ("name", "3")),
    Case("no-loss-table", _compose({"classes": CLASSES}), ConfigError, ("[loss]", "cross-entropy")),
    Case("unknown-config-key", _compose({"classes": CLASSES, "los": {}}), ConfigError, ("'los'", "loss")),
    Case("unknown-backend", _compose({"classes": CLASSES, "loss": "cross-entropy", "backend": "cuda"}), UnknownComponentError, ("'cuda'", "torch")),
    Case("backend-options", _compose({"classes": CLASSES, "loss": "cross-entropy", "backend": {"name": "torch", "fast": True}}), UnknownOptionError, ("fast",)),
    Case("duplicate-classes", _compose({"classes": ["cat", "cat"], "loss": "cross-entropy"}), ConfigError, ("'cat'",)),
    Case("classes-table-key", _compose({"classes": {"path": "x.txt"}, "loss": "cross-entropy"}), ConfigError, ("file",)),
    Case("classes-file-missing", _compose({"classes": {"file": "nowhere.txt"}, "loss": "cross-entropy"}), ConfigError, ("nowhere.txt",)),
    Case("classes-file-not-utf8", lambda tmp: _classes_file(tmp, b"caf\xe9\ndog\n"), ConfigError, ("classes.txt", "UTF-8")),
    Case("config-is-a-directory", lambda tmp: compose(str(tmp), host=host()), ConfigError, ("{tmp}", "is a directory")),
    Case("unknown-class-list", _compose({"classes": "cifar1000", "loss": "cross-entropy"}), UnknownComponentError, ("'cifar1000'",)),
    Case("convert-not-a-table", _compose({"classes": CLASSES, "loss": "cross-entropy", "convert": 3}), ConfigError, ("[convert]", "int")),
    Case("config-not-a-table", lambda tmp: compose([1, 2], host=host()), ConfigError, ("list",)),
    # -- structures -----------------------------------------------------------------------
    Case("unknown-provider", _structure(provider="hierachy-file"), UnknownComponentError, ("'hierachy-file'", "hierarchy-file")),
    Case("structure-option-missing", _structure(provider="hierarchy-file"), ConfigError, ("path",)),
    Case("structure-file-missing", _structure(provider="hierarchy-file", path="nope.json"), StructureError, ("nope.json",)),
    Case("flat-root-type", _structure(provider="flat", root=3), ConfigError, ("root", "3")),
    Case("structure-no-provider", _structure(path="x.json"), ConfigError, ("provider",)),
    # -- [train] --------------------------------------------------------------------------
    Case("epochs-float", _train(epochs=1.5), ConfigError, ("epochs", "1.5", "integer")),
    Case("lr-word", _train(lr="fast"), ConfigError, ("lr", "'fast'", "number")),
    Case("epochs-zero", _train(epochs=0), ConfigError, ("epochs", "0")),
    Case("lr-negative", _train(lr=-0.1), ConfigError, ("lr", "-0.1")),
    Case("batch-size-bool", _train(batch_size=True), ConfigError, ("batch_size", "True")),
    Case("weight-decay-negative", _train(weight_decay=-1.0), ConfigError, ("weight_decay", "-1.0")),
    Case("seed-negative", _train(seed=-1), ConfigError, ("seed", "-1")),
    Case("k-zero", _train(k=0), ConfigError, ("k", "0")),
    Case("optimizer", _train(optimizer="adamw"), ConfigError, ("'adamw'", "'adam'")),
    Case("train-unknown-key", _train(epoch=3), ConfigError, ("'epoch'", "epochs")),
    Case("k-above-classes", _run(train={"epochs": 1, "k": 500}), ConfigError, ("k = 500", "4 classes", "k <= 4")),
    # -- [data] ---------------------------------------------------------------------------
    Case("unknown-dataset", _data(name="cifar10"), UnknownComponentError, ("'cifar10'", "cifar100")),
    Case("data-unknown-option", _data(name="synthetic-hierarchy", dims=4), UnknownOptionError, ("'dims'", "dim")),
    Case("data-dim-float", _data(name="synthetic-hierarchy", dim=1.5), ConfigError, ("dim", "1.5")),
    Case("data-branching-string", _data(name="synthetic-hierarchy", branching="4,5"), ConfigError, ("branching", "'4,5'")),
    Case("data-train-per-class-zero", _data(name="synthetic-hierarchy", train_per_class=0), ConfigError, ("train_per_class",)),
    Case("noise-above-one", _data(name="synthetic-hierarchy", noise=1.5, **SMALL_DATA), ConfigError, ("noise", "1.5")),
    Case("noise-mode", _data(name="synthetic-hierarchy", noise=0.1, noise_mode="groups", **SMALL_DATA), ConfigError, ("'groups'", "group")),
    Case("cifar-path-missing", _data(name="cifar100", path="nowhere"), ConfigError, ("nowhere", "cifar-100-python")),
    Case("cifar-limit-zero", _data(name="cifar100", path=".", limit_train=0), ConfigError, ("limit_train", "0")),
    Case("cifar-payload", lambda tmp: _cifar(tmp, {b"x": _Payload()}), ConfigError, ("meta", "print", "refused")),
    Case("cifar-not-a-pickle", _cifar_bytes, ConfigError, ("meta", "cannot read")),
    Case("features-missing", _data(name="features", path="none.npz"), ConfigError, ("none.npz",)),
    Case("features-object-array", lambda tmp: _features(tmp, X=np.array([{}, {}], dtype=object), y=np.zeros(2, int)), ConfigError, ("f.npz", "without pickles")),
    Case("features-nan", lambda tmp: _features(tmp, X=np.full((4, 2), np.nan), y=np.zeros(4, int)), ConfigError, ("X", "NaN")),
    Case("features-test-fraction", lambda tmp: _features(tmp, test_fraction=2, X=np.ones((4, 2)), y=np.zeros(4, int)), ConfigError, ("test_fraction", "2")),
    Case("features-float-labels", lambda tmp: _features(tmp, X=np.ones((4, 2)), y=np.ones(4)), ConfigError, ("y", "float64")),
    Case("data-not-a-table", lambda tmp: _load_data_raw("synthetic"), ConfigError, ("[data]", "str")),
    # -- [model] --------------------------------------------------------------------------
    Case("model-not-a-table", _run(model="mlp"), ConfigError, ("[model]", "'mlp'")),
    Case("run-data-not-a-table", _run(data=[1]), ConfigError, ("[data]", "[1]")),
    Case("unknown-model", _run(model={"name": "resnet"}), ConfigError, ("'resnet'", "cnn")),
    Case("model-hidden-float", _run(model={"name": "mlp", "hidden": 1.5}), ConfigError, ("hidden", "1.5")),
    Case("model-layers-zero", _run(model={"name": "mlp", "layers": 0}), ConfigError, ("layers",)),
    Case("model-unknown-option", _run(model={"name": "mlp", "width": 8}), ConfigError, ("'width'", "hidden")),
    Case("cnn-on-vectors", _run(model={"name": "cnn"}), ConfigError, ("cnn", "image")),
    # -- runs and sweeps ------------------------------------------------------------------
    Case("run-classes-mismatch", lambda tmp: _feature_run(tmp, classes=["cat", "dog", "bus"]), ConfigError, ("'bus'", "class names come from the data")),
    Case("losses-not-a-list", _run(losses="cross-entropy"), ConfigError, ("losses",)),
    Case("losses-entry-a-number", _run(losses=[3]), ConfigError, ("losses", "3")),
    Case("losses-entry-without-name", _run(losses=[{"label_smoothing": 0.1}]), ConfigError, ("losses", "label_smoothing")),
    Case("compare-parameter", lambda tmp: run_comparison({"compare": {"parameter": "noise", "values": [0.1]}}, host=host()), ConfigError, ("'noise'", "TABLE.OPTION")),
    Case("compare-values-a-string", lambda tmp: run_comparison({"compare": {"parameter": "data.noise", "values": "0.1"}}, host=host()), ConfigError, ("values", "'0.1'")),
    Case("compare-seed-float", lambda tmp: run_comparison({"compare": {"parameter": "data.noise", "values": [0.1], "seeds": [0.5]}}, host=host()), ConfigError, ("seeds", "0.5")),
    Case("compare-values-empty", lambda tmp: run_comparison({"compare": {"parameter": "data.noise", "values": []}}, host=host()), ConfigError, ("values",)),
    # -- plugins --------------------------------------------------------------------------
    Case("vectors-pickle-auto", _vectors_pickle, ConfigError, ("vectors.bin", 'format = "gensim"'), "structloss_embedding_similarity"),
    Case("wordnet-same-synset", lambda tmp: _wordnet(tmp, ["Cat", "cat"]), StructureError, ("'Cat' and 'cat'", "cat.n.01"), "structloss_wordnet_tree"),
    Case("wordnet-pin-unknown-class", lambda tmp: _wordnet(tmp, ["crane", "dog"], synsets={"crame": "crane.n.02"}), ConfigError, ("'crame'", "crane"), "structloss_wordnet_tree"),
    Case("wordnet-pin-unknown-synset", lambda tmp: _wordnet(tmp, ["crane", "dog"], synsets={"crane": "crane.n.9"}), StructureError, ("'crane'", "crane.n.9"), "structloss_wordnet_tree"),
    Case("wordnet-pin-bad-offset", lambda tmp: _wordnet(tmp, ["crane", "dog"], synsets={"crane": "n00000001"}), StructureError, ("'crane'", "n00000001"), "structloss_wordnet_tree"),
    Case("wordnet-collapse-type", lambda tmp: _wordnet(tmp, ["crane", "dog"], collapse="yes"), ConfigError, ("collapse", "'yes'"), "structloss_wordnet_tree"),
]  # fmt: skip


@pytest.mark.parametrize("case", API_CASES, ids=lambda c: c.id)
def test_a_bad_input_gets_a_clear_error(case: Case, tmp_path: Path, monkeypatch, capsys):
    if case.plugin is not None and importlib.util.find_spec(case.plugin) is None:
        pytest.skip(f"needs the plugin package {case.plugin}")
    monkeypatch.chdir(tmp_path)
    reset_default_host()
    with pytest.raises(case.error) as info:
        case.run(tmp_path)
    assert isinstance(info.value, StructlossError)
    message = str(info.value)
    for name in case.names:
        name = name.format(tmp=tmp_path)
        assert name in message, f"{name!r} not in {message!r}"
    assert "payload ran" not in capsys.readouterr().out


def test_there_are_at_least_sixty_cases():
    assert len(API_CASES) + len(CLI_CASES) >= 60


# -- the command line ---------------------------------------------------------------------------
def _write(tmp: Path, name: str, data: bytes | str) -> str:
    path = tmp / name
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return str(path)


RUN_TOML = (
    "[data]\nbranching = [2, 2]\ndim = 4\ntrain_per_class = 2\ntest_per_class = 1\n"
    '[model]\nname = "linear"\n[train]\nepochs = 1\n'
)
TREE_TOML = '[structure]\nprovider = "flat"\nclasses = ["a"]\n'

#: (id, argv builder, strings the error names); each must exit 2 with one line, no traceback
CLI_CASES: list[tuple[str, Callable[[Path], list[str]], tuple[str, ...]]] = [
    ("missing-config", lambda tmp: ["run", str(tmp / "none.toml")], ("none.toml", "not found")),
    ("toml-syntax", lambda tmp: ["run", _write(tmp, "bad.toml", "[train\n")], ("bad.toml", "invalid TOML")),
    ("unknown-train-option", lambda tmp: ["run", _write(tmp, "c.toml", RUN_TOML + "epoch = 2\n")], ("'epoch'",)),
    ("train-epochs-float", lambda tmp: ["run", _write(tmp, "c.toml", RUN_TOML.replace("epochs = 1", "epochs = 1.5"))], ("epochs", "1.5")),
    ("train-lr-word", lambda tmp: ["run", _write(tmp, "c.toml", RUN_TOML + 'lr = "fast"\n')], ("lr", "'fast'")),
    ("compare-without-table", lambda tmp: ["compare", _write(tmp, "c.toml", RUN_TOML)], ("[compare]",)),
    ("structure-without-config", lambda tmp: ["structure", str(tmp / "none.toml")], ("none.toml",)),
    ("structure-unknown-provider", lambda tmp: ["structure", _write(tmp, "s.toml", '[structure]\nprovider = "flta"\n')], ("'flta'", "flat")),
    ("config-is-a-directory", lambda tmp: ["run", str(tmp)], ("{tmp}", "is a directory")),
    ("structure-config-is-a-directory", lambda tmp: ["structure", str(tmp)], ("is a directory",)),
    ("toml-not-utf8", lambda tmp: ["run", _write(tmp, "latin.toml", b'# caf\xe9\n[train]\nepochs = 1\n')], ("latin.toml", "UTF-8")),
    ("classes-file-not-utf8", lambda tmp: ["structure", _classes_config(tmp)], ("classes.txt", "UTF-8")),
    ("out-is-a-file", lambda tmp: ["run", _write(tmp, "c.toml", RUN_TOML), "--out", _write(tmp, "taken", "")], ("taken", "is a file")),
    ("out-not-writable", lambda tmp: ["run", _write(tmp, "c.toml", RUN_TOML), "--out", _write(tmp, "f", "") + "/run"], ("f/run", "cannot write the run folder")),
    ("json-is-a-directory", lambda tmp: ["structure", _flat_config(tmp), "--json", str(tmp)], ("--json", "is a folder")),
    ("draw-format", lambda tmp: ["structure", _flat_config(tmp), "--draw", str(tmp / "tree.gif")], ("tree.gif", ".png")),
    ("draw-is-a-directory", lambda tmp: ["structure", _flat_config(tmp), "--draw", _folder(tmp, "d.png")], ("--draw", "is a folder")),
    ("max-nodes-zero", lambda tmp: ["structure", _flat_config(tmp), "--max-nodes", "0"], ("--max-nodes", "0")),
    ("new-plugin-shipped-name", lambda tmp: ["new-plugin", "tree-loss", "--dir", str(tmp / "p")], ("'tree-loss' is taken", "shipped")),
    ("new-plugin-installed-loss", lambda tmp: ["new-plugin", "cross-entropy", "--dir", str(tmp / "p")], ("loss 'cross-entropy'",)),
    ("new-plugin-bad-name", lambda tmp: ["new-plugin", "Acme_Loss", "--dir", str(tmp / "p")], ("'Acme_Loss'",)),
]  # fmt: skip


def _folder(tmp: Path, name: str) -> str:
    (tmp / name).mkdir()
    return str(tmp / name)


def _flat_config(tmp: Path) -> str:
    return _write(tmp, "flat.toml", 'classes = ["a", "b"]\n[structure]\nprovider = "flat"\n')


def _classes_config(tmp: Path) -> str:
    _write(tmp, "classes.txt", b"caf\xe9\ndog\n")
    text = 'classes = {file = "classes.txt"}\n[structure]\nprovider = "flat"\n'
    return _write(tmp, "classes.toml", text)


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c[0])
def test_a_bad_command_line_exits_2_with_a_clear_error(case, tmp_path, capsys, monkeypatch):
    _, argv, names = case
    monkeypatch.chdir(tmp_path)
    reset_default_host()
    assert main(argv(tmp_path)) == 2
    captured = capsys.readouterr()
    assert captured.err.startswith("structloss: error: ")
    assert "Traceback" not in captured.err + captured.out
    for name in names:
        name = name.format(tmp=tmp_path)
        assert name in captured.err, f"{name!r} not in {captured.err!r}"
