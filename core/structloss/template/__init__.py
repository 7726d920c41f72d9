"""The plugin template behind ``structloss new-plugin NAME``.

The files under ``template/plugin/`` are package data: each ``*.tmpl`` file is copied with its
suffix dropped, ``__module__`` in paths replaced by the plugin's module name, and these
placeholders replaced in the text:

| placeholder | example (NAME = ``acme-hinge``) |
| --- | --- |
| ``{{name}}`` | ``acme-hinge``: the entry-point name, the loss's name |
| ``{{distribution}}`` | ``structloss-acme-hinge`` |
| ``{{module}}`` | ``structloss_acme_hinge`` |
| ``{{class_name}}`` | ``AcmeHinge`` |
| ``{{structloss_version}}`` | the installed structloss version |
"""

from __future__ import annotations

import re
import shutil
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import TYPE_CHECKING

from structloss.errors import ConfigError

if TYPE_CHECKING:
    from structloss.plugins import PluginHost

__all__ = [
    "MAX_NAME_LENGTH",
    "PLUGIN_NAME",
    "SHIPPED_PLUGINS",
    "plugin_names",
    "render_plugin",
    "validate_plugin_name",
]

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
"""A plugin name: lower-case letters and digits in words joined by single ``-``."""

MAX_NAME_LENGTH = 40
"""Longer names would push the generated code over the line length."""

_SUFFIX = ".tmpl"


def validate_plugin_name(name: str) -> str:
    """Return ``name`` when it can name a plugin, else raise.

    Raises:
        ConfigError: when ``name`` is not lower-case letters and digits in words joined by
            ``-`` starting with a letter, carries the ``structloss-`` prefix, or is taken:
            the name of a plugin shipped with structloss, of an installed distribution or
            plugin, or of an installed loss or structure provider that the plugin would
            register.
    """
    if not isinstance(name, str) or not PLUGIN_NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise ConfigError(
            f"invalid plugin name {name!r}: use lower-case letters and digits in words joined"
            f" by single '-', starting with a letter, at most {MAX_NAME_LENGTH} characters (such"
            " as 'acme-hinge')"
        )
    if name == "structloss" or name.startswith("structloss-"):
        stem = name.removeprefix("structloss").lstrip("-") or "acme"
        raise ConfigError(
            f"give the plugin name without the 'structloss-' prefix: `structloss new-plugin"
            f" {stem}` creates the distribution structloss-{stem}"
        )
    _check_unclaimed(name)
    return name


#: The plugins shipped in this repository; a new plugin must not take their names.
SHIPPED_PLUGINS = (
    "embedding-similarity",
    "hierarchy-baselines",
    "pmi-embedding",
    "simloss",
    "smooth-topk",
    "tree-loss",
    "wordnet-tree",
)


def _check_unclaimed(name: str) -> None:
    """Refuse a name that a shipped plugin, an installed distribution or component uses.

    A project generated under such a name would, once installed, replace or collide with
    what is there (``structloss new-plugin tree-loss`` would shadow the real tree loss).
    """
    from structloss.plugins import PluginHost

    host = PluginHost(env={})  # everything installed, whatever the STRUCTLOSS_* variables say
    clashes = _clashes(name, host)
    if clashes:
        candidates = (f"my-{name}", f"{name}-2", f"{name}-ext")
        fits = (c for c in candidates if len(c) <= MAX_NAME_LENGTH and not _clashes(c, host))
        other = next(fits, None)
        raise ConfigError(
            f"plugin name {name!r} is taken: it would clash with {'; '.join(clashes)}."
            f" Pick another name{f', such as {other!r}' if other else ''}; nothing was written"
        )


def _clashes(name: str, host: PluginHost) -> list[str]:
    """Describe everything installed (or shipped) that already uses ``name``'s names."""
    import importlib.util
    from importlib import metadata

    from structloss.registry import KINDS

    names = plugin_names(name)
    clashes: list[str] = []
    if name in SHIPPED_PLUGINS:
        clashes.append(f"the plugin {name!r} shipped with structloss (structloss-{name})")
    for distribution in (names["distribution"], name):
        try:
            dist = metadata.distribution(distribution)
        except metadata.PackageNotFoundError:
            continue
        clashes.append(f"the installed distribution {distribution} {dist.version}")
    # a plugin that failed to load still holds its entry-point name
    plugins = [host.plugins[name]] if name in host.plugins else []
    plugins += [f.plugin for f in host.failures if f.plugin.name == name]
    clashes += [f"the installed {info.describe()}" for info in plugins[:1]]
    registry = host.registry
    wanted = {("loss", names["loss"]), ("structure", names["structure"])}
    wanted |= {(kind, name) for kind in KINDS}  # `torch` the loss beside `torch` the backend
    for kind, component in sorted(wanted):
        for reg in registry.providers(kind, component):
            clashes.append(f"{kind} {component!r} of the installed {reg.plugin.describe()}")
    if not clashes:
        try:
            spec = importlib.util.find_spec(names["module"])
        except (ImportError, ValueError):
            spec = None
        if spec is not None:
            where = f" ({spec.origin})" if spec.origin else ""
            clashes.append(f"the importable module {names['module']}{where}")
    return list(dict.fromkeys(clashes))


def plugin_names(name: str) -> dict[str, str]:
    """Return the names a plugin called ``name`` uses: distribution, module, loss, ...."""
    return {
        "name": name,
        "distribution": f"structloss-{name}",
        "module": "structloss_" + name.replace("-", "_"),
        "class_name": "".join(part.capitalize() for part in name.split("-")),
        "loss": name,
        "structure": f"{name}-initials",
    }


def _template_root() -> Traversable:
    return resources.files("structloss").joinpath("template", "plugin")


def _walk(node: Traversable, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], str]]:
    files: list[tuple[tuple[str, ...], str]] = []
    for child in sorted(node.iterdir(), key=lambda c: c.name):
        if child.is_dir():
            if child.name != "__pycache__":
                files.extend(_walk(child, (*prefix, child.name)))
        elif child.name.endswith(_SUFFIX):
            files.append(((*prefix, child.name), child.read_text(encoding="utf-8")))
    return files


def render_plugin(name: str, directory: str | Path | None = None) -> list[Path]:
    """Create a plugin project ``structloss-NAME`` from the template.

    Args:
        name: the plugin name (see :func:`validate_plugin_name`).
        directory: the project directory to create; default ``./structloss-NAME``. It may
            exist only as an empty directory.

    Returns:
        The files written, in order.

    Raises:
        ConfigError: for an invalid or taken name, a directory that exists and is not
            empty, or one that cannot be written (nothing is left behind then).
    """
    from structloss import __version__

    validate_plugin_name(name)
    names = plugin_names(name)
    target = Path(directory) if directory is not None else Path(names["distribution"])
    _check_target(target)
    values = {**names, "structloss_version": __version__}
    files: list[tuple[Path, str]] = []
    for parts, text in _walk(_template_root()):
        relative = [p.replace("__module__", names["module"]) for p in parts]
        relative[-1] = relative[-1].removesuffix(_SUFFIX)
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        files.append((target.joinpath(*relative), text))
    created = _outermost_missing(target)
    try:
        for path, text in files:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:
        _remove_partial(target, created)
        raise ConfigError(
            f"cannot write the plugin project to {str(target)!r}:"
            f" {exc.strerror or exc} ({exc.filename}); pick a directory you can write with"
            " --dir; nothing was written"
        ) from None
    return [path for path, _ in files]


def _check_target(target: Path) -> None:
    """Refuse a target that exists and is not an empty directory, or sits under a file."""
    try:
        taken = target.exists() and (not target.is_dir() or any(target.iterdir()))
    except OSError as exc:
        raise ConfigError(
            f"cannot look into {str(target)!r}: {exc.strerror or exc}; pick another --dir"
        ) from None
    if taken:
        raise ConfigError(
            f"refusing to overwrite {str(target)!r}: it exists and is not an empty directory;"
            " pick another --dir or remove it"
        )
    for parent in target.absolute().parents:
        if parent.exists():
            if not parent.is_dir():
                raise ConfigError(
                    f"cannot create {str(target)!r}: {str(parent)!r} is a file, not a folder;"
                    " pick another --dir"
                )
            break


def _outermost_missing(target: Path) -> Path | None:
    """The outermost folder on the way to ``target`` that does not exist yet, if any."""
    missing = None
    for path in (target.absolute(), *target.absolute().parents):
        if path.exists():
            break
        missing = path
    return missing


def _remove_partial(target: Path, created: Path | None) -> None:
    """Undo a failed render: remove the folders it created, or empty ``target`` again."""
    if created is not None:
        shutil.rmtree(created, ignore_errors=True)
    elif target.is_dir():  # it was empty before the render
        for child in target.iterdir():
            if child.is_dir():
                shutil.rmtree(child, ignore_errors=True)
            else:
                child.unlink(missing_ok=True)
