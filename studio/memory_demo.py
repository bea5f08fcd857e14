"""The memory panel's core: load the shipped room agents and play episodes for the page to show.

``shipped_agents()`` lists which of ``assets/fastmap_memory.zip`` (the dual-coding memory agent) and
``assets/fastmap_no_memory.zip`` (the same agent trained with its memory switched off) exist;
``play(kind, seed, n_objects, split)`` loads one and returns an :class:`agents.memory.replay.Episode` with a
frame, the memory and the attention per step. The files are the studio's own; loading an SB3 zip unpickles
it, so never point these at files you did not make (assets/README.md).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from agents.memory.replay import Episode, replay

ASSETS = Path(__file__).parents[1] / "assets"
AGENTS = {"memory": ("dcem", "fastmap_memory.zip", "Memory agent"),
          "no_memory": ("memoryless", "fastmap_no_memory.zip", "No-memory agent")}
SPLITS = {"heldout_names": "Names never heard in training", "heldout": "New names and new-looking objects",
          "train": "Training names and objects"}


def asset_path(kind: str) -> Path:
    if kind not in AGENTS:
        raise ValueError(f"unknown agent {kind!r}; choose one of {list(AGENTS)}")
    return ASSETS / AGENTS[kind][1]


def shipped_agents() -> list[str]:
    """The agent kinds whose trained file is in assets/."""
    return [k for k in AGENTS if asset_path(k).exists()]


@lru_cache(maxsize=4)
def load_agent(kind: str):
    """The trained SB3 model of ``kind`` (``memory`` or ``no_memory``), loaded once per process."""
    from agents.memory.train import load

    path = asset_path(kind)
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing; create it with: python -m bench.fastmap --save-assets")
    return load(path, AGENTS[kind][0])


def play(kind: str, seed: int, n_objects: int = 3, split: str = "heldout_names", size: int = 320) -> Episode:
    """One episode of a shipped agent, with frames from the overhead camera."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {list(SPLITS)}")
    return replay(load_agent(kind), AGENTS[kind][0], seed=seed, n_objects=n_objects, split=split, size=size)


__all__ = ["AGENTS", "SPLITS", "asset_path", "load_agent", "play", "shipped_agents"]
