"""Demonstrations for a learner: scripted episodes played through the training env; for an off-policy learner a
replay buffer that draws a fixed share of every batch from them, for an on-policy one a start cloned from them.

RoboFuME (Yang et al. 2023) learns from a VLM's reward starting from a few demonstrations, not from a random
policy. RLPD (Ball et al. 2023) is the simplest way an off-policy learner uses such data: the demonstrations
live in a buffer of their own, and every batch is drawn half from them and half from the agent's own steps
("symmetric sampling"). That way they are not drowned once the agent has taken 200k steps of its own.

What the demonstrations are paid is whatever the training env pays, here one CLIP prompt's reward. So they show
the learner *what can be done*, and only the reward says whether it was good. A learner shown the same episodes
with a reward of zero everywhere has nothing to prefer them by (``bench.clip_push --reference zero``
measures exactly that).

* :func:`play_demos` plays ``episodes`` episodes of a controller (``agents.scripted.ScriptedController``)
  through a ``DummyVecEnv`` stack and returns its transitions as a :class:`Demos`: observations, actions in
  the learner's [-1, 1] scale, the stack's rewards, and terminal flags with time-limit truncation kept apart,
  as SB3 stores its own steps.
* :class:`DemoReplayBuffer` is an SB3 ``ReplayBuffer`` (pass it as SAC's ``replay_buffer_class``). Give it
  demonstrations with :meth:`DemoReplayBuffer.add_demos`. Its ``sample`` then returns ``demo_share`` of each
  batch from them, with ``reward_transform`` applied to their rewards (the same affine map the online rewards
  get), and the rest from the agent's own steps.
* :func:`pretrain_on_policy` starts PPO from them instead, which keeps no buffer: behaviour cloning of the
  policy and its value head fitted to the returns they were paid (:func:`normalised_by` puts them on a
  ``VecNormalize``'s scale first).
* :func:`play_for_stack` is :func:`play_demos` for a studio run, whose reward can be edited while it trains:
  it also keeps what a :class:`agents.live_reward.ReplayLabels` needs (world terms, terminal flags, and the
  image embeddings while a CLIP term is on), so an edit relabels the demonstrations as it relabels the
  agent's own steps.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import numpy as np
import torch as th
from stable_baselines3.common.buffers import ReplayBuffer
from stable_baselines3.common.type_aliases import ReplayBufferSamples
from stable_baselines3.common.vec_env import DummyVecEnv

from agents.live_reward import ReplayLabels
from agents.reward_scale import RewardStandardizer
from agents.sb3_factory import LatestEmbeddings

DEMO_SHARE = 0.5        # of each batch, from the demonstrations: RLPD's symmetric sampling
BC_EPOCHS = 50          # behaviour-cloning passes over the demonstrations for an on-policy learner (~2 s for 50)
BC_LOG_STD = -1.2       # the policy's spread after cloning: std 0.3 of the [-1, 1] action range


@dataclass
class Demos:
    """Transitions, one row each; ``timeouts`` marks a ``done`` that was a time limit, not a terminal state.
    ``infos`` are the steps' info dicts and ``embeddings`` their image embeddings, when they were asked for."""

    observations: np.ndarray
    actions: np.ndarray
    next_observations: np.ndarray
    rewards: np.ndarray
    dones: np.ndarray
    timeouts: np.ndarray
    episodes: int
    successes: int
    infos: list | None = None
    embeddings: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.rewards)


def play_demos(venv, controller: Callable, episodes: int,
               embeddings: Callable[[], np.ndarray | None] | None = None) -> Demos:
    """Play ``episodes`` whole episodes of ``controller(env)`` (called once per sub-env, with a ``reset()``
    method and ``__call__(obs) -> action``) through ``venv``. ``venv`` is a ``DummyVecEnv`` or a stack of
    ``VecEnvWrapper``s over one, so its rewards are the stack's. Only the first ``episodes`` episodes to end are
    kept (others running, or ending on the same step beyond that count, are dropped), so every transition
    belongs to a whole episode. Success is the last step's ``info["is_success"]``. ``embeddings``, called after
    each step, returns that step's image embeddings (one row per env) or ``None``; the demos keep them, and the
    infos, when it is given."""
    if episodes < 1:
        raise ValueError(f"episodes {episodes!r}: play at least one demonstration episode (or none at all)")
    base = venv.unwrapped
    if not isinstance(base, DummyVecEnv):
        raise TypeError(f"play_demos needs a DummyVecEnv to reach each env's true state, got {type(base).__name__}:"
                        " build the demo env with DummyVecEnv (subprocess envs cannot be steered by a controller)")
    low, high = venv.action_space.low, venv.action_space.high
    controllers = [controller(env) for env in base.envs]
    for c in controllers:
        c.reset()
    obs = venv.reset()
    rows: list[list[tuple]] = [[] for _ in controllers]     # the running episode of each env
    kept: list[tuple] = []
    done_episodes = successes = 0
    while done_episodes < episodes:
        actions = np.stack([c(o) for c, o in zip(controllers, obs)]).astype(np.float32)
        actions = np.clip(actions, low, high)
        new_obs, rewards, dones, infos = venv.step(actions)
        emb = embeddings() if embeddings is not None else None
        scaled = 2.0 * (actions - low) / (high - low) - 1.0                 # SB3 stores actions in [-1, 1]
        for i, info in enumerate(infos):
            next_obs = info["terminal_observation"] if dones[i] else new_obs[i]
            truncated = bool(info.get("TimeLimit.truncated", False))
            rows[i].append((obs[i], scaled[i], next_obs, rewards[i], float(dones[i]), float(truncated), info,
                            None if emb is None else emb[i]))
            if dones[i]:
                if done_episodes < episodes:
                    kept.extend(rows[i])
                    done_episodes += 1
                    successes += int(bool(info.get("is_success", False)))
                rows[i] = []
                controllers[i].reset()
        obs = new_obs
    columns = list(zip(*kept))
    kept_emb = columns[7]
    return Demos(*(np.asarray(c, np.float32) for c in columns[:6]), episodes=done_episodes, successes=successes,
                 infos=list(columns[6]) if embeddings is not None else None,
                 embeddings=np.stack(kept_emb) if embeddings is not None and all(e is not None for e in kept_emb)
                 else None)


def sac_demo_kwargs(algo_kwargs: dict | None = None, demo_share: float = DEMO_SHARE) -> dict:
    """SAC's constructor arguments with :class:`DemoReplayBuffer` as its replay buffer (drawing ``demo_share``
    of each batch from the demonstrations), keeping any ``replay_buffer_kwargs`` already in ``algo_kwargs``."""
    algo_kwargs = dict(algo_kwargs or {})
    buffer_kwargs = {**(algo_kwargs.get("replay_buffer_kwargs") or {}), "demo_share": demo_share}
    return {**algo_kwargs, "replay_buffer_class": DemoReplayBuffer, "replay_buffer_kwargs": buffer_kwargs}


def discounted_returns(demos: Demos, gamma: float) -> np.ndarray:
    """Each step's discounted return to its episode's end, from the rewards the demonstrations were paid (an
    episode ends at each ``done``). A time limit is not bootstrapped past: the returns of late steps are
    underestimated, by up to a factor ``1 / (1 - gamma)`` for the last one (push's demonstrations all end on the
    time limit), which PPO's own value updates, bootstrapped as SB3 does, then correct."""
    out = np.zeros(len(demos), np.float32)
    future = 0.0
    for k in range(len(demos) - 1, -1, -1):
        future = demos.rewards[k] + gamma * future * (1.0 - demos.dones[k])
        out[k] = future
    return out


def normalised_by(venv, demos: Demos) -> Demos:
    """``demos`` played below ``venv`` (an SB3 ``VecNormalize``), put into its statistics as if it had seen them
    (observation mean and variance; the running discounted return its rewards are scaled by) and returned on its
    scale: observations normalised with the statistics after all of them, rewards divided as it divides them."""
    venv.obs_rms.update(demos.observations)
    running = 0.0
    returns = np.zeros(len(demos), np.float64)
    for k in range(len(demos)):          # VecNormalize's own recurrence (one env at a time: episodes are whole)
        running = running * venv.gamma + float(demos.rewards[k])
        returns[k] = running
        if demos.dones[k]:
            running = 0.0
    venv.ret_rms.update(returns)
    return replace(demos, observations=venv.normalize_obs(demos.observations).astype(np.float32),
                   next_observations=venv.normalize_obs(demos.next_observations).astype(np.float32),
                   rewards=venv.normalize_reward(demos.rewards).astype(np.float32))


def pretrain_on_policy(model, demos: Demos, epochs: int = BC_EPOCHS, log_std: float = BC_LOG_STD,
                       batch_size: int = 256, learning_rate: float = 1e-3) -> dict:
    """Start an on-policy learner (SB3 PPO with a Gaussian policy) from demonstrations: behaviour cloning of the
    policy's mean (the likelihood of the shown actions with the spread held at ``exp(log_std)``), and the value
    head fitted to the discounted returns the demonstrations were paid (:func:`discounted_returns`), so the first
    advantages are not measured against an untrained baseline. PPO has no replay buffer to keep them in: this is
    how they reach it. The spread is left at ``exp(log_std)`` for PPO to learn from (SB3's default of 1 would
    drown the cloned actions in noise). Observations must be as the model sees them (normalised, when a
    ``VecNormalize`` played them). Returns the losses of the last minibatch.

    Raises:
        ValueError: ``epochs`` below 1, or no demonstrations.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs={epochs!r}: give a whole number of cloning passes, at least 1 (e.g. {BC_EPOCHS})")
    if len(demos) == 0:
        raise ValueError("no demonstration transitions to clone: play at least one whole episode")
    policy = model.policy
    obs = th.as_tensor(demos.observations, device=policy.device)
    actions = th.as_tensor(demos.actions, device=policy.device)
    returns = th.as_tensor(discounted_returns(demos, model.gamma), device=policy.device)
    with th.no_grad():
        policy.log_std.fill_(log_std)
    policy.log_std.requires_grad_(False)
    optimiser = th.optim.Adam([p for p in policy.parameters() if p.requires_grad], lr=learning_rate)
    generator = th.Generator().manual_seed(0)
    try:
        for _ in range(epochs):
            order = th.randperm(len(obs), generator=generator)
            for start in range(0, len(obs), batch_size):
                batch = order[start:start + batch_size]
                values, log_prob, _ = policy.evaluate_actions(obs[batch], actions[batch])
                bc_loss = -log_prob.mean()
                value_loss = th.nn.functional.mse_loss(values.flatten(), returns[batch])
                optimiser.zero_grad()
                (bc_loss + value_loss).backward()
                optimiser.step()
    finally:
        policy.log_std.requires_grad_(True)
    return {"bc_loss": round(float(bc_loss.detach()), 4), "value_loss": round(float(value_loss.detach()), 4)}


def play_for_stack(venv, reward_env, stack, controller: Callable, episodes: int) -> tuple[Demos, ReplayLabels]:
    """:func:`play_demos` through a studio VecEnv (``reward_env``: its ``VecRewardStack`` layer, scoring with
    ``stack``), and the labels that relabel the demonstrations' rewards when the stack is edited
    (``labels.relabel(buffer.demos, stack)``). Embeddings are collected while the stack needs them, as the
    training callback does, and the reward env's own ``store`` is put back afterwards. Only then: an edit that
    adds a CLIP term to a reward that had none finds no embeddings, and the demonstrations are dropped
    (:meth:`agents.callbacks.LiveRewardCallback.apply`)."""
    sink = LatestEmbeddings() if "embeddings" in stack.needs() else None
    seen = [0]

    def latest() -> np.ndarray | None:
        if sink is None or sink.count == seen[0]:
            return None
        seen[0] = sink.count
        return sink.latest

    saved, reward_env.store = reward_env.store, sink
    try:
        demos = play_demos(venv, controller, episodes, embeddings=latest)
    finally:
        reward_env.store = saved
    keys = list(demos.infos[0].get("world_reward_terms", {}))
    labels = ReplayLabels(len(demos), 1, keys)
    terminated = (demos.dones > 0) & (demos.timeouts == 0)
    for k, info in enumerate(demos.infos):
        labels.record(k, [info], terminated[k:k + 1], None if demos.embeddings is None else demos.embeddings[k:k + 1])
    demos.infos = demos.embeddings = None       # the labels hold what a relabel needs (embeddings as float16)
    return demos, labels


class DemoReplayBuffer(ReplayBuffer):
    """SB3's replay buffer plus a second one of demonstrations that every batch draws ``demo_share`` from.

    Until :meth:`add_demos` is called (and with no ``standardizer``) it samples exactly as ``ReplayBuffer``
    does. ``reward_transform`` (set it after construction; a function of a tensor) maps the demonstrations'
    stored rewards at sampling time, so they can be stored raw and put on the scale the online rewards reach only
    later (a standardisation frozen after a warm-up). ``standardizer`` (an
    :class:`agents.reward_scale.RewardStandardizer`, also set after construction) maps every sampled reward, the
    agent's own and the demonstrations', after ``reward_transform``: the buffer then keeps the rewards the reward
    stack gave, so a reward edit relabels them as they are, and the learner alone sees them standardised."""

    def __init__(self, *args, demo_share: float = DEMO_SHARE, **kwargs):
        super().__init__(*args, **kwargs)
        if not 0.0 <= demo_share < 1.0:         # also refuses NaN
            raise ValueError(f"demo_share {demo_share!r}: give the share of each batch drawn from demonstrations, "
                             "from 0 (none) up to but not including 1 (the agent's own steps must be seen)")
        self.demo_share = float(demo_share)
        self.demos: ReplayBuffer | None = None
        self.reward_transform: Callable[[th.Tensor], th.Tensor] | None = None
        self.standardizer: RewardStandardizer | None = None

    def add_demos(self, demos: Demos) -> None:
        """Store ``demos`` (replacing any earlier ones)."""
        if len(demos) == 0:
            raise ValueError("no demonstration transitions to add: play at least one whole episode")
        store = ReplayBuffer(len(demos), self.observation_space, self.action_space, self.device, n_envs=1,
                             handle_timeout_termination=self.handle_timeout_termination)
        for k in range(len(demos)):
            store.add(demos.observations[k][None], demos.next_observations[k][None], demos.actions[k][None],
                      demos.rewards[k:k + 1], demos.dones[k:k + 1], [{"TimeLimit.truncated": bool(demos.timeouts[k])}])
        self.demos = store

    def sample(self, batch_size: int, env=None) -> ReplayBufferSamples:
        # never the whole batch: the agent's own steps are always seen, whatever the rounding
        n_demo = min(int(round(batch_size * self.demo_share)), batch_size - 1) if self.demos is not None else 0
        if n_demo == 0:
            return self._standardized(super().sample(batch_size, env=env))
        own = super().sample(batch_size - n_demo, env=env)
        demo = self.demos.sample(n_demo, env=env)
        if self.reward_transform is not None:
            demo = demo._replace(rewards=self.reward_transform(demo.rewards))
        return self._standardized(
            ReplayBufferSamples(*(th.cat([a, b]) if a is not None else None for a, b in zip(own, demo))))

    def _standardized(self, batch: ReplayBufferSamples) -> ReplayBufferSamples:
        return batch if self.standardizer is None else batch._replace(rewards=self.standardizer(batch.rewards))
