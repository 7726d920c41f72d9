"""The examples of docs/training-stacks.md, each at its smallest size (the ``examples`` tox env).

Each runs as a script, as a user would, and must print finite metrics; the Hugging Face
loss helper is checked against the Trainer's normalisation by hand.
"""

from __future__ import annotations

import ast
import importlib.util
import math
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytestmark = pytest.mark.examples

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(*args: str) -> dict[str, float]:
    """Run ``examples/<args>`` and return the metrics dict it prints last."""
    done = subprocess.run(
        [sys.executable, *args], cwd=EXAMPLES, capture_output=True, text=True, timeout=600
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = ast.literal_eval(done.stdout.strip().splitlines()[-1])
    assert results and all(math.isfinite(v) for v in results.values()), results
    return results


def test_lightning_fast_dev_run():
    pytest.importorskip("lightning")
    results = run_example("lightning_train.py", "--fast-dev-run")
    assert {"train/loss", "val/top1", "val/mistake_severity"} <= set(results)


def test_lightning_on_two_processes_through_its_own_ddp():
    pytest.importorskip("lightning")
    results = run_example(
        "lightning_train.py", "--epochs", "1", "--devices", "2", "--strategy", "ddp"
    )
    assert 0.0 <= results["val/top1"] <= 1.0


def test_hf_trainer_few_steps():
    pytest.importorskip("transformers")
    results = run_example("hf_trainer.py", "--max-steps", "3", "--gradient-accumulation-steps", "2")
    assert 0.0 <= results["top1"] <= 1.0


def test_mixup_one_epoch():
    # not importorskip: timm imports torchvision, which may not load beside a CPU torch;
    # the example then loads timm's mixup module by its path
    if importlib.util.find_spec("timm") is None:
        pytest.skip("timm is not installed")
    results = run_example("mixup_train.py", "--epochs", "1")
    assert results["top1"] > 1 / 110  # one epoch of mixup already beats chance


def test_hf_loss_divides_the_sum_by_num_items_in_batch():
    pytest.importorskip("transformers")
    sys.path.insert(0, str(EXAMPLES))
    try:
        from hf_trainer import hf_loss
    finally:
        sys.path.remove(str(EXAMPLES))
    import structloss

    loss = structloss.compose({"classes": ["a", "b", "c"], "loss": {"name": "cross-entropy"}})
    logits = torch.randn(4, 3)
    labels = torch.tensor([0, 2, -100, 1])
    compute = hf_loss(loss)
    total = torch.nn.functional.cross_entropy(logits, labels, reduction="sum")
    # accumulating two micro-batches: the Trainer passes the labelled samples of both
    torch.testing.assert_close(compute({"logits": logits}, labels, num_items_in_batch=7), total / 7)
    # without it: this batch's labelled samples, which is the mean
    torch.testing.assert_close(compute({"logits": logits}, labels), loss(logits, labels))
    assert loss.reduction == "mean"  # the helper left the objective as it was
