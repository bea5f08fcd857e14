"""Learning that counts: PPO on ``push`` rewarded by one CLIP prompt and nothing else, judged by ground truth.

``python -m bench.clip_push [--quick] [--minutes M]`` trains two agents with the same PPO settings, each for
the same wall-clock budget on the CPU:

* ``clip``: the reward is the studio CLIP's VLM-RM reward for the goal prompt "the red cube is on the blue
  pad" against the baseline "the red cube is far from the blue pad" (alpha 1), from the 64 px ``workspace``
  camera; the world's own terms are not seen by the agent.
* ``reference``: the world's dense reference reward (reach + push + success terms), for the same number of
  environment steps as the CLIP agent got (it is faster per step, so a wall-clock budget would favour it).

Colours are fixed (red cube, blue pad) so one prompt describes every episode; positions are random. Both are
judged by the world's ground-truth ``is_success`` at the end of each training episode (the learning curve)
and over 50 evaluation episodes of the final deterministic policy. Writes ``bench/results/clip_push.json``
and a learning-curve plot ``bench/results/clip_push.png``.
Headline keys: ``success_rate``, ``env_steps``, ``wall_minutes``, ``device`` and ``reference``.
"""

from __future__ import annotations

import time

from worlds import gl  # noqa: F401

import numpy as np
import torch
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecMonitor, VecNormalize

import worlds
from agents.rewards import ClipTerm, RewardFrameWrapper, RewardStack, VecRewardStack
from agents.vlm.embedder import default_embedder
from bench.common import RESULTS, finish, parser

GOAL = "the red cube is on the blue pad"
BASELINE = "the red cube is far from the blue pad"
ALPHA = 1.0
WORLD = dict(colors=["red"], shapes=["cube"], pad_colors=["blue"], camera="workspace", render_profile="reward")


class Budget(BaseCallback):
    """Stops training after ``seconds`` of wall time or ``max_steps`` environment steps; records ground-truth
    success at every episode end."""

    def __init__(self, seconds: float, max_steps: int | None = None):
        super().__init__()
        self.seconds = seconds
        self.max_steps = max_steps
        self.curve: list[tuple[int, float, float]] = []     # (timesteps, minutes, success of finished episode)

    def _on_training_start(self) -> None:
        self.start = time.time()

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done:
                self.curve.append((self.num_timesteps, (time.time() - self.start) / 60, float(info["is_success"])))
        if self.max_steps is not None and self.num_timesteps >= self.max_steps:
            return False
        return time.time() - self.start < self.seconds


def make_venv(reward: str, n_envs: int, seed: int):
    def thunk(i):
        def make():
            env = worlds.make("studio/Push-v0", render_mode=None, **WORLD)
            env.reset(seed=seed + i)
            return RewardFrameWrapper(env) if reward == "clip" else env
        return make

    venv = DummyVecEnv([thunk(i) for i in range(n_envs)])
    if reward == "clip":
        embedder = default_embedder(device="cpu")
        term = ClipTerm([GOAL], [BASELINE], embedder=embedder, alpha=ALPHA)
        venv = VecRewardStack(venv, RewardStack([term], embedder=embedder))
    venv = VecMonitor(venv)
    return VecNormalize(venv, norm_obs=True, norm_reward=True, gamma=0.98)


def evaluate(model, venv: VecNormalize, episodes: int, seed: int) -> float:
    """Ground-truth success rate of the deterministic policy on fresh seeds (observations normalised as in
    training, statistics frozen)."""
    env = worlds.make("studio/Push-v0", render_mode=None, **WORLD)
    wins = 0
    for k in range(episodes):
        obs, _ = env.reset(seed=seed + 10_000 + k)
        done = False
        while not done:
            action, _ = model.predict(venv.normalize_obs(obs[None]), deterministic=True)
            obs, _, term, trunc, info = env.step(action[0])
            done = term or trunc
        wins += info["is_success"]
    env.close()
    return wins / episodes


def train(reward: str, minutes: float, seed: int, eval_episodes: int, max_steps: int | None = None) -> dict:
    torch.manual_seed(seed)
    venv = make_venv(reward, n_envs=8, seed=seed)
    model = PPO("MlpPolicy", venv, n_steps=256, batch_size=512, n_epochs=10, gamma=0.98, gae_lambda=0.95,
                learning_rate=3e-4, clip_range=0.2, ent_coef=0.0, policy_kwargs=dict(net_arch=[256, 256]),
                seed=seed, device="cpu", verbose=0)
    budget = Budget(minutes * 60, max_steps)
    start = time.time()
    model.learn(total_timesteps=10**9, callback=budget)
    wall = (time.time() - start) / 60
    venv.training = False
    success = evaluate(model, venv, eval_episodes, seed)
    curve = np.array(budget.curve) if budget.curve else np.zeros((0, 3))
    last = curve[-200:, 2].mean() if len(curve) else 0.0
    venv.close()
    return {"success_rate": round(float(success), 3), "env_steps": int(model.num_timesteps),
            "wall_minutes": round(wall, 1), "steps_per_s": round(model.num_timesteps / (wall * 60), 1),
            "train_success_last_200_episodes": round(float(last), 3), "device": "cpu (2 cores)",
            "curve": curve.round(4).tolist()}


def plot(results: dict, path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4))
    for name, res in results.items():
        curve = np.array(res["curve"])
        if len(curve) == 0:
            continue
        k = max(1, min(100, len(curve) // 10))
        smooth = np.convolve(curve[:, 2], np.ones(k) / k, mode="valid")
        ax.plot(curve[k - 1:, 0], smooth, label=f"{name} (eval {res['success_rate']:.0%})")
    ax.set_xlabel("environment steps")
    ax.set_ylabel(f"ground-truth success (training episodes, moving mean)")
    ax.set_title("PPO on push: one CLIP prompt vs the dense reference reward")
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget per agent")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)
    torch.set_num_threads(1)        # env stepping, rendering and PPO share 2 cores; see bench/reward.py
    minutes = 0.3 if args.quick else args.minutes
    episodes = 5 if args.quick else 50
    clip = train("clip", minutes, args.seed, episodes)
    # The reference runs faster (no rendering or CLIP), so give it the same number of environment steps the
    # CLIP agent got (capped by the same wall-clock budget): the comparison is per step.
    reference = train("reference", minutes, args.seed, episodes, max_steps=clip["env_steps"])
    results = {"clip": clip, "reference": reference}
    if not args.quick:
        plot(results, RESULTS / "clip_push.png")
    headline = {k: clip[k] for k in ("success_rate", "env_steps", "wall_minutes", "device")}
    headline["reference"] = {k: reference[k] for k in ("success_rate", "env_steps", "wall_minutes", "device")}
    headline.update(prompt=GOAL, baseline=BASELINE, alpha=ALPHA, quick=args.quick)
    finish("clip_push", results, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
