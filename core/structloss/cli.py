"""The ``structloss`` command: ``plugins``, ``run``, ``compare``, ``structure``, ``new-plugin``."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from structloss.errors import StructlossError

__all__ = ["main"]


# -- structloss plugins ---------------------------------------------------------------------
def _plural() -> dict[str, str]:
    """Kind -> its key in ``structloss plugins --json`` (``"class-list"`` -> ``"class_lists"``)."""
    from structloss.specs import COMPONENT_KINDS

    return {info.kind: info.plural for info in COMPONENT_KINDS}


def plugins_report(host: Any) -> dict[str, Any]:
    """Return what ``structloss plugins --json`` prints: plugins, failures, collisions."""
    plural = _plural()
    plugins = []
    for name, info in sorted(host.plugins.items()):
        components = host.components(name)
        plugins.append(
            {
                "name": name,
                "distribution": info.distribution,
                "version": info.version,
                "builtin": info.builtin,
                **{key: components.get(kind, []) for kind, key in plural.items()},
            }
        )
    registry = host.registry
    return {
        "plugins": plugins,
        "failures": [
            {
                "plugin": f.plugin.name,
                "distribution": f.plugin.distribution,
                "version": f.plugin.version,
                "stage": f.stage,
                "error": f.message,
            }
            for f in registry.failures
        ],
        "collisions": [
            {"kind": kind, "name": name, "plugins": [r.plugin.name for r in regs]}
            for kind, name, regs in registry.collisions()
        ],
        "disabled": sorted(host.disabled),
    }


def cmd_plugins(args: argparse.Namespace) -> int:
    from structloss.plugins import default_host

    plural = _plural()
    report = plugins_report(default_host())
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    rows = []
    for row in report["plugins"]:
        parts = [f"{kind}: {', '.join(row[key])}" for kind, key in plural.items() if row[key]]
        dist = f"{row['distribution'] or '-'} {row['version'] or ''}".strip()
        rows.append((row["name"], dist, parts or ["-"]))
    print(_table(("plugin", "distribution", "components"), rows))
    for failure in report["failures"]:
        print(
            f"failed: {failure['plugin']} ({failure['distribution'] or '?'}) at"
            f" {failure['stage']}: {failure['error']}"
        )
    for clash in report["collisions"]:
        print(
            f"collision: {clash['kind']} {clash['name']!r} is provided by"
            f" {', '.join(clash['plugins'])}"
        )
    if report["disabled"]:
        print(f"disabled: {', '.join(report['disabled'])}")
    return 0


def _table(headers: Sequence[str], rows: Sequence[tuple[str, str, list[str]]]) -> str:
    """A plain-text table; the last column may take several lines (no rich needed)."""
    widths = [max([len(h), *(len(r[i]) for r in rows)]) for i, h in enumerate(headers[:2])]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, [*widths, 0], strict=True)).rstrip()]
    lines.append("  ".join("-" * w for w in [*widths, len(headers[2])]))
    for first, second, last in rows:
        for i, part in enumerate(last):
            cells = (first, second) if i == 0 else ("", "")
            lines.append("  ".join([cells[0].ljust(widths[0]), cells[1].ljust(widths[1]), part]))
    return "\n".join(lines)


def _lab(command: str) -> Any:
    """The lab's handler of ``command``, or an error naming the extra to install."""
    try:
        from structloss.lab import cli
    except ImportError as exc:
        raise StructlossError(
            f"structloss {command} needs the lab's dependencies ({exc.name} is missing):"
            " pip install 'structloss[lab]'"
        ) from None
    return getattr(cli, f"cmd_{command}")


# -- structloss new-plugin ------------------------------------------------------------------
def cmd_new_plugin(args: argparse.Namespace) -> int:
    from structloss.template import plugin_names, render_plugin

    written = render_plugin(args.name, args.dir)
    names = plugin_names(args.name)
    root = Path(args.dir) if args.dir else Path(names["distribution"])
    print(f"created {names['distribution']} in {root}:")
    for path in written:
        print(f"  {path.relative_to(root)}")
    print(
        f"next: cd {root} && pip install -e '.[test]' && pytest\n"
        f"then `structloss plugins` lists {args.name!r} with the loss {names['loss']!r} and the"
        f" structure provider {names['structure']!r}"
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``structloss`` command."""
    from structloss import __version__

    parser = argparse.ArgumentParser(
        prog="structloss", description="Classification losses that know the label structure."
    )
    parser.add_argument("--version", action="version", version=f"structloss {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    plugins = sub.add_parser("plugins", help="list installed plugins, components and failures")
    plugins.add_argument("--json", action="store_true", help="print JSON")
    plugins.set_defaults(func=cmd_plugins)
    run = sub.add_parser("run", help="train and compare losses (default: built-in experiment)")
    run.add_argument("config", nargs="?", help="a TOML run config")
    run.add_argument("--out", metavar="DIR", help="run folder (default: runs/<config name>)")
    run.set_defaults(func=lambda args: _lab("run")(args))
    compare = sub.add_parser("compare", help="sweep a parameter over losses and seeds")
    compare.add_argument("config", help="a TOML run config with a [compare] table")
    compare.add_argument("--out", metavar="DIR", help="run folder (default: runs/<config name>)")
    compare.set_defaults(func=lambda args: _lab("compare")(args))
    structure = sub.add_parser("structure", help="build a config's structure and summarise it")
    structure.add_argument("config", help="a TOML config with a [structure] table")
    structure.add_argument("--json", metavar="PATH", help="also write the structure as JSON")
    structure.add_argument("--max-nodes", type=int, default=200, help="tree nodes to print")
    structure.add_argument("--draw", metavar="PATH", help="draw a hierarchy to .png/.svg/.pdf")
    structure.set_defaults(func=lambda args: _lab("structure")(args))
    new_plugin = sub.add_parser(
        "new-plugin", help="create a plugin project structloss-NAME from the template"
    )
    new_plugin.add_argument(
        "name", help="the plugin's name: lower-case words joined by '-', such as acme-hinge"
    )
    new_plugin.add_argument(
        "--dir", metavar="DIR", help="the project directory to create (default: ./structloss-NAME)"
    )
    new_plugin.set_defaults(func=cmd_new_plugin)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``structloss`` command; return its exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StructlossError as exc:
        print(f"structloss: error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a file the command reads or writes; the commands name most
        where = f" {str(exc.filename)!r}" if exc.filename else ""
        print(
            f"structloss: error: cannot use{where}: {exc.strerror or exc}; check the path, its"
            " permissions and the free disk space",
            file=sys.stderr,
        )
        return 2
    except KeyboardInterrupt:
        print("structloss: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
