"""Every run config in the repository runs, at a reduced size (the CI gate for configs)."""

from __future__ import annotations

from pathlib import Path

import pytest

from structloss.config import Config, read_toml
from structloss.errors import UnknownComponentError
from structloss.lab import run_comparison, run_experiment

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = sorted((ROOT / "experiments" / "configs").glob("*.toml"))

SMALLER = {
    "train_per_class": 4,
    "test_per_class": 4,
    "train_size": 96,
    "test_size": 48,
}


def shrink(data: dict) -> dict:
    """The same config at a size CI can afford: one short epoch, one seed, two values."""
    out = {k: dict(v) if isinstance(v, dict) else v for k, v in data.items()}
    out["train"] = {**out.get("train", {}), "epochs": 1}
    for key, value in SMALLER.items():
        if key in out.get("data", {}):
            out["data"][key] = min(out["data"][key], value)
    if "compare" in out:
        compare = out["compare"]
        compare["seeds"] = compare.get("seeds", [0])[:1]
        values = compare["values"][:2]
        if compare["parameter"] in ("data.train_per_class", "data.train_size"):
            values = [min(v, SMALLER[compare["parameter"][5:]]) for v in values]
        compare["values"] = values
    return out


@pytest.mark.integration
@pytest.mark.parametrize("path", CONFIGS, ids=[p.stem for p in CONFIGS])
def test_config_runs_at_reduced_size(path, tmp_path):
    config = Config.from_dict(shrink(read_toml(path)), base_dir=path.parent)
    try:
        if "compare" in config.extra:
            _, results = run_comparison(config, out_dir=tmp_path)
        else:
            results = run_experiment(config, out_dir=tmp_path)
    except UnknownComponentError as exc:
        pytest.skip(f"a plugin this config needs is not installed: {str(exc).splitlines()[0]}")
    assert results and all(r.skipped is None for r in results), [r.skipped for r in results]
    assert (tmp_path / "config.json").is_file()


def test_there_are_configs():
    assert {p.stem for p in CONFIGS} >= {
        "tree_loss",
        "simloss",
        "smooth_topk_noise",
        "pmi_embedding",
    }
