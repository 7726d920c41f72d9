"""Contract checks that any structloss plugin can run in its own tests.

Each check raises ``AssertionError`` with a message naming what is wrong and how to fix it,
so a plain ``pytest`` test is all a plugin needs::

    import structloss
    from structloss.testing import check_loss, check_plugin, check_structure

    import my_plugin.hooks


    def test_plugin_contract():
        check_plugin(my_plugin.hooks)  # specs valid, every loss composes and passes check_loss


    def test_my_loss():
        loss = structloss.compose({"classes": ["a", "b", "c"], "loss": {"name": "my-loss"}})
        check_loss(loss)

- :func:`check_plugin` (:mod:`~structloss.testing.plugins`): a hooks module registers
  cleanly on a fresh host, its specs are valid, its losses compose and pass
  :func:`check_loss`, its structure providers build and pass :func:`check_structure`.
- :func:`check_loss` (:mod:`~structloss.testing.losses`): an
  :class:`~structloss.Objective` trains like ``nn.CrossEntropyLoss``.
- :func:`check_structure` (:mod:`~structloss.testing.structures`): a
  :class:`~structloss.LabelStructure` is consistent, converts and round-trips.
- :func:`example_hierarchy`, :func:`example_structure` (:mod:`~structloss.testing.examples`):
  small structures over any classes; :func:`mixup_target`: probability targets as timm's
  ``Mixup`` builds them, for checking a loss takes them.
- :func:`assert_mentions`: an error message says every part it should; :func:`fit`
  trains a model on one batch and returns the loss before and after; :func:`check_compiles`:
  ``torch.compile(loss)`` gives the eager value and gradient.
- :func:`isolated_host`: a fresh host with the built-ins and one plugin; the pytest fixture
  ``plugin_host`` of :mod:`structloss.testing.fixtures` returns one per test.
"""

from __future__ import annotations

from structloss.testing._assertions import assert_mentions
from structloss.testing.examples import (
    DEFAULT_CLASSES,
    example_hierarchy,
    example_structure,
    mixup_target,
)
from structloss.testing.losses import check_compiles, check_loss, fit
from structloss.testing.plugins import check_plugin, isolated_host
from structloss.testing.structures import check_structure

__all__ = [
    "DEFAULT_CLASSES",
    "assert_mentions",
    "check_compiles",
    "check_loss",
    "check_plugin",
    "check_structure",
    "example_hierarchy",
    "example_structure",
    "fit",
    "isolated_host",
    "mixup_target",
]
