"""A real, separately installed distribution registers a loss and a structure provider.

The test builds two throwaway distributions in its temp dir, installs them with pip into a
target directory, and drives ``structloss`` in a subprocess with that directory on the path,
so entry-point discovery is exercised exactly as for a user's package.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

GOOD_PLUGIN = '''
"""A third-party plugin: a hinge loss and a chain-shaped hierarchy."""
import torch
import structloss
from structloss import Hierarchy, LossSpec, Objective, StructureSpec


class MulticlassHinge(Objective):
    def __init__(self, num_classes, *, margin=1.0, reduction="mean"):
        super().__init__(num_classes=num_classes, reduction=reduction)
        self.margin = margin

    def forward(self, outputs, target):
        index, valid = self.check_inputs(outputs, target)
        true = outputs.gather(1, index[:, None])
        margins = (self.margin + outputs - true).clamp_min(0)
        margins = margins.scatter(1, index[:, None], 0.0)
        return self.reduce(margins.max(dim=1).values, valid)


def build_hinge(context, *, margin=1.0, reduction="mean"):
    return MulticlassHinge(context.num_classes, margin=margin, reduction=reduction)


def build_chain(context, *, prefix="level"):
    classes = context.classes
    parents = {c: f"{prefix}{i}" for i, c in enumerate(classes)}
    parents.update({f"{prefix}{i}": f"{prefix}{i + 1}" for i in range(len(classes) - 1)})
    return Hierarchy.from_parents(classes, parents)


@structloss.hookimpl
def structloss_losses():
    yield LossSpec(name="acme-hinge", factory=build_hinge, summary="multi-class hinge")


@structloss.hookimpl
def structloss_structures():
    yield StructureSpec(name="acme-chain", factory=build_chain, summary="a chain", kind="hierarchy")
'''

BROKEN_PLUGIN = """
import module_that_does_not_exist_anywhere  # noqa: F401
"""


def _make_distribution(root: Path, name: str, entry: str, module: str, source: str) -> Path:
    project = root / name
    (project / module).mkdir(parents=True)
    (project / module / "__init__.py").write_text(textwrap.dedent(source))
    (project / "pyproject.toml").write_text(
        textwrap.dedent(
            f"""
            [build-system]
            requires = ["hatchling"]
            build-backend = "hatchling.build"

            [project]
            name = "{name}"
            version = "1.2.3"

            [project.entry-points.structloss]
            {entry} = "{module}"

            [tool.hatch.build.targets.wheel]
            packages = ["{module}"]
            """
        )
    )
    return project


@pytest.fixture(scope="module")
def site(tmp_path_factory, pip_install):
    root = tmp_path_factory.mktemp("third_party")
    projects = [
        _make_distribution(root, "acme-structloss", "acme", "acme_structloss", GOOD_PLUGIN),
        _make_distribution(root, "broken-structloss", "broken", "broken_structloss", BROKEN_PLUGIN),
    ]
    return pip_install(root / "site", *projects)


def _run(site: Path, *args: str, env_extra: dict[str, str] | None = None):
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRUCTLOSS_")}
    env.update({"PYTHONPATH": str(site), **(env_extra or {})})
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env)


def test_installed_plugin_is_listed_with_its_distribution(site):
    result = _run(site, "-m", "structloss", "plugins", "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    acme = next(p for p in report["plugins"] if p["name"] == "acme")
    assert acme["distribution"] == "acme-structloss"
    assert acme["version"] == "1.2.3"
    assert acme["losses"] == ["acme-hinge"]
    assert acme["structures"] == ["acme-chain"]
    failure = next(f for f in report["failures"] if f["plugin"] == "broken")
    assert "module_that_does_not_exist_anywhere" in failure["error"]
    assert failure["stage"] == "import"


def test_installed_plugin_composes_by_name(site):
    code = textwrap.dedent(
        """
        import torch, structloss
        loss = structloss.compose({"classes": ["a", "b", "c"],
                                   "loss": {"name": "acme-hinge", "margin": 0.5}})
        outputs = torch.tensor([[2.0, 0.0, 0.0], [0.0, 0.2, 0.0]])
        print("VALUE", float(loss(outputs, torch.tensor([0, 1]))))
        tree = structloss.build_structure({"classes": ["a", "b", "c"],
                                           "structure": {"provider": "acme-chain"}})
        print("DEPTHS", tree.depths[:3].tolist())
        """
    )
    result = _run(site, "-c", code)
    assert result.returncode == 0, result.stderr
    # sample 0: max(0, 0.5 + 0 - 2) = 0; sample 1: 0.5 + 0 - 0.2 = 0.3; mean 0.15
    assert "VALUE 0.15" in result.stdout
    assert "DEPTHS [3, 2, 1]" in result.stdout


def test_broken_plugin_error_surfaces_only_when_asked(site):
    code = textwrap.dedent(
        """
        import structloss
        structloss.compose({"classes": ["a", "b"], "loss": {"name": "cross-entropy"}})
        print("CROSS-ENTROPY OK")
        structloss.compose({"classes": ["a", "b"], "loss": {"name": "broken-structloss"}})
        """
    )
    result = _run(site, "-c", code)
    assert "CROSS-ENTROPY OK" in result.stdout
    assert result.returncode != 0
    assert "unknown loss 'broken-structloss'" in result.stderr
    assert "broken-structloss 1.2.3" in result.stderr
    assert "module_that_does_not_exist_anywhere" in result.stderr


def test_strict_mode_raises_at_load(site):
    result = _run(
        site,
        "-c",
        "import structloss; structloss.default_host()",
        env_extra={"STRUCTLOSS_STRICT_PLUGINS": "1"},
    )
    assert result.returncode != 0
    assert "PluginLoadError" in result.stderr and "broken-structloss" in result.stderr


def test_disable_by_distribution_name(site):
    result = _run(
        site,
        "-m",
        "structloss",
        "plugins",
        "--json",
        env_extra={"STRUCTLOSS_DISABLE_PLUGINS": "broken-structloss"},
    )
    report = json.loads(result.stdout)
    assert [f for f in report["failures"] if f["plugin"] == "broken"] == []
    assert report["disabled"] == ["broken"]
