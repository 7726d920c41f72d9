"""Fixtures of the hierarchy-baselines tests: the shared isolated host ``plugin_host``."""

from __future__ import annotations

import structloss_hierarchy_baselines.hooks
from structloss.testing.fixtures import plugin_host_fixture

plugin_host = plugin_host_fixture(structloss_hierarchy_baselines.hooks)
