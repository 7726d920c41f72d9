"""Run folders: resolved config, per-trial metrics and model state, summaries, resuming.

A run folder holds ``config.json`` (the resolved config), ``trials/<key>/metrics.json``
and ``metrics.csv`` (metrics per epoch), ``trials/<key>/model.pt`` (the final state dict),
``results.csv``/``results.json`` (one row per trial) and ``plots/``. A trial whose
``metrics.json`` exists with the same config digest is loaded instead of trained again, so
an interrupted run started again with the same config keeps its finished results. Files are
written atomically (temp file, then rename).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["RunFolder", "TrialResult", "config_digest", "loss_label", "trial_key"]


@attrs.frozen
class TrialResult:
    """One loss trained once (one seed, one parameter value): its history and final metrics."""

    loss: str
    key: str
    label: str = ""
    seed: int = 0
    param: Any = None
    history: tuple[Mapping[str, float], ...] = ()
    final: Mapping[str, float] = attrs.field(factory=dict)
    seconds_per_epoch: float = float("nan")
    skipped: str | None = None
    digest: str = ""

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {**attrs.asdict(self), "history": [dict(h) for h in self.history]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        """Rebuild from :meth:`to_dict` output."""
        return cls(**{**data, "history": tuple(data.get("history", ()))})


def config_digest(obj: Any) -> str:
    """A short stable hash of a JSON-able object (key order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def loss_label(loss_table: Mapping[str, Any]) -> str:
    """A readable name for a configured loss: ``name`` or ``name(option=value, ...)``."""
    name = str(loss_table.get("name", "loss"))
    options = {k: v for k, v in loss_table.items() if k != "name"}
    if not options:
        return name
    return f"{name}({', '.join(f'{k}={options[k]}' for k in sorted(options))})"


def trial_key(
    loss_table: Mapping[str, Any], seed: int, param: tuple[str, Any] | None = None
) -> str:
    """A file-system-safe name for a trial: loss name, its options, seed, parameter value."""
    name = str(loss_table.get("name", "loss"))
    options = {k: v for k, v in loss_table.items() if k != "name"}
    parts = [name]
    if options:
        parts.append(",".join(f"{k}={options[k]}" for k in sorted(options)))
    if param is not None:
        parts.append(f"{param[0]}={param[1]}")
    parts.append(f"seed{seed}")
    return re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", "-".join(parts))


def _write_atomic(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Render dict rows as CSV with the union of their keys as columns."""
    columns: list[str] = []
    for row in rows:
        columns.extend(k for k in row if k not in columns)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


class RunFolder:
    """The folder a run writes to; a no-op when ``root`` is None or on non-main ranks."""

    def __init__(self, root: str | Path | None, *, writer: bool = True) -> None:
        self.root = Path(root) if root is not None else None
        self.writer = writer and self.root is not None

    def path(self, *parts: str) -> Path | None:
        """A path inside the folder, or None when the run writes nothing."""
        return self.root.joinpath(*parts) if self.root is not None else None

    def write_json(self, name: str, data: Any) -> None:
        """Write ``data`` as JSON to ``name`` (relative to the folder)."""
        if self.writer:
            text = json.dumps(data, indent=2, sort_keys=True, default=str)
            _write_atomic(self.root.joinpath(name), text.encode())  # type: ignore[union-attr]

    def write_text(self, name: str, text: str) -> None:
        """Write ``text`` to ``name``."""
        if self.writer:
            _write_atomic(self.root.joinpath(name), text.encode())  # type: ignore[union-attr]

    def load_trial(self, key: str, digest: str) -> TrialResult | None:
        """Return the finished trial ``key`` if it was run with the same config digest."""
        path = self.path("trials", key, "metrics.json")
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            return None
        if data.get("digest") != digest:
            return None
        return TrialResult.from_dict(data)

    def save_trial(self, result: TrialResult, state: Mapping[str, Any] | None = None) -> None:
        """Write a trial's metrics (JSON and CSV) and final model state."""
        if not self.writer:
            return
        base = f"trials/{result.key}"
        if state is not None:
            import torch

            buffer = io.BytesIO()
            torch.save(dict(state), buffer)
            _write_atomic(self.root.joinpath(base, "model.pt"), buffer.getvalue())  # type: ignore[union-attr]
        self.write_text(f"{base}/metrics.csv", rows_to_csv(result.history))
        # metrics.json last: its presence marks the trial finished
        self.write_json(f"{base}/metrics.json", result.to_dict())
