"""The lab's commands: ``structloss run``, ``compare`` and ``structure``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console
from rich.tree import Tree

from structloss.errors import StructlossError

__all__ = ["cmd_compare", "cmd_run", "cmd_structure", "render_tree", "structure_document"]


def _console() -> Console:
    return Console(highlight=False, markup=False, width=None if sys.stdout.isatty() else 120)


# -- structloss run -------------------------------------------------------------------------
def _progress(console: Console, enabled: bool) -> tuple[Any, Any, Any]:
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("{task.description:<34}"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TimeElapsedColumn(),
        console=console,
        disable=not (enabled and console.is_terminal),
    )
    current: list[Any] = []

    def on_start(name: str, epochs: int) -> None:
        current[:] = [progress.add_task(name, total=epochs)]
        if enabled and not console.is_terminal:
            console.print(f"training {name} ...")

    def on_epoch() -> None:
        progress.advance(current[0])

    return progress, on_start, on_epoch


def _run_dir(args: argparse.Namespace) -> Path:
    """The run folder, created and checked writable before anything trains."""
    if args.out:
        out = Path(args.out)
    else:
        stem = Path(args.config).stem if args.config is not None else "default"
        out = Path("runs") / stem
    if out.exists() and not out.is_dir():
        raise StructlossError(
            f"--out {str(out)!r} is a file, not a folder; give a folder for the run (it is"
            " created if missing)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        raise StructlossError(
            f"cannot write the run folder {str(out)!r}: {exc.strerror or exc}; pick a writable"
            " --out folder"
        ) from None
    return out


def _output_file(option: str, value: str) -> Path:
    """A file the command writes: not a folder; its missing parent folders are created."""
    path = Path(value)
    blocker = next((p for p in path.parents if p.exists() and not p.is_dir()), None)
    if blocker is not None:
        raise StructlossError(f"{option} {value!r}: {str(blocker)!r} is a file, not a folder")
    if path.is_dir():
        raise StructlossError(
            f"{option} {value!r} is a folder; give a file name such as {value}/out"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise StructlossError(
            f"cannot create the folder of {option} {value!r}: {exc.strerror or exc}"
        ) from None
    return path


def cmd_run(args: argparse.Namespace) -> int:
    from structloss.config import Config
    from structloss.lab import DEFAULT_EXPERIMENT, run_experiment
    from structloss.lab.distributed import distributed_world
    from structloss.lab.reporting import metric_legend, results_table, run_summary, write_outputs
    from structloss.lab.runs import RunFolder
    from structloss.lab.settings import TrainSettings

    if args.config is not None:
        config = Config.from_file(args.config)
    else:
        config = Config.from_dict(DEFAULT_EXPERIMENT)
    out = _run_dir(args)
    with distributed_world() as world:
        console = _console()
        if world.is_main:
            what = "default experiment" if args.config is None else args.config
            console.print(f"structloss run: {what} -> {out}")
        progress, on_start, on_epoch = _progress(console, world.is_main)
        with progress:
            results = run_experiment(
                config, out_dir=out, world=world, on_start=on_start, on_epoch=on_epoch
            )
        if world.is_main:
            write_outputs(RunFolder(out), results)
            console.print(results_table(results, "results (held-out data)"))
            train = config.extra.get("train", {})
            distance = TrainSettings.from_table(train if isinstance(train, dict) else {}).distance
            for line in metric_legend(results, distance):
                console.print(line, highlight=False, markup=False)
            for line in run_summary(results):
                console.print(line)
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from structloss.config import Config
    from structloss.lab import run_comparison
    from structloss.lab.distributed import distributed_world
    from structloss.lab.reporting import metric_names, run_summary, sweep_table, write_outputs
    from structloss.lab.runs import RunFolder

    config = Config.from_file(args.config)
    out = _run_dir(args)
    with distributed_world() as world:
        console = _console()
        if world.is_main:
            console.print(f"structloss compare: {args.config} -> {out}")
        progress, on_start, on_epoch = _progress(console, world.is_main)
        with progress:
            parameter, results = run_comparison(
                config, out_dir=out, world=world, on_start=on_start, on_epoch=on_epoch
            )
        if world.is_main:
            write_outputs(RunFolder(out), results, parameter)
            done = [r for r in results if r.skipped is None]
            for metric in metric_names(done):
                console.print(sweep_table(done, metric, parameter))
            for r in results:
                if r.skipped:
                    console.print(f"skipped {r.label or r.loss}: {r.skipped}")
                    break
            for line in run_summary(results):
                console.print(line)
    return 0


# -- structloss structure ---------------------------------------------------------------------
def structure_document(structure: Any) -> dict[str, Any]:
    """Return a JSON-ready document of any structure (hierarchies as ``to_json`` writes)."""
    if structure.kind == "hierarchy":
        return json.loads(structure.to_json())
    return {
        "kind": structure.kind,
        "classes": list(structure.classes),
        "matrix": structure.matrix.tolist(),
    }


def render_tree(hierarchy: Any, max_nodes: int) -> Tree:
    """A rich Tree of ``hierarchy`` showing at most ``max_nodes`` nodes."""
    tree = Tree(hierarchy.root)
    budget = [max_nodes - 1]
    stack = [(hierarchy.root, tree)]
    while stack:
        name, branch = stack.pop()
        kids = hierarchy.children(name)
        for kid in kids:
            if budget[0] <= 0:
                branch.add(f"... ({hierarchy.num_nodes - max_nodes} more nodes)")
                return tree
            budget[0] -= 1
            stack.append((kid, branch.add(kid)))
    return tree


def cmd_structure(args: argparse.Namespace) -> int:
    from structloss.config import build_structure

    if args.max_nodes < 1:
        raise StructlossError(f"--max-nodes must be at least 1, got {args.max_nodes}")
    if args.draw:
        from structloss.lab.drawing import FORMATS

        if Path(args.draw).suffix.lower() not in FORMATS:
            raise StructlossError(
                f"cannot draw to {args.draw!r}: use a file ending in {', '.join(FORMATS)}"
            )
    json_path = _output_file("--json", args.json) if args.json else None
    draw_path = _output_file("--draw", args.draw) if args.draw else None
    structure = build_structure(args.config)
    console = _console()
    if structure is None:
        console.print(f"{args.config} has no [structure] table; nothing to build")
        return 1
    console.print(f"{structure.kind} over {structure.num_classes} classes")
    if structure.kind == "hierarchy":
        console.print(
            f"{structure.num_nodes} nodes, depth {int(structure.depths.max())},"
            f" root {structure.root!r}"
        )
        console.print(render_tree(structure, args.max_nodes))
    else:
        matrix = structure.matrix
        console.print(f"matrix {matrix.shape[0]} x {matrix.shape[1]}")
        if structure.kind == "similarity" and structure.num_classes > 1:
            off = matrix[~np.eye(structure.num_classes, dtype=bool)]
            console.print(f"off-diagonal similarity: mean {off.mean():.4f}, max {off.max():.4f}")
    if json_path is not None:
        try:
            json_path.write_text(json.dumps(structure_document(structure), indent=2))
        except OSError as exc:
            raise StructlossError(
                f"cannot write --json {args.json!r}: {exc.strerror or exc}"
            ) from None
        console.print(f"wrote {args.json}")
    if draw_path is not None:
        if structure.kind != "hierarchy":
            raise StructlossError(f"--draw draws hierarchies; this structure is a {structure.kind}")
        from structloss.lab.drawing import draw_hierarchy

        try:
            console.print(f"drew {draw_hierarchy(structure, draw_path)}")
        except OSError as exc:
            raise StructlossError(
                f"cannot write --draw {args.draw!r}: {exc.strerror or exc}"
            ) from None
    return 0
