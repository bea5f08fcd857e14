"""Where runs live on disk, how to find them again, and whether their worker is still alive.

Each run is a folder ``<runs root>/<run-id>/``::

    config.yaml          the RunConfig it was started with
    status.json          state, worker pid, step, steps/s, spec version, reason (written atomically)
    world.json           the world's reward terms, observation size and cameras (written by the worker)
    specs/v0000.json     every reward spec the worker applied, with its version and effective step
    inbox/               commands for the worker (one JSON file each; the worker deletes what it read)
    telemetry/           per-step and per-episode columns (Arrow IPC streams, see studio.telemetry)
    events.jsonl         edits, refused edits, EPIC distances, checkpoints, pauses, log lines
    frames/latest.png    the latest downscaled frame of env 0
    checkpoints/         step-<n>.zip SB3 checkpoints, each with a .json beside it
    sb3/                 SB3's own logs (progress.csv; TensorBoard events when tensorboard is installed)
    worker.log           the worker's stdout and stderr

The runs root is, in order: an explicit argument, ``$STUDIO_RUNS_DIR``, or ``runs/`` in the project. Run ids
are ``<UTC time>-<world>-<algo>[-<name>]-<4 hex>``, created with an exclusive ``mkdir``, so two sessions
never share a folder. Nothing here listens on a port.

**Crash detection.** The worker keeps ``status.json`` current; if it says the run is active but the
recorded pid is gone, is a zombie, or is another process (its start time differs), the run has failed:
:func:`read_status` reports ``failed`` with the reason (and the exit code or signal when the caller started
the process), and :func:`mark_failed` records that on disk.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ACTIVE = ("starting", "running", "paused", "stopping")
TERMINAL = ("completed", "stopped", "failed")


def runs_root(root: str | os.PathLike | None = None) -> Path:
    """The runs folder (see module docstring); created if missing."""
    path = Path(root) if root is not None else Path(os.environ.get("STUDIO_RUNS_DIR") or PROJECT_ROOT / "runs")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass(frozen=True)
class RunPaths:
    """The files of one run folder."""

    root: Path

    @property
    def run_id(self) -> str:
        return self.root.name

    config = property(lambda self: self.root / "config.yaml")
    status = property(lambda self: self.root / "status.json")
    world = property(lambda self: self.root / "world.json")
    specs = property(lambda self: self.root / "specs")
    inbox = property(lambda self: self.root / "inbox")
    telemetry = property(lambda self: self.root / "telemetry")
    events = property(lambda self: self.root / "events.jsonl")
    frames = property(lambda self: self.root / "frames")
    checkpoints = property(lambda self: self.root / "checkpoints")
    sb3 = property(lambda self: self.root / "sb3")
    log = property(lambda self: self.root / "worker.log")

    def spec_file(self, version: int) -> Path:
        return self.specs / f"v{int(version):04d}.json"

    def make(self) -> "RunPaths":
        for folder in (self.specs, self.inbox, self.telemetry, self.frames, self.checkpoints, self.sb3):
            folder.mkdir(parents=True, exist_ok=True)
        return self


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:30]


def new_run(root: str | os.PathLike | None, world_id: str, algo: str, name: str = "") -> RunPaths:
    """Create a fresh, uniquely named run folder (exclusive mkdir; retried on the rare clash)."""
    base = runs_root(root)
    stamp = time.strftime("%Y%m%d-%H%M%S", time.gmtime())
    parts = [stamp, _slug(world_id.split("/")[-1]), _slug(algo)] + ([_slug(name)] if name else [])
    for _ in range(20):
        path = base / "-".join(parts + [secrets.token_hex(2)])
        try:
            path.mkdir()
        except FileExistsError:
            continue
        return RunPaths(path).make()
    raise RuntimeError(f"could not create a unique run folder under {base}")


def find_run(run: str | os.PathLike, root: str | os.PathLike | None = None) -> RunPaths:
    """A run by folder path, id, or unique id prefix/suffix; ``FileNotFoundError`` lists what exists."""
    path = Path(run)
    if path.is_dir() and (path / "config.yaml").is_file():
        return RunPaths(path.resolve())
    base = runs_root(root)
    exact = base / str(run)
    if (exact / "config.yaml").is_file():
        return RunPaths(exact)
    matches = [p for p in base.iterdir() if p.is_dir() and (p / "config.yaml").is_file()
               and (p.name.startswith(str(run)) or p.name.endswith(str(run)))]
    if len(matches) == 1:
        return RunPaths(matches[0])
    known = sorted(p.name for p in base.iterdir() if (p / "config.yaml").is_file())
    what = "matches several runs" if matches else "is not a run"
    raise FileNotFoundError(f"{run!r} {what} under {base}; runs there: {known[-10:]}")


# ---------------------------------------------------------------------------------------------- files
def write_json_atomic(path: Path, data: Any) -> None:
    """Write JSON to ``path`` via a temporary file and ``os.replace`` (readers never see half a file)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(3)}.tmp")
    tmp.write_text(json.dumps(data, default=_json_default))
    os.replace(tmp, path)


def _json_default(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def read_json(path: Path, default: Any = None) -> Any:
    try:
        return json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return default


# ---------------------------------------------------------------------------------------------- processes
def process_start_time(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (``/proc/<pid>/stat`` field 22), or ``None``."""
    try:
        stat = Path(f"/proc/{int(pid)}/stat").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()
    return int(fields[19]) if fields[0] != "Z" else None


def pid_alive(pid: int | None, start_time: int | None = None) -> bool:
    """Whether ``pid`` runs (not a zombie) and, when ``start_time`` is given, is the same process."""
    if not pid:
        return False
    started = process_start_time(pid)
    if started is None:
        if Path("/proc").is_dir():
            return False
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    return start_time is None or started == int(start_time)


def describe_exit(code: int | None) -> str:
    """``exit code 1`` or ``killed by SIGKILL`` for a ``Popen.returncode``."""
    if code is None:
        return "exit status unknown (the worker was not started by this process)"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


# ---------------------------------------------------------------------------------------------- status
@dataclass
class RunStatus:
    """A run's state as ``status.json`` records it, corrected for a dead worker.

    Attributes:
        state: ``starting``, ``running``, ``paused``, ``stopping`` (active) or ``completed``, ``stopped``,
            ``failed`` (final).
        reason: why a run stopped or failed (``killed by SIGKILL``, the exception, ...).
    """

    run_id: str
    state: str = "starting"
    pid: int | None = None
    pid_start: int | None = None
    step: int = 0
    total_steps: int = 0
    fps: float = 0.0
    episodes: int = 0
    spec_version: int = 0
    started_at: float | None = None
    updated_at: float | None = None
    reason: str = ""
    exit_code: int | None = None
    recording: dict[str, Any] | None = None     # dataset_id, error (None: recording fine), episodes, steps
    lesson: dict[str, Any] | None = None        # a curriculum's current lesson: index, of, settings, step
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def active(self) -> bool:
        return self.state in ACTIVE

    @property
    def finished(self) -> bool:
        return self.state in TERMINAL

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, run_id: str, data: dict[str, Any]) -> "RunStatus":
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__ and k != "run_id"}
        return cls(run_id=run_id, **known)


def read_status(paths: RunPaths, returncode: int | None = None, check_alive: bool = True) -> RunStatus:
    """The run's status; an active status whose worker is gone reads ``failed`` with the reason.

    Args:
        returncode: the worker's exit code when the caller holds its process (``Popen.poll()``), for the reason.
        check_alive: look at the worker's pid (False: trust the file).
    """
    data = read_json(paths.status, {}) or {}
    status = RunStatus.from_dict(paths.run_id, data)
    if status.state == "starting" and not status.pid and time.time() - float(data.get("created_at") or 0) < 60:
        return status  # the session is launching the worker and has not recorded its pid yet
    if check_alive and status.active and not pid_alive(status.pid, status.pid_start):
        again = read_json(paths.status, {}) or {}
        if again.get("state") in TERMINAL:  # it finished between our two reads
            return RunStatus.from_dict(paths.run_id, again)
        status.state = "failed"
        status.exit_code = returncode
        if status.pid:
            status.reason = (f"worker (pid {status.pid}) died while {data.get('state', 'starting')} without a "
                             f"final status: {describe_exit(returncode)}" + _log_tail(paths))
        else:
            status.reason = "the worker never started (no pid recorded)" + _log_tail(paths)
    return status


def _log_tail(paths: RunPaths, lines: int = 3) -> str:
    try:
        text = paths.log.read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    tail = [line for line in text[-lines:] if line.strip()]
    return ("; last log lines: " + " | ".join(tail)) if tail else ""


def mark_failed(paths: RunPaths, status: RunStatus) -> None:
    """Record a detected crash in ``status.json`` (only when the file still says the run is active)."""
    current = read_json(paths.status, {}) or {}
    if current.get("state", "starting") in ACTIVE:
        write_json_atomic(paths.status, {**current, "state": "failed", "reason": status.reason,
                                         "exit_code": status.exit_code, "updated_at": time.time()})


@dataclass(frozen=True)
class RunInfo:
    """One run found on disk: its id, folder, world, algorithm and status."""

    run_id: str
    path: Path
    world_id: str
    algo: str
    status: RunStatus
    created: float


def list_runs(root: str | os.PathLike | None = None) -> list[RunInfo]:
    """Every run under the runs root, newest first (crashed workers show as ``failed``)."""
    import yaml

    out = []
    for path in runs_root(root).iterdir():
        cfg_path = path / "config.yaml"
        if not cfg_path.is_file():
            continue
        try:
            cfg = yaml.safe_load(cfg_path.read_text()) or {}
        except yaml.YAMLError:
            cfg = {}
        paths = RunPaths(path)
        out.append(RunInfo(path.name, path, str(cfg.get("world_id", "?")), str(cfg.get("algo", "?")),
                           read_status(paths), cfg_path.stat().st_mtime))
    return sorted(out, key=lambda r: (r.created, r.run_id), reverse=True)


__all__ = ["ACTIVE", "PROJECT_ROOT", "TERMINAL", "RunInfo", "RunPaths", "RunStatus", "describe_exit", "find_run",
           "list_runs", "mark_failed", "new_run", "pid_alive", "process_start_time", "read_json", "read_status",
           "runs_root", "write_json_atomic"]
