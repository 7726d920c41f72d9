"""The SimLoss experiment script runs end to end in its ``--quick`` form."""

from __future__ import annotations

import csv
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "experiments" / "simloss_synthetic.py"


@pytest.mark.skipif(not SCRIPT.is_file(), reason=f"experiment script not found at {SCRIPT}")
def test_quick_experiment_writes_table_csv_and_plot(tmp_path):
    env = {**os.environ, "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, str(SCRIPT), "--quick", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    table = (tmp_path / "simloss_synthetic.md").read_text(encoding="utf-8")
    assert "| cross-entropy |" in table and "superclass accuracy" in table
    with open(tmp_path / "simloss_synthetic.csv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert rows[0]["variant"] == "cross-entropy"
    assert any(row["variant"].startswith("simloss tree") for row in rows)
    assert any(row["variant"].startswith("simloss centroids") for row in rows)
    for row in rows:
        assert 0.0 <= float(row["accuracy"]) <= float(row["superclass_accuracy"]) <= 1.0
    if importlib.util.find_spec("matplotlib") is not None:
        assert (tmp_path / "simloss_synthetic.png").stat().st_size > 1000
