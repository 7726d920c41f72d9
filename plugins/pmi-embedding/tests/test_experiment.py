"""The synthetic experiment runs end to end in its --quick form."""

from __future__ import annotations

import csv
import importlib.util
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[3] / "experiments" / "pmi_embedding_synthetic.py"


@pytest.mark.slow
@pytest.mark.skipif(not SCRIPT.exists(), reason="needs the repository's experiments/ folder")
def test_quick_run_writes_table_and_csv(tmp_path, capsys):
    spec = importlib.util.spec_from_file_location("pmi_embedding_synthetic", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    written = module.main(["--quick", "--out", str(tmp_path)])
    names = {path.name for path in written}
    assert {"pmi_embedding_synthetic.md", "pmi_embedding_synthetic.csv"} <= names
    table = (tmp_path / "pmi_embedding_synthetic.md").read_text()
    assert "binary-cross-entropy" in table and "pmi-embedding" in table
    with (tmp_path / "pmi_embedding_synthetic.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 4  # 2 sizes x 2 methods x 1 seed
    assert all(0.0 <= float(row["map"]) <= 1.0 for row in rows)
    assert "P@5" in capsys.readouterr().out
