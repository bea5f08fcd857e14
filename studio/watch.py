"""A cheap, incremental view of one run for the pages that watch it while it trains.

:func:`studio.telemetry.read_telemetry` reads a whole run every call, which grows with the run. A watching
browser tab refreshes its charts every couple of seconds, so :class:`RunWatcher` instead remembers where it
stopped in every telemetry segment and in the event log, reads only what was flushed since, and folds step
and episode rows into step bins (sums and counts). When the bins outnumber ``2 * max_bins`` neighbouring
pairs merge (the bin width doubles), so memory and chart size stay bounded however long the run is. One
watcher serves every tab watching the run (it is thread-safe), so a second tab costs almost nothing.

A half-written last Arrow message or event line is left for the next refresh, like the full reader does.
"""

from __future__ import annotations

import collections
import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from studio.runs import RunPaths, RunStatus, read_status


class _StreamTail:
    """Reads the record batches appended to one Arrow IPC stream file since the last call."""

    def __init__(self, path: Path):
        self.path = path
        self.offset = 0
        self.schema: pa.Schema | None = None
        self.ended = False

    def read_new(self) -> list[pa.RecordBatch]:
        if self.ended:
            return []
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read()
        except OSError:
            return []
        reader = pa.BufferReader(pa.py_buffer(data))
        batches, good = [], 0
        while good < len(data):
            try:
                message = pa.ipc.read_message(reader)
            except EOFError:            # end-of-stream marker: the segment is closed
                self.ended = True
                good = len(data)
                break
            except (pa.ArrowInvalid, OSError):  # a torn last message: read it next time
                break
            if message.type == "schema":
                self.schema = pa.ipc.read_schema(message)
            elif message.type == "record batch" and self.schema is not None:
                batches.append(pa.ipc.read_record_batch(message, self.schema))
            good = reader.tell()
        self.offset += good
        return batches


class _Bins:
    """Step-binned sums and counts of numeric columns; the bin width doubles to keep at most 2 * max_bins."""

    def __init__(self, width: int, max_bins: int):
        self.width, self.max_bins = int(width), int(max_bins)
        self.sums = pd.DataFrame()
        self.counts = pd.DataFrame()

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        values = frame.drop(columns=[c for c in ("env", "t", "episode") if c in frame]).astype(float)
        key = (frame["step"].to_numpy() // self.width).astype(np.int64)
        sums = values.groupby(key).sum(min_count=1)
        counts = values.notna().groupby(key).sum()
        self.sums = sums if self.sums.empty else self.sums.add(sums, fill_value=0)
        self.counts = counts if self.counts.empty else self.counts.add(counts, fill_value=0)
        while len(self.sums) > 2 * self.max_bins:
            self.width *= 2
            self.sums = self.sums.groupby(self.sums.index // 2).sum(min_count=1)
            self.counts = self.counts.groupby(self.counts.index // 2).sum()

    def means(self) -> pd.DataFrame:
        """One row per bin: the mean of each column, ``step`` the bin's mean step, ``rows`` its row count."""
        if self.sums.empty:
            return pd.DataFrame()
        counts = self.counts.replace(0, np.nan)
        out = self.sums / counts
        out["rows"] = self.counts["step"].astype(int)
        return out.reset_index(drop=True)


@dataclass
class RunView:
    """What a watching page shows of a run at one moment (see :meth:`RunWatcher.refresh`).

    Attributes:
        steps: per step bin: ``step``, ``reward``, ``world_reward``, ``success`` (rate), ``term_<name>``.
        episodes: per step bin of finished episodes: ``step``, ``return``, ``world_return``, ``success``
            (rate), ``length``, ``return_<name>``, ``rows`` (episodes in the bin).
        recent: the last episodes' (success, return, world_return) for headline numbers.
        edits: applied edits in order, each with ``epic_distance`` (``None`` until computed).
        refused: refused edits (``error`` says why).
        notices: log lines of level warning/error, failures.
    """

    run_id: str
    status: RunStatus
    steps: pd.DataFrame = field(default_factory=pd.DataFrame)
    episodes: pd.DataFrame = field(default_factory=pd.DataFrame)
    recent: list[tuple[bool, float, float]] = field(default_factory=list)
    edits: list[dict[str, Any]] = field(default_factory=list)
    refused: list[dict[str, Any]] = field(default_factory=list)
    checkpoints: list[dict[str, Any]] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    bin_steps: int = 0

    @property
    def term_names(self) -> list[str]:
        return [c.removeprefix("term_") for c in self.steps.columns if c.startswith("term_")]

    @property
    def episodes_seen(self) -> int:
        return int(self.episodes["rows"].sum()) if "rows" in self.episodes else 0

    def recent_success(self) -> float | None:
        """Ground-truth success rate over the recent episodes (``None`` before the first)."""
        return float(np.mean([s for s, _, _ in self.recent])) if self.recent else None

    def recent_return(self, world: bool = False) -> float | None:
        """Mean learned (or, with ``world``, reference) return of the recent episodes."""
        return float(np.mean([w if world else r for _, r, w in self.recent])) if self.recent else None

    def term_curves(self) -> pd.DataFrame:
        """Long format for charts: ``step``, ``term``, ``value`` (mean weighted term value per env step)."""
        cols = [c for c in self.steps.columns if c.startswith("term_")]
        if not cols:
            return pd.DataFrame(columns=["step", "term", "value"])
        long = self.steps.melt(id_vars=["step"], value_vars=cols, var_name="term", value_name="value")
        long["term"] = long["term"].str.removeprefix("term_")
        return long.dropna()


class RunWatcher:
    """Incremental reader of one run folder (see module docstring).

    Args:
        run_dir: the run's folder.
        bin_steps: initial width of a step bin, in env steps.
        max_bins: bins kept before neighbours merge (charts get between ``max_bins`` and twice as many points).
        recent: how many finished episodes the headline numbers average over.
    """

    def __init__(self, run_dir: str | Path, bin_steps: int = 256, max_bins: int = 200, recent: int = 50):
        self.paths = RunPaths(Path(run_dir))
        self._lock = threading.Lock()
        self._tails: dict[Path, _StreamTail] = {}
        self._steps = _Bins(bin_steps, max_bins)
        self._episodes = _Bins(bin_steps, max_bins)
        self._recent: collections.deque = collections.deque(maxlen=recent)
        self._event_offset = 0
        self._events: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        self._epic: dict[int, dict[str, Any]] = {}
        self.last_refresh = 0.0

    def refresh(self) -> RunView:
        """Read what was flushed since the last call and return the current view."""
        with self._lock:
            self._read_kind("steps", self._steps)
            for frame in self._read_kind("episodes", self._episodes):
                tail = frame.tail(self._recent.maxlen)
                world = tail["world_return"] if "world_return" in tail else tail["return"]
                self._recent.extend(zip(tail["success"].astype(bool), tail["return"].astype(float),
                                        world.astype(float)))
            self._read_events()
            self.last_refresh = time.time()
            return self._view()

    # ------------------------------------------------------------------ reading
    def _read_kind(self, kind: str, bins: _Bins) -> list[pd.DataFrame]:
        frames = []
        for path in sorted(self.paths.telemetry.glob(f"{kind}-*.arrows")):
            tail = self._tails.setdefault(path, _StreamTail(path))
            batches = tail.read_new()
            if batches:
                frame = pa.Table.from_batches(batches).to_pandas()
                bins.add(frame)
                frames.append(frame)
        return frames

    def _read_events(self) -> None:
        try:
            with open(self.paths.events, "rb") as f:
                f.seek(self._event_offset)
                data = f.read()
        except OSError:
            return
        end = data.rfind(b"\n") + 1          # only complete lines; a torn last one waits
        self._event_offset += end
        for line in data[:end].splitlines():
            try:
                event = json.loads(line)
            except json.JSONDecodeError:
                continue
            if not isinstance(event, dict):
                continue
            kind = event.get("type")
            if kind == "epic":
                self._epic[event.get("new_version")] = event
            elif kind in ("edit", "edit_refused", "command_refused", "checkpoint", "failed", "finished"):
                self._events[kind].append(event)
            elif kind == "log" and event.get("level") in ("warning", "error"):
                self._events["notice"].append(event)

    def _view(self) -> RunView:
        edits = []
        for e in self._events["edit"]:
            epic = self._epic.get(e.get("new_version"), {})
            edits.append({**e, "epic_distance": epic.get("distance"), "epic_error": epic.get("error")})
        return RunView(self.paths.run_id, read_status(self.paths), self._steps.means(), self._episodes.means(),
                       list(self._recent), edits, self._events["edit_refused"] + self._events["command_refused"],
                       list(self._events["checkpoint"]), self._events["notice"] + self._events["failed"],
                       self._steps.width)


def latest_frame_png(paths: RunPaths) -> tuple[bytes | None, float]:
    """The latest frame as PNG bytes, as written (no decode and re-encode), and its modification time."""
    path = paths.frames / "latest.png"
    try:
        return path.read_bytes(), path.stat().st_mtime
    except OSError:
        return None, 0.0


def wait_for_edit(paths: RunPaths, command_id: str, timeout: float = 30.0) -> dict[str, Any] | None:
    """The ``edit`` or ``edit_refused`` event answering ``command_id``; ``None`` after ``timeout`` seconds or
    when the run finished first."""
    from studio.telemetry import read_events

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for event in read_events(paths.events, ("edit", "edit_refused", "command_refused")):
            if event.get("id") == command_id:
                return event
        if read_status(paths).finished:
            return None
        time.sleep(0.1)
    return None


__all__ = ["RunView", "RunWatcher", "latest_frame_png", "wait_for_edit"]
