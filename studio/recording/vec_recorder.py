"""Record what a VecEnv plays, episode by episode, while any SB3 algorithm trains on it.

``VecRecorder(venv, writer, ...)`` is an SB3 ``VecEnvWrapper``: it passes everything through unchanged and
hands each finished episode (from every env) to a :class:`~studio.recording.writer.RecordingWriter`. It
sits outermost, so what it records is exactly what the learner saw: the reward-stack reward, its per-term
values, the reward version, and the true final observation of each episode (``terminal_observation``, not
the auto-reset one).

Videos: every ``video_every``-th episode of env 0 is filmed from ``video_camera`` at ``video_size`` pixels
with the fast ``reward`` render profile (no shadows or multisampling; the ``viewer`` profile costs ~20x more
per frame on a CPU). The frames stay in memory until the episode ends; the writer encodes them. Filming
every episode of every env would cost more than the training itself on a laptop CPU (a 160 px frame takes
about as long as a physics step), which is why only a sample is filmed; evaluation recordings
(:mod:`studio.recording.evaluate`) film every episode. The frame after the last step is not filmed because
the VecEnv has already reset.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import gymnasium as gym
import numpy as np
from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper

from studio.recording.episodes import EpisodeBuilder, InfoSchema
from studio.recording.writer import RecordingWriter


class VecRecorder(VecEnvWrapper):
    """See module docstring.

    Args:
        venv: the training VecEnv (its infos carry ``reward_version`` and the per-term rewards).
        writer: where finished episodes go.
        version_of: maps the reward stack's version (``info["reward_version"]``) to the reward-spec version.
        video_every: film every n-th episode of env 0 (0: no videos).
        video_camera: the world camera to film (``None``: the world's default camera).
        video_size: side of the square video frames, in pixels (even).
        video_fps: frames per second of the MP4 (``None``: the world's ``render_fps``).
        video_profile: the render profile of the video frames (``reward``: fast and plain; ``viewer``: pretty).
        drop_keys: Dict-observation keys not to record (see :func:`recorded_space`); the writer's observation
            space must be ``recorded_space(venv.observation_space, drop_keys)``.
        episode_tags: ``env index -> {tag: int}``, asked as each episode of that env ends (before the callbacks
            of the step run), for the tags of :data:`~studio.recording.episodes.EPISODE_TAGS` (e.g. a
            curriculum's ``Curriculum.episode_tags``: the lesson the episode began under). Settable until the
            first step is recorded, which fixes the columns.
    """

    def __init__(self, venv: VecEnv, writer: RecordingWriter, version_of: Callable[[int], int] | None = None,
                 video_every: int = 0, video_camera: str | None = None, video_size: int = 192,
                 video_fps: int | None = None, video_profile: str = "reward", drop_keys: tuple[str, ...] = (),
                 episode_tags: Callable[[int], Mapping[str, int]] | None = None):
        super().__init__(venv)
        self.episode_tags = episode_tags
        self.writer = writer
        self.version_of = version_of or (lambda v: int(v))
        self.drop_keys = tuple(drop_keys)
        self.video_every = int(video_every)
        self.video_profile = video_profile
        self.video_camera = video_camera
        self.video_size = int(video_size) + int(video_size) % 2
        fps = video_fps or (venv.get_attr("metadata", indices=[0])[0] or {}).get("render_fps", 25)
        self.video_fps = int(fps)
        self.schema: InfoSchema | None = None
        self.builders: list[EpisodeBuilder] = []
        self._pending: list[tuple] = []     # (observation, info, seed) of resets not yet given to a builder
        self._seeds: list[int | None] = [None] * self.num_envs
        self._actions: np.ndarray | None = None
        self._env0_episodes = 0
        self._frames: list[np.ndarray] | None = None       # env 0's filmed frames of the episode playing

    # ------------------------------------------------------------------ VecEnv API
    def seed(self, seed: int | None = None):
        """Seed the next reset (env i gets ``seed + i``); the seeds go into the episode index."""
        self._seeds = [None if seed is None else int(seed) + i for i in range(self.num_envs)]
        return self.venv.seed(seed)

    def reset(self):
        obs = self.venv.reset()
        infos = list(getattr(self.venv, "reset_infos", None) or [{} for _ in range(self.num_envs)])
        self._frames = None
        seeds, self._seeds = self._seeds, [None] * self.num_envs
        self._pending = [(_row(obs, i, self.drop_keys), infos[i], seeds[i]) for i in range(self.num_envs)]
        if self.schema is not None:
            self._start_pending(None)
        self._maybe_film()
        return obs

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)
        self.venv.step_async(actions)

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        if self.writer.enabled:
            try:
                self._record(obs, rewards, dones, infos)
            except Exception as exc:  # noqa: BLE001 (recording must never stop training)
                self.writer._fail(exc, "record a step")
        if not self.writer.enabled:
            self._frames = None
        return obs, rewards, dones, infos

    def close_recording(self) -> None:
        """Stop recording: finished episodes still queued are written, the episodes in progress are not (they
        are unfinished); the VecEnv stays usable."""
        self._frames = None
        self.writer.close()

    def close(self) -> None:
        self.close_recording()
        self.venv.close()

    # ------------------------------------------------------------------ recording
    def _record(self, obs, rewards, dones, infos) -> None:
        if self.schema is None:
            tags = tuple(self.episode_tags(0)) if self.episode_tags is not None else ()
            self.schema = InfoSchema.from_info(infos[0], tags)
            self._start_pending(infos)
        for i in range(self.num_envs):
            info = infos[i]
            version = self._version(info)
            done = bool(dones[i])
            truncated = done and bool(info.get("TimeLimit.truncated", False))
            final = (_drop(info["terminal_observation"], self.drop_keys) if done and "terminal_observation" in info
                     else _row(obs, i, self.drop_keys))
            self.builders[i].add(self._actions[i], final, float(rewards[i]), done and not truncated, truncated, info,
                                 version)
            if done:
                frames = None
                if i == 0 and self._frames is not None:
                    frames, self._frames = self._frames, None
                tags = self.episode_tags(i) if self.episode_tags is not None else None
                self.writer.submit(self.builders[i].finish(frames, self.video_fps, tags))
                reset_infos = getattr(self.venv, "reset_infos", None)
                self.builders[i].seed = None     # an auto-reset continues the env's random stream
                self.builders[i].start(_row(obs, i, self.drop_keys), reset_infos[i] if reset_infos else {}, version)
                if i == 0:
                    self._env0_episodes += 1
                    self._maybe_film()
            elif i == 0 and self._frames is not None:
                self._frames.append(self._frame())

    def _start_pending(self, infos) -> None:
        self.builders = [EpisodeBuilder(self.schema, env_index=i) for i in range(self.num_envs)]
        for i, (first_obs, first_info, seed) in enumerate(self._pending):
            self.builders[i].seed = seed
            self.builders[i].start(first_obs, first_info, self._version(infos[i] if infos else first_info))
        self._pending = []

    def _version(self, info: dict) -> int:
        return self.version_of(int(info.get("reward_version", 0)))

    def _frame(self) -> np.ndarray:
        s = self.video_size
        return self.venv.env_method("render_camera", self.video_camera, self.video_profile, s, s,
                                    indices=[0])[0]

    def _maybe_film(self) -> None:
        if self.video_every <= 0 or self._env0_episodes % self.video_every or not self.writer.enabled:
            return
        self._frames = [self._frame()]


def _drop(obs: Any, drop: tuple[str, ...]) -> Any:
    return {k: v for k, v in obs.items() if k not in drop} if isinstance(obs, dict) and drop else obs


def recorded_space(space: gym.Space, drop_keys: tuple[str, ...] = ()) -> gym.Space:
    """The observation space a recording stores: ``space`` without ``drop_keys`` (Dict spaces only).

    The studio drops the memory agent's episodic memory (``mem_*``): it is the agent's state, rebuilt from the
    ``fovea`` and ``text`` columns already recorded, and would take ~10 KB a step."""
    if not drop_keys or not isinstance(space, gym.spaces.Dict):
        return space
    return gym.spaces.Dict({k: v for k, v in space.spaces.items() if k not in drop_keys})


def _row(obs: Any, i: int, drop: tuple[str, ...] = ()) -> Any:
    if isinstance(obs, dict):
        return {k: v[i] for k, v in obs.items() if k not in drop}
    return obs[i]


__all__ = ["VecRecorder", "recorded_space"]
