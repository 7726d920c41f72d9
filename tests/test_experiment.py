"""``structloss run`` / ``compare``: run folders, resuming, sweeps, reproducibility, DDP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from importlib.util import find_spec

import pytest
import torch

from structloss import PluginHost
from structloss.errors import ConfigError
from structloss.lab import run_comparison, run_experiment

SMALL = {
    "data": {
        "name": "synthetic-hierarchy",
        "branching": [2, 3],
        "dim": 8,
        "train_per_class": 8,
        "test_per_class": 4,
    },
    "model": {"name": "mlp", "hidden": 16},
    "train": {"epochs": 3, "batch_size": 8},
    "losses": ["cross-entropy", {"name": "cross-entropy", "label_smoothing": 0.1}],
}


def host() -> PluginHost:
    return PluginHost(entry_points=[], env={})


def test_run_writes_a_complete_run_folder(tmp_path):
    results = run_experiment(SMALL, host=host(), out_dir=tmp_path)
    assert [r.label for r in results] == ["cross-entropy", "cross-entropy(label_smoothing=0.1)"]
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["train"]["epochs"] == 3 and config["model"]["hidden"] == 16
    for result in results:
        trial = tmp_path / "trials" / result.key
        metrics = json.loads((trial / "metrics.json").read_text())
        assert [row["epoch"] for row in metrics["history"]] == [1, 2, 3]
        assert (trial / "metrics.csv").read_text().startswith("epoch,train_loss,top1,top5,")
        state = torch.load(trial / "model.pt", weights_only=True)
        assert state["2.weight"].shape == (6, 16)
        final = result.final
        metrics = (
            "top1 top5 mistake_severity hier_distance@5 superclass_accuracy similarity_accuracy"
        )
        assert set(final) >= {*metrics.split(), "train_loss"}
        assert all(0.0 <= final[m] <= 1.0 for m in ("top1", "top5", "superclass_accuracy"))
    # the data have 6 classes, so top-5 is always at least top-1
    assert results[0].final["top5"] >= results[0].final["top1"]


def test_train_distance_sets_the_tree_metrics_definition(tmp_path):
    """On a balanced tree the path length is exactly twice the LCA height."""
    finals = {}
    for distance in ("lca-height", "edges"):
        config = {**SMALL, "losses": ["cross-entropy"]}
        config["train"] = {**SMALL["train"], "distance": distance}
        (result,) = run_experiment(config, host=host(), out_dir=tmp_path / distance)
        finals[distance] = result.final
    lca, edges = finals["lca-height"], finals["edges"]
    assert lca["top1"] == edges["top1"] and lca["mistake_severity"] > 0
    for key in ("mistake_severity", "hier_distance@5", "crm_mistake_severity"):
        assert edges[key] == pytest.approx(2 * lca[key]), key


def test_eval_every_evaluates_some_epochs_and_always_the_last(tmp_path):
    config = {**SMALL, "losses": ["cross-entropy"]}
    (every,) = run_experiment(config, host=host(), out_dir=tmp_path / "every")
    config["train"] = {**SMALL["train"], "epochs": 3, "eval_every": 2}
    (sparse,) = run_experiment(config, host=host(), out_dir=tmp_path / "sparse")
    assert [("top1" in row) for row in sparse.history] == [False, True, True]
    assert sparse.final == every.final  # the same model: evaluation does not change training
    assert [row["train_loss"] for row in sparse.history] == [
        row["train_loss"] for row in every.history
    ]
    # records made with the default keep the keys they had before the option existed
    config["train"]["eval_every"] = 1
    assert run_experiment(config, host=host())[0].digest == every.digest
    assert sparse.digest != every.digest
    csv = (tmp_path / "sparse" / "trials" / sparse.key / "metrics.csv").read_text().splitlines()
    assert "top1" in csv[0].split(",") and len(csv) == 4


def test_runs_are_reproducible(tmp_path):
    a = run_experiment(SMALL, host=host())
    b = run_experiment(SMALL, host=host())
    assert [r.final for r in a] == [r.final for r in b]


def test_an_interrupted_run_keeps_its_finished_trials(tmp_path):
    first = run_experiment(SMALL, host=host(), out_dir=tmp_path)
    # as if the run had died during the second trial: its marker file never got written
    (tmp_path / "trials" / first[1].key / "metrics.json").unlink()
    trained: list[str] = []
    again = run_experiment(
        SMALL, host=host(), out_dir=tmp_path, on_start=lambda key, epochs: trained.append(key)
    )
    assert trained == [first[1].key]
    assert [r.final for r in again] == [r.final for r in first]


def test_a_changed_config_trains_again(tmp_path):
    run_experiment(SMALL, host=host(), out_dir=tmp_path)
    trained: list[str] = []
    changed = {**SMALL, "train": {"epochs": 2, "batch_size": 8}}
    run_experiment(
        changed, host=host(), out_dir=tmp_path, on_start=lambda key, epochs: trained.append(key)
    )
    assert len(trained) == 2


def test_a_changed_default_trains_again(tmp_path, monkeypatch):
    from structloss.builtin.losses import build_cross_entropy

    config = {**SMALL, "losses": ["cross-entropy"]}
    (before,) = run_experiment(config, host=host(), out_dir=tmp_path)
    smoothed = {**build_cross_entropy.__kwdefaults__, "label_smoothing": 0.2}
    monkeypatch.setattr(build_cross_entropy, "__kwdefaults__", smoothed)
    trained: list[str] = []
    (after,) = run_experiment(
        config, host=host(), out_dir=tmp_path, on_start=lambda key, epochs: trained.append(key)
    )
    assert trained == [after.key] and not after.reused
    assert after.digest != before.digest
    assert after.final["train_loss"] != before.final["train_loss"]


def test_multilabel_data_runs_multilabel_losses_and_skips_the_rest(tmp_path):
    config = {
        "data": {
            "name": "synthetic-multilabel",
            "num_labels": 20,
            "num_topics": 4,
            "labels_per_topic": 6,
            "train_size": 64,
            "test_size": 32,
            "dim": 8,
        },
        "model": {"name": "linear"},
        "train": {"epochs": 2, "batch_size": 16},
    }
    results = {r.loss: r for r in run_experiment(config, host=host())}
    assert results["cross-entropy"].skipped == "a single-label loss; this task is multi-label"
    final = results["binary-cross-entropy"].final
    assert set(final) >= {"precision@5", "recall@5", "mAP"}


def test_compare_sweeps_a_parameter_over_seeds(tmp_path):
    config = {
        **SMALL,
        "losses": ["cross-entropy"],
        "compare": {"parameter": "data.noise", "values": [0.0, 0.5], "seeds": [0, 1]},
    }
    parameter, results = run_comparison(config, host=host(), out_dir=tmp_path)
    assert parameter == "data.noise"
    assert sorted((r.param, r.seed) for r in results) == [(0.0, 0), (0.0, 1), (0.5, 0), (0.5, 1)]
    assert len({r.key for r in results}) == 4
    # different seeds make different data and initialisations
    by = {(r.param, r.seed): r.final["train_loss"] for r in results}
    assert by[(0.0, 0)] != by[(0.0, 1)]


@pytest.mark.parametrize(
    ("compare", "match"),
    [
        ({"parameter": "noise", "values": [0.1]}, r"must be 'TABLE\.OPTION'"),
        ({"values": [0.1]}, r"needs a \[compare\] table with `parameter`"),
        ({"parameter": "data.noise", "values": []}, r"values and seeds must be non-empty"),
        ({"parameter": "data.noise", "values": [0.1], "seed": [1]}, r"has no option \['seed'\]"),
    ],
)
def test_compare_config_errors(compare, match):
    with pytest.raises(ConfigError, match=match):
        run_comparison({**SMALL, "compare": compare}, host=host())


def _torchrun(config_path, out, nproc):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        f"--nproc_per_node={nproc}",
        "-m",
        "structloss",
        "run",
        str(config_path),
        "--out",
        str(out),
    ]
    return subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)


LOSSES = ["cross-entropy"] + (["tree-loss"] if find_spec("structloss_tree_loss") else [])


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("loss", ["cross-entropy", "tree-loss"])
def test_ddp_on_two_processes_equals_one_process(tmp_path, loss):
    if loss not in LOSSES:
        pytest.skip("the tree-loss plugin is not installed in this environment")
    config = tmp_path / "ddp.toml"
    config.write_text(
        f'losses = ["{loss}"]\n'
        "[data]\nbranching = [2, 3]\ndim = 8\ntrain_per_class = 8\ntest_per_class = 4\n"
        '[model]\nname = "mlp"\nhidden = 16\n'
        "[train]\nepochs = 2\nbatch_size = 8\n"
    )
    single = run_experiment(str(config), out_dir=tmp_path / "one")
    result = _torchrun(config, tmp_path / "two", 2)
    # the first worker error sits above torchrun's summary: show both
    assert result.returncode == 0, result.stderr[:3000] + "\n...\n" + result.stderr[-1500:]
    key = single[0].key
    one = torch.load(tmp_path / "one" / "trials" / key / "model.pt", weights_only=True)
    two = torch.load(tmp_path / "two" / "trials" / key / "model.pt", weights_only=True)
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], rtol=1e-5, atol=1e-6)
    metrics_one = json.loads((tmp_path / "one" / "trials" / key / "metrics.json").read_text())
    metrics_two = json.loads((tmp_path / "two" / "trials" / key / "metrics.json").read_text())
    assert metrics_two["final"]["top1"] == pytest.approx(metrics_one["final"]["top1"])
