"""What a live reward edit does to data already collected: re-score the PPO rollout, relabel the SAC replay
buffer, and measure how far the new reward is from the old one (EPIC) on recent steps.

:class:`TransitionLog` keeps the last ``capacity`` env steps as the reward stack saw them: observation
before and after, the world's own reward terms and success flag (everything a :class:`WorldTerm` reads),
whether the step ended in a true terminal state, the image embedding when a CLIP term was on, and the
reward the agent got. :meth:`TransitionLog.batch` turns rows back into a :class:`StepBatch`, so any stack
configuration can score them again without touching the env.

* :func:`rescore_rollout` adds ``new - old`` reward to a full (Recurrent)PPO rollout buffer and recomputes
  GAE. The delta keeps SB3's time-limit bootstrap (``gamma * V(terminal obs)`` already added to rewards);
  the last value SB3 bootstrapped from is recovered from the buffer itself (``A_T = r_T + gamma * V_next -
  V_T`` at the last step for any lambda), so no rollout locals are needed.
* :class:`ReplayLabels` stores the same per-step data beside an off-policy replay buffer, slot for slot, and
  :meth:`ReplayLabels.relabel` rewrites every stored reward with the current stack.
* :func:`stack_epic` is :func:`agents.epic.epic` between two stack configurations (``RewardStack.state``
  snapshots) over the log's recent transitions.
"""

from __future__ import annotations

import copy
from typing import Any, Sequence

import numpy as np

from agents.epic import EpicResult, epic
from agents.rewards.base import StepBatch
from agents.rewards.stack import RewardStack, StackState


def world_infos(values: np.ndarray, success: np.ndarray, keys: Sequence[str]) -> list[dict[str, Any]]:
    """Rebuild world-style infos (``reward_<key>``, ``is_success``) from a ``(N, K)`` matrix of term values."""
    names = [f"reward_{k}" for k in keys]
    return [{**dict(zip(names, row)), "is_success": bool(ok)} for row, ok in zip(values.tolist(), success.tolist())]


def step_arrays(infos: Sequence[dict], keys: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """``(n, K)`` world term values and ``(n,)`` success flags from infos rewritten by the reward wrappers."""
    values = np.array([[terms.get(k, np.nan) for k in keys] for terms in
                       (info.get("world_reward_terms", {}) for info in infos)],
                      dtype=np.float64).reshape(len(infos), len(keys))
    success = np.array([bool(info.get("is_success", False)) for info in infos])
    return values, success


def next_observations(new_obs: Any, dones: np.ndarray, infos: Sequence[dict]) -> np.ndarray | None:
    """The observation after each step: ``new_obs``, except the terminal observation where an episode ended;
    ``None`` for dict observations (the log keeps no observations of those, see :class:`TransitionLog`)."""
    if isinstance(new_obs, dict):
        return None
    out = np.array(new_obs, dtype=np.float32, copy=True)
    for i in np.flatnonzero(dones):
        term = infos[i].get("terminal_observation")
        if term is not None:
            out[i] = term
    return out


_NOT_EXTRA = ("reward", "world_reward", "is_success", "TimeLimit.truncated")


def extra_info_keys(info: dict) -> list[str]:
    """The scalar-number keys of a step's info beyond the reward wrappers' and the world's success flag, e.g.
    ``memory_new_name``: what non-world terms (:class:`agents.memory.SeekNamesTerm`) read from infos."""
    return sorted(k for k, v in info.items() if not k.startswith(_NOT_EXTRA)
                  and isinstance(v, (int, float, np.integer, np.floating)))


def terminated_flags(dones: np.ndarray, infos: Sequence[dict]) -> np.ndarray:
    """True where a step ended in a true terminal state (time-limit truncations are not terminal)."""
    return np.array([bool(d) and not info.get("TimeLimit.truncated", False) for d, info in zip(dones, infos)])


class TransitionLog:
    """A ring buffer of the last ``capacity`` env steps (see module docstring); rows are read oldest first.

    Args:
        capacity: env steps kept.
        obs_dim: flat observation size; 0 keeps no observations (dict observations: no potential-based
            shaping term reads them, and re-scoring then needs only infos).
        world_keys: the world's reward term names (``info["world_reward_terms"]`` keys), fixed for a world.
        info_keys: further scalar info keys to keep per step for terms that read them (e.g.
            ``memory_new_name`` for the seek-names bonus; :func:`extra_info_keys`).
    """

    def __init__(self, capacity: int, obs_dim: int, world_keys: Sequence[str], info_keys: Sequence[str] = ()):
        self.capacity, self.obs_dim, self.world_keys = int(capacity), int(obs_dim), list(world_keys)
        self.info_keys = list(info_keys)
        self.obs = np.zeros((self.capacity, self.obs_dim), dtype=np.float32)
        self.next_obs = np.zeros_like(self.obs)
        # Per row: (info["world_reward_terms"], is_success, {info_key: value}), kept as the dicts themselves (SB3
        # hands each step fresh copies) and turned into arrays only when re-scoring: recording stays microseconds.
        self.world_terms: list[tuple[dict, bool, dict] | None] = [None] * self.capacity
        self.terminated = np.zeros(self.capacity, dtype=bool)
        self.reward = np.zeros(self.capacity)
        # what the learner's reward was of ``reward`` at each step (1 unless a VecNormalize divided it by its
        # return spread, which changes every step): a re-scored reward reaches the learner through the same factor
        self.learner_factor = np.ones(self.capacity)
        self.version = np.zeros(self.capacity, dtype=np.int64)
        self.step = np.zeros(self.capacity, dtype=np.int64)
        self.embeddings: np.ndarray | None = None      # (capacity, D) float32, allocated on first use
        self.has_embedding = np.zeros(self.capacity, dtype=bool)
        self.total = 0                                  # rows ever added

    def __len__(self) -> int:
        return min(self.total, self.capacity)

    def add(self, obs: Any, next_obs: Any, infos: Sequence[dict], terminated: np.ndarray,
            reward: np.ndarray, version: int, step: int, embeddings: np.ndarray | None = None,
            learner_factor: float = 1.0) -> None:
        """Append one vector step (``n`` rows, one per env); ``obs``/``next_obs`` are ignored when ``obs_dim`` is 0."""
        n = len(infos)
        start = self.total % self.capacity
        rows = slice(start, start + n) if start + n <= self.capacity else (self.total + np.arange(n)) % self.capacity
        if self.obs_dim:
            self.obs[rows] = np.asarray(obs, dtype=np.float32).reshape(n, -1)
            self.next_obs[rows] = np.asarray(next_obs, dtype=np.float32).reshape(n, -1)
        for j, info in enumerate(infos):
            self.world_terms[(start + j) % self.capacity] = (info.get("world_reward_terms", {}),
                                                             bool(info.get("is_success", False)),
                                                             {k: info[k] for k in self.info_keys if k in info})
        self.terminated[rows] = terminated
        self.reward[rows] = reward
        self.learner_factor[rows] = learner_factor
        self.version[rows] = version
        self.step[rows] = step
        if embeddings is not None:
            if self.embeddings is None:
                self.embeddings = np.zeros((self.capacity, embeddings.shape[1]), dtype=np.float32)
            self.embeddings[rows] = embeddings
        self.has_embedding[rows] = embeddings is not None
        self.total += n

    def copy(self) -> "TransitionLog":
        """An independent snapshot (for reading in another thread while training appends)."""
        other = copy.copy(self)
        for name, value in vars(self).items():
            if isinstance(value, np.ndarray):
                setattr(other, name, value.copy())
        other.world_keys, other.info_keys = list(self.world_keys), list(self.info_keys)
        other.world_terms = list(self.world_terms)
        return other

    def world(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(len(rows), K)`` world term values and ``(len(rows),)`` success flags at storage ``rows``."""
        entries = [self.world_terms[r] for r in np.asarray(rows).tolist()]
        values = np.array([[terms.get(k, np.nan) for k in self.world_keys] for terms, _, _ in entries],
                          dtype=np.float64).reshape(len(entries), len(self.world_keys))
        return values, np.array([ok for _, ok, _ in entries], dtype=bool)

    def infos(self, rows: np.ndarray) -> list[dict[str, Any]]:
        """World-style infos (``reward_<key>``, ``is_success``) at storage ``rows``, what world terms read, plus
        the kept :attr:`info_keys`."""
        out = world_infos(*self.world(rows), self.world_keys)
        if self.info_keys:
            for info, r in zip(out, np.asarray(rows).tolist()):
                info.update(self.world_terms[r][2])
        return out

    def rows(self, first: int | None = None) -> np.ndarray:
        """Storage rows of every step added since ``first`` (a past :attr:`total`; default: all kept), oldest first."""
        start = self.total - len(self) if first is None else first
        if start < self.total - self.capacity:
            raise ValueError(f"steps since {first} are no longer all kept (capacity {self.capacity}); "
                             f"make the log larger than a rollout")
        return np.arange(start, self.total) % self.capacity

    def batch(self, rows: np.ndarray) -> StepBatch:
        """The steps at storage ``rows`` as a :class:`StepBatch` (embeddings only when every row has one)."""
        emb = None
        if self.embeddings is not None and self.has_embedding[rows].all():
            emb = self.embeddings[rows]
        return StepBatch(obs=self.obs[rows], next_obs=self.next_obs[rows],
                         infos=self.infos(rows), embeddings=emb, dones=self.terminated[rows])


def rescore_rollout(buffer: Any, log: TransitionLog, first: int, stack: RewardStack, gamma: float,
                    clip_reward: float | None = None) -> int:
    """Re-score a full rollout buffer with the stack's current reward; returns the steps re-scored.

    Args:
        buffer: an SB3 ``RolloutBuffer`` (or ``RecurrentRolloutBuffer``) after ``compute_returns_and_advantage``.
        log: the transition log holding the rollout's steps, added since ``first`` in buffer order, with the
            rewards as the stack gave them and the factor each reached the learner through
            (``TransitionLog.learner_factor``).
        first: ``log.total`` when the rollout started.
        clip_reward: where the learner's rewards were clipped (a ``VecNormalize``'s ``clip_reward``), or ``None``.
            Each stored reward moves by ``clip(new * f) - clip(old * f)``, with ``f`` its own step's factor, so it
            becomes what that step would have stored under the new reward, and a time-limit bootstrap SB3 added
            to it stays.

    Raises:
        ValueError: the log does not hold exactly this rollout, or the new reward needs data the log lacks
            (e.g. embeddings for a CLIP term switched on mid-rollout).
    """
    import torch

    rows = log.rows(first)
    steps, n_envs = buffer.rewards.shape
    if len(rows) != steps * n_envs or not buffer.full:
        raise ValueError(f"the log has {len(rows)} steps since the rollout began but the buffer holds "
                         f"{steps} x {n_envs}; re-scoring needs the whole rollout")
    if "embeddings" in stack.needs() and not log.has_embedding[rows].all():
        raise ValueError("the new reward has a CLIP term but steps of this rollout were collected without image "
                         "embeddings (no CLIP term was on); the rollout keeps its old rewards")
    new = stack.evaluate(log.batch(rows)).total
    factor = log.learner_factor[rows]

    def learner(r: np.ndarray) -> np.ndarray:
        r = r * factor
        return r if clip_reward is None else np.clip(r, -clip_reward, clip_reward)
    delta = (learner(new) - learner(log.reward[rows])).reshape(steps, n_envs)
    if gamma > 0:
        next_values = (buffer.advantages[-1] + buffer.values[-1] - buffer.rewards[-1]) / gamma
    else:
        next_values = np.zeros(n_envs)
    buffer.rewards += delta.astype(buffer.rewards.dtype)
    buffer.compute_returns_and_advantage(last_values=torch.as_tensor(next_values, dtype=torch.float32),
                                         dones=np.zeros(n_envs))
    log.reward[rows] = new
    return len(rows)


class ReplayLabels:
    """Per-slot world terms, success, terminal flags and embeddings beside an off-policy replay buffer.

    ``record(pos, ...)`` is called from a callback's ``on_step``, before SB3 stores the transition at
    ``replay_buffer.pos``; :meth:`relabel` recomputes every stored reward with a stack.
    """

    def __init__(self, size: int, n_envs: int, world_keys: Sequence[str]):
        self.size, self.n_envs, self.world_keys = int(size), int(n_envs), list(world_keys)
        self.world = np.zeros((self.size, self.n_envs, len(self.world_keys)), dtype=np.float32)
        self.success = np.zeros((self.size, self.n_envs), dtype=bool)
        self.terminated = np.zeros((self.size, self.n_envs), dtype=bool)
        self.embeddings: np.ndarray | None = None
        self.has_embedding = np.zeros((self.size, self.n_envs), dtype=bool)

    def record(self, pos: int, infos: Sequence[dict], terminated: np.ndarray,
               embeddings: np.ndarray | None = None) -> None:
        values, success = step_arrays(infos, self.world_keys)
        self.world[pos], self.success[pos], self.terminated[pos] = values, success, terminated
        if embeddings is not None:
            if self.embeddings is None:
                self.embeddings = np.zeros((self.size, self.n_envs, embeddings.shape[1]), dtype=np.float16)
            self.embeddings[pos] = embeddings
        self.has_embedding[pos] = embeddings is not None

    def relabel(self, replay: Any, stack: RewardStack, chunk: int = 8192, slots: np.ndarray | None = None) -> int:
        """Rewrite ``replay.rewards`` for every stored slot (or only ``slots``) with ``stack``'s reward; returns
        the transitions relabelled.

        Raises:
            ValueError: dict observations, or the reward needs embeddings some stored steps lack.
        """
        if isinstance(replay.observations, dict):
            raise ValueError("relabelling supports flat Box observations only")
        idx = np.arange(replay.buffer_size if replay.full else replay.pos) if slots is None \
            else np.asarray(slots, dtype=np.int64)
        used = len(idx)
        if used == 0:
            return 0
        state = stack.state
        needs_emb = "embeddings" in stack.needs(state=state)
        if needs_emb and not self.has_embedding[idx].all():
            raise ValueError("the new reward has a CLIP term but some stored steps have no embeddings (no CLIP "
                             "term was on when they were collected); their rewards keep the old values")
        obs = replay.observations[idx].reshape(used * self.n_envs, -1)
        if getattr(replay, "optimize_memory_usage", False):
            nxt = replay.observations[(idx + 1) % replay.buffer_size].reshape(used * self.n_envs, -1)
        else:
            nxt = replay.next_observations[idx].reshape(used * self.n_envs, -1)
        world = self.world[idx].reshape(used * self.n_envs, -1)
        success = self.success[idx].reshape(-1)
        term = self.terminated[idx].reshape(-1)
        emb = self.embeddings[idx].reshape(used * self.n_envs, -1).astype(np.float32) if needs_emb else None
        out = np.empty(used * self.n_envs)
        for start in range(0, len(out), chunk):
            sl = slice(start, start + chunk)
            batch = StepBatch(obs=obs[sl], next_obs=nxt[sl], infos=world_infos(world[sl], success[sl], self.world_keys),
                              embeddings=None if emb is None else emb[sl], dones=term[sl])
            out[sl] = stack.evaluate(batch, state).total
        replay.rewards[idx] = out.reshape(used, self.n_envs).astype(replay.rewards.dtype)
        return len(out)


def stack_epic(stack: RewardStack, old: StackState, new: StackState, log: TransitionLog, gamma: float,
               coverage: int = 512, samples: int = 64, seed: int = 0) -> EpicResult:
    """EPIC distance between two configurations of ``stack`` over the log's recent transitions.

    States are the recorded ones: a transition's start state contributes its observation (all a first
    argument is used for), and its next state the observation, world terms, embedding and terminal flag a
    reward reads after a step. ``coverage`` transitions are compared; ``samples`` next states (with their
    actions, which no stack term reads) estimate the canonicalisation's expectations.

    Raises:
        ValueError: fewer than 2 logged steps, or a configuration needs embeddings the log lacks.
    """
    rows = log.rows()
    if "embeddings" in stack.needs(state=old) | stack.needs(state=new):
        rows = rows[log.has_embedding[rows]]  # CLIP terms can only score steps whose frames were embedded
        if len(rows) < 2:
            raise ValueError("a CLIP term is on but the recent steps have no image embeddings (no CLIP term was "
                             "on when they were collected); EPIC will be available for later edits")
    if len(rows) < 2:
        raise ValueError(f"EPIC needs recorded steps; the log has {len(rows)}")
    rng = np.random.default_rng(seed)
    n = len(rows)
    cov = rng.choice(n, size=min(coverage, n), replace=False)
    smp = rng.choice(n, size=min(samples, n), replace=False)
    first_obs = np.concatenate([log.next_obs[rows], log.obs[rows]])  # keys < n: next states; n + i: start states
    next_obs, term = log.next_obs[rows], log.terminated[rows]
    infos = log.infos(rows)
    emb = log.embeddings[rows] if log.embeddings is not None and log.has_embedding[rows].all() else None
    # (every row has one when a configuration needs them, see above)

    def reward_of(state: StackState):
        def reward(s: np.ndarray, a: np.ndarray, s_next: np.ndarray) -> np.ndarray:
            batch = StepBatch(obs=first_obs[s], next_obs=next_obs[s_next], infos=[infos[j] for j in s_next],
                              embeddings=None if emb is None else emb[s_next], dones=term[s_next])
            return stack.evaluate(batch, state).total
        return reward

    return epic(reward_of(old), reward_of(new), n + cov, cov, cov, smp, smp, gamma)


__all__ = ["ReplayLabels", "TransitionLog", "extra_info_keys", "next_observations", "rescore_rollout", "stack_epic",
           "step_arrays", "terminated_flags", "world_infos"]
