"""The ``structloss`` command, called in-process through ``main``."""

from __future__ import annotations

import json
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


def test_tree_layout_centres_parents():
    from structloss.drawing import tree_layout

    tree = Hierarchy.from_parents(
        ["cat", "dog", "car"], {"cat": "animal", "dog": "animal", "animal": "root", "car": "root"}
    )
    xy = tree_layout(tree)
    # depth-first: root's children in node order are car (a class) then animal
    assert xy[tree.index("car")].tolist() == [0.0, -1.0]
    assert xy[tree.index("cat")].tolist() == [1.0, -2.0]
    assert xy[tree.index("animal")].tolist() == [1.5, -1.0]
    assert xy[tree.index("root")].tolist() == [0.75, 0.0]
