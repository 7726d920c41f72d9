"""The documentation: the plugin-author guide covers the extension surface and its example
runs; the generated configuration reference covers every component; the nav is complete."""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
import tomllib
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import pytest

import structloss.specs
import structloss.testing
from structloss import Hierarchy, LossSpec, Objective, PluginHost, StructureSpec, hookimpl
from structloss.config import factory_options
from structloss.hookspecs import HOOK_NAMES
from structloss.registry import KINDS, PluginInfo

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GUIDE = DOCS / "plugins.md"
EXAMPLE_FILE = re.compile(r"# ((?:acme_structloss|tests)/\w+\.py)$")


def load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hooks() -> types.ModuleType:
    return load(DOCS / "hooks.py", "structloss_docs_hooks")


@pytest.fixture(scope="module")
def guide() -> str:
    return GUIDE.read_text(encoding="utf-8")


def code_blocks(text: str, language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", text, re.MULTILINE | re.DOTALL)


def record_signature(cls: type) -> str:
    """``LossSpec(name, factory, summary, needs=None, multilabel=False)``, from attrs."""
    parts = [
        f.name if f.default is attrs.NOTHING else f"{f.name}={f.default!r}"
        for f in attrs.fields(cls)
    ]
    return f"{cls.__name__}({', '.join(parts)})"


SPEC_RECORDS = [
    getattr(structloss.specs, name)
    for name in structloss.specs.__all__
    if attrs.has(getattr(structloss.specs, name))
]


# -- the plugin-author guide ------------------------------------------------------------------
@pytest.mark.parametrize("hook", HOOK_NAMES)
def test_guide_gives_every_hook_with_its_signature(guide: str, hook: str) -> None:
    returns = inspect.signature(getattr(structloss.hookspecs, hook)).return_annotation
    assert f"### `{hook}`" in guide, f"docs/plugins.md has no section for {hook}"
    assert f"def {hook}() -> {returns}" in guide, f"docs/plugins.md lacks {hook}'s signature"
    examples = [
        block
        for block in code_blocks(guide, "python")
        if f"@structloss.hookimpl\ndef {hook}()" in block
    ]
    assert examples, f"docs/plugins.md has no example implementing {hook}"


def test_spec_records_are_found() -> None:
    names = {cls.__name__ for cls in SPEC_RECORDS}
    assert {"StructureSpec", "LossSpec", "BackendSpec", "KernelSpec", "ClassListSpec"} <= names
    assert {"StructureContext", "LossContext"} <= names


@pytest.mark.parametrize("record", SPEC_RECORDS, ids=lambda cls: cls.__name__)
def test_guide_gives_every_spec_record_with_its_fields(guide: str, record: type) -> None:
    signature = record_signature(record)
    assert signature in guide, f"docs/plugins.md should show {signature}"


@pytest.mark.parametrize("name", structloss.testing.__all__)
def test_guide_covers_structloss_testing(guide: str, name: str) -> None:
    assert f"`{name}" in guide, f"docs/plugins.md does not mention structloss.testing.{name}"
    function = getattr(structloss.testing, name)
    if name.startswith("check_"):
        row = next(line for line in guide.splitlines() if line.startswith(f"| `{name}("))
        for parameter in inspect.signature(function).parameters:
            assert parameter in row, f"the guide's row for {name} lacks `{parameter}`"


def test_guide_mentions_the_template(guide: str) -> None:
    assert "structloss new-plugin" in guide


def test_guide_python_blocks_compile(guide: str) -> None:
    blocks = code_blocks(guide, "python")
    assert len(blocks) > 10
    for block in blocks:
        compile(block, "docs/plugins.md", "exec")


def test_guide_toml_blocks_parse(guide: str) -> None:
    blocks = code_blocks(guide, "toml")
    assert blocks
    for block in blocks:
        tomllib.loads(block)
    entry_points = [
        tomllib.loads(b)["project"]["entry-points"]["structloss"]
        for b in blocks
        if "entry-points" in b
    ]
    assert entry_points == [{"acme": "acme_structloss.hooks"}]


@pytest.fixture
def example(guide: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The guide's complete example written out as files, importable from ``tmp_path``."""
    files = {}
    for block in code_blocks(guide, "python"):
        match = EXAMPLE_FILE.match(block.splitlines()[0])
        if match:
            files[match.group(1)] = block
    expected = {"hooks", "structure", "loss", "backend", "classes", "__init__"}
    assert {f"acme_structloss/{name}.py" for name in expected} | {"tests/test_acme.py"} == set(
        files
    )
    for relative, text in files.items():
        path = tmp_path / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("acme_structloss")]:
        del sys.modules[name]


def test_guide_complete_example_passes_its_tests(example: Path) -> None:
    tests = load(example / "tests" / "test_acme.py", "acme_structloss_tests")
    functions = [f for name, f in vars(tests).items() if name.startswith("test_")]
    assert len(functions) == 3
    for function in functions:
        function()


def test_guide_example_registers_all_five_hooks(example: Path) -> None:
    import acme_structloss.hooks

    host = structloss.testing.check_plugin(
        acme_structloss.hooks,
        classes=["cat", "dog", "truck", "bus", "rose", "tulip"],
        structures={
            "acme-taxonomy": {
                "departments": {"a": ["cat", "dog", "truck"], "b": ["bus", "rose", "tulip"]}
            }
        },
    )
    components = host.components("plugin-under-test")
    assert set(components) == set(KINDS)
    assert host.backend("auto").select("acme-hinge", "cpu") == "torch"


# -- the generated reference ------------------------------------------------------------------
def test_reference_lists_every_installed_component_and_option(hooks: Any) -> None:
    host = PluginHost()
    text = hooks.components_markdown(host)
    for kind in ("structure", "loss", "backend", "class-list"):
        for reg in host.registry.entries(kind):
            assert f"### `{reg.spec.name}` {{#{kind}-{reg.spec.name}}}" in text
            assert reg.spec.summary in text
            if kind in ("structure", "loss"):
                for option in factory_options(reg.spec.factory) or {}:
                    assert f"| `{option}` |" in text, (reg.spec.name, option)
    for reg in host.registry.entries("kernel"):
        assert f"| `{reg.spec.op}` | `{reg.spec.backend}` |" in text


class Margin(Objective):
    def forward(self, outputs: Any, target: Any) -> Any:  # pragma: no cover - never called
        raise NotImplementedError


def build_margin(context: Any, *, width: float = 0.5, mode: str = "soft", depth: int) -> Margin:
    """Build the margin loss.

    More detail that the reference leaves out.

    Args:
        context: the loss context.
        width: how wide | the margin is.
        mode: ``"soft"`` or ``"hard"``;
            continued on a second line.
    """
    return Margin(context.num_classes)


def build_anything(context: Any, **options: Any) -> Hierarchy:
    """Take anything."""
    return Hierarchy.flat(context.classes)


def test_reference_generator_reads_signatures_and_docstrings(hooks: Any) -> None:
    plugin = types.ModuleType("fake_docs_plugin")
    plugin.structloss_losses = hookimpl(  # type: ignore[attr-defined]
        lambda: [LossSpec("margin", build_margin, "a margin loss", needs="hierarchy")]
    )
    plugin.structloss_losses.__name__ = "structloss_losses"
    plugin.structloss_structures = hookimpl(  # type: ignore[attr-defined]
        lambda: [StructureSpec("anything", build_anything, "any options")]
    )
    plugin.structloss_structures.__name__ = "structloss_structures"
    host = PluginHost(entry_points=[], env={})
    assert host.register(plugin, PluginInfo("fake", "structloss-fake", "2.0"))
    text = hooks.components_markdown(host, page_exists=lambda name: name == "fake")
    section = text[text.index("### `margin`") :]
    assert "From plugin [`fake`](../plugins/fake.md) (`structloss-fake` 2.0)." in section
    assert "Needs a hierarchy. Single-label targets." in section
    assert "Build the margin loss." in section and "More detail" not in section
    assert "| `width` | `0.5` | `float` | how wide \\| the margin is. |" in section
    assert '| `mode` | `"soft"` | `str` | ``"soft"`` or ``"hard"``; continued on a' in section
    assert "| `depth` | **required** | `int` |  |" in section
    assert "`context`" not in section
    anything = text[text.index("### `anything`") :]
    assert "Takes any options (`**options`)" in anything
    assert "An option decides the kind." in anything
    assert "Built into `structloss`" in text  # the built-ins are listed too


def test_conversion_and_train_tables(hooks: Any) -> None:
    conversions = hooks.conversions_markdown()
    assert '| `rule` | `"exponential"` |' in conversions
    assert "| `lower_bound` | `0.0` |" in conversions
    train = hooks.train_markdown()
    assert "| `epochs` |" in train and "| `batch_size` |" in train


def test_plugins_table_links_pages(hooks: Any) -> None:
    plugin = types.ModuleType("fake_docs_plugin")
    host = PluginHost(entry_points=[], env={})
    host.register(plugin, PluginInfo("fake", "structloss-fake", "2.0"))
    text = hooks.plugins_markdown(host, page_exists=lambda name: name == "fake")
    assert "| [fake](fake.md) | `structloss-fake` 2.0 |" in text
    assert "structloss.builtin" not in text


# -- pages, nav and links ---------------------------------------------------------------------
def test_markers_are_on_their_pages(hooks: Any) -> None:
    reference = (DOCS / "reference" / "config.md").read_text()
    assert hooks.COMPONENTS_MARKER in reference and hooks.CONVERSIONS_MARKER in reference
    assert hooks.PLUGINS_MARKER in (DOCS / "plugins" / "index.md").read_text()
    assert hooks.TRAIN_MARKER in (DOCS / "running.md").read_text()


def test_nav_names_existing_pages_and_every_page(hooks: Any) -> None:
    yaml = pytest.importorskip("yaml")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())

    def pages(entries: Any) -> Iterator[str]:
        for entry in entries:
            if isinstance(entry, str):
                yield entry
            elif isinstance(entry, dict):
                for value in entry.values():
                    yield from pages(value) if isinstance(value, list) else pages([value])

    listed = set(pages(config["nav"]))
    missing = sorted(p for p in listed if not (DOCS / p).is_file())
    assert not missing, f"mkdocs.yml lists pages that do not exist: {missing}"
    on_disk = {p.relative_to(DOCS).as_posix() for p in DOCS.rglob("*.md")}
    plugin_pages = set(hooks.plugin_pages(DOCS))
    assert sorted(on_disk - listed - plugin_pages) == []

    fake = types.SimpleNamespace(docs_dir=str(DOCS), nav=config["nav"])
    hooks.on_config(fake)
    section = next(e for e in fake.nav if isinstance(e, dict) and "Plugins" in e)["Plugins"]
    assert section == [{"Overview": "plugins/index.md"}, *sorted(plugin_pages)]


def test_plugin_pages_and_links_outside_docs(hooks: Any, tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    (docs / "plugins").mkdir(parents=True)
    for name in ("index", "zeta", "alpha"):
        (docs / "plugins" / f"{name}.md").write_text("# page\n")
    assert hooks.plugin_pages(docs) == ["plugins/alpha.md", "plugins/zeta.md"]
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "plot.png").write_bytes(b"png")
    text = (
        "![plot](../../results/plot.png) [home](../index.md) [web](https://x.org/a.png)"
        " ![gone](../../results/missing.png) [in docs](img.png)"
    )
    found = list(hooks._outside_links(text, "plugins/zeta.md", docs))
    assert found == [("../../results/plot.png", (tmp_path / "results" / "plot.png").resolve())]


def test_griffe_extension_turns_rest_into_markdown() -> None:
    pytest.importorskip("griffe")
    module = load(DOCS / "griffe_rst.py", "structloss_docs_griffe_rst")
    text = "See :class:`~structloss.structures.Hierarchy` and :func:`compose`.\n\nExample::\n"
    assert module.to_markdown(text) == "See `Hierarchy` and `compose`.\n\nExample:\n"


def test_broken_plugins_are_build_warnings(hooks: Any, caplog: pytest.LogCaptureFixture) -> None:
    broken = types.ModuleType("broken_docs_plugin")

    def structloss_losses() -> Any:
        raise RuntimeError("boom")

    broken.structloss_losses = hookimpl(structloss_losses)  # type: ignore[attr-defined]
    host = PluginHost(entry_points=[], env={})
    host.register(broken, PluginInfo("broken", "structloss-broken", "0.1"))
    with caplog.at_level("WARNING", logger="mkdocs.hooks.structloss"):
        hooks._report_problems(host)
    assert "plugin 'broken' (structloss-broken 0.1) failed at structloss_losses" in caplog.text
    assert "RuntimeError: boom" in caplog.text
