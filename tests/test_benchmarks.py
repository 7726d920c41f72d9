"""``python -m benchmarks``: every benchmark in one process, at a small size (a smoke test)."""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.util import find_spec
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_benchmark_runner_prints_one_table_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    command = [sys.executable, "-m", "benchmarks", "--quick", "--json", str(out)]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "| benchmark | case | baseline (ms) | measured | measured (ms) | ratio |" in result.stdout
    )
    data = json.loads(out.read_text())
    assert data["meta"]["quick"] is True and data["meta"]["threads"] >= 1
    names = {row["benchmark"] for row in data["rows"]}
    assert {"tree metrics", "Hierarchy build"} <= names
    for row in data["rows"]:
        if row["baseline_ms"] is not None:
            assert row["ratio"] == pytest.approx(row["measured_ms"] / row["baseline_ms"])
    if find_spec("structloss_simloss") is not None:
        assert "simloss tree form" in names
    else:
        assert any(s.startswith("simloss") for s in data["skipped"])
