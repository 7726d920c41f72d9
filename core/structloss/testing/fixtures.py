"""The pytest fixture every plugin's tests share: ``plugin_host``, an isolated host.

Make it in the plugin's ``tests/conftest.py``, naming the hooks module under test::

    import my_plugin.hooks
    from structloss.testing.fixtures import plugin_host_fixture

    plugin_host = plugin_host_fixture(my_plugin.hooks)

and take it in a test like any fixture::

    def test_composes(plugin_host):
        loss = structloss.compose(config, host=plugin_host)

Each test gets a fresh :func:`~structloss.testing.isolated_host`: the built-ins and this
plugin, no other installed plugin, no ``STRUCTLOSS_*`` variables. A fixture factory rather
than a ``pytest_plugins`` entry: pytest refuses ``pytest_plugins`` in a ``conftest.py`` below
the root directory, which is where a plugin's tests sit in a repository of several plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from structloss.plugins import PluginHost
from structloss.testing.plugins import isolated_host

__all__ = ["plugin_host_fixture"]


def plugin_host_fixture(
    plugin: object | str, *, requires: Sequence[object | str] = ()
) -> Callable[[], PluginHost]:
    """Return the fixture ``plugin_host``: a fresh isolated host with ``plugin`` registered.

    Assign it in a ``conftest.py`` as ``plugin_host = plugin_host_fixture(my_plugin.hooks)``.

    Args:
        plugin: the hooks module (or object), or its import path (``"my_plugin.hooks"``).
        requires: plugins registered first, as for :func:`~structloss.testing.isolated_host`.

    Returns:
        A function-scoped pytest fixture named ``plugin_host``.
    """

    @pytest.fixture(name="plugin_host")
    def plugin_host() -> PluginHost:
        """A fresh host with the built-ins and the plugin under test only."""
        return isolated_host(plugin, requires=requires)

    return plugin_host
