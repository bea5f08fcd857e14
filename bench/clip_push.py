"""Learning that counts: SAC on ``push`` rewarded by one CLIP prompt and nothing else, judged by ground truth.

``python -m bench.clip_push [--quick] [--minutes M] [--algo sac|ppo] [--parallel] [--save] [--checkpoint PT]
[--prompt task|whole] [--reach-weight W] [--demos N] [--demo-share S] [--reference dense|zero]
[--curriculum] [--reference-alone]`` trains two agents
with the same settings, each for the same wall-clock budget on the CPU:

* ``clip``: the reward is the studio CLIP's VLM-RM reward for the goal prompt "the red cube is on the blue
  pad" against the baseline "the red cube is far from the blue pad" (alpha 1), from the 96 px ``workspace``
  camera; the world's own terms are not seen by the agent. ``--prompt whole`` says the same goal whole, with
  where the gripper is: "the red cube is on the blue pad and the gripper is at the red cube" against "the red
  cube is far from the blue pad and the gripper is far from the red cube" (still one goal and one baseline
  sentence and nothing else; a studio CLIP trained with ``train_domain_clip --gripper`` reads the clause).
  The reward is standardised (its mean and standard deviation over the first ``WARMUP`` steps, random
  actions, then frozen): an affine map of the CLIP reward alone, which SAC needs because the raw VLM-RM
  reward varies by ~0.02 around a constant near 1.
* ``reference``: the world's dense reference reward (reach + push + success terms), for the same number of
  environment steps as the CLIP agent got (it is faster per step, so a wall-clock budget would favour it).

SAC is the default. PPO (``--algo ppo``) needs far more steps on push than a rendered reward gets in 30 minutes:
with the dense reward at full speed (``--reference-alone``, 3.05M steps in 30 minutes) its training success
(100-episode moving mean) peaked at 60% at 1.54M steps and fell to 11% by 3M, while SAC with the dense reward
succeeds within ~100k steps.

``--demos N`` starts both agents from N scripted pushes (:mod:`agents.demos`), played through each agent's own
reward before it learns: the CLIP agent's are paid what it is paid (the prompt's reward, plus the reach term with
``--reach-weight``). SAC keeps them in a buffer of their own and draws ``--demo-share`` (0.5) of every batch from
them, put through the standardisation frozen after the warm-up when they are drawn. PPO (``--algo ppo``) keeps no
buffer: it starts cloned from them, the policy by behaviour cloning and the value head fitted to the returns they
were paid (:func:`clone_demos`), and the cloned policy is judged on the evaluation scenes before any RL
(``demos.cloned``): the control for what the reward adds. Demonstration steps are not counted in ``env_steps``,
nor their playing (and PPO's cloning) time (``demos.minutes``: 0.24 for 50 in the recorded SAC run) in
``wall_minutes``. The training episodes' scenes then continue the env's random stream after the demonstrations'
(seeded, so a run repeats; they are not the scenes a run without demonstrations sees).
``--reference zero`` pays the second agent nothing at all instead of the dense reward: with ``--demos`` that is
the control for what the demonstrations do on their own.

``--curriculum`` teaches both agents with :class:`agents.curriculum.Curriculum` from scratch: the pad starts
7-10 cm from the cube (a push of 1-4 cm succeeds) and moves farther lesson by lesson (``PUSH_LESSONS``) each time
the last 100 training episodes of a lesson succeed 70% of the time, up to the world's own draw (12 cm and more),
on which both are judged as always. The reward is unchanged: only where episodes start. ``curriculum`` in each
agent's details says which lesson it reached and from which step; the headline's ``curriculum.lesson_reached``
is a 0-based index into ``PUSH_LESSONS`` (0: the first lesson never passed).

``--reference-alone`` trains only the second agent, for the whole wall-clock budget on one core and not held to
a CLIP agent's steps: what the algorithm can do with the dense reward at full speed, with no rendering. It bounds
what any reward can do at the CLIP agent's speed (``--algo ppo --reference-alone``: PPO needs far more steps than a
rendered reward gets in 30 minutes). Its headline has ``reference`` and no CLIP keys.

Colours are fixed (red cube, blue pad) so one prompt describes every episode; positions are random. Both are
judged by the world's ground-truth ``is_success`` at the end of each training episode (the learning curve)
and over 50 evaluation episodes of the final deterministic policy. Writes ``bench/results/clip_push.json``
and a learning-curve plot ``bench/results/clip_push.png``. The evaluation also records where things end up
(``cube_moved_cm``, ``final_gripper_to_pad_cm``, ``final_cube_to_pad_cm``), and ``--save`` keeps both trained
agents and films three evaluation episodes of each (:mod:`bench.clip_push_probe` reads the CLIP agent back).
Headline keys: ``success_rate``, ``env_steps``, ``wall_minutes``, ``device``, the three distances,
``reference``, and what ran (``algo``, ``prompt``, ``baseline``, ``alpha``, ``checkpoint``,
``checkpoint_training_seed``: the ``--seed`` its sidecar records, which names the training run, and
``reach_weight``), ``reference.reward`` (``dense`` or ``zero``) and ``demos`` (``null``, or what was shown:
``episodes``, ``steps``, their ``success_rate``, ``demo_share``, ``minutes``).

Two options are for diagnosis, not for the target: ``--checkpoint`` scores with another studio CLIP (a
candidate, before shipping it), and ``--reach-weight W`` adds the world's reach term (gripper to cube, in
[0, 1]) to the CLIP reward with weight ``W``, which asks whether the prompt's reward is enough once an agent is
led to the cube. With ``--out x.json`` the plot (``x.png``) and ``--save``'s files (``x_clip_policy.zip``,
``x_clip.mp4``, ...) go beside that JSON, so a trial leaves the figures of record alone.
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

from worlds import gl  # noqa: F401

import numpy as np
import torch
from stable_baselines3 import PPO, SAC
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnvWrapper, VecMonitor, VecNormalize

import worlds
from agents.curriculum import Curriculum
from agents.demos import DEMO_SHARE, normalised_by, play_demos, pretrain_on_policy, sac_demo_kwargs
from agents.rewards import ClipTerm, RewardFrameWrapper, RewardStack, VecRewardStack, WorldTerm
from agents.scripted import ScriptedController
from agents.sb3_factory import quiet_logger
from agents.vlm.embedder import STUDIO_CHECKPOINT, default_embedder, studio_embedder
from bench.common import PUSH_PROMPTS, RESULTS, finish, parser

GOAL, BASELINE = PUSH_PROMPTS["task"]
ALPHA = 1.0
WORLD = dict(colors=["red"], shapes=["cube"], pad_colors=["blue"], camera="workspace", render_profile="reward")
WARMUP = 5000          # SAC's random-action steps; the reward standardisation is measured over them
SAC_SETTINGS = dict(learning_rate=1e-3, buffer_size=1_000_000, learning_starts=WARMUP, batch_size=256, tau=0.01,
                    gamma=0.95, train_freq=1, gradient_steps=2, policy_kwargs=dict(net_arch=[256, 256]))
SAC_ENVS = 4           # 4 env steps per gradient-step pair: 0.5 updates per env step
PPO_SETTINGS = dict(n_steps=256, batch_size=512, n_epochs=10, gamma=0.98, gae_lambda=0.95, learning_rate=3e-4,
                    clip_range=0.2, ent_coef=0.0, policy_kwargs=dict(net_arch=[256, 256]))
PPO_ENVS = 8
# Pad 0's distance from the cube, lesson by lesson (m); None: the world's own draw, on which agents are judged.
PUSH_LESSONS = [{"pad_distance": [0.07, 0.10]}, {"pad_distance": [0.07, 0.13]}, {"pad_distance": [0.07, 0.17]},
                {"pad_distance": [0.08, 0.22]}, {"pad_distance": [0.10, 0.30]}, {"pad_distance": None}]
PROMOTE_AT, PROMOTE_WINDOW = 0.7, 100
HEADLINE_KEYS = ("success_rate", "env_steps", "wall_minutes", "device", "cube_moved_cm", "final_gripper_to_pad_cm",
                 "final_cube_to_pad_cm")


class VecStandardizeReward(VecEnvWrapper):
    """Rewards standardised by the mean and standard deviation of the first ``warmup`` steps' rewards, then
    frozen (so the replay buffer's rewards keep one scale). During the warm-up the running statistics are used.
    """

    def __init__(self, venv, warmup: int):
        super().__init__(venv)
        self.warmup, self.seen = warmup, []
        self.mean, self.std = 0.0, 1.0

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        if sum(map(len, self.seen)) < self.warmup:
            self.seen.append(np.asarray(rewards, np.float64))
            every = np.concatenate(self.seen)
            self.mean, self.std = float(every.mean()), float(every.std()) if len(every) > 1 else 1.0
        return obs, self.standardize(rewards).astype(np.float32), dones, infos

    def standardize(self, rewards):
        """The affine map of the moment (frozen after the warm-up); works on arrays and tensors alike."""
        return (rewards - self.mean) / max(self.std, 1e-8)


class VecZeroReward(VecEnvWrapper):
    """Every reward zero: the control for demonstrations (what a learner takes from them with nothing to prefer
    them by)."""

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        return obs, np.zeros_like(rewards, dtype=np.float32), dones, infos


class Budget(BaseCallback):
    """Stops training after ``seconds`` of wall time or ``max_steps`` environment steps; records ground-truth
    success at every episode end.

    For two runs side by side (``--parallel``): the leader publishes its step count in ``report``; a follower
    given ``follow`` (that count) and ``leader_done`` waits whenever it is ahead, and stops at the leader's
    final count, so both end with the same number of environment steps."""

    def __init__(self, seconds: float, max_steps: int | None = None, report=None, follow=None, leader_done=None):
        super().__init__()
        self.seconds = seconds
        self.max_steps = max_steps
        self.report, self.follow, self.leader_done = report, follow, leader_done
        self.curve: list[tuple[int, float, float]] = []     # (timesteps, minutes, success of finished episode)
        self.waited = 0.0

    def _on_training_start(self) -> None:
        self.start = time.time()

    def _on_step(self) -> bool:
        for info, done in zip(self.locals["infos"], self.locals["dones"]):
            if done:
                self.curve.append((self.num_timesteps, (time.time() - self.start) / 60, float(info["is_success"])))
        if self.report is not None:
            self.report.value = self.num_timesteps
        if self.follow is not None:
            while self.num_timesteps >= self.follow.value and not self.leader_done.is_set():
                t = time.time()
                time.sleep(0.05)
                self.waited += time.time() - t
            if self.leader_done.is_set() and self.num_timesteps >= self.follow.value:
                return False
            return True
        if self.max_steps is not None and self.num_timesteps >= self.max_steps:
            return False
        return time.time() - self.start < self.seconds


def make_venv(reward: str, algo: str, n_envs: int, seed: int, checkpoint: Path | None = None,
              reach_weight: float = 0.0, prompt: tuple[str, str] = (GOAL, BASELINE)):
    def thunk(i):
        def make():
            env = worlds.make("studio/Push-v0", render_mode=None, **WORLD)
            env.reset(seed=seed + i)
            return RewardFrameWrapper(env) if reward == "clip" else env
        return make

    venv = DummyVecEnv([thunk(i) for i in range(n_envs)])
    if reward == "clip":
        embedder = default_embedder(device="cpu") if checkpoint is None else studio_embedder(checkpoint, "cpu")
        term = ClipTerm([prompt[0]], [prompt[1]], embedder=embedder, alpha=ALPHA)
        extra = [(WorldTerm("reach"), reach_weight)] if reach_weight else []
        venv = VecRewardStack(venv, RewardStack([term, *extra], embedder=embedder))
    elif reward == "zero":
        venv = VecZeroReward(venv)
    venv = VecMonitor(venv)
    if algo == "ppo":
        return VecNormalize(venv, norm_obs=True, norm_reward=True, gamma=0.98)
    # SAC: the dense reward is used as the world gives it (SAC solved push with it unscaled); the CLIP
    # reward is standardised (see the module docstring).
    return VecStandardizeReward(venv, WARMUP) if reward == "clip" else venv


def play(env, model, seed: int, render: bool = False, normalize=lambda o: o):
    """One episode of ``model``'s deterministic policy from ``env.reset(seed=seed)``: returns the frames (the
    first and one after each step, when ``render``), the last ``info`` and the cube's starting x-y."""
    obs, _ = env.reset(seed=seed)
    start = env.unwrapped.object_position(0)[:2]
    frames, done = [env.render()] if render else [], False
    while not done:
        action, _ = model.predict(normalize(obs[None]), deterministic=True)
        obs, _, term, trunc, info = env.step(action[0])
        done = term or trunc
        if render:
            frames.append(env.render())
    return frames, info, start


def evaluate(model, venv, episodes: int, seed: int, film=None) -> dict:
    """Ground-truth success rate of the deterministic policy on fresh seeds (observations normalised as in
    training when a VecNormalize did so, statistics frozen), and where things end up: how far the cube moved,
    and the gripper's and the cube's final x-y distance to the pad (a policy that parks the gripper over the
    pad without touching the cube shows here). With ``film`` (a path without suffix), the first three
    episodes are filmed from the agent's camera at 192 px: ``film``.mp4 and a contact sheet ``film``.png."""
    normalize = venv.normalize_obs if isinstance(venv, VecNormalize) else (lambda o: o)
    env = worlds.make("studio/Push-v0", render_mode="rgb_array" if film else None,
                      **{**WORLD, **({"width": 192, "height": 192} if film else {})})
    wins, moved, tcp_pad, cube_pad, frames = 0, [], [], [], []
    for k in range(episodes):
        shots, info, start = play(env, model, seed + 10_000 + k, render=bool(film) and k < 3, normalize=normalize)
        u = env.unwrapped
        pad = u.pad_position(0)[:2]
        moved.append(np.linalg.norm(u.object_position(0)[:2] - start))
        tcp_pad.append(np.linalg.norm(u.tcp_position()[:2] - pad))
        cube_pad.append(np.linalg.norm(u.object_position(0)[:2] - pad))
        wins += info["is_success"]
        frames.append(shots)
    env.close()
    if film:
        _film(frames[:3], film)
    cm = lambda xs: round(100 * float(np.mean(xs)), 1)      # noqa: E731
    return {"success_rate": round(wins / episodes, 3), "cube_moved_cm": cm(moved),
            "final_gripper_to_pad_cm": cm(tcp_pad), "final_cube_to_pad_cm": cm(cube_pad)}


def _film(episodes: list[list[np.ndarray]], path) -> None:
    """An mp4 of the episodes one after another and a PNG with 8 evenly spaced frames of each (one row each)."""
    import imageio.v2 as imageio

    episodes = [e for e in episodes if e]
    if not episodes:
        return
    imageio.mimsave(f"{path}.mp4", [f for e in episodes for f in e], fps=25)
    rows = [np.concatenate([e[i] for i in np.linspace(0, len(e) - 1, 8).astype(int)], axis=1) for e in episodes]
    imageio.imwrite(f"{path}.png", np.concatenate(rows, axis=0))


def train(reward: str, minutes: float, seed: int, eval_episodes: int, max_steps: int | None = None,
          algo: str = "sac", report=None, follow=None, leader_done=None, save=None,
          checkpoint: Path | None = None, reach_weight: float = 0.0,
          prompt: tuple[str, str] = (GOAL, BASELINE), demos: int = 0, demo_share: float = DEMO_SHARE,
          curriculum: bool = False) -> dict:
    torch.manual_seed(seed)
    shown = None
    if algo == "sac":
        venv = make_venv(reward, algo, SAC_ENVS, seed, checkpoint, reach_weight, prompt)
        settings = sac_demo_kwargs(SAC_SETTINGS, demo_share) if demos else SAC_SETTINGS
        # a deep copy: SB3 writes into policy_kwargs (use_sde), which would change the module's settings
        model = SAC("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **copy.deepcopy(settings))
        if demos:
            shown = show_demos(model, venv, demos)
    else:
        venv = make_venv(reward, algo, PPO_ENVS, seed, checkpoint, reach_weight, prompt)
        model = PPO("MlpPolicy", venv, seed=seed, device="cpu", verbose=0, **copy.deepcopy(PPO_SETTINGS))
        if demos:
            shown = clone_demos(model, venv, demos, eval_episodes, seed)
    model.set_logger(quiet_logger())
    budget = Budget(minutes * 60, max_steps, report, follow, leader_done)
    teacher = Curriculum(PUSH_LESSONS, PROMOTE_AT, PROMOTE_WINDOW) if curriculum else None
    start = time.time()
    model.learn(total_timesteps=10**9, callback=[budget, teacher] if teacher else budget)
    wall = (time.time() - start) / 60
    venv.training = False
    film = Path(f"{save}_{reward}") if save else None
    if save:        # the trained policy, for a look afterwards (SB3's own zip format; written by this bench)
        film.parent.mkdir(parents=True, exist_ok=True)
        model.save(f"{save}_{reward}_policy.zip")
    final = evaluate(model, venv, eval_episodes, seed, film=film)
    curve = np.array(budget.curve) if budget.curve else np.zeros((0, 3))
    last = curve[-200:, 2].mean() if len(curve) else 0.0
    scale = {"mean": round(venv.mean, 5), "std": round(venv.std, 5)} if isinstance(venv, VecStandardizeReward) else None
    venv.close()
    return {"reward_standardisation": scale, **final, "demos": shown,
            "curriculum": teacher.summary() if teacher else None,
            "env_steps": int(model.num_timesteps),
            "wall_minutes": round(wall, 1), "steps_per_s": round(model.num_timesteps / (wall * 60), 1),
            "minutes_waiting_for_the_other_run": round(budget.waited / 60, 1),
            "train_success_last_200_episodes": round(float(last), 3), "device": "cpu (2 cores)",
            "curve": curve.round(4).tolist()}


def show_demos(model, venv, episodes: int) -> dict:
    """Play ``episodes`` scripted pushes through the training env's reward (below the standardiser, whose
    statistics the warm-up's random steps set, as without demonstrations) into ``model``'s demonstration buffer;
    their rewards get the standardiser's map when they are sampled. Returns what was shown."""
    start = time.time()
    standardizer = venv if isinstance(venv, VecStandardizeReward) else None
    played = play_demos(standardizer.venv if standardizer else venv, ScriptedController, episodes)
    model.replay_buffer.add_demos(played)
    if standardizer is not None:
        model.replay_buffer.reward_transform = standardizer.standardize
    return _shown(played, start, model.replay_buffer.demo_share)


def _shown(played, start: float, demo_share: float | None, **more) -> dict:
    """What a run was shown: the demonstrations' count, success and raw reward, and the minutes since ``start``."""
    return {"episodes": played.episodes, "steps": len(played),
            "success_rate": round(played.successes / played.episodes, 3), "demo_share": demo_share,
            "minutes": round((time.time() - start) / 60, 2), "raw_reward_mean": round(float(played.rewards.mean()), 5),
            **more}


def clone_demos(model, venv, episodes: int, eval_episodes: int, seed: int) -> dict:
    """PPO's start from ``episodes`` scripted pushes (:func:`agents.demos.pretrain_on_policy`): played below the
    ``VecNormalize`` (raw observations and the agent's own reward), put on its scale, cloned into the policy and
    its value head. The cloned policy is judged on the evaluation's own scenes before any RL: the control for
    what the reward then adds. Returns what was shown."""
    start = time.time()
    played = play_demos(venv.venv, ScriptedController, episodes)
    losses = pretrain_on_policy(model, normalised_by(venv, played))
    cloned = evaluate(model, venv, eval_episodes, seed)
    return _shown(played, start, None, cloned={"success_rate": cloned["success_rate"],
                                               "cube_moved_cm": cloned["cube_moved_cm"],
                                               "final_cube_to_pad_cm": cloned["final_cube_to_pad_cm"], **losses})


def plot(results: dict, path, algo: str, reference: str = "dense") -> None:
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
        label = "zero reward (control)" if name == "reference" and reference == "zero" else name
        line, = ax.plot(curve[k - 1:, 0], smooth, label=f"{label} (eval {res['success_rate']:.0%})")
        taught = res.get("curriculum") or {}
        for lesson, steps in taught.get("began_at_steps", {}).items():      # where each lesson began
            if lesson != "0":
                ax.axvline(steps, color=line.get_color(), ls=":", lw=1)
                ax.text(steps, 1.0, f" {lesson}", color=line.get_color(), fontsize=7, va="top")
    ax.set_xlabel("environment steps")
    ax.set_ylabel("ground-truth success\n(training episodes, moving mean)")
    shown = results.get("clip", {}).get("demos")
    against = "a zero reward" if reference == "zero" else "the dense reference reward"
    taught = results.get("clip", {}).get("curriculum")
    if "clip" not in results:
        ax.set_title(f"{algo.upper()} on push: the dense reference reward alone, at full speed")
    else:
        ax.set_title(f"{algo.upper()} on push: one CLIP prompt vs {against}"
                     + (f"\n(both from {shown['episodes']} scripted demonstrations)" if shown else "")
                     + (f"\n(both taught lesson by lesson; dotted: where lesson n began)" if taught else ""))
    ax.set_ylim(-0.02, 1.02)
    ax.legend()
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _reference_process(queue, reward, minutes, seed, episodes, algo, follow, leader_done, save, demos,
                       demo_share, curriculum) -> None:
    torch.set_num_threads(1)
    queue.put(train(reward, minutes, seed, episodes, algo=algo, follow=follow, leader_done=leader_done,
                    save=save, demos=demos, demo_share=demo_share, curriculum=curriculum))


def _side_by_side(minutes: float, seed: int, episodes: int, algo: str, save, checkpoint=None,
                  reach_weight: float = 0.0, prompt: tuple[str, str] = (GOAL, BASELINE), reference: str = "reference",
                  demos: int = 0, demo_share: float = DEMO_SHARE, curriculum: bool = False) -> tuple[dict, dict]:
    """The CLIP run here and the reference (``reference``: "reference" for the dense reward, "zero") in a spawned
    process, in step (see :class:`Budget`)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    steps, leader_done, queue = ctx.Value("q", 0), ctx.Event(), ctx.Queue()
    follower = ctx.Process(target=_reference_process,
                           args=(queue, reference, minutes, seed, episodes, algo, steps, leader_done, save, demos,
                                 demo_share, curriculum), daemon=True)
    follower.start()
    try:
        clip = train("clip", minutes, seed, episodes, algo=algo, report=steps, save=save, checkpoint=checkpoint,
                     reach_weight=reach_weight, prompt=prompt, demos=demos, demo_share=demo_share,
                     curriculum=curriculum)
    finally:
        leader_done.set()
    reference = queue.get()
    follower.join()
    return clip, reference


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=30.0, help="wall-clock training budget per agent")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--algo", choices=("sac", "ppo"), default="sac")
    p.add_argument("--parallel", action="store_true",
                   help="run the reference in a second process at the same time (one core each); it waits "
                        "whenever it is ahead of the CLIP run, so both get the same environment steps")
    p.add_argument("--save", action="store_true",
                   help="keep both trained policies and film three evaluation episodes of each "
                        "(bench/results/clip_push_{clip,reference}*.{zip,mp4,png}; with --out x.json, x_clip*, ...)")
    p.add_argument("--checkpoint", type=Path, default=None,
                   help="a studio CLIP checkpoint for the CLIP reward (default: the shipped one), to try a model "
                        "before shipping it; its sidecar names the architecture")
    p.add_argument("--prompt", choices=tuple(PUSH_PROMPTS), default="task",
                   help="task: 'the red cube is on the blue pad' against '... far from ...'; whole: the same goal "
                        "state said with where the gripper is ('... and the gripper is at the red cube' against "
                        "'... far from the blue pad and the gripper is far from the red cube')")
    p.add_argument("--reach-weight", type=float, default=0.0,
                   help="add the world's reach term (1 - tanh(10 d), gripper to cube) to the CLIP reward with this "
                        "weight: a diagnostic, not the one-prompt target (0, the default, is the prompt alone). The "
                        "raw CLIP reward's std over random actions is 0.03-0.07, the reach term spans 0-1: 0.1 "
                        "already weighs as much")
    p.add_argument("--reference", choices=("dense", "zero"), default="dense",
                   help="what the second agent is paid: dense, the world's reference reward (the default); zero, "
                        "nothing at all, the control for --demos (what a learner takes from the demonstrations "
                        "alone)")
    p.add_argument("--demos", type=int, default=0,
                   help="play this many scripted push episodes (agents.scripted) through each agent's own reward "
                        "before it learns. SAC draws --demo-share of every batch from them (RLPD's symmetric "
                        "sampling); PPO starts cloned from them (policy and value head; the cloned policy is "
                        "judged first, as the control). They are paid what the agent's reward pays (the CLIP "
                        "prompt's, for the CLIP agent): they show what can be done, the reward says whether it "
                        "was good. 0: none")
    p.add_argument("--demo-share", type=float, default=None,
                   help="with --demos, the share of each SAC batch drawn from the demonstrations (0 up to, not "
                        "including, 1)")
    p.add_argument("--curriculum", action="store_true",
                   help="teach both agents lesson by lesson: the pad starts 7-10 cm from the cube and moves out to "
                        "the world's own draw as training success reaches 70%% (PUSH_LESSONS); judged as always")
    p.add_argument("--reference-alone", action="store_true",
                   help="train only the second agent (the dense reward, or --reference zero) for the whole budget "
                        "at full speed, not held to a CLIP agent's steps: what the algorithm can do at all")
    args = p.parse_args(argv)
    if args.reference_alone and args.parallel:
        p.error("--reference-alone with --parallel: there is no CLIP run to go beside; drop --parallel")
    if args.reference_alone and (args.checkpoint or args.reach_weight or args.prompt != "task"):
        p.error("--reference-alone trains no CLIP agent, so --checkpoint, --prompt and --reach-weight would do "
                "nothing; drop them")
    if args.demos < 0:
        p.error(f"--demos {args.demos}: give a number of scripted episodes, 0 for none")
    if args.demo_share is not None and args.algo != "sac":
        p.error(f"--demo-share {args.demo_share} with --algo {args.algo}: PPO keeps no replay buffer to share; it "
                "starts cloned from the demonstrations. Drop --demo-share, or use --algo sac")
    if args.demo_share is None:
        args.demo_share = DEMO_SHARE
    if not 0.0 <= args.demo_share < 1.0:       # also catches NaN
        p.error(f"--demo-share {args.demo_share}: give a share from 0 up to, not including, 1")
    if args.demos and args.demo_share == 0.0:
        p.error(f"--demo-share 0 with --demos {args.demos}: the demonstrations would be played and never drawn; "
                "give a share above 0, or --demos 0")
    if not 0.0 <= args.reach_weight <= 10.0:      # also catches NaN
        p.error(f"--reach-weight {args.reach_weight}: give a weight from 0 (the prompt alone) to 10")
    if args.checkpoint is not None and not args.checkpoint.is_file():
        p.error(f"--checkpoint {args.checkpoint} is not a file: give a .pt that train_domain_clip wrote")
    torch.set_num_threads(1)        # env stepping, rendering and the learner share 2 cores; see bench/reward.py
    minutes = 0.3 if args.quick else args.minutes
    episodes = 5 if args.quick else 50
    # What --save writes is named after --out's JSON when one is given (x.json: x_clip_policy.zip, x_clip.mp4,
    # ...), so a trial never overwrites the agents of record, nor another trial in the same folder.
    stem = args.out.with_suffix("") if args.out else (RESULTS / "quick" if args.quick else RESULTS) / "clip_push"
    save = stem if args.save else None
    prompt = PUSH_PROMPTS[args.prompt]
    second = "reference" if args.reference == "dense" else "zero"
    demos = dict(demos=args.demos, demo_share=args.demo_share, curriculum=args.curriculum)
    if args.reference_alone:
        reference = train(second, minutes, args.seed, episodes, algo=args.algo, save=save, **demos)
        keys = HEADLINE_KEYS + ("steps_per_s", "train_success_last_200_episodes")
        headline = {"reference": {k: reference[k] for k in keys}, "reference_alone": True, "algo": args.algo,
                    "reward": args.reference, "demos": reference["demos"], "quick": args.quick}
        if not args.quick:
            plot({"reference": reference}, Path(f"{stem}.png"), args.algo, args.reference)
        finish("clip_push", {"reference": reference}, headline, args.out)
        return headline
    if args.parallel:
        clip, reference = _side_by_side(minutes, args.seed, episodes, args.algo, save, args.checkpoint,
                                        args.reach_weight, prompt, second, **demos)
    else:
        clip = train("clip", minutes, args.seed, episodes, algo=args.algo, save=save, checkpoint=args.checkpoint,
                     reach_weight=args.reach_weight, prompt=prompt, **demos)
        # The reference runs faster (no rendering or CLIP), so give it the same number of environment steps
        # the CLIP agent got (capped by the same wall-clock budget): the comparison is per step.
        reference = train(second, minutes, args.seed, episodes, max_steps=clip["env_steps"], algo=args.algo,
                          save=save, **demos)
    results = {"clip": clip, "reference": reference}
    if not args.quick:      # named like --save's files: a trial never overwrites the shipped plot
        plot(results, Path(f"{stem}.png"), args.algo, args.reference)
    headline = {k: clip[k] for k in HEADLINE_KEYS}
    headline["reference"] = {k: reference[k] for k in HEADLINE_KEYS}
    headline["reference"]["reward"] = args.reference
    headline["demos"] = clip["demos"]
    headline["curriculum"] = None if not args.curriculum else {
        "lesson_reached": clip["curriculum"]["reached"], "of": len(PUSH_LESSONS),
        "reference_lesson_reached": reference["curriculum"]["reached"]}
    checkpoint = args.checkpoint or STUDIO_CHECKPOINT
    sidecar = checkpoint.with_suffix(".json")
    # Every run's checkpoint is called studio_clip.pt: the training seed in its sidecar says which run it was.
    trained_seed = json.loads(sidecar.read_text())["config"].get("seed") if sidecar.is_file() else None
    headline.update(algo=args.algo, parallel=args.parallel, prompt=prompt[0], baseline=prompt[1], alpha=ALPHA,
                    checkpoint=checkpoint.name, checkpoint_training_seed=trained_seed, reach_weight=args.reach_weight,
                    quick=args.quick)
    finish("clip_push", results, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
