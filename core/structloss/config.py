"""Configs (a dict or a TOML file) and composing components from them by name.

A config has up to five tables::

    classes = ["cat", "dog", "truck"]      # or {file = "classes.txt"}
    [structure]                            # optional
    provider = "hierarchy-file"
    path = "tree.json"
    [convert]                              # optional: options of the structure conversion
    rule = "exponential"
    [loss]
    name = "cross-entropy"
    reduction = "mean"
    [backend]                              # optional, default "auto"
    name = "auto"

Every key of ``[structure]`` but ``provider``, and of ``[loss]`` but ``name``, is an option
passed to that component's factory. Tables that ``structloss run`` reads (``data``, ``model``,
``train``, ``experiment``, ``compare``, ``losses``) are kept aside and ignored here.
"""

from __future__ import annotations

import inspect
import tomllib
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from structloss.errors import (
    ComponentBuildError,
    ConfigError,
    IncompatibleStructureError,
    StructlossError,
    StructureError,
    UnknownOptionError,
    choice_list,
    closest,
    sentence,
)
from structloss.objective import Objective
from structloss.options import check_types
from structloss.plugins import PluginHost, default_host
from structloss.specs import LossContext, StructureContext
from structloss.structures import LabelStructure, check_classes

__all__ = [
    "ComponentConfig",
    "Config",
    "build_structure",
    "compose",
    "factory_options",
    "resolve_classes",
]

COMPOSE_KEYS = ("backend", "classes", "convert", "loss", "structure")
RUNNER_KEYS = ("compare", "data", "experiment", "losses", "model", "train")


@attrs.frozen
class ComponentConfig:
    """One component's table: its name and the options for its factory."""

    name: str
    options: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)

    @classmethod
    def from_table(cls, table: Any, *, section: str, key: str) -> ComponentConfig:
        """Read ``[section]`` whose ``key`` names the component; the rest are options."""
        if isinstance(table, str):
            return cls(table)
        if not isinstance(table, Mapping):
            raise ConfigError(f"[{section}] must be a table, got {type(table).__name__}")
        if key not in table:
            raise ConfigError(f'[{section}] needs `{key} = "..."` naming the component')
        name = table[key]
        if not isinstance(name, str):
            raise ConfigError(f"[{section}] {key} must be a string, got {name!r}")
        return cls(name, {k: v for k, v in table.items() if k != key})


@attrs.frozen
class Config:
    """A parsed config. Build it with :meth:`from_dict`, :meth:`from_file` or :meth:`load`."""

    classes: tuple[str, ...] | None = None
    class_list: str | None = None
    structure: ComponentConfig | None = None
    loss: ComponentConfig | None = None
    backend: ComponentConfig = ComponentConfig("auto")
    convert: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)
    base_dir: str = "."
    extra: Mapping[str, Any] = attrs.field(factory=dict, converter=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | Path = ".") -> Config:
        """Parse a config dict; relative paths resolve against ``base_dir``.

        Raises:
            ConfigError: for unknown keys or malformed tables.
        """
        if not isinstance(data, Mapping):
            raise ConfigError(f"a config must be a table (dict), got {type(data).__name__}")
        known = COMPOSE_KEYS + RUNNER_KEYS
        unknown = [k for k in data if k not in known]
        if unknown:
            hints = "; ".join(f"{k!r}{closest(k, known)}" for k in unknown)
            raise ConfigError(
                f"{sentence('unknown config keys: ' + hints)} Valid keys: {choice_list(known)}"
            )
        base = str(base_dir)
        convert = data.get("convert", {})
        if not isinstance(convert, Mapping):
            raise ConfigError(f"[convert] must be a table, got {type(convert).__name__}")
        return cls(
            classes=_parse_classes(data.get("classes"), base),
            class_list=data["classes"] if isinstance(data.get("classes"), str) else None,
            structure=(
                ComponentConfig.from_table(data["structure"], section="structure", key="provider")
                if "structure" in data
                else None
            ),
            loss=(
                ComponentConfig.from_table(data["loss"], section="loss", key="name")
                if "loss" in data
                else None
            ),
            backend=(
                ComponentConfig.from_table(data["backend"], section="backend", key="name")
                if "backend" in data
                else ComponentConfig("auto")
            ),
            convert=convert,
            base_dir=base,
            extra={k: data[k] for k in RUNNER_KEYS if k in data},
        )

    @classmethod
    def from_file(cls, path: str | Path) -> Config:
        """Read a TOML config; relative paths in it resolve against its directory."""
        return cls.from_dict(read_toml(path), base_dir=Path(path).resolve().parent)

    @classmethod
    def load(cls, config: Config | Mapping[str, Any] | str | Path) -> Config:
        """Accept a :class:`Config`, a dict, or a TOML path."""
        if isinstance(config, Config):
            return config
        if isinstance(config, Mapping):
            return cls.from_dict(config)
        if isinstance(config, str | Path):
            return cls.from_file(config)
        raise ConfigError(f"a config is a dict or a TOML file path, got {type(config).__name__}")


def read_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML file, turning I/O, encoding and syntax problems into :class:`ConfigError`."""
    shown = str(path)
    if Path(path).is_dir():
        inside = sorted(p.name for p in Path(path).glob("*.toml"))[:3]
        hint = f" (it holds {', '.join(inside)})" if inside else ""
        raise ConfigError(
            f"the config {shown!r} is a directory; give the path of a TOML file in it{hint}"
        )
    try:
        with open(path, "rb") as handle:
            return tomllib.load(handle)
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {shown!r}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"the config {shown!r} is not UTF-8 text ({exc.reason} at byte {exc.start}); save it"
            " as UTF-8"
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read the config {shown!r}: {exc.strerror or exc}; check the path and that"
            " the file is readable (chmod u+r)"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"invalid TOML in {shown!r}: {exc}") from None


def _parse_classes(value: Any, base_dir: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, Mapping):
        if set(value) != {"file"}:
            raise ConfigError('classes as a table takes exactly one key: {file = "classes.txt"}')
        path = Path(base_dir, Path(str(value["file"])).expanduser())
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except UnicodeDecodeError as exc:
            raise ConfigError(
                f"the classes file {str(path)!r} is not UTF-8 text ({exc.reason} at byte"
                f" {exc.start}); save it as UTF-8"
            ) from None
        except OSError as exc:
            what = "is a directory" if path.is_dir() else (exc.strerror or str(exc)).lower()
            raise ConfigError(
                f"cannot read the classes file {str(path)!r}: {what}; `classes = {{file = ...}}`"
                " names a text file with one class per line, relative to the config's folder"
            ) from None
        value = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    elif isinstance(value, str):
        return None  # a named class list, resolved by the plugin host (see resolve_classes)
    try:
        return check_classes(value)
    except StructureError as exc:
        raise ConfigError(str(exc)) from None


def resolve_classes(
    cfg: Config, classes: str | Sequence[str] | None, host: PluginHost
) -> tuple[str, ...] | None:
    """Return the class names: the ``classes`` argument, else the config's.

    A string (argument or config) names a class list registered by a plugin
    (``structloss_class_lists``), such as ``"cifar100"``.

    Raises:
        UnknownComponentError: for an unknown class-list name.
    """
    if classes is None and cfg.class_list is None:
        return cfg.classes
    name = classes if isinstance(classes, str) else cfg.class_list if classes is None else None
    if name is None:
        return check_classes(classes)  # type: ignore[arg-type]
    spec = host.spec("class-list", name)
    try:
        names = spec.factory()
    except StructlossError:
        raise
    except Exception as exc:
        raise ComponentBuildError(f"class list {name!r} failed to load: {exc}") from exc
    return check_classes(names, what=f"class list {name!r}")


def factory_options(
    factory: Callable[..., Any], *, skip: int = 1
) -> dict[str, inspect.Parameter] | None:
    """Return the options ``factory`` accepts (after ``skip`` positional parameters).

    Returns None when it takes ``**kwargs`` (any option is accepted).
    """
    params = list(inspect.signature(factory).parameters.values())[skip:]
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params):
        return None
    return {
        p.name: p
        for p in params
        if p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    }


def _build(what: str, factory: Callable[..., Any], context: Any, options: Mapping[str, Any]) -> Any:
    accepted = factory_options(factory)
    if accepted is not None:
        unknown = [k for k in options if k not in accepted]
        if unknown:
            hints = "; ".join(f"{k!r}{closest(k, accepted)}" for k in unknown)
            raise UnknownOptionError(
                f"{sentence(f'{what} has no option {hints}')} Valid options: {choice_list(accepted)}"
            )
        missing = [
            n
            for n, p in accepted.items()
            if p.default is inspect.Parameter.empty and n not in options
        ]
        if missing:
            raise ConfigError(f"{what} needs option(s): {', '.join(missing)}")
    check_types(what, factory, options)
    try:
        return factory(context, **options)
    except StructlossError:
        raise
    except Exception as exc:
        raise ComponentBuildError(f"{what} failed to build: {type(exc).__name__}: {exc}") from exc


def build_structure(
    config: Config | Mapping[str, Any] | str | Path,
    *,
    classes: str | Sequence[str] | None = None,
    labels: Any = None,
    host: PluginHost | None = None,
) -> LabelStructure | None:
    """Build the ``[structure]`` part of a config alone; None when it has none.

    Args:
        config: a dict, a TOML path, or a :class:`Config`.
        classes: class names in label order, or the name of a class list; overrides the
            config's ``classes``.
        labels: training labels, for providers that learn from data.
        host: the plugin host (default: the installed plugins).

    Raises:
        StructlossError: for unknown providers or options, or an invalid structure.
    """
    cfg = Config.load(config)
    host = host or default_host()
    names = resolve_classes(cfg, classes, host)
    if cfg.structure is None:
        return None
    spec = host.spec("structure", cfg.structure.name)
    context = StructureContext(classes=names, labels=labels, base_dir=cfg.base_dir)
    what = f"structure provider {spec.name!r}"
    structure = _build(what, spec.factory, context, cfg.structure.options)
    if not isinstance(structure, LabelStructure):
        raise ComponentBuildError(
            f"{what} returned {type(structure).__name__}, not a Hierarchy, Similarity or"
            " LabelEmbedding"
        )
    if names is not None and structure.classes != names:
        raise StructureError(
            f"{what} returned classes that differ from the config's: {_class_diff(names, structure.classes)}"
        )
    return structure


def _class_diff(expected: tuple[str, ...], got: tuple[str, ...]) -> str:
    missing = [c for c in expected if c not in set(got)]
    extra = [c for c in got if c not in set(expected)]
    if not missing and not extra:
        return "same names in a different order; the structure must follow the label order"
    return f"missing {missing[:10]}, unexpected {extra[:10]}"


def compose(
    config: Config | Mapping[str, Any] | str | Path,
    *,
    classes: str | Sequence[str] | None = None,
    labels: Any = None,
    structure: LabelStructure | None = None,
    host: PluginHost | None = None,
) -> Objective:
    """Build the loss a config describes, with its structure and backend, by name.

    Args:
        config: a dict, a TOML path, or a :class:`Config`.
        classes: class names in label order, or the name of a class list; overrides the
            config's ``classes``.
        labels: training labels, for structure providers that learn from data.
        structure: a ready structure to use instead of the config's ``[structure]``.
        host: the plugin host (default: the installed plugins).

    Returns:
        The :class:`Objective` (an ``nn.Module``): call it as ``loss(outputs, target)``.

    Raises:
        UnknownComponentError: for an unknown name, listing the available ones.
        UnknownOptionError: for an option the component does not take.
        IncompatibleStructureError: when the loss needs a structure the config cannot give.
        StructlossError: for any other problem, with a message naming the fix.
    """
    cfg = Config.load(config)
    host = host or default_host()
    if cfg.loss is None:
        raise ConfigError(
            f'the config has no [loss] table; add one such as [loss] name = "cross-entropy".'
            f" Available losses: {choice_list(host.registry.names('loss'))}"
        )
    spec = host.spec("loss", cfg.loss.name)
    if cfg.backend.options:
        raise UnknownOptionError(f"[backend] takes only `name`, got {sorted(cfg.backend.options)}")
    backend = host.backend(cfg.backend.name)
    names = resolve_classes(cfg, classes, host)
    if structure is None:
        structure = build_structure(cfg, classes=names, labels=labels, host=host)
    elif names is not None and structure.classes != names:
        raise StructureError(
            f"the structure's classes differ from the given classes: {_class_diff(names, structure.classes)}"
        )
    if names is None:
        if structure is None:
            raise ConfigError(
                "no classes given: set `classes` in the config, pass classes=[...], or use a"
                " structure provider that defines them"
            )
        names = structure.classes
    if spec.needs is not None:
        structure = _convert_for(spec, structure, cfg, host)
    context = LossContext(classes=names, structure=structure, backend=backend)
    objective = _build(f"loss {spec.name!r}", spec.factory, context, cfg.loss.options)
    if not isinstance(objective, Objective):
        raise ComponentBuildError(
            f"loss {spec.name!r} returned {type(objective).__name__}; a loss factory must return"
            " a structloss.Objective"
        )
    if objective.num_classes != len(names):
        raise ComponentBuildError(
            f"loss {spec.name!r} was built for {objective.num_classes} classes, not {len(names)}"
        )
    return objective


def _convert_for(
    spec: Any, structure: LabelStructure | None, cfg: Config, host: PluginHost
) -> LabelStructure:
    needs = spec.needs
    wanted = ("an " if needs[:1] in "aeiou" else "a ") + needs
    if structure is None:
        providers = [
            r.spec.name
            for r in host.registry.entries("structure")
            if r.spec.kind in (needs, None) or (needs == "similarity" and r.spec.kind)
        ]
        raise IncompatibleStructureError(
            f"loss {spec.name!r} needs {wanted}; add a [structure] table with a provider that"
            f" gives one (installed: {choice_list(providers)})"
        )
    try:
        return structure.convert(needs, **cfg.convert)
    except TypeError as exc:
        raise IncompatibleStructureError(
            f"bad [convert] options for {structure.kind} -> {needs}: {exc}"
        ) from None
    except IncompatibleStructureError as exc:
        raise IncompatibleStructureError(f"loss {spec.name!r} needs {wanted}: {exc}") from None
