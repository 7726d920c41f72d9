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
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from structloss.errors import ConfigError

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
    from importlib import metadata

    from structloss.plugins import PluginHost

    names = plugin_names(name)
    clashes = []
    if name in SHIPPED_PLUGINS:
        clashes.append(f"the plugin {name!r} shipped with structloss (structloss-{name})")
    try:
        dist = metadata.distribution(names["distribution"])
    except metadata.PackageNotFoundError:
        pass
    else:
        clashes.append(f"the installed distribution {names['distribution']} {dist.version}")
    host = PluginHost()  # what is installed here, whatever the STRUCTLOSS_* variables say
    if name in host.plugins:
        clashes.append(f"the installed {host.plugins[name].describe()}")
    for kind in ("loss", "structure"):
        for reg in host.registry.providers(kind, names[kind]):
            clashes.append(f"{kind} {names[kind]!r} of the installed {reg.plugin.describe()}")
    if clashes:
        raise ConfigError(
            f"plugin name {name!r} is taken: it would clash with {'; '.join(dict.fromkeys(clashes))}."
            f" Pick another name, such as 'my-{name}'; nothing was written"
        )


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
        ConfigError: for an invalid name, or a directory that exists and is not empty.
    """
    from structloss import __version__

    validate_plugin_name(name)
    names = plugin_names(name)
    target = Path(directory) if directory is not None else Path(names["distribution"])
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise ConfigError(
            f"refusing to overwrite {str(target)!r}: it exists and is not an empty directory;"
            " pick another --dir or remove it"
        )
    values = {**names, "structloss_version": __version__}
    written: list[Path] = []
    for parts, text in _walk(_template_root()):
        relative = [p.replace("__module__", names["module"]) for p in parts]
        relative[-1] = relative[-1].removesuffix(_SUFFIX)
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        path = target.joinpath(*relative)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written
