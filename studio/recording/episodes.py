"""One episode's data as it is played, and the fixed info columns every recorded step carries.

Minari stores infos as columns and keeps only keys present on every step, so a recording fixes its info
columns when its first episode starts (:class:`InfoSchema`) and every later step is written with exactly
those keys: a missing value is ``NaN`` (``False`` for ``is_success``), an unknown key is dropped.

Columns:

=====================  =========  ===============================================================
``is_success``         bool       the world's ground truth after the step
``spec_version``       int64      the reward-spec version that scored the step (after live edits)
``reward_<term>``      float64    each reward-stack term's weighted value; they sum to the reward
``world_reward_<k>``   float64    the world's own task terms (reference, whatever the agent saw)
other scalars          float64    any other number the world reports (e.g. progress)
``lesson``             int64      with a curriculum: the lesson the episode began under, the same on
                                  every row (-1: begun before the first lesson); an episode tag
=====================  =========  ===============================================================

Episode tags (:data:`EPISODE_TAGS`) are facts of a whole episode that the trainer, not the world, knows; the
recorder asks for them as the episode ends and they are also in its index line (:meth:`EpisodeRecord.summary`).

The first row belongs to the reset observation (Minari keeps ``T + 1`` observations and infos): its reward
columns are 0 and its ``is_success`` is the reset's.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from numbers import Number
from typing import Any, Mapping

import numpy as np

# Per-episode facts from the trainer (see module docstring): written on every row, read from the first.
EPISODE_TAGS = ("lesson",)
NO_TAG = -1

# Keys that are bookkeeping of wrappers, not data; ``reward_version`` is replaced by ``spec_version``.
SKIPPED = frozenset({"TimeLimit.truncated", "terminal_observation", "episode", "reward_version", "reward_terms",
                     "world_reward_terms"})


def _scalar(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, np.ndarray):
        return value.ndim == 0 and value.dtype.kind in "biuf"
    return isinstance(value, Number) and not isinstance(value, complex)


@dataclass(frozen=True)
class InfoSchema:
    """The info columns of one recording (see module docstring)."""

    keys: tuple[str, ...]

    @classmethod
    def from_info(cls, info: Mapping[str, Any], tags: tuple[str, ...] = ()) -> "InfoSchema":
        """The columns of ``info`` (its scalars) and of the episode ``tags`` (names from :data:`EPISODE_TAGS`)."""
        unknown = [t for t in tags if t not in EPISODE_TAGS]
        if unknown:
            raise ValueError(f"episode tags {unknown} are not recorded; known tags: {list(EPISODE_TAGS)}")
        keys = sorted(k for k, v in info.items() if k not in SKIPPED and k != "is_success" and _scalar(v)
                      and k not in EPISODE_TAGS)
        return cls(("is_success", "spec_version", *[k for k in keys if k != "spec_version"], *sorted(set(tags))))

    @functools.cached_property
    def _numbers(self) -> tuple[str, ...]:
        return tuple(k for k in self.keys if k not in ("is_success", "spec_version") and k not in EPISODE_TAGS)

    @functools.cached_property
    def tags(self) -> tuple[str, ...]:
        return tuple(k for k in self.keys if k in EPISODE_TAGS)

    def row(self, info: Mapping[str, Any], spec_version: int, first: bool = False) -> dict[str, Any]:
        """One step's values, in the schema's columns (called for every env step: kept lean)."""
        out: dict[str, Any] = {"is_success": bool(info.get("is_success", False)), "spec_version": int(spec_version)}
        for key in self._numbers:
            if first and key.startswith(("reward_", "world_reward")):
                out[key] = 0.0
                continue
            try:
                out[key] = float(info.get(key, math.nan))
            except (TypeError, ValueError):
                out[key] = math.nan
        return out

    def empty(self) -> dict[str, list]:
        return {key: [] for key in self.keys}

    @staticmethod
    def dtype(key: str) -> type:
        if key in EPISODE_TAGS:
            return np.int64
        return {"is_success": np.bool_, "spec_version": np.int64}.get(key, np.float64)


@dataclass
class EpisodeRecord:
    """A finished episode in Minari's layout: ``T + 1`` observations and info rows, ``T`` of the rest."""

    observations: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    terminations: np.ndarray
    truncations: np.ndarray
    infos: dict[str, np.ndarray]
    env_index: int = 0
    seed: int | None = None
    frames: list | None = None        # filmed frames (uint8 HxWx3), encoded to MP4 by the writer
    fps: int = 25

    @property
    def steps(self) -> int:
        return len(self.rewards)

    @property
    def success(self) -> bool:
        return bool(self.infos["is_success"][-1]) if len(self.rewards) else False

    def summary(self) -> dict[str, Any]:
        """Return, success and spec versions: the episode index's numbers, and the episode's tags."""
        versions = sorted({int(v) for v in self.infos["spec_version"][1:]}) or [int(self.infos["spec_version"][0])]
        terms = {k[len("reward_"):]: round(float(np.nansum(v)), 6) for k, v in self.infos.items()
                 if k.startswith("reward_")}
        return {"steps": self.steps, "return": round(float(np.sum(self.rewards)), 6), "success": self.success,
                "terminated": bool(self.terminations[-1]) if self.steps else False,
                "spec_versions": versions, "term_returns": terms, "env_index": self.env_index, "seed": self.seed,
                **episode_tags(self.infos)}


def episode_tags(infos: Mapping[str, Any]) -> dict[str, int]:
    """The episode tags among recorded info columns (a Minari episode's ``infos`` too), from the first row."""
    return {tag: int(infos[tag][0]) for tag in EPISODE_TAGS if tag in infos and len(infos[tag])}


@dataclass
class EpisodeBuilder:
    """Collects one env's steps until its episode ends."""

    schema: InfoSchema
    env_index: int = 0
    seed: int | None = None
    observations: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    rewards: list = field(default_factory=list)
    terminations: list = field(default_factory=list)
    truncations: list = field(default_factory=list)
    infos: dict[str, list] = field(default_factory=dict)

    def start(self, observation: np.ndarray, info: Mapping[str, Any], spec_version: int) -> None:
        self.observations, self.actions, self.rewards = [_copy(observation)], [], []
        self.terminations, self.truncations = [], []
        self.infos = self.schema.empty()
        self._add_info(self.schema.row(info, spec_version, first=True))

    def add(self, action: np.ndarray, observation: np.ndarray, reward: float, terminated: bool, truncated: bool,
            info: Mapping[str, Any], spec_version: int) -> None:
        self.actions.append(_copy(action))
        self.observations.append(_copy(observation))
        self.rewards.append(float(reward))
        self.terminations.append(bool(terminated))
        self.truncations.append(bool(truncated))
        self._add_info(self.schema.row(info, spec_version))

    def _add_info(self, row: dict[str, Any]) -> None:
        for key, value in row.items():
            self.infos[key].append(value)

    @property
    def started(self) -> bool:
        return bool(self.observations)

    def finish(self, frames: list | None = None, fps: int = 25,
               tags: Mapping[str, int] | None = None) -> EpisodeRecord:
        """The finished episode; each of the schema's tag columns holds ``tags[tag]`` (:data:`NO_TAG` if not
        given) on every row."""
        rows = len(self.observations)
        for tag in self.schema.tags:
            self.infos[tag] = [int((tags or {}).get(tag, NO_TAG))] * rows
        return EpisodeRecord(_stack(self.observations), _stack(self.actions),
                             np.asarray(self.rewards, dtype=np.float64),
                             np.asarray(self.terminations, dtype=bool), np.asarray(self.truncations, dtype=bool),
                             {k: np.asarray(v, dtype=self.schema.dtype(k)) for k, v in self.infos.items()},
                             self.env_index, self.seed, frames, fps)


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {k: _copy(v) for k, v in value.items()}
    return np.array(value, copy=True)


def _stack(values: list) -> Any:
    """Stack steps; a Dict space's steps become a dict of stacked arrays (Minari's layout)."""
    if values and isinstance(values[0], Mapping):
        return {k: _stack([v[k] for v in values]) for k in values[0]}
    return np.stack(values)


__all__ = ["EPISODE_TAGS", "EpisodeBuilder", "EpisodeRecord", "InfoSchema", "NO_TAG", "SKIPPED", "episode_tags"]
