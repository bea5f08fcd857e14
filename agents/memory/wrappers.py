"""Gymnasium wrappers for the memory agents: the dual-coding episodic memory, discrete moves, key filters.

:class:`DualCodingMemory` is the agent's episodic memory, kept by the wrapper and carried in the observation
(SB3's PPO policies are stateless between steps, so the state has to travel with the observation):

* **write, every step** (and on reset): the pair (visual code, language code) the agent perceives, i.e. the
  world's ``fovea`` (appearance of the object under or in the hand; zeros if none) and ``text`` (the token
  ids heard this step; zeros if silent). Entry ``t`` is step ``t`` of the episode; the memory is cleared on
  reset. With ``write="on_language"`` only steps that heard something are written (an ablation); with
  ``write="off"`` nothing is ever written: the same agent without memory (the fair no-memory baseline).
* the memory is exposed as three extra observation keys: ``mem_vis (M, A)``, ``mem_text (M, L)`` and
  ``mem_mask (M,)`` (1 for written rows). When more than ``M`` steps are written the oldest row is
  overwritten (a ring), so choose ``M`` above the episode length (the default 192 covers 8 objects).
* **seek-names signal**: before writing, the wrapper asks the memory, keyed by the *visual* column, whether
  the view now in the fovea already has a name (an entry whose appearance has cosine >= ``novelty_threshold``
  with it and whose language column is not empty). If a name is heard for a view that has none yet,
  ``info["memory_new_name"] = 1.0`` (else 0.0). :class:`agents.memory.SeekNamesTerm` turns it into a
  reward term of the reward stack, so its weight and on/off switch are editable live.

The learned part (encoders, reads) lives in :mod:`agents.memory.extractor`; the wrapper stores raw codes so
the extractor's encoders are trained through every read.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

MEMORY_KEYS = ("mem_vis", "mem_text", "mem_mask")
WRITE_MODES = ("every_step", "on_language", "off")
MOVES = np.array([[0, 0, 0], [1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1]], dtype=np.float32)
MOVE_NAMES = ("stay", "east", "west", "north", "south", "grip")


class DualCodingMemory(gym.Wrapper):
    """Writes (fovea, text) into an ``M``-row episodic memory carried in the observation (module docstring).

    Args:
        env: a world with ``fovea`` and ``text`` observation keys (``studio/FastMapRoom-v0``).
        memory_size: rows ``M``.
        write: ``"every_step"`` (default) or ``"on_language"``.
        novelty_threshold: cosine at which two views count as the same object for the seek-names signal.
    """

    def __init__(self, env: gym.Env, memory_size: int = 192, write: str = "every_step",
                 novelty_threshold: float = 0.98):
        super().__init__(env)
        space = env.observation_space
        if not isinstance(space, spaces.Dict) or not {"fovea", "text"} <= set(space.spaces):
            raise ValueError(f"DualCodingMemory needs a Dict observation with 'fovea' and 'text' keys; got {space}")
        if write not in WRITE_MODES:
            raise ValueError(f"unknown write mode {write!r}; choose one of {list(WRITE_MODES)}")
        if not isinstance(memory_size, (int, np.integer)) or memory_size < 1:
            raise ValueError(f"memory_size={memory_size!r} must be a positive number of rows")
        self.memory_size, self.write, self.novelty_threshold = int(memory_size), write, float(novelty_threshold)
        vis, text = space["fovea"], space["text"]
        self.observation_space = spaces.Dict({
            **space.spaces,
            "mem_vis": spaces.Box(np.broadcast_to(vis.low, (self.memory_size, *vis.shape)).astype(np.float32),
                                  np.broadcast_to(vis.high, (self.memory_size, *vis.shape)).astype(np.float32)),
            "mem_text": spaces.Box(np.broadcast_to(text.low, (self.memory_size, *text.shape)).astype(np.float32),
                                   np.broadcast_to(text.high, (self.memory_size, *text.shape)).astype(np.float32)),
            "mem_mask": spaces.Box(0.0, 1.0, (self.memory_size,), np.float32)})
        self.vis = np.zeros((self.memory_size, *vis.shape), np.float32)
        self.text = np.zeros((self.memory_size, *text.shape), np.float32)
        self.mask = np.zeros(self.memory_size, np.float32)
        self.written = 0

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        obs, info = self.env.reset(seed=seed, options=options)
        self.vis[:], self.text[:], self.mask[:], self.written = 0.0, 0.0, 0.0, 0
        info["memory_new_name"] = self._write(obs)
        return self._with_memory(obs), info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info["memory_new_name"] = self._write(obs)
        return self._with_memory(obs), reward, terminated, truncated, info

    def has_name_for(self, view: np.ndarray) -> bool:
        """Whether some memory row shows ``view`` (cosine >= threshold) together with a heard name."""
        named = (self.mask > 0) & (np.abs(self.text).sum(1) > 0)
        if not named.any() or not np.any(view):
            return False
        rows = self.vis[named]
        cos = rows @ view / (np.linalg.norm(rows, axis=1) * np.linalg.norm(view) + 1e-8)
        return bool(cos.max() >= self.novelty_threshold)

    def _write(self, obs: dict[str, np.ndarray]) -> float:
        view, heard = obs["fovea"], obs["text"]
        new_name = float(bool(np.any(heard)) and bool(np.any(view)) and not self.has_name_for(view))
        if self.write == "every_step" or (self.write == "on_language" and np.any(heard)):
            row = self.written % self.memory_size
            self.vis[row], self.text[row], self.mask[row] = view, heard, 1.0
            self.written += 1
        return new_name

    def _with_memory(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {**obs, "mem_vis": self.vis.copy(), "mem_text": self.text.copy(), "mem_mask": self.mask.copy()}


class DiscreteMoves(gym.ActionWrapper):
    """``Discrete(6)`` actions for the room: stay, east, west, north, south, grip (:data:`MOVE_NAMES`).

    PPO learns these much faster than the world's continuous ``Box(-1, 1, (3,))`` (research note, section 4.2).
    """

    def __init__(self, env: gym.Env):
        super().__init__(env)
        self.action_space = spaces.Discrete(len(MOVES))

    def action(self, action) -> np.ndarray:
        return MOVES[int(action)]


class DropKeys(gym.ObservationWrapper):
    """Removes observation keys (e.g. ``oracle``'s ``target_appearance`` from a baseline's view)."""

    def __init__(self, env: gym.Env, keys: tuple[str, ...]):
        super().__init__(env)
        self.keys = tuple(k for k in keys if k in env.observation_space.spaces)
        self.observation_space = spaces.Dict({k: v for k, v in env.observation_space.spaces.items()
                                              if k not in self.keys})

    def observation(self, obs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        return {k: v for k, v in obs.items() if k not in self.keys}


__all__ = ["DiscreteMoves", "DropKeys", "DualCodingMemory", "MEMORY_KEYS", "MOVE_NAMES", "MOVES", "WRITE_MODES"]
