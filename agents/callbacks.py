"""SB3 callbacks for live training: step-boundary control, live reward edits, telemetry, a time budget.

Everything the studio needs arrives as plain callables and objects (dependency inversion): these callbacks
work the same from a notebook.

* :class:`BoundaryCallback` calls ``hook(callback)`` at every step boundary (each rollout start and after
  every env step); the hook may block (pause), save the model, apply an edit, or return False to stop.
* :class:`LiveRewardCallback` records every step in a :class:`TransitionLog`, applies an edited list of
  reward terms to the live stack (:meth:`LiveRewardCallback.apply`) and then, when switched on, re-scores the
  current PPO rollout at its end or relabels the SAC replay buffer at once.
* :class:`TelemetryCallback` turns each step's infos into columns (per step and per env: reward, every term,
  success, reward version) and per-episode rows, and hands them, with progress and a downscaled frame of
  env 0 now and then, to a sink.
* :class:`TimeBudgetCallback` stops training after a wall-clock budget.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, Sequence

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecNormalize, unwrap_vec_normalize, unwrap_vec_wrapper

from agents.live_reward import (ReplayLabels, TransitionLog, extra_info_keys, next_observations, rescore_rollout,
                                terminated_flags)
from agents.normalize import KeepRawTerminal
from agents.reward_factory import apply_terms, reward_camera
from agents.rewards.stack import RewardStack, StackState
from agents.rewards.wrappers import VecRewardStack
from agents.sb3_factory import LatestEmbeddings


class BoundaryCallback(BaseCallback):
    """Calls ``hook(self)`` at every step boundary; a False return stops training at the next step.

    The hook runs in the training thread between two env steps, where the model and the reward stack can be
    changed safely.
    """

    def __init__(self, hook: Callable[["BoundaryCallback"], bool]):
        super().__init__()
        self.hook = hook
        self._keep_going = True

    def _on_rollout_start(self) -> None:
        self._keep_going = bool(self.hook(self)) and self._keep_going

    def _on_step(self) -> bool:
        self._keep_going = bool(self.hook(self)) and self._keep_going
        return self._keep_going


class TimeBudgetCallback(BaseCallback):
    """Stops training ``seconds`` after it starts."""

    def __init__(self, seconds: float):
        super().__init__()
        self.seconds = float(seconds)
        self._deadline = float("inf")

    def _on_training_start(self) -> None:
        self._deadline = time.monotonic() + self.seconds

    def _on_step(self) -> bool:
        return time.monotonic() < self._deadline


@dataclass(frozen=True)
class AppliedEdit:
    """What :meth:`LiveRewardCallback.apply` did: stack states before and after, the env steps done when it
    took effect, how many replay transitions were relabelled (``None``: not relabelled, see ``note``), and how
    many demonstration transitions (``None``: none kept; ``0``: they could not be relabelled and were dropped,
    see ``note``)."""

    old: StackState
    new: StackState
    step: int
    relabelled: int | None = None
    note: str = ""
    demos_relabelled: int | None = None


class LiveRewardCallback(BaseCallback):
    """Live reward edits for PPO, RecurrentPPO and SAC (see module docstring).

    Args:
        stack: the live reward stack (the one inside ``reward_env``).
        reward_env: the :class:`VecRewardStack` layer of the training env.
        embedder: a ClipEmbedder, or a zero-argument provider, for CLIP terms added by edits.
        window: recent env steps kept in :attr:`log` (at least one rollout is kept for re-scoring).
        rescore: re-score the current on-policy rollout when an edit lands mid-rollout.
        relabel: relabel the off-policy replay buffer on each edit.
        on_rescore: called with ``(steps, version, error)`` after each rollout re-scoring attempt.
        demo_labels: the labels of the demonstrations in a :class:`agents.demos.DemoReplayBuffer` (from
            :func:`agents.demos.play_for_stack`): an edit relabels them with the agent's own steps.

    Under a ``VecNormalize`` (``RunConfig.normalize``) the log still holds the raw observations and the rewards
    as the stack gave them (a shaping term's potential reads raw observations, and EPIC compares raw rewards);
    a re-scored rollout is put back on the learner's scale.
    """

    def __init__(self, stack: RewardStack, reward_env: VecRewardStack, embedder: Any = None, window: int = 4096,
                 rescore: bool = True, relabel: bool = True,
                 on_rescore: Callable[[int, int, str], None] | None = None, demo_labels: ReplayLabels | None = None):
        super().__init__()
        self.stack, self.reward_env, self.embedder = stack, reward_env, embedder
        self.window, self.rescore, self.relabel = int(window), bool(rescore), bool(relabel)
        self.on_rescore = on_rescore
        self.log: TransitionLog | None = None
        self.labels: ReplayLabels | None = None
        self.demo_labels = demo_labels
        self._sink = LatestEmbeddings()
        self._seen = 0
        self._rollout_first = 0
        self._pending_slot: int | None = None  # replay slot stored with the pre-edit reward after a relabel
        self._normalize: VecNormalize | None = None
        self._keeper: KeepRawTerminal | None = None   # below the VecNormalize: the raw terminal observations
        self._raw_obs: np.ndarray | None = None   # the raw observation before the current step (under VecNormalize)

    # ------------------------------------------------------------------ setup
    def _init_callback(self) -> None:
        self._sync_embeddings()
        self._normalize = unwrap_vec_normalize(self.training_env)
        self._keeper = unwrap_vec_wrapper(self.training_env, KeepRawTerminal)

    def _on_training_start(self) -> None:
        if self._normalize is not None and self._normalize.norm_obs and not isinstance(self._normalize.old_obs,
                                                                                     dict):
            self._raw_obs = self._normalize.get_original_obs()     # the reset learn() began from

    def _raw_step(self, infos: Sequence[Mapping], dones: np.ndarray) -> tuple[Any, Any, np.ndarray, float]:
        """This step's observation before and after and its rewards, as the stack saw and gave them, and the
        factor the learner's rewards are of those (a VecNormalize's, exactly as its ``step_wait`` just used)."""
        vn, rewards, factor = self._normalize, np.array(self.locals["rewards"], dtype=np.float64), 1.0
        if vn is not None and vn.norm_reward:
            rewards = vn.get_original_reward().astype(np.float64)
            factor = float(1.0 / np.sqrt(vn.ret_rms.var + vn.epsilon))
        if vn is None or not vn.norm_obs or isinstance(vn.old_obs, dict):
            return self.model._last_obs, next_observations(self.locals["new_obs"], dones, infos), rewards, factor
        raw_new = vn.get_original_obs()
        before = self._raw_obs if self._raw_obs is not None else vn.unnormalize_obs(self.model._last_obs)
        if self._keeper is not None:   # VecNormalize normalised (and clipped) terminal observations in place
            after = self._keeper.next_observations(raw_new)
        else:                          # one built without the layer: normalised back, exact except where it clipped
            after = vn.unnormalize_obs(next_observations(self.locals["new_obs"], dones, infos))
        self._raw_obs = raw_new
        return before, after, rewards, factor

    def _make_log(self, infos: Sequence[Mapping]) -> None:
        keys = list(infos[0].get("world_reward_terms", {}))
        shape = self.training_env.observation_space.shape   # None for dict observations: keep none of them
        obs_dim = int(np.prod(shape)) if shape is not None else 0
        n_envs = self.training_env.num_envs
        rollout = getattr(self.model, "n_steps", 0) * n_envs
        self.log = TransitionLog(max(self.window, rollout), obs_dim, keys, extra_info_keys(infos[0]))
        replay = getattr(self.model, "replay_buffer", None)
        if replay is not None and self.relabel:
            self.labels = ReplayLabels(replay.buffer_size, n_envs, keys)

    def _sync_embeddings(self) -> None:
        """Collect embeddings from the reward env exactly while an enabled term needs them (no extra renders)."""
        want = "embeddings" in self.stack.needs()
        self.reward_env.store = self._sink if want else None

    # ------------------------------------------------------------------ recording
    def _on_rollout_start(self) -> None:
        if self.log is not None:
            self._rollout_first = self.log.total

    def _on_step(self) -> bool:
        infos, dones = self.locals["infos"], np.asarray(self.locals["dones"])
        if self.log is None:
            self._make_log(infos)
            self._rollout_first = 0
        if self._pending_slot is not None:  # the step during which the edit landed was stored with the old reward
            self.labels.relabel(self.model.replay_buffer, self.stack, slots=np.array([self._pending_slot]))
            self._pending_slot = None
        emb = None
        if self.reward_env.store is self._sink and self._sink.count > self._seen:
            emb, self._seen = self._sink.latest, self._sink.count
        terminated = terminated_flags(dones, infos)
        before, nxt, rewards, factor = self._raw_step(infos, dones)
        self.log.add(before, nxt, infos, terminated, rewards,
                     int(infos[0].get("reward_version", self.stack.version)), self.num_timesteps, emb, factor)
        if self.labels is not None:
            self.labels.record(self.model.replay_buffer.pos, infos, terminated, emb)
        return True

    def _on_rollout_end(self) -> None:
        buffer = getattr(self.model, "rollout_buffer", None)
        if buffer is None or not self.rescore or self.log is None or self.log.total == self._rollout_first:
            return
        rows = self.log.rows(self._rollout_first)
        if not np.any(self.log.version[rows] != self.stack.version):
            return
        try:
            vn = self._normalize
            clip = vn.clip_reward if vn is not None and vn.norm_reward else None
            steps, error = rescore_rollout(buffer, self.log, self._rollout_first, self.stack, self.model.gamma,
                                           clip), ""
        except ValueError as exc:
            steps, error = 0, str(exc)
        if self.on_rescore is not None:
            self.on_rescore(steps, self.stack.version, error)

    # ------------------------------------------------------------------ editing
    def apply(self, terms: Sequence[Mapping[str, Any]]) -> AppliedEdit:
        """Apply an edited list of term dicts now (call at a step boundary, e.g. from a BoundaryCallback hook).

        Raises:
            ValueError: a term that does not validate or a camera the world lacks; the stack is unchanged.
        """
        camera = reward_camera(terms)
        if camera is not None:
            names = self.reward_env.venv.get_attr("camera_names", indices=[0])[0]
            if camera not in names:
                raise ValueError(f"camera {camera!r} is not in this world; choose one of {list(names)}")
        old = self.stack.state
        apply_terms(self.stack, terms, self.embedder)
        if camera is not None:
            self.reward_env.venv.set_attr("camera", camera)
        self._sync_embeddings()
        relabelled, note = None, ""
        replay = getattr(self.model, "replay_buffer", None)
        if replay is not None and self.labels is not None:
            try:
                relabelled = self.labels.relabel(replay, self.stack)
                self._pending_slot = int(replay.pos)
            except ValueError as exc:
                note = str(exc)
        demos_relabelled, why = self._relabel_demos(replay)
        note = " ".join(filter(None, [note, why]))
        return AppliedEdit(old, self.stack.state, int(self.num_timesteps), relabelled, note, demos_relabelled)

    def _relabel_demos(self, replay: Any) -> tuple[int | None, str]:
        """Relabel the demonstrations of a :class:`agents.demos.DemoReplayBuffer` with the edited stack. Ones that
        cannot be relabelled are dropped: the agent's own old steps leave the buffer in time, demonstrations never
        would, and half of every batch would go on teaching the old reward."""
        if getattr(replay, "demos", None) is None:
            return None, ""
        why = "relabelling is off for this run" if not self.relabel or self.demo_labels is None else ""
        if not why:
            try:
                return self.demo_labels.relabel(replay.demos, self.stack), ""
            except ValueError as exc:
                why = str(exc)
        replay.demos = None
        return 0, f"demonstrations dropped (every batch now comes from the agent's own steps): {why}"


class TelemetrySink(Protocol):
    """Where :class:`TelemetryCallback` sends data (the studio writes it to the run folder)."""

    def steps(self, columns: dict[str, np.ndarray]) -> None: ...

    def episodes(self, rows: list[dict[str, Any]]) -> None: ...

    def progress(self, step: int, fps: float, episodes: int) -> None: ...

    def frame(self, image: np.ndarray, step: int) -> None: ...

    def flush(self) -> None: ...


class TelemetryCallback(BaseCallback):
    """Per-step and per-episode telemetry (see module docstring).

    Args:
        sink: receives the data.
        version_of: maps the stack version in ``info["reward_version"]`` to the version shown to people
            (the reward spec's); default: identity.
        step_every: record every n-th vector step (episode rows and term sums always count every step).
        flush_every_s: seconds between hand-overs of buffered step columns to the sink.
        progress_every_s: seconds between progress reports (steps/s over the last interval).
        frame_every_s: seconds between frames of env 0 (0: none), rendered ``frame_size`` square.
    """

    def __init__(self, sink: TelemetrySink, version_of: Callable[[int], int] | None = None, step_every: int = 1,
                 flush_every_s: float = 1.0, progress_every_s: float = 0.5, frame_every_s: float = 0.0,
                 frame_size: int = 128):
        super().__init__()
        self.sink, self.version_of = sink, version_of or (lambda v: v)
        self.step_every, self.flush_every_s = max(1, int(step_every)), float(flush_every_s)
        self.progress_every_s, self.frame_every_s = float(progress_every_s), float(frame_every_s)
        self.frame_size = int(frame_size)
        self._names: list[str] = []
        self._chunks: list[dict[str, np.ndarray]] = []
        self._calls = 0
        self.episodes = 0

    def _on_training_start(self) -> None:
        n = self.training_env.num_envs
        self._env_ids = np.arange(n, dtype=np.int16)
        self._ep_terms = np.zeros((n, 0))
        self._ep_world = np.zeros(n)
        now = time.monotonic()
        self._last_flush = self._last_frame = now
        self._last_progress, self._progress_steps = now, self.num_timesteps
        if self.frame_every_s > 0:
            self._send_frame()

    def _on_step(self) -> bool:
        infos = self.locals["infos"]
        names = list(infos[0]["reward_terms"])
        if names != self._names:
            self._switch_terms(names)
        terms = np.array([[info["reward_terms"][k] for k in names] for info in infos], dtype=np.float64)
        world = np.array([info.get("world_reward", np.nan) for info in infos])
        self._ep_terms += terms
        self._ep_world += world
        self._calls += 1
        version = self.version_of(int(infos[0].get("reward_version", 0)))
        if self._calls % self.step_every == 0:  # columns are built at flush time; here only cheap appends
            success = [bool(info.get("is_success", False)) for info in infos]
            self._chunks.append((self.num_timesteps, time.time(), version, terms, world, success))
        dones = self.locals["dones"]
        if np.any(dones):
            self._episode_rows(np.flatnonzero(dones), infos, names, version)
        now = time.monotonic()
        if now - self._last_flush >= self.flush_every_s:
            self._flush_steps()
            self._last_flush = now
        if now - self._last_progress >= self.progress_every_s:
            fps = (self.num_timesteps - self._progress_steps) / (now - self._last_progress)
            self.sink.progress(self.num_timesteps, fps, self.episodes)
            self._last_progress, self._progress_steps = now, self.num_timesteps
        if self.frame_every_s > 0 and now - self._last_frame >= self.frame_every_s:
            self._send_frame()
            self._last_frame = now
        return True

    def _switch_terms(self, names: list[str]) -> None:
        self._flush_steps()  # one schema per chunk
        old = dict(zip(self._names, self._ep_terms.T))
        n = self.training_env.num_envs
        self._ep_terms = np.stack([old.get(k, np.zeros(n)) for k in names], axis=1) if names else np.zeros((n, 0))
        self._names = names

    def _episode_rows(self, done_envs: np.ndarray, infos: Sequence[dict], names: list[str], version: int) -> None:
        rows = []
        for i in done_envs:
            info = infos[i]
            ep = info.get("episode", {})
            rows.append({"episode": self.episodes, "step": self.num_timesteps, "env": int(i), "t": time.time(),
                         "spec_version": version, "return": float(ep.get("r", self._ep_terms[i].sum())),
                         "length": int(ep.get("l", 0)), "success": bool(info.get("is_success", False)),
                         "world_return": float(self._ep_world[i]),
                         **{f"return_{k}": float(self._ep_terms[i, j]) for j, k in enumerate(names)}})
            self.episodes += 1
            self._ep_terms[i] = 0.0
            self._ep_world[i] = 0.0
        self.sink.episodes(rows)

    def _flush_steps(self) -> None:
        if not self._chunks:
            return
        chunks, self._chunks = self._chunks, []
        n = len(chunks[0][3])
        steps, ts, versions, terms, world, success = zip(*chunks)
        terms = np.concatenate(terms)
        columns = {"step": np.repeat(np.array(steps, dtype=np.int64), n),
                   "env": np.tile(self._env_ids, len(chunks)),
                   "t": np.repeat(np.array(ts), n),
                   "spec_version": np.repeat(np.array(versions, dtype=np.int32), n),
                   "reward": terms.sum(axis=1), "world_reward": np.concatenate(world),
                   "success": np.array(success, dtype=bool).reshape(-1)}
        columns.update({f"term_{k}": terms[:, j] for j, k in enumerate(self._names)})
        self.sink.steps(columns)

    def _send_frame(self) -> None:
        # The plain "reward" profile (no shadows, no multisampling): ~1 ms instead of ~30 ms in software GL.
        image = self.training_env.env_method("render_camera", None, "reward", self.frame_size, self.frame_size,
                                             indices=[0])[0]
        self.sink.frame(image, self.num_timesteps)

    def _on_training_end(self) -> None:
        self._flush_steps()
        self.sink.progress(self.num_timesteps, 0.0, self.episodes)
        self.sink.flush()


__all__ = ["AppliedEdit", "BoundaryCallback", "LiveRewardCallback", "TelemetryCallback", "TelemetrySink",
           "TimeBudgetCallback"]
