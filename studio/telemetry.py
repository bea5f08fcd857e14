"""Telemetry on disk: columnar steps and episodes (Arrow IPC streams), an event log, the latest frame.

Writing (:class:`TelemetryWriter`, the sink of :class:`agents.callbacks.TelemetryCallback`):

* ``telemetry/steps-NNN.arrows`` and ``telemetry/episodes-NNN.arrows``: append-only Arrow IPC *streams*, one
  record batch per flush, the file flushed after each batch. A new segment ``NNN`` starts when the columns
  change (an edit added or removed a term), since a stream has one schema.
* ``events.jsonl``: one JSON object per line (edits, refused edits, EPIC distances, checkpoints, pauses,
  log lines), flushed per line.
* ``frames/latest.png``: replaced atomically.

Reading (:func:`read_telemetry`) works while the worker writes and after it was killed: a stream read stops
cleanly at a half-written last batch, and a half-written last event line is skipped, so everything up to
the last flush is readable. Step rows: ``step`` (env steps done after this vector step), ``env``, ``t``
(wall time), ``spec_version``, ``reward`` (the stack's total, what the agent got), ``world_reward``,
``success`` and ``term_<name>`` per reward term (weighted). Episode rows: ``episode``, ``step``, ``env``,
``t``, ``spec_version``, ``return``, ``length``, ``success``, ``world_return``, ``return_<name>``.

Step rows keep the reward as scored at that step. When an edit re-scores a PPO rollout (or relabels SAC's
replay buffer) the learner trains on the new values, and a ``rescored`` event says so; the rows are not
rewritten. An episode that spans an edit carries the version at its end, and its returns mix versions. A run
with ``standardize_reward`` also keeps the stack's reward here; the affine map its learner sees is in a
``reward_standardized`` event (and each edit's ``standardized``).
"""

from __future__ import annotations

import io
import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import pyarrow as pa

from studio.runs import RunPaths


class _Stream:
    """One append-only Arrow IPC stream per schema, as numbered segment files ``<kind>-NNN.arrows``."""

    def __init__(self, folder: Path, kind: str):
        self.folder, self.kind = folder, kind
        self._segment = len(list(folder.glob(f"{kind}-*.arrows")))
        self._file = None
        self._writer = None
        self._schema: pa.Schema | None = None

    def write(self, table: pa.Table) -> None:
        if self._schema is None or not table.schema.equals(self._schema):
            self.close()
            self._file = open(self.folder / f"{self.kind}-{self._segment:03d}.arrows", "wb")
            self._segment += 1
            self._writer = pa.ipc.new_stream(self._file, table.schema)
            self._schema = table.schema
        self._writer.write_table(table)
        self._file.flush()

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._file.close()
        self._writer = self._file = None
        self._schema = None


class TelemetryWriter:
    """Writes a run's telemetry (see module docstring); thread-safe.

    Args:
        paths: the run's folders.
        on_progress: called with ``(step, fps, episodes)`` on each progress report (the worker updates
            ``status.json`` with it).
    """

    def __init__(self, paths: RunPaths, on_progress: Callable[[int, float, int], None] | None = None):
        self.paths = paths
        self.on_progress = on_progress
        self._lock = threading.Lock()
        self._steps = _Stream(paths.telemetry, "steps")
        self._episodes = _Stream(paths.telemetry, "episodes")
        self._pending_episodes: list[dict[str, Any]] = []
        self._events = open(paths.events, "a", encoding="utf-8")

    # ------------------------------------------------------------------ sink protocol
    def steps(self, columns: dict[str, np.ndarray]) -> None:
        table = pa.table({k: np.asarray(v) for k, v in columns.items()})
        with self._lock:
            self._steps.write(table)
            self._write_episodes()

    def episodes(self, rows: list[dict[str, Any]]) -> None:
        with self._lock:
            self._pending_episodes.extend(rows)

    def progress(self, step: int, fps: float, episodes: int) -> None:
        if self.on_progress is not None:
            self.on_progress(step, fps, episodes)

    def frame(self, image: np.ndarray, step: int) -> None:
        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
        path = self.paths.frames / "latest.png"
        tmp = path.with_name(f".latest.{os.getpid()}.tmp")
        tmp.write_bytes(buf.getvalue())
        os.replace(tmp, path)

    def flush(self) -> None:
        with self._lock:
            self._write_episodes()
            self._events.flush()

    # ------------------------------------------------------------------ events
    def event(self, kind: str, **data: Any) -> dict[str, Any]:
        """Append an event ``{"type": kind, "t": now, ...}`` to ``events.jsonl`` and return it."""
        record = {"type": kind, "t": time.time(), **data}
        line = json.dumps(record, default=_plain)
        with self._lock:
            self._events.write(line + "\n")
            self._events.flush()
        return record

    def log(self, message: str, level: str = "info") -> None:
        """A log line: printed to the worker's log and kept as a ``log`` event."""
        print(f"[{level}] {message}", flush=True)
        self.event("log", level=level, message=message)

    def close(self) -> None:
        with self._lock:
            self._write_episodes()
            self._steps.close()
            self._episodes.close()
            self._events.close()

    def _write_episodes(self) -> None:
        if not self._pending_episodes:
            return
        rows, self._pending_episodes = self._pending_episodes, []
        groups: dict[tuple, list[dict[str, Any]]] = {}
        for row in rows:  # one schema per column set (an edit may change the return_<term> columns)
            groups.setdefault(tuple(row), []).append(row)
        for group in groups.values():
            self._episodes.write(pa.Table.from_pylist(group))


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    return str(value)


# ---------------------------------------------------------------------------------------------- reading
def read_stream_file(path: Path) -> list[pa.RecordBatch]:
    """Every complete record batch in an Arrow IPC stream file (stops at a truncated tail)."""
    batches = []
    try:
        with open(path, "rb") as f:
            reader = pa.ipc.open_stream(f)
            while True:
                try:
                    batches.append(reader.read_next_batch())
                except StopIteration:
                    break
    except (pa.ArrowInvalid, pa.ArrowIOError, OSError, EOFError):
        pass  # empty file, torn header or torn last batch: keep what was complete
    return batches


def read_table(folder: Path, kind: str) -> pa.Table | None:
    """All segments of ``kind`` (``steps`` or ``episodes``) as one table, columns unified (missing: null)."""
    tables = []
    for path in sorted(folder.glob(f"{kind}-*.arrows")):
        batches = read_stream_file(path)
        if batches:
            tables.append(pa.Table.from_batches(batches))
    if not tables:
        return None
    return pa.concat_tables(tables, promote_options="permissive")


def read_events(path: Path, kinds: tuple[str, ...] | None = None) -> list[dict[str, Any]]:
    """Events from ``events.jsonl`` in order (a torn last line is skipped), optionally only some types."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except FileNotFoundError:
        return out
    for line in lines:
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(record, dict) and (kinds is None or record.get("type") in kinds):
            out.append(record)
    return out


@dataclass
class Telemetry:
    """A run's telemetry as read from disk: step and episode frames, and events."""

    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    episodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def edits(self) -> list[dict[str, Any]]:
        """Applied edits (old version, new version, step, wall time, EPIC distance when computed), in order."""
        epic = {e["new_version"]: e for e in self.events if e.get("type") == "epic"}
        out = []
        for e in self.events:
            if e.get("type") == "edit":
                d = epic.get(e["new_version"], {})
                out.append({**e, "epic_distance": d.get("distance"), "epic_error": d.get("error")})
        return out


def read_telemetry(paths: RunPaths) -> Telemetry:
    """Everything flushed so far (see module docstring)."""
    steps = read_table(paths.telemetry, "steps")
    episodes = read_table(paths.telemetry, "episodes")
    return Telemetry(steps.to_pandas() if steps is not None else pd.DataFrame(),
                     episodes.to_pandas() if episodes is not None else pd.DataFrame(),
                     read_events(paths.events))


__all__ = ["Telemetry", "TelemetryWriter", "read_events", "read_stream_file", "read_table", "read_telemetry"]
