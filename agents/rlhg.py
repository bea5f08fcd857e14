"""RLHG: reward an agent for the *positive human gain* it brings (Gao et al., ICLR 2024), on SB3's PPO.

The procedure follows the authors' code (shared/research/human_gain_reward_metrics.md, section 1):

Stage I, the human primitive value (:func:`fit_primitive_value`)
    Roll out the frozen task-only agent pi_0 with the simulated people and fit V_phi(s), one head per human
    goal, to the human-goal return G_H by MSE: what the person achieves *without* a helpful agent.

Stage II, human enhancement (:class:`RLHGPPO`, initialised from pi_0)
    Per rollout, with G_H the discounted per-goal human-goal return from each state::

        g       = G_H - V_phi(s)                      # real human gain (may be negative)
        L_Delta = 1/2 E[ 1(g > 0) (g - Delta_w(s))^2 ] # gain head, fitted on positive-gain samples only
        A_H     = sum_goals (g - Delta_w(s))           # Delta_w(s) = |MLP(stop_grad(V_phi features))|
        A       = A_task + alpha * A_H                 # A_task: PPO's own GAE on the task reward

    A_H is 0 in robot-only episodes. A share beta of episodes has the person at the table (the world's
    ``human_probability``); the rest keep the agent's own skill. The observation's "person present" entry is
    the authors' task gate. The value head keeps learning the task return only, as in the paper.

``alpha`` and ``beta`` are read from ``settings`` (an :class:`RLHGSettings` or a callable returning one) at the
start of every rollout, so they can be changed while training runs (a notebook, the studio page, a file).

Differences from the paper, on purpose:

* G_H is a lambda-return bootstrapped from V_phi (``human_lambda``, 0.95 like PPO's GAE), to cut the variance the
  person's own randomness adds; ``human_lambda=1.0`` gives the authors' plain Monte-Carlo G_H - V_phi. (Not
  ablated in the final world: the one run with 1.0 was in an earlier version of the world, where 0.95 did not
  learn to help either.)
* Stage II raises pi_0's action noise to at least ``explore_log_std`` (a converged task-only agent barely
  explores, and the help has to be found before it can be reinforced).
* Plain (not dual-clip) PPO; an MLP over the state vector instead of the conv+LSTM "human embedding"; the human
  goals are CollabTable's per-cube progress.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn as nn
from stable_baselines3 import PPO
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecEnvWrapper

from agents.humans import HELD_OUT_HUMAN, TRAINING_HUMANS, make_human, training_humans
from agents.sb3_factory import quiet_logger
from worlds.collab import N_HUMAN_ITEMS, CollabTableEnv

GATE = 5          # observation index of "person present" (worlds.collab)


@dataclass
class RLHGSettings:
    """The two knobs of RLHG, editable while training runs.

    Attributes:
        alpha: weight of the human advantage A_H against the task advantage (the authors' demo uses 2).
        beta: share of episodes with the person at the table (the authors use 0.5).
    """

    alpha: float = 2.0
    beta: float = 0.5

    def checked(self) -> "RLHGSettings":
        if self.alpha < 0:
            raise ValueError(f"alpha {self.alpha!r} is negative; use 0 (task only) or more")
        if not 0.0 <= self.beta <= 1.0:
            raise ValueError(f"beta {self.beta!r} is not in [0, 1]")
        return self


@dataclass
class PPOConfig:
    """PPO settings shared by the task-only and the RLHG agent (small, CPU-friendly)."""

    n_envs: int = 8
    n_steps: int = 240               # two whole episodes per env: human returns need no bootstrap
    batch_size: int = 480
    n_epochs: int = 10
    learning_rate: float = 5e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    ent_coef: float = 0.0
    net_arch: tuple[int, ...] = (128, 128)

    def ppo_kwargs(self) -> dict[str, Any]:
        return dict(n_steps=self.n_steps, batch_size=self.batch_size, n_epochs=self.n_epochs,
                    learning_rate=self.learning_rate, gamma=self.gamma, gae_lambda=self.gae_lambda,
                    ent_coef=self.ent_coef, policy_kwargs={"net_arch": list(self.net_arch)})


# ------------------------------------------------------------------ environments
def make_vec_env(n_envs: int, humans: list | None, human_probability: float, seed: int) -> VecEnv:
    """``n_envs`` CollabTable worlds in one process, each with its own copies of the people."""
    def factory(i: int):
        def make():
            people = None if humans is None else [make_human(h.name) for h in humans]
            return CollabTableEnv(human=people, human_probability=human_probability)
        return make
    venv = DummyVecEnv([factory(i) for i in range(n_envs)])
    venv.seed(seed)
    return venv


class HumanRewardRecorder(VecEnvWrapper):
    """Keeps each step's per-goal human reward (``info["human_reward"]``) for the RLHG advantage step."""

    def __init__(self, venv: VecEnv):
        super().__init__(venv)
        self.rewards: list[np.ndarray] = []

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rew, dones, infos = self.venv.step_wait()
        self.rewards.append(np.stack([np.asarray(i.get("human_reward", np.zeros(N_HUMAN_ITEMS))) for i in infos]))
        return obs, rew, dones, infos


# ------------------------------------------------------------------ the human values
class HumanValues(nn.Module):
    """V_phi (the human primitive value, one head per goal) and Delta_w (the positive-gain head on V_phi's
    features, stop-gradient, output >= 0)."""

    def __init__(self, obs_size: int, n_goals: int = N_HUMAN_ITEMS, hidden: int = 128):
        super().__init__()
        self.trunk = nn.Sequential(nn.Linear(obs_size, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh())
        self.v_phi = nn.Linear(hidden, n_goals)
        self.delta = nn.Sequential(nn.Linear(hidden, 64), nn.Tanh(), nn.Linear(64, n_goals))

    def primitive(self, obs: torch.Tensor) -> torch.Tensor:
        return self.v_phi(self.trunk(obs))

    def gain_head(self, obs: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            feats = self.trunk(obs)
        return torch.abs(self.delta(feats))


def discounted_returns(rewards: np.ndarray, dones: np.ndarray, last_value: np.ndarray, gamma: float,
                       values: np.ndarray | None = None, lam: float = 1.0) -> np.ndarray:
    """Per-goal returns over a rollout: rewards (T, N, G); dones (T, N) after step t; bootstrap last_value.

    With ``values`` (T, N, G) and ``lam < 1`` these are lambda-returns that bootstrap from ``values`` (as GAE
    does); ``lam = 1`` is the plain discounted return whatever ``values`` holds.
    """
    out = np.zeros_like(rewards)
    running = last_value.copy()
    for t in reversed(range(rewards.shape[0])):
        keep = (1.0 - dones[t])[:, None]
        nxt = last_value if t == rewards.shape[0] - 1 else values[t + 1] if values is not None else running
        running = rewards[t] + gamma * keep * ((1.0 - lam) * nxt + lam * running) if values is not None else \
            rewards[t] + gamma * running * keep
        out[t] = running
    return out


def _fit(loss_fn: Callable[[np.ndarray], torch.Tensor], params, n: int, epochs: int, lr: float,
         batch: int = 1024, rng: np.random.Generator | None = None) -> float:
    opt = torch.optim.Adam(params, lr=lr)
    rng = rng or np.random.default_rng(0)
    loss = torch.tensor(0.0)
    for _ in range(epochs):
        order = rng.permutation(n)
        for k in range(0, n, batch):
            loss = loss_fn(order[k:k + batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return float(loss.detach())


def fit_primitive_value(task_only: PPO, humans: list | None = None, episodes_per_human: int = 64,
                        gamma: float = 0.99, epochs: int = 30, seed: int = 0) -> tuple[HumanValues, dict]:
    """Stage I: fit V_phi to the human-goal return of the frozen task-only agent with each person."""
    humans = humans or training_humans()
    obs_all, ret_all = [], []
    for h, human in enumerate(humans):
        venv = HumanRewardRecorder(make_vec_env(8, [human], 1.0, seed + 1000 * h))
        obs = venv.reset()
        for _ in range(max(1, episodes_per_human // 8)):
            ep_obs, dones = [], []
            venv.rewards.clear()
            done = np.zeros(8, bool)
            while not done.all():
                ep_obs.append(obs)
                action, _ = task_only.predict(obs, deterministic=False)
                obs, _, done, _ = venv.step(action)
                dones.append(done.astype(np.float64))
            rets = discounted_returns(np.stack(venv.rewards), np.stack(dones), np.zeros((8, N_HUMAN_ITEMS)), gamma)
            obs_all.append(np.concatenate(ep_obs))
            ret_all.append(rets.reshape(-1, N_HUMAN_ITEMS))
        venv.close()
    x = torch.as_tensor(np.concatenate(obs_all), dtype=torch.float32)
    y = torch.as_tensor(np.concatenate(ret_all), dtype=torch.float32)
    values = HumanValues(x.shape[1])
    params = list(values.trunk.parameters()) + list(values.v_phi.parameters())
    loss = _fit(lambda idx: 0.5 * ((values.primitive(x[idx]) - y[idx]) ** 2).mean(), params, len(x), epochs, 1e-3)
    return values, {"samples": len(x), "final_mse": 2 * loss, "mean_return_per_goal": float(y.mean())}


# ------------------------------------------------------------------ stage II
class RLHGPPO(PPO):
    """PPO whose advantages are ``A_task + alpha * A_H`` (see the module docstring).

    ``human_values`` holds a fitted V_phi (frozen here) and the gain head Delta_w (fitted here). ``settings``
    is an :class:`RLHGSettings` or a callable returning one, read at the start of every rollout.
    """

    def __init__(self, *args, human_values: HumanValues, settings: RLHGSettings | Callable[[], RLHGSettings],
                 gain_epochs: int = 4, human_lambda: float = 0.95, **kwargs):
        self.human_values = human_values
        self.settings = settings
        self.gain_epochs = gain_epochs
        self.human_lambda = human_lambda
        self.gain_log: list[dict] = []
        super().__init__(*args, **kwargs)

    def _setup_model(self) -> None:
        super()._setup_model()
        if not isinstance(self.env, HumanRewardRecorder):
            self.env = HumanRewardRecorder(self.env)
        self.human_values.requires_grad_(False)
        self.human_values.delta.requires_grad_(True)
        self._delta_opt = torch.optim.Adam(self.human_values.delta.parameters(), lr=1e-3)

    def current_settings(self) -> RLHGSettings:
        s = self.settings() if callable(self.settings) else self.settings
        return s.checked()

    def collect_rollouts(self, env, callback, rollout_buffer, n_rollout_steps) -> bool:
        settings = self.current_settings()
        env.env_method("set_human_probability", settings.beta)
        env.rewards.clear()
        ok = super().collect_rollouts(env, callback, rollout_buffer, n_rollout_steps)
        if ok:
            self._add_human_advantage(rollout_buffer, settings)
        return ok

    def _add_human_advantage(self, buf, settings: RLHGSettings) -> None:
        obs = torch.as_tensor(buf.observations, dtype=torch.float32)           # (T, N, obs)
        T, N = buf.advantages.shape
        rewards = np.stack(self.env.rewards[-T:])                               # (T, N, G)
        dones = np.concatenate([buf.episode_starts[1:], self._last_episode_starts[None]]).astype(np.float64)
        with torch.no_grad():
            last = self.human_values.primitive(torch.as_tensor(self._last_obs, dtype=torch.float32)).numpy()
            v_phi = self.human_values.primitive(obs).numpy()
        g_h = discounted_returns(rewards, dones, last, self.gamma, v_phi, self.human_lambda)
        present = (buf.observations[..., GATE] > 0.5)[..., None]               # the task gate
        gain = (g_h - v_phi) * present                                          # g, zero when robot-only
        flat_obs = obs.reshape(T * N, -1)
        with torch.no_grad():
            delta = self.human_values.gain_head(flat_obs).numpy().reshape(T, N, -1)
        a_h = ((gain - delta) * present).sum(-1)                                # A_H = sum_goals (g - Delta)
        buf.advantages += settings.alpha * a_h.astype(np.float32)
        self._fit_gain_head(flat_obs, gain.reshape(T * N, -1), present.reshape(T * N, 1))
        pos = gain[np.broadcast_to(present, gain.shape)]
        self.gain_log.append({"step": self.num_timesteps, "alpha": settings.alpha, "beta": settings.beta,
                              "mean_gain": float(pos.mean()) if pos.size else 0.0,
                              "positive_share": float((pos > 0).mean()) if pos.size else 0.0,
                              "mean_a_h": float(a_h[present[..., 0]].mean()) if present.any() else 0.0})
        self.logger.record("rlhg/mean_gain", self.gain_log[-1]["mean_gain"])
        self.logger.record("rlhg/alpha", settings.alpha)
        self.logger.record("rlhg/beta", settings.beta)

    def _fit_gain_head(self, obs: torch.Tensor, gain: np.ndarray, present: np.ndarray) -> None:
        """L_Delta = 1/2 E[1(g > 0) (g - Delta(s))^2], on human-agent steps only."""
        g = torch.as_tensor(gain, dtype=torch.float32)
        mask = torch.as_tensor((gain > 0) & (present > 0), dtype=torch.float32)
        if mask.sum() == 0:
            return
        for _ in range(self.gain_epochs):
            for idx in torch.randperm(len(obs)).split(1024):
                loss = 0.5 * (mask[idx] * (g[idx] - self.human_values.gain_head(obs[idx])) ** 2).sum() / \
                    mask[idx].sum().clamp(min=1.0)
                self._delta_opt.zero_grad()
                loss.backward()
                self._delta_opt.step()


# ------------------------------------------------------------------ recipes
def train_task_only(steps: int, config: PPOConfig | None = None, seed: int = 0, humans: list | None = None,
                    human_probability: float = 0.5, verbose: int = 0) -> PPO:
    """pi_0: PPO on the task reward alone (people present in half the episodes, so it has seen them)."""
    config = config or PPOConfig()
    humans = training_humans() if humans is None else humans
    venv = make_vec_env(config.n_envs, humans, human_probability, seed)
    model = PPO("MlpPolicy", venv, seed=seed, verbose=verbose, device="cpu", **config.ppo_kwargs())
    model.set_logger(quiet_logger(verbose))
    model.learn(steps)
    return model


def train_rlhg(task_only: PPO, steps: int, settings: RLHGSettings | Callable[[], RLHGSettings] | None = None,
               config: PPOConfig | None = None, seed: int = 0, human_values: HumanValues | None = None,
               stage1_episodes: int = 64, verbose: int = 0, callback=None, human_lambda: float = 0.95,
               explore_log_std: float | None = -0.5) -> RLHGPPO:
    """Stage I (unless ``human_values`` is given) then Stage II from pi_0's weights.

    ``explore_log_std`` raises pi_0's action noise to at least that log standard deviation before Stage II (a
    converged task-only agent barely explores, and the help RLHG rewards has to be found first).
    """
    config = config or PPOConfig()
    settings = settings or RLHGSettings()
    if human_values is None:
        human_values, _ = fit_primitive_value(task_only, episodes_per_human=stage1_episodes, gamma=config.gamma,
                                              seed=seed + 7)
    beta = (settings() if callable(settings) else settings).beta
    venv = make_vec_env(config.n_envs, training_humans(), beta, seed + 1)
    model = RLHGPPO("MlpPolicy", venv, human_values=human_values, settings=settings, seed=seed, verbose=verbose,
                    device="cpu", human_lambda=human_lambda, **config.ppo_kwargs())
    model.set_logger(quiet_logger(verbose))
    model.policy.load_state_dict(task_only.policy.state_dict())
    if explore_log_std is not None:
        with torch.no_grad():
            model.policy.log_std.clamp_(min=explore_log_std)
    model.learn(steps, callback=callback)
    return model


# ------------------------------------------------------------------ evaluation
@dataclass
class EvalResult:
    """One agent with one person over some episodes (means)."""

    human: str
    episodes: int
    human_goals_done: float        # fraction of the person's red cubes at their station at the end
    human_progress: float          # mean final per-goal progress in [0, 1]
    task_return: float             # the agent's own (task) return
    task_success: float            # share of episodes with all blue cylinders in the bin
    handovers: float               # per episode
    per_episode_goals: list[float] = field(default_factory=list)
    per_episode_returns: list[float] = field(default_factory=list)


def evaluate(policy, human: str | None, episodes: int = 20, seed: int = 10_000, deterministic: bool = True,
             on_step: Callable[[CollabTableEnv, dict], None] | None = None) -> EvalResult:
    """Run ``policy`` (anything with ``predict``) beside a simulated person (None: nobody) on fixed seeds."""
    env = CollabTableEnv(human=None if human is None else make_human(human), human_probability=1.0)
    goals, progress, returns, success, handovers = [], [], [], [], []
    for ep in range(episodes):
        obs, info = env.reset(seed=seed + ep)
        ret, done = 0.0, False
        while not done:
            action, _ = policy.predict(obs, deterministic=deterministic)
            obs, reward, term, trunc, info = env.step(action)
            ret += reward
            done = term or trunc
            if on_step is not None:
                on_step(env, info)
        goals.append(info["human_goals_done"] / N_HUMAN_ITEMS)
        progress.append(float(np.mean(info["human_progress"])))
        returns.append(ret)
        success.append(float(info["is_success"]))
        handovers.append(info["events"]["handovers"])
    env.close()
    return EvalResult(human or "nobody", episodes, float(np.mean(goals)), float(np.mean(progress)),
                      float(np.mean(returns)), float(np.mean(success)), float(np.mean(handovers)), goals, returns)


ASSETS = Path(__file__).parents[1] / "assets"
TASK_ONLY_PATH = ASSETS / "collab_task_only.zip"
RLHG_PATH = ASSETS / "collab_rlhg.zip"


def load_agent(path: str | Path) -> PPO:
    """Load a shipped CollabTable agent (an SB3 zip: this unpickles, so load only the project's own files)."""
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"no agent at {path}; train one with `python -m bench.human_gain --train`")
    return PPO.load(path, device="cpu")


__all__ = ["RLHGSettings", "PPOConfig", "RLHGPPO", "HumanValues", "HumanRewardRecorder", "fit_primitive_value",
           "train_task_only", "train_rlhg", "evaluate", "EvalResult", "load_agent", "TASK_ONLY_PATH", "RLHG_PATH",
           "TRAINING_HUMANS", "HELD_OUT_HUMAN", "discounted_returns"]
