"""``structloss new-plugin``: the template renders a plugin that installs and passes its tests."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from structloss.cli import main
from structloss.errors import ConfigError
from structloss.template import (
    PLUGIN_NAME,
    SHIPPED_PLUGINS,
    plugin_names,
    render_plugin,
    validate_plugin_name,
)

EXPECTED_FILES = [
    "README.md",
    "pyproject.toml",
    "src/structloss_acme_demo/__init__.py",
    "src/structloss_acme_demo/hooks.py",
    "src/structloss_acme_demo/loss.py",
    "src/structloss_acme_demo/py.typed",
    "src/structloss_acme_demo/structure.py",
    "tests/test_plugin.py",
]


def _env(site: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STRUCTLOSS_")}
    env["PYTHONPATH"] = str(site)
    return env


# -- rendering and names (fast) ---------------------------------------------------------------
def test_renders_every_file_with_names_filled_in(tmp_path: Path) -> None:
    project = tmp_path / "structloss-acme-demo"
    written = render_plugin("acme-demo", project)
    assert sorted(p.relative_to(project).as_posix() for p in written) == EXPECTED_FILES
    pyproject = (project / "pyproject.toml").read_text()
    assert 'name = "structloss-acme-demo"' in pyproject
    assert 'acme-demo = "structloss_acme_demo.hooks"' in pyproject
    for path in written:
        text = path.read_text()
        assert "{{" not in text and "__module__" not in text, path
        if path.suffix == ".py":
            compile(text, str(path), "exec")
    assert "class AcmeDemoLoss(Objective)" in (project / EXPECTED_FILES[4]).read_text()


def test_default_directory_is_the_distribution_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    render_plugin("acme-demo")
    assert (tmp_path / "structloss-acme-demo" / "pyproject.toml").is_file()


def test_plugin_names() -> None:
    assert plugin_names("acme-demo") == {
        "name": "acme-demo",
        "distribution": "structloss-acme-demo",
        "module": "structloss_acme_demo",
        "class_name": "AcmeDemo",
        "loss": "acme-demo",
        "structure": "acme-demo-initials",
    }


@pytest.mark.parametrize(
    "name, message",
    [
        ("Acme", "invalid plugin name 'Acme'"),
        ("acme_demo", "invalid plugin name"),
        ("acme--demo", "invalid plugin name"),
        ("-acme", "invalid plugin name"),
        ("3d", "starting with a letter"),
        ("acme demo", "invalid plugin name"),
        ("a" * 41, "at most 40 characters"),
        ("structloss-acme", "without the 'structloss-' prefix: `structloss new-plugin acme`"),
        ("structloss", "without the 'structloss-' prefix"),
        ("cross-entropy", "would clash with loss 'cross-entropy' of the installed"),
        ("tree-loss", "shipped with structloss"),
        ("pmi-embedding", "shipped with structloss"),
    ],
)
def test_invalid_names_are_refused(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        validate_plugin_name(name)


def test_cli_refuses_a_shipped_name_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    project = tmp_path / "structloss-tree-loss"
    assert main(["new-plugin", "tree-loss", "--dir", str(project)]) == 2
    err = capsys.readouterr().err
    assert "'tree-loss' is taken" in err and "nothing was written" in err
    assert not project.exists()


def test_refuses_the_name_of_an_installed_distribution(monkeypatch) -> None:
    from importlib import metadata

    real = metadata.distribution

    class Installed:
        version = "1.2"

    def distribution(name: str):  # as if structloss-acme-taken were installed
        return Installed() if name == "structloss-acme-taken" else real(name)

    monkeypatch.setattr(metadata, "distribution", distribution)
    with pytest.raises(ConfigError, match=r"installed distribution structloss-acme-taken 1\.2"):
        validate_plugin_name("acme-taken")


def test_refuses_the_name_of_an_installed_component() -> None:
    from structloss.plugins import PluginHost

    installed = PluginHost().registry.names("loss")
    for name in installed:
        if PLUGIN_NAME.match(name):
            with pytest.raises(ConfigError, match=f"loss '{name}' of the installed"):
                validate_plugin_name(name)


REPO = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not (REPO / "plugins").is_dir(), reason="needs the repository's plugins/")
def test_shipped_plugins_are_the_plugin_folders() -> None:
    assert sorted(SHIPPED_PLUGINS) == sorted(p.name for p in (REPO / "plugins").iterdir())


@pytest.mark.parametrize(
    "name, message",
    [
        ("torch", "backend 'torch' of the installed plugin 'structloss.builtin.backends'"),
        ("flat", "structure 'flat' of the installed plugin 'structloss.builtin.structures'"),
        ("numpy", "the installed distribution numpy "),
    ],
)
def test_refuses_names_that_installed_things_use(name: str, message: str) -> None:
    with pytest.raises(ConfigError, match=f"plugin name '{name}' is taken") as info:
        validate_plugin_name(name)
    assert message in str(info.value) and f"such as 'my-{name}'" in str(info.value)


def test_disabled_plugins_still_hold_their_names(monkeypatch: pytest.MonkeyPatch) -> None:
    from structloss.plugins import PluginHost

    providers = PluginHost(env={}).registry.providers("structure", "ordinal")
    if not providers:
        pytest.skip("needs a plugin providing the structure 'ordinal' (structloss-simloss)")
    monkeypatch.setenv("STRUCTLOSS_LOAD_PLUGINS", "")
    monkeypatch.setenv("STRUCTLOSS_STRICT_PLUGINS", "1")
    with pytest.raises(ConfigError, match="structure 'ordinal' of the installed plugin"):
        validate_plugin_name("ordinal")


def test_a_plugin_that_fails_to_load_still_holds_its_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from importlib import metadata

    import structloss.plugins

    broken = metadata.EntryPoint("acme-broken", "structloss_no_such_module_xyz", "structloss")
    real = metadata.entry_points

    def entry_points(**kwargs: str):  # as if a broken plugin acme-broken were installed
        found = real(**kwargs)
        return [*found, broken] if kwargs.get("group") == "structloss" else found

    monkeypatch.setattr(structloss.plugins.metadata, "entry_points", entry_points)
    with pytest.raises(ConfigError, match="clash with the installed plugin 'acme-broken'"):
        validate_plugin_name("acme-broken")


def test_refuses_a_directory_under_a_file_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    target = a_file / "sub" / "project"
    assert main(["new-plugin", "acme-demo", "--dir", str(target)]) == 2
    err = capsys.readouterr().err
    assert "structloss: error:" in err and f"{str(a_file)!r} is a file" in err
    assert "Traceback" not in err and a_file.read_text() == ""


@pytest.mark.parametrize("existing", [False, True])
def test_a_failed_write_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    target = tmp_path / "new" / "project"
    if existing:
        target.mkdir(parents=True)
    real = Path.write_text
    count = [0]

    def write_text(self: Path, *args: object, **kwargs: object) -> int:
        count[0] += 1
        if count[0] == 3:
            raise OSError(28, "No space left on device", str(self))
        return real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", write_text)
    with pytest.raises(ConfigError, match="No space left on device") as info:
        render_plugin("acme-demo", target)
    assert str(target) in str(info.value) and "nothing was written" in str(info.value)
    if existing:
        assert list(target.iterdir()) == []
    else:
        assert not (tmp_path / "new").exists()


def test_valid_names() -> None:
    for name in ("acme", "acme-hinge", "v2", "my-loss-3"):
        assert validate_plugin_name(name) == name


def test_refuses_to_overwrite(tmp_path: Path) -> None:
    project = tmp_path / "taken"
    project.mkdir()
    (project / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        render_plugin("acme-demo", project)
    assert [p.name for p in project.iterdir()] == ["keep.txt"]
    a_file = tmp_path / "a-file"
    a_file.write_text("")
    with pytest.raises(ConfigError, match="refusing to overwrite"):
        render_plugin("acme-demo", a_file)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert render_plugin("acme-demo", empty)


def test_cli_new_plugin(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    project = tmp_path / "plugin"
    assert main(["new-plugin", "acme-demo", "--dir", str(project)]) == 0
    out = capsys.readouterr().out
    assert "created structloss-acme-demo" in out and "tests/test_plugin.py" in out
    assert main(["new-plugin", "acme-demo", "--dir", str(project)]) == 2
    assert "refusing to overwrite" in capsys.readouterr().err
    assert main(["new-plugin", "Bad_Name", "--dir", str(tmp_path / "other")]) == 2
    assert "invalid plugin name 'Bad_Name'" in capsys.readouterr().err
    assert not (tmp_path / "other").exists()


# -- the rendered plugin installs and passes its own tests -----------------------------------
@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory, pip_install) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("template")
    project = root / "structloss-acme-demo"
    render_plugin("acme-demo", project)
    site = pip_install(root / "site", project)
    return project, site


@pytest.mark.integration
@pytest.mark.slow
def test_rendered_plugin_passes_its_tests(installed: tuple[Path, Path]) -> None:
    project, site = installed
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider"],
        cwd=project,
        env=_env(site),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "6 passed" in result.stdout and "skipped" not in result.stdout, result.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_rendered_plugin_is_listed(installed: tuple[Path, Path]) -> None:
    _, site = installed
    result = subprocess.run(
        [sys.executable, "-m", "structloss", "plugins", "--json"],
        env=_env(site),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    plugin = next(p for p in report["plugins"] if p["name"] == "acme-demo")
    assert plugin["distribution"] == "structloss-acme-demo"
    assert plugin["version"] == "0.1.0"
    assert plugin["losses"] == ["acme-demo"]
    assert plugin["structures"] == ["acme-demo-initials"]
    assert not [f for f in report["failures"] if f["plugin"] == "acme-demo"]
