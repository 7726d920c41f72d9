"""Run folders that never lie: resume keyed on inputs and versions, unusable records,
trial names, JSON without NaN, divergence, and the structure/classes a run evaluates with."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

import structloss
from structloss import PluginHost
from structloss.errors import ConfigError
from structloss.lab import run_comparison, run_experiment
from structloss.lab.reporting import results_table, run_summary, summary_rows, write_outputs
from structloss.lab.runs import RunFolder, TrialResult, loss_label, trial_key

TRAIN = {"epochs": 2, "batch_size": 8}
TREE = {"cat": "animal", "dog": "animal", "truck": "vehicle", "animal": "root", "vehicle": "root"}


def host() -> PluginHost:
    return PluginHost(entry_points=[], env={})


def _features(path: Path, seed: int, *, separable: bool) -> None:
    """Three classes of 4-d features; ``separable`` puts each class far from the others."""
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(3), 20)
    centres = np.eye(3, 4) * (8.0 if separable else 0.0)
    x = centres[y] + rng.normal(size=(60, 4))
    np.savez(path, X=x, y=y, class_names=np.array(["cat", "dog", "truck"]))


def _config(tmp_path: Path, **extra: object) -> dict[str, object]:
    return {
        "data": {"name": "features", "path": str(tmp_path / "f.npz"), "seed": 0},
        "model": {"name": "linear"},
        "train": TRAIN,
        "losses": ["cross-entropy"],
        **extra,
    }


def _trained(config: dict[str, object], out: Path) -> tuple[list[TrialResult], list[str]]:
    keys: list[str] = []
    results = run_experiment(
        config, host=host(), out_dir=out, on_start=lambda key, epochs: keys.append(key)
    )
    return results, keys


# -- 4. resume notices changed inputs and versions ---------------------------------------------
def test_a_changed_input_file_retrains_instead_of_reusing_stale_results(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=False)
    first, _ = _trained(_config(tmp_path), tmp_path / "run")
    _features(tmp_path / "f.npz", 0, separable=True)  # same name, new content
    again, trained = _trained(_config(tmp_path), tmp_path / "run")
    fresh, _ = _trained(_config(tmp_path), tmp_path / "fresh")
    assert trained == [first[0].key] and not again[0].reused
    assert again[0].final == fresh[0].final != first[0].final
    assert run_summary(again)[0] == "0 trial(s) reused from the run folder, 1 trained"


def test_an_unchanged_input_is_reused_and_the_run_says_so(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    first, _ = _trained(_config(tmp_path), tmp_path / "run")
    os.utime(tmp_path / "f.npz")  # touched, not changed: the content decides
    again, trained = _trained(_config(tmp_path), tmp_path / "run")
    assert trained == [] and again[0].reused and again[0].final == first[0].final
    assert run_summary(again)[0] == "1 trial(s) reused from the run folder, 0 trained"


def test_a_changed_structure_file_retrains(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    tree = tmp_path / "tree.json"
    tree.write_text(json.dumps({"parents": TREE}))
    config = _config(tmp_path, structure={"provider": "hierarchy-file", "path": "tree.json"})
    config["data"]["path"] = "f.npz"  # type: ignore[index]
    path = tmp_path / "run.json"
    path.write_text(json.dumps(config))
    cfg = structloss.Config.from_dict(config, base_dir=tmp_path)
    _trained(cfg, tmp_path / "run")  # type: ignore[arg-type]
    tree.write_text(json.dumps({"parents": {**TREE, "dog": "vehicle", "truck": "animal"}}))
    again, trained = _trained(cfg, tmp_path / "run")  # type: ignore[arg-type]
    assert len(trained) == 1 and not again[0].reused


def test_a_new_structloss_version_retrains(tmp_path, monkeypatch):
    _features(tmp_path / "f.npz", 0, separable=True)
    _trained(_config(tmp_path), tmp_path / "run")
    monkeypatch.setattr(structloss, "__version__", "99.0")
    _, trained = _trained(_config(tmp_path), tmp_path / "run")
    assert len(trained) == 1


# -- 5. unusable records are trained again, and said once -------------------------------------
@pytest.mark.parametrize(
    "damage",
    [
        lambda d: {**d, "surprise": 1},  # an extra key
        lambda d: [d],  # valid JSON, wrong shape
        lambda d: {**d, "final": "high"},  # a wrong type
        lambda d: {k: v for k, v in d.items() if k != "history"},  # a missing key
        lambda d: {**d, "key": "another-trial"},  # another trial's record
    ],
    ids=["extra-key", "list", "wrong-type", "missing-key", "other-key"],
)
def test_an_inconsistent_record_is_trained_again_and_reported(tmp_path, damage):
    _features(tmp_path / "f.npz", 0, separable=True)
    first, _ = _trained(_config(tmp_path), tmp_path / "run")
    record = tmp_path / "run" / "trials" / first[0].key / "metrics.json"
    record.write_text(json.dumps(damage(json.loads(record.read_text()))))
    again, trained = _trained(_config(tmp_path), tmp_path / "run")
    assert trained == [first[0].key] and again[0].final == first[0].final
    assert str(record) in again[0].note
    notes = [line for line in run_summary(again) if "unreadable or inconsistent" in line]
    assert len(notes) == 1 and str(record) in notes[0]
    # the folder is healthy again: the next run reuses the new record
    third, trained = _trained(_config(tmp_path), tmp_path / "run")
    assert trained == [] and third[0].note is None


def test_an_undecodable_record_is_trained_again(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    first, _ = _trained(_config(tmp_path), tmp_path / "run")
    (tmp_path / "run" / "trials" / first[0].key / "metrics.json").write_bytes(b"\xff{")
    again, trained = _trained(_config(tmp_path), tmp_path / "run")
    assert trained == [first[0].key] and again[0].note


# -- 6. trial folder names ----------------------------------------------------------------------
def test_a_long_weight_list_gives_a_short_folder_name_that_trains(tmp_path):
    table = {"name": "cross-entropy", "weight": [1.0] * 100}
    key = trial_key(table, 0)
    assert len(key) <= 70 and "100 values" in loss_label(table)
    config = {
        "data": {"branching": [10, 10], "dim": 4, "train_per_class": 1, "test_per_class": 1},
        "model": {"name": "linear"},
        "train": {"epochs": 1},
        "losses": [table],
    }
    (result,) = run_experiment(config, host=host(), out_dir=tmp_path)
    assert (tmp_path / "trials" / result.key / "metrics.json").is_file()


def test_trials_whose_names_read_alike_never_share_a_folder_or_a_row(tmp_path):
    a = {"name": "cross-entropy", "label_smoothing": 0.1, "weight": [1.0, 1.0, 2.0] * 2}
    b = {"name": "cross-entropy", "label_smoothing": 0.1, "weight": [1.0, 1.0, 3.0] * 2}
    assert loss_label(a) == loss_label(b)  # both abbreviate to the same text
    assert trial_key(a, 0) != trial_key(b, 0)
    config = {
        "data": {"branching": [2, 3], "dim": 4, "train_per_class": 4, "test_per_class": 2},
        "model": {"name": "linear"},
        "train": {"epochs": 1},
        "losses": [a, b],
    }
    results = run_experiment(config, host=host(), out_dir=tmp_path)
    assert len({r.key for r in results}) == 2 and len({r.label for r in results}) == 2
    assert len(summary_rows(results)) == 2
    assert len(list((tmp_path / "trials").iterdir())) == 2


# -- 7 and 8. divergence, and JSON without NaN -------------------------------------------------
def _diverging(tmp_path: Path) -> dict[str, object]:
    return {
        "data": {"branching": [2, 3], "dim": 4, "train_per_class": 8, "test_per_class": 2},
        "model": {"name": "mlp", "hidden": 8},
        "train": {"epochs": 4, "batch_size": 8, "lr": 1e12, "optimizer": "sgd"},
        "losses": ["cross-entropy"],
    }


def test_a_diverging_trial_is_reported_and_others_go_on(tmp_path):
    config = _diverging(tmp_path)
    config["compare"] = {"parameter": "train.lr", "values": [1e12, 1e-2]}
    _, results = run_comparison(config, host=host(), out_dir=tmp_path)
    bad, good = results
    assert bad.diverged is not None and bad.status == f"diverged at epoch {bad.diverged}"
    assert good.status == "ok" and good.final["top1"] >= 0.0
    write_outputs(RunFolder(tmp_path), results, "train.lr")
    rows = (tmp_path / "results.csv").read_text().splitlines()
    assert "status" in rows[0].split(",")
    assert any(f"diverged at epoch {bad.diverged}" in row for row in rows[1:])
    summary = run_summary(results)
    assert any("diverged" in line and "lower [train] lr" in line for line in summary)


def test_results_json_holds_null_never_nan(tmp_path):
    results = run_experiment(_diverging(tmp_path), host=host(), out_dir=tmp_path)
    write_outputs(RunFolder(tmp_path), results)

    def refuse(constant: str) -> None:
        raise AssertionError(f"bare {constant} in JSON")

    for name in ("results.json", f"trials/{results[0].key}/metrics.json"):
        data = json.loads((tmp_path / name).read_text(), parse_constant=refuse)
        assert data  # parsed by a strict reader
    record = json.loads((tmp_path / "results.json").read_text())[0]
    assert record["history"][-1]["train_loss"] is None and record["diverged"] is not None


def test_the_printed_table_shows_the_divergence(tmp_path):
    from rich.console import Console

    results = run_experiment(_diverging(tmp_path), host=host())
    console = Console(record=True, width=200)
    console.print(results_table(results, "results"))
    text = console.export_text()
    assert f"diverged at epoch {results[0].diverged}" in text and "lower [train] lr" in text


def test_a_diverged_trial_is_reused_not_retrained(tmp_path):
    run_experiment(_diverging(tmp_path), host=host(), out_dir=tmp_path)
    again, trained = _trained(_diverging(tmp_path), tmp_path)
    assert trained == [] and again[0].diverged is not None and again[0].reused


# -- 9. classes and structure in a run config --------------------------------------------------
def test_the_config_structure_feeds_the_metrics(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    (tmp_path / "tree.json").write_text(json.dumps({"parents": TREE}))
    plain = run_experiment(_config(tmp_path), host=host())[0].final
    assert "mistake_severity" not in plain  # the data alone knows no tree
    with_tree = _config(
        tmp_path, structure={"provider": "hierarchy-file", "path": str(tmp_path / "tree.json")}
    )
    final = run_experiment(with_tree, host=host())[0].final
    assert {"mistake_severity", "hier_distance@3", "superclass_accuracy"} <= set(final)


def test_classes_that_match_the_data_are_accepted(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    run_experiment(_config(tmp_path, classes=["cat", "dog", "truck"]), host=host())


@pytest.mark.parametrize(
    ("classes", "match"),
    [
        (["cat", "dog", "bus"], r"missing \['truck'\], unexpected \['bus'\]"),
        (["dog", "cat", "truck"], "same names in another order"),
    ],
)
def test_classes_that_differ_from_the_data_are_an_error(tmp_path, classes, match):
    _features(tmp_path / "f.npz", 0, separable=True)
    with pytest.raises(ConfigError, match=match) as info:
        run_experiment(_config(tmp_path, classes=classes), host=host())
    assert "class names come from the data" in str(info.value)


def test_k_above_the_number_of_classes_is_an_error(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    config = _config(tmp_path)
    config["train"] = {**TRAIN, "k": 500}
    with pytest.raises(ConfigError, match=r"k = 500 is more than the 3 classes.*k <= 3"):
        run_experiment(config, host=host())


def test_a_loss_entry_may_carry_its_own_structure_convert_and_label(tmp_path):
    _features(tmp_path / "f.npz", 0, separable=True)
    (tmp_path / "tree.json").write_text(json.dumps({"parents": TREE}))
    tree = {"provider": "hierarchy-file", "path": str(tmp_path / "tree.json")}
    config = _config(tmp_path)
    config["losses"] = [
        {"name": "cross-entropy", "label": "plain"},
        {"name": "cross-entropy", "label": "with tree", "structure": tree, "convert": {}},
    ]
    plain, with_tree = run_experiment(config, host=host(), out_dir=tmp_path / "run")
    assert (plain.label, with_tree.label) == ("plain", "with tree")
    assert "mistake_severity" not in plain.final and "mistake_severity" in with_tree.final
    assert plain.key != with_tree.key
    # the variant's own structure file is one of its inputs: changing it retrains it only
    (tmp_path / "tree.json").write_text(json.dumps({"parents": {**TREE, "dog": "vehicle"}}))
    _, trained = _trained(config, tmp_path / "run")
    assert trained == [with_tree.key]


def test_a_loss_entry_structure_must_be_a_table():
    config = {"losses": [{"name": "cross-entropy", "structure": "flat"}], "train": {"epochs": 1}}
    config["data"] = {"branching": [2, 2], "dim": 2, "train_per_class": 1, "test_per_class": 1}
    with pytest.raises(
        ConfigError, match=r"`structure` must be a table with a `provider`, got 'flat'"
    ):
        run_experiment(config, host=host())
