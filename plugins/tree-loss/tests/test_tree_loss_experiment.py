"""The synthetic study script runs end to end with --quick and writes its table and plot."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "experiments" / "tree_loss_synthetic.py"


def load_script() -> ModuleType:
    if not SCRIPT.is_file():
        pytest.skip(f"{SCRIPT} is not here (the tests run outside the repository)")
    spec = importlib.util.spec_from_file_location("tree_loss_synthetic", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_quick_run_writes_table_and_plot(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("matplotlib", reason="the study draws its plot with matplotlib")
    script = load_script()
    assert script.main(["--quick", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "| training samples | tree loss | cross-entropy |" in out
    png = tmp_path / "tree_loss_synthetic.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert png.stat().st_size > 5000
    assert "tree loss" in (tmp_path / "tree_loss_synthetic.md").read_text()
    with (tmp_path / "tree_loss_synthetic.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert [int(row["size"]) for row in rows] == [16, 64]
    for row in rows:
        assert int(row["seeds"]) == 2
        for key in ("tree_mean", "ce_mean"):
            assert 0.0 <= float(row[key]) <= 1.0
        gap = float(row["tree_mean"]) - float(row["ce_mean"])
        assert float(row["gap_mean"]) == pytest.approx(gap, abs=2e-4)


def test_bad_config_is_reported(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    script = load_script()
    config = tmp_path / "bad.toml"
    config.write_text("[train]\nstep = 3\n")
    assert script.main(["--config", str(config), "--out", str(tmp_path)]) == 2
    assert "did you mean 'steps'" in capsys.readouterr().err
