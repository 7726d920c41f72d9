"""Run folders: resolved config, per-trial metrics and model state, summaries, resuming.

A run folder holds ``config.json`` (the resolved config), ``trials/<key>/metrics.json``
and ``metrics.csv`` (metrics per epoch), ``trials/<key>/model.pt`` (the final state dict),
``results.csv``/``results.json`` (one row per trial) and ``plots/``. A trial whose
``metrics.json`` exists with the same config digest is loaded instead of trained again, so
an interrupted run started again with the same config keeps its finished results. The digest
covers the trial's whole resolved config, the content of every input file the config names
(:class:`InputFiles`) and the versions of structloss and of the plugins the trial uses, so
a changed input or upgrade retrains; a record that cannot be read, or does not have the
shape this module writes, is trained again too. Files are written atomically (temp file,
then rename), and JSON holds ``null`` where a number was not finite.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

__all__ = ["InputFiles", "RunFolder", "TrialResult", "config_digest", "loss_label", "trial_key"]


_MAX_LABEL = 48  # characters of the readable part of a trial folder's name


def _finite_or_none(value: Any) -> Any:
    """``value`` with NaN and infinities replaced by None (JSON has no NaN)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite_or_none(v) for v in value]
    return value


def _number(value: Any) -> float:
    """A metric read back from JSON: null (a non-finite value when written) becomes NaN."""
    if value is None:
        return math.nan
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise TypeError(f"a metric must be a number, got {value!r}")
    return float(value)


@attrs.frozen
class TrialResult:
    """One loss trained once (one seed, one parameter value): its history and final metrics.

    ``skipped`` says why a loss could not run on the task; ``diverged`` is the epoch whose
    mean training loss was not finite (training stopped there). ``reused`` (a trial loaded
    from the run folder) and ``note`` (why an old record there was not used) describe this
    run only and are not written.
    """

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
    diverged: int | None = None
    reused: bool = attrs.field(default=False, metadata={"saved": False})
    note: str | None = attrs.field(default=None, metadata={"saved": False})

    @property
    def status(self) -> str:
        """``"ok"``, ``"skipped: <reason>"`` or ``"diverged at epoch E"``."""
        if self.skipped is not None:
            return f"skipped: {self.skipped}"
        if self.diverged is not None:
            return f"diverged at epoch {self.diverged}"
        return "ok"

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (non-finite numbers become None)."""
        data = attrs.asdict(self, filter=lambda a, _: a.metadata.get("saved", True))
        return _finite_or_none({**data, "history": [dict(h) for h in self.history]})

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrialResult:
        """Rebuild from :meth:`to_dict` output.

        Raises:
            ValueError: when ``data`` is not exactly what :meth:`to_dict` writes (a missing
                or extra key, a value of the wrong type).
        """
        saved = [a.name for a in attrs.fields(cls) if a.metadata.get("saved", True)]
        if not isinstance(data, Mapping) or set(data) != set(saved):
            got = sorted(data) if isinstance(data, Mapping) else type(data).__name__
            raise ValueError(f"expected the keys {sorted(saved)}, found {got}")
        try:
            history = tuple({str(k): _number(v) for k, v in row.items()} for row in data["history"])
            final = {str(k): _number(v) for k, v in data["final"].items()}
            result = cls(
                loss=_typed(data["loss"], str),
                key=_typed(data["key"], str),
                label=_typed(data["label"], str),
                seed=_typed(data["seed"], int),
                param=data["param"],
                history=history,
                final=final,
                seconds_per_epoch=_number(data["seconds_per_epoch"]),
                skipped=_typed(data["skipped"], str, optional=True),
                digest=_typed(data["digest"], str),
                diverged=_typed(data["diverged"], int, optional=True),
            )
        except (AttributeError, TypeError) as exc:
            raise ValueError(str(exc)) from None
        return result


def _typed(value: Any, kind: type, *, optional: bool = False) -> Any:
    if (value is None and optional) or (isinstance(value, kind) and not isinstance(value, bool)):
        return value
    raise TypeError(f"expected {kind.__name__}, got {value!r}")


def config_digest(obj: Any) -> str:
    """A short stable hash of a JSON-able object (key order does not matter)."""
    text = json.dumps(obj, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _short(value: Any) -> str:
    """An option value for a label: long lists and strings are abbreviated."""
    if isinstance(value, list | tuple) and len(value) > 4:
        head = ", ".join(str(v) for v in value[:2])
        return f"[{head}, ... {len(value)} values]"
    text = str(value)
    return text if len(text) <= 24 else text[:21] + "..."


def loss_label(loss_table: Mapping[str, Any]) -> str:
    """A readable name for a configured loss: ``name`` or ``name(option=value, ...)``.

    An entry's own ``label`` wins. Long option values (a 100-class ``weight`` list) are
    abbreviated, so a label is short
    but not always unique; :func:`trial_key` and the run's row grouping add a hash.
    """
    if "label" in loss_table:  # a `losses` entry's own display name
        return str(loss_table["label"])
    name = str(loss_table.get("name", "loss"))
    options = {k: v for k, v in loss_table.items() if k != "name"}
    if not options:
        return name
    return f"{name}({', '.join(f'{k}={_short(options[k])}' for k in sorted(options))})"


def trial_key(
    loss_table: Mapping[str, Any], seed: int, param: tuple[str, Any] | None = None
) -> str:
    """A trial's folder name: a short readable label plus a hash of everything it varies by.

    The hash covers the whole loss table, the seed and the swept parameter, so two
    different trials never share a folder; the name stays under 70 characters, well inside
    every file system's limit.
    """
    parts = [loss_label(loss_table)]
    if param is not None:
        parts.append(f"{param[0]}={_short(param[1])}")
    parts.append(f"seed{seed}")
    readable = re.sub(r"[^A-Za-z0-9_.,=+-]+", "_", "-".join(parts)).strip("_.")[:_MAX_LABEL]
    exact = config_digest([dict(loss_table), seed, None if param is None else list(param)])
    return f"{readable}-{exact[:12]}"


class InputFiles:
    """Content hashes of the files a config points to, remembered by size and mtime.

    A run's trials are keyed on these hashes, so editing a ``.npz``, a ``tree.json`` or any
    other file named by an option retrains the trials that read it. Every string option
    (at any depth of the tables given) that names an existing file or folder, relative to
    the config's directory, counts; a folder counts as the files directly inside it.
    """

    def __init__(self, base_dir: str | Path) -> None:
        self.base_dir = Path(base_dir)
        self._memo: dict[tuple[str, int, int], str] = {}

    def digests(self, *tables: Any) -> dict[str, str]:
        """Map each file named in ``tables`` (by its option text) to its content hash."""
        out: dict[str, str] = {}
        for text in sorted(set(_strings(tables))):
            path = Path(text).expanduser()
            path = path if path.is_absolute() else self.base_dir / path
            try:
                if path.is_file():
                    out[text] = self._file(path)
                elif path.is_dir():
                    files = sorted(p for p in path.iterdir() if p.is_file())
                    out[text] = config_digest({p.name: self._file(p) for p in files})
            except OSError:
                continue  # unreadable: the component that reads it reports the problem
        return out

    def _file(self, path: Path) -> str:
        stat = path.stat()
        key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
        if key not in self._memo:
            digest = hashlib.sha256()
            with path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self._memo[key] = digest.hexdigest()[:16]
        return self._memo[key]


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value and len(value) < 4096 and "\n" not in value else []
    if isinstance(value, Mapping):
        return [s for k, v in value.items() if k not in ("name", "provider") for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


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
            text = json.dumps(
                _finite_or_none(data), indent=2, sort_keys=True, default=str, allow_nan=False
            )
            _write_atomic(self.root.joinpath(name), text.encode())  # type: ignore[union-attr]

    def write_text(self, name: str, text: str) -> None:
        """Write ``text`` to ``name``."""
        if self.writer:
            _write_atomic(self.root.joinpath(name), text.encode())  # type: ignore[union-attr]

    def load_trial(self, key: str, digest: str) -> TrialResult | str | None:
        """The finished trial ``key`` if it was run with the same digest.

        Returns:
            The :class:`TrialResult`; None when there is no record, or one from another
            config or other inputs (the trial is trained again); or a string saying why the
            record there is unreadable or inconsistent (also trained again, and the caller
            says so).
        """
        path = self.path("trials", key, "metrics.json")
        if path is None or not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(data, Mapping) and data.get("digest") != digest:
                return None
            result = TrialResult.from_dict(data)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, ValueError) as exc:
            return f"{path}: {exc}"
        if result.key != key:
            return f"{path}: it records trial {result.key!r}, not {key!r}"
        return attrs.evolve(result, reused=True)

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
