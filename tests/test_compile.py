"""Every installed loss, composed by name, under ``torch.compile`` with the default inductor
backend on the CPU: the compiled value and gradient equal the eager ones.

Inductor compiles C++ for every loss (tens of seconds each), so these tests are marked
``compile`` and run in the ``examples`` tox env; ``pytest -m compile`` runs them anywhere a
C++ compiler is installed.
"""

from __future__ import annotations

import pytest
import torch

import structloss
from structloss.testing import check_compiles, example_structure

pytestmark = pytest.mark.compile

CLASSES = [f"c{i}" for i in range(12)]


def installed_losses() -> list[str]:
    return structloss.default_host().registry.names("loss")


def compose_by_name(name: str) -> tuple[structloss.Objective, bool]:
    """The loss ``name`` over an example structure on CLASSES; whether it is multi-label."""
    spec = structloss.default_host().spec("loss", name)
    structure = example_structure(spec.needs, CLASSES) if spec.needs else None
    config = {"classes": CLASSES, "loss": {"name": name}, "backend": {"name": "torch"}}
    return structloss.compose(config, structure=structure), bool(spec.multilabel)


@pytest.mark.parametrize("name", installed_losses())
def test_inductor_gives_the_eager_value_and_gradient(name):
    torch._dynamo.reset()
    loss, multilabel = compose_by_name(name)
    generator = torch.Generator().manual_seed(0)
    outputs = torch.randn(8, loss.output_size, generator=generator)
    if multilabel:
        target = (torch.rand(8, len(CLASSES), generator=generator) < 0.3).float()
        target[:, 0] = 1.0
    else:
        target = torch.randint(len(CLASSES), (8,), generator=generator)
    check_compiles(loss, outputs, target, backend="inductor", fullgraph=True, rtol=1e-5, atol=1e-6)


def test_every_first_party_loss_is_checked():
    names = set(installed_losses())
    first_party = {"cross-entropy", "tree-loss", "simloss", "smooth-topk", "pmi-embedding"}
    first_party |= {"hxe", "soft-labels", "hier-softmax", "simloss-neighbours"}
    assert first_party <= names, sorted(first_party - names)
