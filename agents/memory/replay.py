"""Play one episode of a trained room agent and keep, per step, what the studio's memory panel shows.

``replay(model, "dcem", seed=3)`` returns an :class:`Episode`: per step the rendered frame, the action,
what was said, the instruction, and for the memory agent the rows it has stored (appearance and words) and
its language-keyed read at that step (the rows read and their softmax weights) and its pointer over the
objects in view. Deterministic for a given model and seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch as th
from stable_baselines3.common.base_class import BaseAlgorithm

from agents.memory.train import TrainConfig, act, make_env
from agents.memory.wrappers import MOVE_NAMES, DropKeys
from worlds.fastmap import appearance_of, appearance_rgb, appearance_words, sentence


@dataclass(frozen=True)
class MemoryRow:
    """One stored (visual, language) pair."""

    step: int
    seen: str                              # e.g. "large red cube", "" when nothing was in the hand
    rgb: tuple[float, float, float] | None  # swatch colour, None when nothing was seen
    heard: str                             # e.g. "this is a dax", "" when silent


@dataclass
class Step:
    """What happened at one step (index 0 is the state after reset)."""

    frame: np.ndarray
    action: str
    said: str
    instruction: str
    phase: int
    reward: float
    outcome: str
    read: dict[int, float] = field(default_factory=dict)       # memory row -> attention weight (read 1)
    pointer: list[float] = field(default_factory=list)          # per object (in object order, not slot order)


@dataclass
class Episode:
    """An episode of one agent: steps, the memory as it ended, and the scene in words."""

    agent: str
    seed: int
    objects: list[str]
    names: list[str]
    target: int
    steps: list[Step]
    memory: list[MemoryRow]
    success: bool

    @property
    def instruction(self) -> str:
        return next((s.instruction for s in self.steps if s.instruction), "")

    def named_rows(self, upto: int | None = None) -> list[MemoryRow]:
        """Stored rows that heard a name, up to step ``upto`` (all when None)."""
        return [r for r in self.memory if r.heard and (upto is None or r.step <= upto)]


def replay(model: BaseAlgorithm, agent: str, seed: int = 0, n_objects: int = 3, split: str = "heldout_names",
           camera: str = "overhead", size: int = 320, deterministic: bool = False) -> Episode:
    """Play one episode of ``agent`` (``dcem``, ``no_memory``, ``oracle`` or ``lstm``) with frames.

    Actions are sampled (seeded by ``seed``, so the episode is repeatable), as in :func:`evaluate`.
    """
    th.manual_seed(seed)
    th.set_num_threads(1)     # tiny nets: one thread is fastest, and several spin on a shared CPU
    config = TrainConfig(agent=agent, n_objects=n_objects, split=split)
    env = make_env(config, render_mode="rgb_array", camera=camera, render_profile="viewer", width=size,
                   height=size)
    if agent != "oracle":
        env = DropKeys(env, ("target_appearance",))
    world = env.unwrapped
    extractor = getattr(model.policy, "features_extractor", None)
    obs, info = env.reset(seed=seed)
    desc = world.describe()
    steps = [Step(world.render(), "", info["said"], "", 0, 0.0, "")]
    state, start, done = None, np.ones(1, bool), False
    while not done:
        action, state, start = act(model, obs, state, start, agent, deterministic)
        read, pointer = _read_of(extractor, world) if agent == "dcem" else ({}, [])
        obs, reward, terminated, truncated, info = env.step(int(action))
        done = terminated or truncated
        steps.append(Step(world.render(), MOVE_NAMES[int(action)], info["said"], info["instruction"],
                          info["phase"], float(reward), info["outcome"], read, pointer))
    memory = _memory_rows(env) if agent == "dcem" else []
    env.close()
    return Episode(agent, seed, desc.objects, desc.names, desc.target, steps, memory,
                   steps[-1].outcome == "correct")


def _read_of(extractor: Any, world: Any) -> tuple[dict[int, float], list[float]]:
    """The extractor's latest language-keyed read and pointer (set by the predict call just made)."""
    last = getattr(extractor, "last", None) or {}
    if "read_rows" not in last:
        return {}, []
    rows, weights = last["read_rows"][0].tolist(), last["read_weights"][0].tolist()
    read: dict[int, float] = {}
    for r, w in zip(rows, weights):
        if w > 1e-3:
            read[int(r)] = read.get(int(r), 0.0) + float(w)
    by_slot = last["pointer_a"][0].tolist()
    pointer = [float(by_slot[world.slot_of(i)]) for i in range(world.n_objects)]
    return read, pointer


def _memory_rows(env: Any) -> list[MemoryRow]:
    memory = env
    while not hasattr(memory, "written"):
        memory = memory.env
    rows = []
    for i in range(min(memory.written, memory.memory_size)):
        look = appearance_of(memory.vis[i])
        rows.append(MemoryRow(i, appearance_words(*look) if look else "",
                              appearance_rgb(memory.vis[i]) if look else None, sentence(memory.text[i])))
    return rows


__all__ = ["Episode", "MemoryRow", "Step", "replay"]
