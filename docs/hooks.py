"""mkdocs hooks: pages generated from the installed plugins, so the docs cannot drift.

Registered in ``mkdocs.yml`` under ``hooks:``. They

- fill the marker ``<!-- structloss:components -->`` (in ``reference/config.md``) with every
  structure provider, loss, backend, kernel and class list of the installed plugins: name,
  summary, distribution and the options read from the factory's signature
  (:func:`structloss.config.factory_options`) with defaults, types and the descriptions from
  the factory's docstring;
- fill ``<!-- structloss:conversions -->`` with the options of the structure conversions;
- fill ``<!-- structloss:plugins -->`` (in ``plugins/index.md``) with the installed plugins,
  and ``<!-- structloss:train -->`` (in ``running.md``) with the ``[train]`` options;
- list every ``docs/plugins/*.md`` page under the nav's ``Plugins`` section, so the nav
  names exactly the plugin pages that exist;
- copy images and other non-Markdown files that pages link outside ``docs/`` (such as
  ``../../experiments/results/x.png``) into the site and point the links at the copies.

A plugin that fails to load, or two plugins that provide one name, is a warning, so
``mkdocs build --strict`` fails rather than publishing a reference with holes.

The generators need only structloss, so tests import this file without mkdocs installed.
"""

from __future__ import annotations

import inspect
import json
import logging
import posixpath
import re
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mkdocs.config.defaults import MkDocsConfig
    from mkdocs.structure.files import Files
    from mkdocs.structure.pages import Page

    from structloss.plugins import PluginHost
    from structloss.registry import Registered

log = logging.getLogger("mkdocs.hooks.structloss")

COMPONENTS_MARKER = "<!-- structloss:components -->"
CONVERSIONS_MARKER = "<!-- structloss:conversions -->"
PLUGINS_MARKER = "<!-- structloss:plugins -->"
TRAIN_MARKER = "<!-- structloss:train -->"
PLUGINS_NAV_TITLE = "Plugins"
PLUGIN_PAGES_DIR = "plugins"
REPO_FILES_DIR = "_repo"
"""Where files that pages link outside ``docs/`` are copied to in the site."""

_CORE_TYPES = {"Hierarchy", "Similarity", "LabelEmbedding", "LabelStructure", "Objective"}
_ROLE = re.compile(r":(?:class|func|meth|attr|mod|data|exc|obj):`~?([^`]+)`")
_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)((?:\s+\"[^\"]*\")?\))")


# -- docstrings -------------------------------------------------------------------------------
def _markdown(text: str) -> str:
    """reST roles (``:class:`X```) become code spans; lines are joined."""
    return " ".join(_ROLE.sub(r"`\1`", text).split())


def first_paragraph(obj: Any) -> str:
    """Return the first paragraph of ``obj``'s docstring as one line of Markdown."""
    doc = inspect.getdoc(obj) or ""
    return _markdown(doc.split("\n\n")[0])


def docstring_args(obj: Any) -> dict[str, str]:
    """Return ``{name: description}`` from the Google-style ``Args:`` (or ``Attributes:``)
    section of ``obj``'s docstring."""
    lines = (inspect.getdoc(obj) or "").splitlines()
    args: dict[str, str] = {}
    inside, current, indent = False, None, 0
    for line in lines:
        stripped = line.strip()
        if not inside:
            inside = stripped in ("Args:", "Arguments:", "Parameters:", "Attributes:")
            continue
        if stripped and not line.startswith(" "):
            break  # the next section
        if not stripped:
            continue
        width = len(line) - len(line.lstrip())
        match = re.match(r"(\*{0,2}\w+)(?:\s*\([^)]*\))?:\s*(.*)", stripped)
        if match and (current is None or width <= indent):
            current, indent = match.group(1).lstrip("*"), width
            args[current] = match.group(2)
        elif current is not None:
            args[current] += " " + stripped
    return {name: _markdown(text) for name, text in args.items()}


def _referenced(factory: Callable[..., Any]) -> list[Any]:
    """Objects the first paragraph of ``factory``'s docstring points at (``:func:`x```)."""
    doc = (inspect.getdoc(factory) or "").split("\n\n")[0]
    namespace = getattr(factory, "__globals__", {})
    found = [namespace.get(name.rsplit(".", 1)[-1]) for name in _ROLE.findall(doc)]
    return [obj for obj in found if obj is not None]


def _returned_class(factory: Callable[..., Any]) -> Any:
    """The class a factory's return annotation names, when it is a plugin's own class."""
    if inspect.isclass(factory):
        return None
    annotation = inspect.signature(factory).return_annotation
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", "")
    if annotation in _CORE_TYPES:
        return None
    found = getattr(factory, "__globals__", {}).get(annotation)
    return found if inspect.isclass(found) else None


# -- the component reference ------------------------------------------------------------------
_CODE_SPAN = re.compile(r"(`+)(?:.+?)\1")


def _cell(text: str) -> str:
    """``text`` for a table cell: pipes escaped outside code spans (tables keep those)."""
    text = text.replace("\n", " ")
    parts, last = [], 0
    for match in _CODE_SPAN.finditer(text):
        parts += [text[last : match.start()].replace("|", "\\|"), match.group(0)]
        last = match.end()
    return "".join([*parts, text[last:].replace("|", "\\|")])


def _default(value: Any) -> str:
    if value is inspect.Parameter.empty:
        return "**required**"
    if value is None:
        return "not set"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    try:
        return f"`{json.dumps(value)}`"
    except TypeError:
        return f"`{value!r}`"


def _annotation(param: inspect.Parameter) -> str:
    annotation = param.annotation
    if annotation is inspect.Parameter.empty:
        return ""
    text = annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)
    return f"`{text}`"


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _provider(reg: Registered, page_exists: Callable[[str], bool], prefix: str) -> str:
    info = reg.plugin
    if info.builtin:
        return f"built into `structloss` {info.version or ''}".strip()
    dist = f"`{info.distribution}` {info.version or ''}".strip() if info.distribution else "-"
    name = f"`{info.name}`"
    if page_exists(info.name):
        name = f"[{name}]({prefix}{PLUGIN_PAGES_DIR}/{info.name}.md)"
    return f"from plugin {name} ({dist})"


def options_table(factory: Callable[..., Any], *, skip: int = 1) -> list[str]:
    """Return Markdown lines: the options of ``factory`` as a table, or why there is none."""
    from structloss.config import factory_options

    options = factory_options(factory, skip=skip)
    if options is None:
        return [
            "Takes any options (`**options`) and validates them itself; see its"
            " documentation for the list.",
        ]
    if not options:
        return ["No options."]
    # the factory's own Args first, then what its docstring points at, then the returned class
    sources = [_returned_class(factory), *_referenced(factory), factory]
    described: dict[str, str] = {}
    for source in sources:
        if source is not None:
            described.update({k: v for k, v in docstring_args(source).items() if v})
    lines = ["| option | default | type | description |", "| --- | --- | --- | --- |"]
    for name, param in options.items():
        lines.append(
            f"| `{name}` | {_cell(_default(param.default))} | {_cell(_annotation(param))}"
            f" | {_cell(described.get(name, ''))} |"
        )
    return lines


def _component(
    kind: str,
    reg: Registered,
    page_exists: Callable[[str], bool],
    prefix: str,
) -> list[str]:
    spec = reg.spec
    lines = [f"### `{spec.name}` {{#{kind}-{spec.name}}}", "", f"*{spec.summary}*", ""]
    provider = _provider(reg, page_exists, prefix)
    facts = [f"{provider[0].upper()}{provider[1:]}."]
    if kind == "structure":
        facts.append(f"Produces {_a(spec.kind)}." if spec.kind else "An option decides the kind.")
    elif kind == "loss":
        facts.append(f"Needs {_a(spec.needs)}." if spec.needs else "Needs no structure.")
        facts.append("Multi-label targets." if spec.multilabel else "Single-label targets.")
    elif kind == "backend":
        facts.append(f"Priority {spec.priority} under `auto`.")
    lines += [" ".join(facts), ""]
    paragraphs = [first_paragraph(spec.factory)]
    returned = _returned_class(spec.factory)
    if returned is not None:
        paragraphs.append(first_paragraph(returned))
    lines += [p + "\n" for p in dict.fromkeys(p for p in paragraphs if p)]
    if kind in ("structure", "loss"):
        lines += [*options_table(spec.factory), ""]
    return lines


def components_markdown(
    host: PluginHost | None = None,
    *,
    page_exists: Callable[[str], bool] = lambda name: False,
    prefix: str = "../",
) -> str:
    """Return the reference of every installed component, as Markdown.

    Args:
        host: the plugin host (default: a fresh ``PluginHost()`` of the installed plugins).
        page_exists: whether ``docs/plugins/<plugin name>.md`` exists, to link it.
        prefix: the relative path from the generated page to the docs root.
    """
    from structloss.plugins import PluginHost
    from structloss.specs import COMPONENT_KINDS

    host = host or PluginHost()
    registry = host.registry
    out: list[str] = []
    for info in COMPONENT_KINDS:  # one section per kind, in the table's order
        kind = info.kind
        entries = registry.entries(kind)
        out += [f"## {info.title}", ""]
        if info.config_key:
            out += [f'Configs name them in `{info.config_key} = "..."`.', ""]
        if not entries:
            out += ["None installed.", ""]
            continue
        if kind == "kernel":
            out += [
                "A kernel is one op on one backend; losses ask for them at call time.",
                "",
                "| op | backend | summary | where from |",
                "| --- | --- | --- | --- |",
            ]
            out += [
                f"| `{r.spec.op}` | `{r.spec.backend}` | {_cell(r.spec.summary)}"
                f" | {_cell(_provider(r, page_exists, prefix))} |"
                for r in entries
            ]
            out.append("")
            continue
        for reg in entries:
            out += _component(kind, reg, page_exists, prefix)
    return "\n".join(out).rstrip() + "\n"


def conversions_markdown() -> str:
    """Return the options of the structure conversions (the ``[convert]`` table)."""
    from structloss.structures import Hierarchy, LabelEmbedding

    out: list[str] = []
    for source, method in (
        ("hierarchy", Hierarchy.to_similarity),
        ("embedding", LabelEmbedding.to_similarity),
    ):
        out += [f"### {source} → similarity {{#convert-{source}}}", "", first_paragraph(method)]
        out.append("")
        out += [*options_table(method), ""]
    return "\n".join(out)


def train_markdown() -> str:
    """Return the options of the ``[train]`` table, read from ``TrainSettings``."""
    import attrs

    from structloss.lab.settings import TrainSettings

    lines = ["| option | default | type |", "| --- | --- | --- |"]
    for field in attrs.fields(TrainSettings):
        kind = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", "")
        lines.append(f"| `{field.name}` | {_cell(_default(field.default))} | `{kind}` |")
    return first_paragraph(TrainSettings) + "\n\n" + "\n".join(lines) + "\n"


def plugins_markdown(
    host: PluginHost | None = None, *, page_exists: Callable[[str], bool] = lambda name: False
) -> str:
    """Return a table of the installed third-party plugins, linking their pages."""
    from structloss.plugins import PluginHost

    host = host or PluginHost()
    lines = ["| plugin | distribution | provides |", "| --- | --- | --- |"]
    for name, info in sorted(host.plugins.items()):
        if info.builtin:
            continue
        parts = [
            f"{kind}: {', '.join(f'`{n}`' for n in names)}"
            for kind, names in host.components(name).items()
        ]
        label = f"[{name}]({name}.md)" if page_exists(name) else f"`{name}`"
        dist = f"`{info.distribution}` {info.version or ''}".strip()
        lines.append(f"| {label} | {_cell(dist)} | {_cell('; '.join(parts))} |")
    return "\n".join(lines) + "\n"


def plugin_pages(docs_dir: str | Path) -> list[str]:
    """Return ``plugins/<name>.md`` for every plugin page in ``docs_dir``, sorted."""
    folder = Path(docs_dir) / PLUGIN_PAGES_DIR
    return [
        f"{PLUGIN_PAGES_DIR}/{path.name}"
        for path in sorted(folder.glob("*.md"))
        if path.name != "index.md"
    ]


def _report_problems(host: PluginHost) -> None:
    registry = host.registry
    for failure in registry.failures:
        log.warning("%s; the generated reference misses what it provides", failure.describe())
    for kind, name, regs in registry.collisions():
        who = ", ".join(r.plugin.describe() for r in regs)
        log.warning("%s %r is provided by several plugins: %s", kind, name, who)


# -- links to files outside docs/ -------------------------------------------------------------
def _outside_target(page_src: str, url: str, docs_dir: Path) -> Path | None:
    """The repository file a relative link leaves ``docs/`` for, when it is an asset."""
    if re.match(r"^[a-z][a-z0-9+.-]*:|^/|^#", url):
        return None
    path = url.split("#")[0].split("?")[0]
    if not path or path.endswith(".md"):
        return None
    target = (docs_dir / posixpath.dirname(page_src) / path).resolve()
    repo = docs_dir.resolve().parent
    if target.is_relative_to(docs_dir.resolve()) or not target.is_relative_to(repo):
        return None
    return target if target.is_file() else None


def _outside_links(markdown: str, page_src: str, docs_dir: Path) -> Iterable[tuple[str, Path]]:
    for match in _LINK.finditer(markdown):
        target = _outside_target(page_src, match.group(2), docs_dir)
        if target is not None:
            yield match.group(2), target


# -- mkdocs events ----------------------------------------------------------------------------
_HOST: list[PluginHost] = []


def _host() -> PluginHost:
    if not _HOST:
        from structloss.plugins import PluginHost

        _HOST.append(PluginHost())
        _report_problems(_HOST[0])
    return _HOST[0]


def _is_plugin_page(entry: Any) -> bool:
    return (
        isinstance(entry, str)
        and entry.startswith(f"{PLUGIN_PAGES_DIR}/")
        and entry != f"{PLUGIN_PAGES_DIR}/index.md"
    )


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Fill the nav's ``Plugins`` section with the plugin pages that exist."""
    _HOST.clear()  # a fresh host on every build (mkdocs serve rebuilds in one process)
    pages = plugin_pages(config.docs_dir)
    for entry in config.nav or []:
        if isinstance(entry, dict) and PLUGINS_NAV_TITLE in entry:
            # keep the hand-written entries (the overview), then every plugin page that exists
            kept = [e for e in entry[PLUGINS_NAV_TITLE] if not _is_plugin_page(e)]
            entry[PLUGINS_NAV_TITLE] = kept + pages
    return config


def on_files(files: Files, config: MkDocsConfig) -> Files:
    """Add copies of the files that pages link outside ``docs/``."""
    from mkdocs.structure.files import File

    docs_dir = Path(config.docs_dir)
    repo = docs_dir.resolve().parent
    for page in list(files.documentation_pages()):
        if page.abs_src_path is None:
            continue
        text = Path(page.abs_src_path).read_text(encoding="utf-8")
        for _, target in _outside_links(text, page.src_uri, docs_dir):
            uri = f"{REPO_FILES_DIR}/{target.relative_to(repo).as_posix()}"
            if files.get_file_from_path(uri) is None:
                files.append(File.generated(config, uri, abs_src_path=str(target)))
    return files


def on_page_markdown(markdown: str, page: Page, config: MkDocsConfig, files: Files) -> str:
    """Fill the markers and point links that leave ``docs/`` at the copied files."""
    docs_dir = Path(config.docs_dir)
    depth = page.file.src_uri.count("/")
    prefix = "../" * depth

    def page_exists(name: str) -> bool:
        return (docs_dir / PLUGIN_PAGES_DIR / f"{name}.md").is_file()

    if COMPONENTS_MARKER in markdown:
        text = components_markdown(_host(), page_exists=page_exists, prefix=prefix)
        markdown = markdown.replace(COMPONENTS_MARKER, text)
    if CONVERSIONS_MARKER in markdown:
        markdown = markdown.replace(CONVERSIONS_MARKER, conversions_markdown())
    if PLUGINS_MARKER in markdown:
        markdown = markdown.replace(
            PLUGINS_MARKER, plugins_markdown(_host(), page_exists=page_exists)
        )
    if TRAIN_MARKER in markdown:
        markdown = markdown.replace(TRAIN_MARKER, train_markdown())
    repo = docs_dir.resolve().parent
    for url, target in set(_outside_links(markdown, page.file.src_uri, docs_dir)):
        copied = f"{prefix}{REPO_FILES_DIR}/{target.relative_to(repo).as_posix()}"
        markdown = markdown.replace(f"]({url}", f"]({copied}")
    return markdown
