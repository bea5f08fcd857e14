"""One harness trains and evaluates every agent of the object-naming room (``studio/FastMapRoom-v0``).

=========== ====================================== ===============================================
agent       learner                                what it sees
=========== ====================================== ===============================================
dcem        PPO + :class:`DCEMExtractor`           the world + the dual-coding memory (wrapper)
memoryless  PPO + :class:`DCEMExtractor`           the same, but the memory is never written: the same
                                                   network and pointers without memory (fair ablation)
no_memory   PPO, SB3's ``CombinedExtractor``       the world only: the binding is gone at the switch
lstm        RecurrentPPO (sb3_contrib), LSTM 128   the world only; must carry the binding in its LSTM
oracle      PPO + :class:`OracleExtractor`         the world + the binding, told (upper bound)
=========== ====================================== ===============================================

All agents act through :class:`DiscreteMoves` and are rewarded by one :class:`RewardStack` (so a session can
edit it live): the world's ``success`` and ``naming`` terms and the memory's :class:`SeekNamesTerm`.
``reward="shaping"`` keeps the world's naming shaping (0.1 per first naming) with the bonus off;
``reward="intrinsic"`` turns the world's shaping off and the seek-names bonus on (weight ``bonus``, memory
agents only); ``reward="sparse"`` uses success alone.

Command line::

    python -m agents.memory.train --agent dcem --steps 200000 --out assets/fastmap_memory.zip
    python -m agents.memory.train --agent no_memory --steps 100000 --eval-episodes 200

prints the training time and held-out success as JSON on its last line.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable

import gymnasium as gym
import numpy as np
import torch as th
# torch imports torch._dynamo, and with it triton, when the first optimizer is built; importing triton after
# an EGL context exists in the process segfaults (Mesa llvmpipe, measured here). Import it now, before any
# world renders (the studio imports this module when it builds its pages, before rendering anything).
import torch._dynamo  # noqa: F401,E402
from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecMonitor

from agents.memory.extractor import DCEMExtractor, OracleExtractor
from agents.memory.seek_names import SeekNamesTerm
from agents.memory.wrappers import DiscreteMoves, DropKeys, DualCodingMemory
from agents.rewards.stack import RewardStack
from agents.rewards.terms import WorldTerm
from agents.rewards.wrappers import VecRewardStack
from agents.sb3_factory import quiet_logger

WORLD_ID = "studio/FastMapRoom-v0"
AGENTS = ("dcem", "memoryless", "no_memory", "lstm", "oracle")
MEMORY_WRITES = {"dcem": "every_step", "memoryless": "off"}
REWARDS = ("shaping", "intrinsic", "sparse")


@dataclass
class TrainConfig:
    """One training run of one agent."""

    agent: str = "dcem"
    """``dcem``, ``memoryless``, ``no_memory``, ``lstm`` or ``oracle`` (module docstring)."""
    steps: int = 200_000
    """Environment steps to train for (all envs together)."""
    n_objects: int = 3
    """Objects per room while training (the paper trains on 3)."""
    split: str = "train"
    """The world's split while training; evaluation uses held-out names and objects."""
    reward: str = "shaping"
    """``shaping`` (world's naming shaping), ``intrinsic`` (seek-names bonus instead) or ``sparse``."""
    bonus: float = 0.1
    """Weight of the seek-names bonus when ``reward="intrinsic"`` (the world's shaping weight is 0.1)."""
    n_envs: int = 8
    """Parallel envs (a DummyVecEnv: the world steps in microseconds, subprocesses would only add overhead)."""
    seed: int = 0
    """Seed for the learner and the envs."""
    memory_size: int = 160
    """Rows of the episodic memory (above the longest episode, 149 steps with 8 objects, so nothing is overwritten)."""
    k: int = 4
    """Rows kept by each top-k memory read."""
    threads: int = 1
    """torch threads (the laptop CPU is shared with the studio)."""
    ppo: dict[str, Any] = field(default_factory=dict)
    """Overrides of the learner's arguments (:func:`learner_kwargs`)."""

    def __post_init__(self):
        if self.agent not in AGENTS:
            raise ValueError(f"unknown agent {self.agent!r}; choose one of {list(AGENTS)}")
        if self.reward not in REWARDS:
            raise ValueError(f"unknown reward {self.reward!r}; choose one of {list(REWARDS)}")
        if self.reward == "intrinsic" and self.agent != "dcem":
            raise ValueError("reward='intrinsic' reads the dual-coding memory; only agent='dcem' has one")


def world_kwargs(config: TrainConfig, **overrides: Any) -> dict[str, Any]:
    """The world's arguments for this config (no rendering while training)."""
    kwargs = {"n_objects": config.n_objects, "split": config.split, "render_mode": None,
              "shaping": 0.1 if config.reward == "shaping" else 0.0, "oracle": config.agent == "oracle"}
    return {**kwargs, **overrides}


def wrap_world(env: gym.Env, agent: str, memory_size: int = 160) -> gym.Env:
    """A FastMap world wrapped the way ``agent`` sees it: discrete moves, and the dual-coding memory for
    ``dcem`` (written every step) and ``memoryless`` (never written). The studio's training runs use this too
    (:func:`agents.sb3_factory.make_world`)."""
    if agent not in AGENTS:
        raise ValueError(f"unknown agent {agent!r}; choose one of {list(AGENTS)}")
    env = DiscreteMoves(env)
    if agent in MEMORY_WRITES:
        env = DualCodingMemory(env, memory_size=memory_size, write=MEMORY_WRITES[agent])
    return env


def make_env(config: TrainConfig, **overrides: Any) -> gym.Env:
    """One world wrapped the way ``config.agent`` sees it (discrete moves; memory for ``dcem``)."""
    import worlds

    return wrap_world(worlds.make(WORLD_ID, **world_kwargs(config, **overrides)), config.agent, config.memory_size)


def make_stack(config: TrainConfig) -> RewardStack:
    """success + naming (world) + seek_names (memory), switched by ``config.reward``."""
    entries: list[tuple] = [(WorldTerm("success"), 1.0), (WorldTerm("naming"), 1.0)]
    if config.agent == "dcem":
        entries.append((SeekNamesTerm(), float(config.bonus), config.reward == "intrinsic"))
    return RewardStack(entries)


def make_venv(config: TrainConfig) -> tuple[VecEnv, RewardStack]:
    stack = make_stack(config)
    venv = DummyVecEnv([lambda i=i: make_env(config) for i in range(config.n_envs)])
    venv.seed(config.seed)
    return VecMonitor(VecRewardStack(venv, stack)), stack


def agent_learner_kwargs(agent: str, k: int = 4) -> dict[str, Any]:
    """PPO / RecurrentPPO arguments for ``agent``: short rollouts and small nets (CPU minutes, not hours);
    the memory agents get the :class:`DCEMExtractor` (top-``k`` reads), the oracle its pointer."""
    net = dict(pi=[64, 64], vf=[64, 64])
    base = dict(n_steps=128, batch_size=256, n_epochs=4, learning_rate=3e-4, gamma=0.99, ent_coef=0.01,
                policy_kwargs=dict(net_arch=net))
    if agent == "lstm":
        base["policy_kwargs"].update(lstm_hidden_size=128)
    elif agent in MEMORY_WRITES:
        base["policy_kwargs"].update(features_extractor_class=DCEMExtractor, features_extractor_kwargs=dict(k=k))
    elif agent == "oracle":
        base["policy_kwargs"].update(features_extractor_class=OracleExtractor)
    return base


def learner_kwargs(config: TrainConfig) -> dict[str, Any]:
    """PPO / RecurrentPPO arguments for ``config`` (:func:`agent_learner_kwargs` under ``config.ppo``)."""
    return {**agent_learner_kwargs(config.agent, config.k), **config.ppo}


def algo_for(agent: str):
    """The SB3 class and policy name that train ``agent`` (dict observations: ``MultiInput*``)."""
    if agent == "lstm":
        from sb3_contrib import RecurrentPPO
        return RecurrentPPO, "MultiInputLstmPolicy"
    from stable_baselines3 import PPO
    return PPO, "MultiInputPolicy"


def train(config: TrainConfig, progress: Callable[[int], None] | None = None) -> tuple[BaseAlgorithm, float]:
    """Train ``config.agent``; returns the model and the wall-clock minutes it took."""
    th.set_num_threads(config.threads)
    venv, _ = make_venv(config)
    cls, policy = algo_for(config.agent)
    model = cls(policy, venv, seed=config.seed, device="cpu", verbose=0, **learner_kwargs(config))
    model.set_logger(quiet_logger())
    start = time.perf_counter()
    model.learn(total_timesteps=config.steps)
    minutes = (time.perf_counter() - start) / 60
    venv.close()
    return model, minutes


def load(path: str | Path, agent: str) -> BaseAlgorithm:
    """Load a trained agent (an SB3 zip: loading unpickles, so load only files you trust, e.g. assets/)."""
    cls, _ = algo_for(agent)
    return cls.load(str(path), device="cpu")


@dataclass
class EvalResult:
    """Success over ``episodes`` evaluation episodes and how the others failed."""

    episodes: int
    success: float
    wrong: float
    timeout: float
    all_named: float
    """Share of episodes in which every object was named during discovery."""
    success_when_target_named: float
    mean_length: float

    def as_dict(self) -> dict[str, float]:
        return {k: round(float(v), 4) for k, v in asdict(self).items()}


def act(model, obs, state, start, agent: str, deterministic: bool):
    """One action of a trained agent: the LSTM agent carries its recurrent state and episode-start flag.
    Returns ``(action, state, start)`` to pass back in on the next step."""
    if agent == "lstm":
        action, state = model.predict(obs, state=state, episode_start=start, deterministic=deterministic)
        return action, state, np.zeros(1, bool)
    action, _ = model.predict(obs, deterministic=deterministic)
    return action, state, start


def evaluate(model: BaseAlgorithm, agent: str, episodes: int = 200, n_objects: int = 3,
             split: str = "heldout_names", seed: int = 10_000, deterministic: bool = False,
             memory_size: int = 160) -> EvalResult:
    """Run ``episodes`` seeded episodes (seeds ``seed, seed + 1, ...``) and count outcomes.

    Actions are sampled from the policy (``deterministic=False``, as in training); argmax actions can dither
    in place until the time runs out. Sets torch to one thread: these nets are tiny, and on a shared 2-core
    CPU several threads spin against each other (60x slower measured here).
    """
    th.set_num_threads(1)
    config = TrainConfig(agent=agent, n_objects=n_objects, split=split, memory_size=memory_size)
    env = make_env(config)
    if agent != "oracle":
        env = DropKeys(env, ("target_appearance",))
    outcomes, all_named, hit_named, n_target_named, lengths = [], 0, 0, 0, []
    for e in range(episodes):
        obs, info = env.reset(seed=seed + e)
        state, start, done, steps = None, np.ones(1, bool), False, 0
        while not done:
            action, state, start = act(model, obs, state, start, agent, deterministic)
            obs, _, terminated, truncated, info = env.step(int(action))
            done, steps = terminated or truncated, steps + 1
        outcomes.append(info["outcome"])
        all_named += info["n_named"] == n_objects
        n_target_named += info["target_named"]
        hit_named += info["target_named"] and info["outcome"] == "correct"
        lengths.append(steps)
    env.close()
    count = lambda o: outcomes.count(o) / episodes  # noqa: E731
    return EvalResult(episodes, count("correct"), count("wrong"), count("timeout"), all_named / episodes,
                      hit_named / max(n_target_named, 1), float(np.mean(lengths)))


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description="Train one agent of the object-naming room and evaluate it.")
    p.add_argument("--agent", choices=AGENTS, default="dcem")
    p.add_argument("--steps", type=int, default=200_000)
    p.add_argument("--reward", choices=REWARDS, default="shaping")
    p.add_argument("--bonus", type=float, default=0.1)
    p.add_argument("--n-objects", type=int, default=3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--eval-episodes", type=int, default=100)
    p.add_argument("--out", type=Path, default=None, help="save the trained agent here (an SB3 zip)")
    args = p.parse_args(argv)
    config = TrainConfig(agent=args.agent, steps=args.steps, reward=args.reward, bonus=args.bonus,
                         n_objects=args.n_objects, seed=args.seed, threads=args.threads)
    model, minutes = train(config)
    if args.out is not None:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        model.save(str(args.out))
    result = {"agent": args.agent, "reward": args.reward, "steps": args.steps, "train_minutes": round(minutes, 2)}
    for split in ("heldout_names", "heldout"):
        result[f"success_{split}"] = evaluate(model, args.agent, args.eval_episodes, args.n_objects, split).success
    print(json.dumps(result))
    return result


if __name__ == "__main__":
    main()
