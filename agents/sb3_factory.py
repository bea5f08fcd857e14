"""Stable-Baselines3 glue: the studio's VecEnv (world -> reward frames -> reward stack -> monitor) and models.

``venv, reward_env = make_venv("studio/Push-v0", {}, n_envs=4, seed=0, stack=stack)`` builds::

    VecMonitor(VecRewardStack(DummyVecEnv([RewardFrameWrapper(world) x n_envs]), stack))

Frames are rendered only while an enabled term needs them (``VecRewardStack`` switches the wrappers), so a
state-only stack costs no rendering; VecMonitor sits outside so episode returns are the stack's reward.
``make_model("ppo", venv, {...})`` builds PPO, SAC or RecurrentPPO with the studio's CPU defaults
(:data:`DEFAULTS`, overridden by the given kwargs) and SB3's own CSV and (when installed) TensorBoard logs.

``agent`` picks the policy: ``"mlp"`` (SB3's MLP on flat observations) or one of the object-naming room's
agents (``dcem``, ``memoryless``, ``no_memory``, ``lstm``; :mod:`agents.memory.train`). For those,
:func:`make_world` wraps each world as that harness does (:func:`agents.memory.train.wrap_world`: discrete
moves, plus the dual-coding memory for ``dcem``/``memoryless``) inside the reward-frame wrapper, and
:func:`make_model` uses ``MultiInputPolicy`` (``MultiInputLstmPolicy`` for ``lstm``) with the harness's
learner defaults (:func:`agents.memory.train.agent_learner_kwargs`, the DCEM extractor for the memory agents).
"""

from __future__ import annotations

import copy
import functools
import signal
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv, VecEnv, VecMonitor

from agents.rewards.stack import RewardStack
from agents.rewards.wrappers import RewardFrameWrapper, VecRewardStack

ALGOS = ("ppo", "sac", "recurrent_ppo")
POLICIES = {"ppo": "MlpPolicy", "sac": "MlpPolicy", "recurrent_ppo": "MlpLstmPolicy"}
AGENTS = ("mlp", "dcem", "memoryless", "no_memory", "lstm")
# Shorter rollouts than SB3's 2048 per env: a live edit reaches the learner sooner, and a CPU update is short.
DEFAULTS: dict[str, dict[str, Any]] = {
    "ppo": {"n_steps": 256, "batch_size": 64},
    "recurrent_ppo": {"n_steps": 128, "batch_size": 128},
    "sac": {"learning_starts": 1000, "buffer_size": 200_000},
}


def algo_class(algo: str) -> type[BaseAlgorithm]:
    """The SB3 class for ``"ppo"``, ``"sac"`` or ``"recurrent_ppo"``."""
    if algo == "ppo":
        from stable_baselines3 import PPO
        return PPO
    if algo == "sac":
        from stable_baselines3 import SAC
        return SAC
    if algo == "recurrent_ppo":
        from sb3_contrib import RecurrentPPO
        return RecurrentPPO
    raise ValueError(f"unknown algo {algo!r}; choose one of {list(ALGOS)}")


def is_off_policy(algo: str) -> bool:
    return algo == "sac"


class LatestEmbeddings:
    """Receives each step's embeddings from :class:`VecRewardStack` (its ``store``) and keeps only the latest,
    so a callback can log them without a second embedding pass."""

    def __init__(self):
        self.latest: np.ndarray | None = None
        self.count = 0

    def add(self, embeddings: np.ndarray, **columns: Any) -> None:
        self.latest = np.asarray(embeddings, dtype=np.float32)
        self.count += 1


def _check_agent(agent: str) -> None:
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {list(AGENTS)}")


def make_world(world_id: str, world_kwargs: dict[str, Any] | None = None, camera: str | None = None,
               agent: str = "mlp") -> gym.Env:
    """One studio world wrapped the way ``agent`` sees it, then for reward frames (rendering off until a term
    needs it)."""
    import worlds

    _check_agent(agent)
    env = worlds.make(world_id, render_mode=None, **(world_kwargs or {}))
    if agent != "mlp":
        from agents.memory.train import wrap_world

        env = wrap_world(env, agent)
    return RewardFrameWrapper(env, camera=camera, enabled=False)


def _subprocess_world(world_id: str, world_kwargs: dict[str, Any] | None, camera: str | None, agent: str) -> gym.Env:
    """:func:`make_world` inside an env process, which leaves SIGINT and SIGTERM to the trainer: a signal to the
    whole process group (Ctrl-C, a terminal closing) then stops the run cleanly instead of killing its envs
    mid-step. The process still ends with the trainer (its pipe closes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    return make_world(world_id, world_kwargs, camera, agent)


def make_venv(world_id: str, world_kwargs: dict[str, Any] | None, n_envs: int, seed: int, stack: RewardStack,
              camera: str | None = None, agent: str = "mlp",
              subprocess_envs: bool = False) -> tuple[VecEnv, VecRewardStack]:
    """The training VecEnv (see module docstring) and its :class:`VecRewardStack` layer.

    ``subprocess_envs``: each env steps and renders its reward frames in its own process (SB3's
    ``SubprocVecEnv``, started by a fork server so no GL context or torch state is inherited); the reward stack
    still embeds every env's frames in one call here. It pays when rendering dominates a step (CLIP rewards)
    and there are cores to spare. Each env process costs memory (``bench.vec_env`` reports it).
    """
    build = _subprocess_world if subprocess_envs else make_world
    fns = [functools.partial(build, world_id, world_kwargs, camera, agent) for _ in range(int(n_envs))]
    if subprocess_envs:
        import multiprocessing

        # A fork server (a spawned process on platforms without one) starts clean workers: a fork of this process
        # would inherit its GL contexts and torch threads. The server imports torch and SB3 once
        # (agents.env_process), and every env process forked from it shares those pages.
        if "forkserver" in multiprocessing.get_all_start_methods():
            multiprocessing.set_forkserver_preload(["agents.env_process"])
            method = "forkserver"
        else:
            method = "spawn"
        base = SubprocVecEnv(fns, start_method=method)
    else:
        base = DummyVecEnv(fns)
    base.seed(int(seed))
    reward_env = VecRewardStack(base, stack)
    return VecMonitor(reward_env), reward_env


def make_model(algo: str, venv: VecEnv, algo_kwargs: dict[str, Any] | None = None, seed: int = 0,
               device: str = "cpu", log_dir: str | Path | None = None, agent: str = "mlp") -> BaseAlgorithm:
    """An SB3 model on ``venv`` with :data:`DEFAULTS` (or ``agent``'s defaults) under ``algo_kwargs``; logs CSV
    (and TensorBoard when the ``tensorboard`` package is installed) into ``log_dir``.

    Raises:
        ValueError: an unknown agent, or an ``algo`` that does not train it (``lstm`` needs ``recurrent_ppo``,
            the other memory-room agents ``ppo``).
    """
    _check_agent(agent)
    # SB3 writes into the policy_kwargs it is given (use_sde): a deep copy keeps the caller's config as it was
    algo_kwargs = copy.deepcopy(algo_kwargs)
    policy, defaults = POLICIES[algo], DEFAULTS.get(algo, {})
    if agent != "mlp":
        from agents.memory.train import agent_learner_kwargs, algo_for

        cls, policy = algo_for(agent)
        if cls is not algo_class(algo):
            want = "recurrent_ppo" if agent == "lstm" else "ppo"
            raise ValueError(f"agent {agent!r} trains with algo {want!r}, not {algo!r}")
        defaults = agent_learner_kwargs(agent)
        if "policy_kwargs" in (algo_kwargs or {}):   # add to the agent's network, not replace it
            algo_kwargs = {**algo_kwargs,
                           "policy_kwargs": {**defaults["policy_kwargs"], **algo_kwargs["policy_kwargs"]}}
    kwargs = {**defaults, **(algo_kwargs or {})}
    if algo in ("ppo", "recurrent_ppo"):
        rollout = kwargs["n_steps"] * venv.num_envs
        if "batch_size" not in (algo_kwargs or {}):
            while rollout % kwargs["batch_size"]:  # a divisor of the rollout: no truncated minibatch warning
                kwargs["batch_size"] -= 1
    model = algo_class(algo)(policy, venv, seed=int(seed), device=device, verbose=0, **kwargs)
    model.set_logger(make_logger(log_dir) if log_dir is not None else quiet_logger())
    return model


def tensorboard_available() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def make_logger(log_dir: str | Path):
    """SB3's logger writing ``progress.csv`` and, when available, TensorBoard event files into ``log_dir``."""
    from stable_baselines3.common.logger import configure

    formats = ["csv"] + (["tensorboard"] if tensorboard_available() else [])
    return configure(str(log_dir), formats)


def quiet_logger(verbose: int = 0):
    """SB3's logger writing nowhere (to stdout when ``verbose``), with no folder.

    Without a logger of its own, ``learn()`` calls SB3's ``configure(None, ...)``, which makes an empty
    ``<tempdir>/SB3-<date>`` folder on every call even when nothing is logged: hundreds of them after a day of
    benches and tests. A model given this one leaves the temporary folder alone."""
    import sys

    from stable_baselines3.common.logger import HumanOutputFormat, Logger

    return Logger(folder=None, output_formats=[HumanOutputFormat(sys.stdout)] if verbose else [])


def load_model(algo: str, path: str | Path, env: VecEnv | None = None, device: str = "cpu") -> BaseAlgorithm:
    """Load a checkpoint saved with ``model.save``."""
    return algo_class(algo).load(str(path), env=env, device=device)


__all__ = ["AGENTS", "ALGOS", "DEFAULTS", "LatestEmbeddings", "algo_class", "is_off_policy", "load_model",
           "make_logger", "make_model", "make_venv", "make_world", "quiet_logger", "tensorboard_available"]
