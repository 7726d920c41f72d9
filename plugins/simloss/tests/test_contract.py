"""The core's plugin contract checks (structloss.testing) on this plugin."""

from __future__ import annotations

import structloss_simloss.hooks as hooks
from structloss.testing import DEFAULT_CLASSES, check_loss, check_plugin, check_structure
from structloss_simloss import SimLoss, ordinal_similarity


def test_plugin_contract():
    host = check_plugin(hooks, structures={"ordinal": {"r": 0.3}})
    assert host.spec("loss", "simloss").needs == "similarity"


def test_ordinal_structure_contract():
    check_structure(ordinal_similarity(DEFAULT_CLASSES), DEFAULT_CLASSES, kind="similarity")


def test_loss_contract_with_an_ordinal_similarity():
    similarity = ordinal_similarity([str(age) for age in range(12)], r=0.5)

    def factory(**overrides: object) -> SimLoss:
        return SimLoss(similarity, **overrides)  # type: ignore[arg-type]

    check_loss(factory(), batch=6, factory=factory)
    check_loss(factory(reduction="sum", ignore_index=-1))
