"""The core's plugin contract checks (structloss.testing) on this plugin."""

from __future__ import annotations

import structloss_smooth_topk.hooks as hooks
from structloss.testing import check_loss, check_plugin
from structloss_smooth_topk import SmoothTopK


def test_plugin_contract():
    host = check_plugin(hooks, losses={"smooth-topk": {"k": 2, "tau": 0.5, "alpha": 0.5}})
    assert host.spec("backend", "triton").priority == 10


def test_loss_contract_for_several_k():
    for k in (1, 3, 7):

        def factory(k: int = k, **overrides: object) -> SmoothTopK:
            return SmoothTopK(8, k=k, **overrides)  # type: ignore[arg-type]

        check_loss(factory(), batch=5, factory=factory)
