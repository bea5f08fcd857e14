"""The training worker: one run, in its own process, driven by files in its run folder.

``python -m studio.worker <run dir>`` reads ``config.yaml``, builds the reward stack, the VecEnv and the SB3
model, and trains. :class:`studio.session.Session` starts it in a new process session, detached from the
UI, so closing the UI (or pressing Ctrl-C in its terminal) does not stop training; a new UI process
re-attaches through the run folder.

Commands arrive as JSON files in ``inbox/``. A watcher thread reads them every 50 ms, validates reward specs
at once (a refused spec is an ``edit_refused`` event naming the field; training keeps the last good spec)
and queues the rest; the training thread executes the queue at the next step boundary (after an env step
or at a rollout start), where nothing is in flight:

====================  ================================================================================
``pause``/``resume``  block at the boundary (the status reads ``paused``) / carry on
``save``              write ``checkpoints/step-<n>.zip`` (+ ``.json``: step, spec version, the learner's
                      reward standardisation, and with ``normalize`` the observation statistics)
``stop``              save a checkpoint and finish with state ``stopped``
``apply_spec``        apply the spec to the live reward stack: the next env step is scored with it. The
                      spec gets version ``previous + 1`` and ``effective_step`` (env steps done); an
                      ``edit`` event records old/new version, step, request and apply times; the current
                      PPO rollout is re-scored at its end (SAC: the replay buffer is relabelled now); a
                      background thread then adds an ``epic`` event with the EPIC distance old -> new
====================  ================================================================================

SIGTERM and SIGINT act like ``stop``. An exception ends the run as ``failed`` with the reason; a crash
the worker cannot report (``kill -9``) is detected from outside by :func:`studio.runs.read_status`.
"""

from __future__ import annotations

import collections
import json
import os
import signal
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

import numpy as np

from studio.runs import RunPaths, process_start_time, read_json, write_json_atomic
from studio.spec import RewardSpec, RunConfig, SpecError, parse_reward_spec, parse_run_config, world_probe
from studio.telemetry import TelemetryWriter

COMMANDS = ("pause", "resume", "save", "stop", "apply_spec")


class Worker:
    """Trains one run (see module docstring).

    Args:
        paths: the run folder.
        config: the run config (default: read from ``config.yaml``).
    """

    def __init__(self, paths: RunPaths, config: RunConfig | None = None):
        self.paths = paths.make()
        self.config = config or parse_run_config(paths.config)
        self.tel = TelemetryWriter(paths, on_progress=self._on_progress)
        self._status_lock = threading.Lock()
        self._status: dict[str, Any] = read_json(paths.status, {}) or {}
        self._commands: collections.deque[dict[str, Any]] = collections.deque()
        self._done = threading.Event()
        self._paused = False
        self._stop_reason = ""
        self._embedder = None
        self._next_checkpoint = self.config.checkpoint_every or 0
        self.model = self.live = self.stack = self.recorder = self.demo_labels = None
        self._recorded_specs: list[dict] = []
        self.spec: RewardSpec = self.config.reward
        self.version_map: dict[int, int] = {}

    # ------------------------------------------------------------------ setup
    def _embedder_provider(self):
        if self._embedder is None:
            from agents.vlm.embedder import embedder_for

            self.tel.log(f"loading the CLIP model {self.config.clip_setting!r}")
            self._embedder = embedder_for(self.config.clip_setting, "cpu" if self.config.device == "cpu" else "auto")
        return self._embedder

    def build(self) -> "Worker":
        """Build the stack, env and model; write ``world.json`` and spec version 0."""
        from agents.reward_factory import build_stack
        from agents.sb3_factory import make_model, make_venv

        import gymnasium as gym

        cfg = self.config
        keys, info_keys = world_probe(cfg.world_id, cfg.world_kwargs, cfg.agent)
        self.spec.check_world_terms(keys, info_keys)
        self.spec = self.spec.bump(self.spec.version, self.spec.created_at or time.time(), 0)
        self.stack = build_stack(self.spec.term_params(), self._embedder_provider)
        self.venv, self.reward_env = make_venv(cfg.world_id, cfg.world_kwargs, cfg.n_envs, cfg.seed, self.stack,
                                               camera=self.spec.camera, agent=cfg.agent,
                                               subprocess_envs=cfg.subprocess_envs)
        demos = self._play_demos() if cfg.demos else None      # before the recorder: they are not the agent's
        if cfg.recording.enabled:
            self.venv = self._recorder(self.venv)       # below any normalisation: recordings keep raw steps
        if cfg.normalize:
            from agents.normalize import normalize_venv

            self.venv = normalize_venv(self.venv)       # its gamma is set to the learner's below
        device = cfg.device if cfg.device != "auto" else ("cuda" if _cuda() else "cpu")
        algo_kwargs = cfg.algo_kwargs
        if (demos is not None and cfg.algo == "sac") or cfg.standardize_reward:
            from agents.demos import sac_demo_kwargs

            algo_kwargs = sac_demo_kwargs(algo_kwargs)
        self.model = make_model(cfg.algo, self.venv, algo_kwargs, cfg.seed, device, self.paths.sb3, cfg.agent)
        if cfg.normalize:       # the returns it divides rewards by are the ones the learner discounts
            self.model.get_vec_normalize_env().gamma = float(self.model.gamma)
        if demos is not None and cfg.algo == "sac":
            self.model.replay_buffer.add_demos(demos)
        elif demos is not None:
            self._clone_demos(demos)
        if cfg.standardize_reward:
            from agents.reward_scale import RewardStandardizer

            self.model.replay_buffer.standardizer = RewardStandardizer()
        self.version_map[self.stack.version] = self.spec.version
        write_json_atomic(self.paths.world, {
            "world_id": cfg.world_id, "world_terms": keys, "info_keys": info_keys, "agent": cfg.agent,
            "obs_dim": int(gym.spaces.flatdim(self.venv.observation_space)),
            "cameras": list(self.venv.get_attr("camera_names", indices=[0])[0]), "gamma": float(self.model.gamma)})
        write_json_atomic(self.paths.spec_file(self.spec.version), self.spec.model_dump(mode="json"))
        self.tel.log(f"{cfg.algo} ({cfg.agent} policy) on {cfg.world_id} with {cfg.n_envs} envs, "
                     f"{cfg.total_steps} steps, reward "
                     f"terms {self.spec.names}, device {device}")
        return self

    def _play_demos(self):
        """Play the config's scripted demonstrations through the run's reward; keep their relabelling labels."""
        from agents.demos import DEMO_SHARE, play_for_stack
        from agents.scripted import ScriptedController

        start = time.time()
        demos, self.demo_labels = play_for_stack(self.venv, self.reward_env, self.stack, ScriptedController,
                                                 self.config.demos)
        seconds = time.time() - start
        self.tel.event("demos", step=0, episodes=demos.episodes, steps=len(demos), successes=demos.successes,
                       seconds=round(seconds, 1))
        use = (f"every SAC batch draws {DEMO_SHARE:.0%} from them" if self.config.algo == "sac"
               else "PPO starts cloned from them")
        self.tel.log(f"played {demos.episodes} scripted demonstrations ({demos.successes} succeeded, "
                     f"{len(demos)} steps) in {seconds:.0f} s; {use}")
        return demos

    def _clone_demos(self, demos) -> None:
        """PPO keeps no buffer: it starts from the demonstrations instead, the policy cloned from their actions
        and its value head fitted to the returns the run's reward paid them (:func:`agents.demos.pretrain_on_policy`),
        first put on the scale of the run's ``VecNormalize`` when it has one. A later reward edit cannot reach
        them, and need not: they shaped where PPO starts, not what it goes on learning from."""
        from agents.demos import normalised_by, pretrain_on_policy

        self.demo_labels = None          # nothing to relabel
        vn = self.model.get_vec_normalize_env()
        start = time.time()
        losses = pretrain_on_policy(self.model, normalised_by(vn, demos) if vn is not None else demos)
        self.tel.event("demos_cloned", step=0, seconds=round(time.time() - start, 1), **losses)
        self.tel.log(f"cloned the policy from the demonstrations in {time.time() - start:.0f} s "
                     f"(behaviour-cloning loss {losses['bc_loss']}, value loss {losses['value_loss']})")

    def _recorder(self, venv):
        """Wrap ``venv`` so every training episode is recorded (``recordings/`` in the run folder)."""
        from studio.recording.layout import RecordingPaths, next_version, run_metadata, world_spec
        from agents.memory.wrappers import MEMORY_KEYS
        from studio.recording.vec_recorder import VecRecorder, recorded_space
        from studio.recording.writer import RecordingWriter

        cfg, rec = self.config, self.config.recording
        cameras = list(venv.get_attr("camera_names", indices=[0])[0])
        if rec.video_camera is not None and rec.video_camera not in cameras:
            raise ValueError(f"recording.video_camera={rec.video_camera!r} is not a camera of {cfg.world_id}; "
                             f"choose one of {cameras}")
        root = self.paths.root / "recordings"
        try:
            root.mkdir(exist_ok=True)
        except OSError as exc:
            message = (f"recording is off: cannot create {root} ({type(exc).__name__}: {exc}). Training goes on "
                       f"without recording; choose a writable runs folder (STUDIO_RUNS_DIR) to record.")
            self.tel.event("recording_failed", error=message, step=0)
            self._set_status(recording={"dataset_id": None, "error": message})
            return venv
        paths = RecordingPaths(root, next_version(root, cfg.world_id, "train"))
        self._recorded_specs = [self.spec.model_dump(mode="json")]
        writer = RecordingWriter(
            paths, world_spec(cfg.world_id, cfg.world_kwargs), recorded_space(venv.observation_space, MEMORY_KEYS),
            venv.action_space,
            metadata=run_metadata(self.paths.run_id, "train", cfg.world_id, cfg.world_kwargs, cfg.algo,
                                  self._recorded_specs, seed=cfg.seed, n_envs=cfg.n_envs),
            description=f"Reward Studio: training episodes of run {self.paths.run_id} ({cfg.algo} on {cfg.world_id})",
            algorithm_name=cfg.algo, on_error=self._recording_failed, background=True)
        self._set_status(recording={"dataset_id": paths.dataset_id, "error": writer.error})
        if writer.error:
            self.tel.event("recording_failed", error=writer.error, step=0)
            return venv
        self.recorder = VecRecorder(venv, writer, version_of=self._spec_version, video_every=rec.video_every,
                                    video_camera=rec.video_camera, video_size=rec.video_size, drop_keys=MEMORY_KEYS)
        self.recorder.seed(cfg.seed)
        self.tel.event("recording", dataset_id=paths.dataset_id, folder=str(paths.folder))
        return self.recorder

    def _recording_failed(self, message: str) -> None:
        self.tel.event("recording_failed", error=message, step=int(self.model.num_timesteps) if self.model else 0)
        self._set_status(recording={"dataset_id": self.recorder.writer.paths.dataset_id if self.recorder else None,
                                    "error": message})

    def callbacks(self) -> list:
        """The SB3 callbacks the config asks for."""
        from agents.callbacks import BoundaryCallback, LiveRewardCallback, TelemetryCallback, TimeBudgetCallback

        cfg, tel = self.config, self.config.telemetry
        out: list = []
        if tel.live_channel:
            self.live = LiveRewardCallback(self.stack, self.reward_env, self._embedder_provider, tel.transition_window,
                                           rescore=tel.rescore_on_edit, relabel=tel.relabel_replay,
                                           on_rescore=self._on_rescore, demo_labels=self.demo_labels)
            out.append(self.live)
        if tel.enabled:
            out.append(TelemetryCallback(self.tel, self._spec_version, tel.step_every, tel.flush_every_s,
                                         frame_every_s=tel.frame_every_s, frame_size=tel.frame_size))
        if cfg.curriculum is not None:
            from agents.curriculum import Curriculum

            c = cfg.curriculum
            curriculum = Curriculum(c.lessons, c.promote_at, c.window, on_change=self._on_lesson)
            if self.recorder is not None:       # each recorded episode says which lesson it began under
                self.recorder.episode_tags = curriculum.episode_tags
            out.append(curriculum)
        if cfg.standardize_reward:
            from agents.reward_scale import StandardizeRewardCallback

            out.append(StandardizeRewardCallback(self._on_standardized))
        out.append(BoundaryCallback(self._boundary))
        if cfg.time_limit_s:
            out.append(TimeBudgetCallback(cfg.time_limit_s))
        return out

    def _on_standardized(self, state: dict, step: int) -> None:
        """The learner's reward standardisation was measured (``state``: mean, std, count): an event and a log line."""
        self.tel.event("reward_standardized", step=step, **state)
        self.tel.log(f"the learner's rewards are standardised from step {step}: (r - {state['mean']:.4g}) / "
                     f"{state['std']:.4g}, measured on {state['count']} stored rewards")

    def _on_lesson(self, index: int, lesson: dict[str, Any], step: int) -> None:
        """A curriculum's lesson began: an event, a log line and the status (``lesson``: index and count)."""
        count = len(self.config.curriculum.lessons)
        self.tel.event("lesson", step=step, lesson=index, of=count, settings=lesson)
        self.tel.log(f"curriculum: lesson {index + 1} of {count} {lesson} from step {step}")
        self._set_status(lesson={"index": index, "of": count, "settings": lesson, "step": step})

    # ------------------------------------------------------------------ run
    def train(self) -> str:
        """Build (if needed), train until done, stopped or failed; returns the final state."""
        if self.model is None:
            self.build()
        self.start_channel()
        self._set_status(state="running", total_steps=self.config.total_steps)
        self.tel.event("started", step=0, spec_version=self.spec.version, pid=os.getpid())
        try:
            self.model.learn(total_timesteps=self.config.total_steps, callback=self.callbacks())
        except (EOFError, BrokenPipeError, ConnectionResetError) as exc:
            if not self.config.subprocess_envs:
                raise
            raise RuntimeError("an environment process died (subprocess_envs); its traceback is in this run's "
                               "worker.log") from exc
        finally:
            self.stop_channel()
        step = int(self.model.num_timesteps)
        completed = step >= self.config.total_steps and not self._stop_reason
        reason = self._stop_reason or ("reached total_steps" if completed else "time limit reached")
        self._set_status(state="stopping", step=step)
        self.save_checkpoint("final")
        if self.recorder is not None:
            writer = self.recorder.writer
            self.recorder.close_recording()
            self._set_status(recording={"dataset_id": writer.paths.dataset_id, "error": writer.error,
                                        "episodes": writer.episodes, "steps": writer.steps})
        state = "completed" if completed else "stopped"
        try:
            self.venv.close()       # ends env processes (subprocess_envs) and frees GL contexts now, not at exit
        except Exception as exc:    # noqa: BLE001 (the run is saved: a failing close must not fail it)
            self.tel.log(f"closing the envs failed: {exc}")
        self.tel.event("finished", state=state, step=step, reason=reason)
        self.tel.close()
        self._set_status(state=state, step=step, reason=reason, exit_code=0, fps=0.0)
        return state

    def start_channel(self) -> None:
        """Start watching the inbox (when the config's live channel is on)."""
        if self.config.telemetry.live_channel:
            self._done.clear()
            threading.Thread(target=self._watch_inbox, name="inbox", daemon=True).start()

    def stop_channel(self) -> None:
        self._done.set()

    def request_stop(self, reason: str) -> None:
        """Stop at the next step boundary (e.g. from a signal handler)."""
        self._stop_reason = self._stop_reason or reason

    # ------------------------------------------------------------------ status
    def _set_status(self, **changes: Any) -> None:
        with self._status_lock:
            self._status.update(changes, updated_at=time.time(), spec_version=self.spec.version)
            write_json_atomic(self.paths.status, self._status)

    def _on_progress(self, step: int, fps: float, episodes: int) -> None:
        if fps > 0:
            self._set_status(step=int(step), fps=round(float(fps), 1), episodes=int(episodes))

    def _spec_version(self, stack_version: int) -> int:
        return self.version_map.get(stack_version, self.spec.version)

    # ------------------------------------------------------------------ commands
    def _watch_inbox(self) -> None:
        while not self._done.is_set():
            for path in sorted(self.paths.inbox.glob("*.json")):
                try:
                    command = json.loads(path.read_text())
                except (OSError, json.JSONDecodeError) as exc:
                    command = {"cmd": "?", "error": f"unreadable command file {path.name}: {exc}"}
                path.unlink(missing_ok=True)
                self._accept(command if isinstance(command, dict) else {"cmd": "?"})
            self._done.wait(0.05)

    def _accept(self, command: dict[str, Any]) -> None:
        kind = command.get("cmd")
        if kind not in COMMANDS:
            self.tel.event("command_refused", id=command.get("id"), error=command.get("error")
                           or f"unknown command {kind!r}; use one of {list(COMMANDS)}")
            return
        if kind == "apply_spec":
            try:
                spec = parse_reward_spec(command.get("spec"))
                world = read_json(self.paths.world, {}) or {}
                spec.check_world_terms(world.get("world_terms"), world.get("info_keys"))
            except SpecError as exc:
                self.tel.event("edit_refused", id=command.get("id"), error=str(exc), fields=exc.fields,
                               spec_version=self.spec.version)
                return
            command = {**command, "parsed": spec}
        self._commands.append(command)

    def _boundary(self, callback) -> bool:
        while self._commands:
            self._execute(self._commands.popleft())
        if self._paused and not self._stop_reason:
            self._set_status(state="paused", step=int(self.model.num_timesteps))
            self.tel.event("paused", step=int(self.model.num_timesteps))
            while self._paused and not self._stop_reason:
                time.sleep(0.02)
                while self._commands:
                    self._execute(self._commands.popleft())
            self.tel.event("resumed", step=int(self.model.num_timesteps))
            self._set_status(state="running")
        if self._next_checkpoint and self.model.num_timesteps >= self._next_checkpoint:
            self.save_checkpoint("periodic")
            self._next_checkpoint += self.config.checkpoint_every
        return not self._stop_reason

    def _execute(self, command: dict[str, Any]) -> None:
        kind = command["cmd"]
        if kind == "pause":
            self._paused = True
        elif kind == "resume":
            self._paused = False
        elif kind == "save":
            self.save_checkpoint("requested", command.get("id"))
        elif kind == "stop":
            self.request_stop(command.get("reason") or "stop requested")
        elif kind == "apply_spec":
            self.apply_spec(command["parsed"], command.get("t"), command.get("id"))

    def apply_spec(self, spec: RewardSpec, requested_t: float | None = None, command_id: str | None = None) -> bool:
        """Apply ``spec`` at this step boundary (see module docstring); False (and an event) when refused."""
        if self.live is None:
            self.tel.event("edit_refused", id=command_id, error="the live channel is off for this run")
            return False
        try:
            applied = self.live.apply(spec.term_params())
        except (ValueError, KeyError, OSError, RuntimeError) as exc:   # OSError/RuntimeError: a CLIP model that
            # cannot load (weights not cached, a checkpoint that does not fit) refuses the edit, not the run
            self.tel.event("edit_refused", id=command_id, error=str(exc), spec_version=self.spec.version)
            return False
        standardized, scale_note = self._restandardize(applied)
        now = time.time()
        old, new = self.spec, spec.bump(self.spec.version + 1, requested_t or now, applied.step)
        self.spec = new
        self.version_map[applied.new.version] = new.version
        write_json_atomic(self.paths.spec_file(new.version), new.model_dump(mode="json"))
        self.tel.event("edit", id=command_id, old_version=old.version, new_version=new.version, step=applied.step,
                       requested_t=requested_t, applied_t=now,
                       latency_s=None if requested_t is None else round(now - requested_t, 4),
                       relabelled=applied.relabelled, demos_relabelled=applied.demos_relabelled,
                       relabel_note=" ".join(filter(None, [applied.note, scale_note])), note=spec.note,
                       standardized=standardized)
        self._set_status(spec_version=new.version)
        if self.recorder is not None:
            self._recorded_specs.append(new.model_dump(mode="json"))
            self.recorder.writer.set_metadata(reward_specs=self._recorded_specs)
        if self.config.telemetry.epic_on_edit and self.live.log is not None:
            args = (applied, self.live.log.copy(), old.version, new.version)
            threading.Thread(target=self._epic, args=args, name="epic", daemon=True).start()
        return True

    def _standardizer(self):
        """The learner's :class:`agents.reward_scale.RewardStandardizer`, or ``None`` (not standardising)."""
        return getattr(getattr(self.model, "replay_buffer", None), "standardizer", None)

    def _restandardize(self, applied) -> tuple[dict | None, str]:
        """After an edit (``applied``): where it relabelled the replay buffer, the learner's standardisation measured
        again on the slots it was measured on, now paid the new reward, so the edited reward reaches the learner
        on the scale it knew. Returns the map the learner now sees (``None``: not standardising, or not measured
        yet: the measurement, at the end of the rollout that passes ``learning_starts``, will see the new reward)
        and a note: a buffer the edit could not relabel, or a measurement that failed, keeps the old map and says
        so (never an error: an edit does not stop a run)."""
        standardizer = self._standardizer()
        if standardizer is None or not standardizer.measured:
            return None, ""
        if applied.relabelled is None:
            return standardizer.state(), "the learner's standardisation is kept (the buffer was not relabelled)."
        try:
            standardizer.measure_buffer(self.model.replay_buffer)
        except ValueError as exc:
            return standardizer.state(), f"the learner's standardisation is kept: {exc}."
        return standardizer.state(), ""

    def _epic(self, applied, log, old_version: int, new_version: int) -> None:
        from agents.live_reward import stack_epic

        tel, start = self.config.telemetry, time.perf_counter()
        try:
            result = stack_epic(self.stack, applied.old, applied.new, log, float(self.model.gamma),
                                tel.epic_coverage, tel.epic_samples, seed=new_version)
            self.tel.event("epic", old_version=old_version, new_version=new_version, distance=result.distance,
                           rho=None if np.isnan(result.rho) else result.rho, n=result.n, m=result.m,
                           seconds=round(time.perf_counter() - start, 3))
        except Exception as exc:  # noqa: BLE001 (a diagnostic must never take training down)
            self.tel.event("epic", old_version=old_version, new_version=new_version, distance=None,
                           error=f"{type(exc).__name__}: {exc}")

    def _on_rescore(self, steps: int, stack_version: int, error: str) -> None:
        self.tel.event("rescored", steps=steps, spec_version=self._spec_version(stack_version), error=error or None,
                       step=int(self.model.num_timesteps))

    # ------------------------------------------------------------------ checkpoints
    def save_checkpoint(self, reason: str, command_id: str | None = None) -> Path:
        """Save the model as ``checkpoints/step-<n>.zip`` with a ``.json`` beside it, each written atomically and
        the ``.json`` first: players list the zips, so a zip that can be seen always has its sidecar (a crash in
        between leaves a ``.json`` alone, which nothing lists)."""
        step = int(self.model.num_timesteps)
        final = self.paths.checkpoints / f"step-{step:09d}.zip"
        tmp = self.paths.checkpoints / f".step-{step:09d}.{os.getpid()}.tmp.zip"
        self.model.save(tmp)
        standardizer = self._standardizer()     # the scale the saved critic learnt on (SB3 saves no buffer)
        sidecar = {"step": step, "spec_version": self.spec.version, "algo": self.config.algo, "reason": reason,
                   "t": time.time(),
                   "reward_standardized": standardizer.state()
                   if standardizer is not None and standardizer.measured else None}
        vn = self.model.get_vec_normalize_env()
        if vn is not None:      # the policy acts only on observations normalised as it was trained (as JSON, no pickle)
            from agents.normalize import SIDECAR_KEY, statistics

            sidecar[SIDECAR_KEY] = statistics(vn)
        write_json_atomic(final.with_suffix(".json"), sidecar)
        os.replace(tmp, final)
        self.tel.event("checkpoint", id=command_id, path=final.name, step=step, reason=reason,
                       spec_version=self.spec.version)
        return final


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def run(run_dir: str | os.PathLike) -> int:
    """Train the run in ``run_dir`` in this process; returns the exit code (0 unless it failed)."""
    paths = RunPaths(Path(run_dir).resolve())
    import torch

    torch.set_num_threads(1)  # measured: with 2 threads torch stalls badly when another process is busy
    status = {**(read_json(paths.status, {}) or {}), "state": "starting", "pid": os.getpid(),
              "pid_start": process_start_time(os.getpid()), "started_at": time.time(), "updated_at": time.time()}
    write_json_atomic(paths.status, status)
    worker = None
    try:
        worker = Worker(paths)
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda signum, _frame: worker.request_stop(f"signal {signal.Signals(signum).name}"))
        worker.train()
        return 0
    except BaseException as exc:  # noqa: BLE001 (every failure must reach status.json)
        traceback.print_exc()
        reason = f"{type(exc).__name__}: {exc}"
        if worker is not None:
            worker.tel.event("failed", reason=reason)
            worker.tel.close()
        current = read_json(paths.status, {}) or {}
        write_json_atomic(paths.status, {**current, "state": "failed", "reason": reason, "exit_code": 1,
                                         "updated_at": time.time()})
        return 1


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1:
        print("usage: python -m studio.worker <run dir>", file=sys.stderr)
        return 2
    return run(argv[0])


if __name__ == "__main__":
    sys.exit(main())
