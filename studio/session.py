"""A handle on one training run, used by the UI and the CLI alike.

``Session.start(config)`` creates ``runs/<run-id>/``, writes the config and starts the worker
(``python -m studio.worker <run dir>``, a fresh interpreter, like multiprocessing's spawn) in a new process
session with its output in ``worker.log``: it is nobody's child in a way that matters, so the UI process
can exit, be reloaded or crash while training goes on. ``Session.attach(run_id)`` (or
:func:`studio.runs.list_runs`) finds it again from disk.

Commands are files dropped into the run's ``inbox/`` (written to a temporary name, then renamed, so the
worker never reads half a command); telemetry, status, specs and checkpoints are read back from the folder.
A reward spec is validated here, where it is written (:class:`SpecError` names the field), and again by the
worker against the world's terms. Several sessions and UI processes can address one run; several runs never
share a file.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from agents.vlm.clip_setting import freeze_clip_model
from studio.runs import (PROJECT_ROOT, TERMINAL, RunPaths, RunStatus, find_run, mark_failed, new_run,
                         process_start_time, read_json, read_status, write_json_atomic)
from studio.spec import RewardSpec, RunConfig, SpecError, parse_reward_spec, parse_run_config, world_terms
from studio.telemetry import Telemetry, read_events, read_telemetry


class Session:
    """One run: start or attach, send commands, read status and telemetry (see module docstring).

    Args:
        paths: the run folder.
        process: the worker's ``Popen`` when this process started it (gives the exit code on a crash).
    """

    def __init__(self, paths: RunPaths, process: subprocess.Popen | None = None):
        self.paths = paths
        self.process = process
        self._config: RunConfig | None = None

    # ------------------------------------------------------------------ creation
    @classmethod
    def start(cls, config: RunConfig | dict | str | Path, runs_dir: str | os.PathLike | None = None) -> "Session":
        """Validate ``config``, create the run folder and start its worker; returns at once.

        Raises:
            SpecError: the config (or its reward spec against the world's terms) does not validate.
        """
        config = parse_run_config(config)
        config.reward.check_world_terms(world_terms(config.world_id, config.world_kwargs))
        # Frozen now (the environment's default filled in, a path made absolute and checked): the worker, eval
        # and recording all use the model the run trained with. A bad $STUDIO_CLIP_MODEL stops any new run, since
        # a CLIP term can be added to any run while it trains.
        try:
            config = config.model_copy(update={"clip_model": freeze_clip_model(config.clip_model)})
        except ValueError as err:
            raise SpecError(str(err), [("clip_model", str(err))]) from None
        paths = new_run(runs_dir, config.world_id, config.algo, config.name)
        paths.config.write_text(config.to_yaml())
        write_json_atomic(paths.status, {"state": "starting", "total_steps": config.total_steps,
                                         "spec_version": config.reward.version, "created_at": time.time(),
                                         "updated_at": time.time()})
        log = open(paths.log, "ab")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(PROJECT_ROOT),
                                                                         os.environ.get("PYTHONPATH")]))}
        process = subprocess.Popen([sys.executable, "-m", "studio.worker", str(paths.root)], cwd=PROJECT_ROOT,
                                   stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env,
                                   start_new_session=True, close_fds=True)
        log.close()
        status = read_json(paths.status, {})
        if status.get("state") == "starting" and not status.get("pid"):  # the worker may already have written
            write_json_atomic(paths.status, {**status, "pid": process.pid,
                                             "pid_start": process_start_time(process.pid)})
        session = cls(paths, process)
        session._config = config
        return session

    @classmethod
    def attach(cls, run: str | os.PathLike, runs_dir: str | os.PathLike | None = None) -> "Session":
        """A session for an existing run (by id, unique prefix or folder)."""
        return cls(find_run(run, runs_dir))

    # ------------------------------------------------------------------ identity
    @property
    def run_id(self) -> str:
        return self.paths.run_id

    @property
    def run_dir(self) -> Path:
        return self.paths.root

    @property
    def config(self) -> RunConfig:
        """The config the run was started with."""
        if self._config is None:
            self._config = parse_run_config(self.paths.config)
        return self._config

    def __repr__(self) -> str:
        return f"Session({self.run_id!r}, state={self.status().state!r})"

    # ------------------------------------------------------------------ commands
    def send(self, cmd: str, **payload: Any) -> str:
        """Drop a command into the inbox; returns its id (events about it carry the same id)."""
        status = self.status()
        if status.finished:
            raise RuntimeError(f"run {self.run_id} is {status.state} ({status.reason}); it takes no commands")
        command_id = f"{time.time_ns():020d}-{secrets.token_hex(3)}"
        record = {"id": command_id, "cmd": cmd, "t": time.time(), **payload}
        tmp = self.paths.inbox / f".{command_id}.tmp"
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.paths.inbox / f"{command_id}.json")
        return command_id

    def pause(self) -> str:
        return self.send("pause")

    def resume(self) -> str:
        return self.send("resume")

    def save_checkpoint(self) -> str:
        return self.send("save")

    def stop(self, reason: str = "stop requested") -> str:
        """Ask the worker to save a checkpoint and finish (state ``stopped``)."""
        return self.send("stop", reason=reason)

    def apply_spec(self, spec: RewardSpec | dict | str | Path) -> str:
        """Validate ``spec`` and send it; returns the command id. The worker gives it the next version.

        Raises:
            SpecError: naming the bad field; nothing is sent and training keeps its current spec.
        """
        spec = parse_reward_spec(spec)
        spec.check_world_terms((read_json(self.paths.world, {}) or {}).get("world_terms"))
        return self.send("apply_spec", spec=spec.model_dump(mode="json"))

    # ------------------------------------------------------------------ reading
    def status(self) -> RunStatus:
        """The run's status; a worker that died without saying so reads ``failed`` (and is recorded so)."""
        code = self.process.poll() if self.process is not None else None
        status = read_status(self.paths, returncode=code)
        if status.state == "failed" and (read_json(self.paths.status, {}) or {}).get("state") != "failed":
            if code is None and self.process is not None:  # dead (a zombie) but not reaped yet: get its exit code
                try:
                    code = self.process.wait(timeout=2.0)
                except subprocess.TimeoutExpired:
                    pass
                status = read_status(self.paths, returncode=code)
            mark_failed(self.paths, status)  # a crash detected from outside is recorded for later readers
        return status

    def wait(self, timeout: float | None = None, states: tuple[str, ...] = TERMINAL, poll_s: float = 0.1) -> RunStatus:
        """Block until the state is one of ``states`` (default: finished); ``TimeoutError`` after ``timeout`` s."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            status = self.status()
            if status.state in states:
                return status
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"run {self.run_id} is still {status.state} after {timeout} s (step "
                                   f"{status.step}); waiting for {list(states)}")
            time.sleep(poll_s)

    def wait_for_event(self, kind: str, timeout: float = 30.0, **match: Any) -> dict[str, Any]:
        """The first event of type ``kind`` whose fields equal ``match`` (e.g. ``id=command_id``)."""
        deadline = time.monotonic() + timeout
        while True:
            for event in read_events(self.paths.events, (kind,)):
                if all(event.get(k) == v for k, v in match.items()):
                    return event
            status = self.status()
            if status.finished or time.monotonic() > deadline:
                raise TimeoutError(f"no {kind!r} event matching {match} in run {self.run_id} "
                                   f"(state {status.state}) after {timeout} s")
            time.sleep(0.05)

    def telemetry(self) -> Telemetry:
        """Steps, episodes and events flushed so far (readable after a crash too)."""
        return read_telemetry(self.paths)

    def events(self, *kinds: str) -> list[dict[str, Any]]:
        return read_events(self.paths.events, kinds or None)

    def specs(self) -> list[RewardSpec]:
        """Every applied reward spec, oldest first."""
        return [parse_reward_spec(json.loads(p.read_text())) for p in sorted(self.paths.specs.glob("v*.json"))]

    def current_spec(self) -> RewardSpec:
        specs = self.specs()
        return specs[-1] if specs else self.config.reward

    def checkpoints(self) -> list[Path]:
        """Saved checkpoints, oldest first."""
        return sorted(self.paths.checkpoints.glob("step-*.zip"))

    def latest_frame(self) -> np.ndarray | None:
        """The latest downscaled frame of env 0 as ``(H, W, 3)`` uint8, or ``None`` before the first."""
        path = self.paths.frames / "latest.png"
        try:
            from PIL import Image

            with Image.open(path) as image:
                return np.asarray(image.convert("RGB"))
        except (FileNotFoundError, OSError):
            return None


def list_sessions(runs_dir: str | os.PathLike | None = None) -> list[Session]:
    """A session for every run on disk, newest first."""
    from studio.runs import list_runs

    return [Session(RunPaths(info.path)) for info in list_runs(runs_dir)]


__all__ = ["Session", "SpecError", "list_sessions"]
