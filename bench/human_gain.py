"""Human gain (RLHG) in ``studio/CollabTable-v0``: does the RLHG agent help people reach their goals more than
the task-only agent, while keeping its own task?

For the task-only agent and the RLHG agent, beside each simulated person (the four RLHG trains with and the
held-out one) and with nobody at the table, on the same seeds: the share of the person's red cubes at their
station at the end (human-goal achievement), the agent's own task return and task success.

500 episodes per agent and person (the same seeds for both agents and every person): at 100, the held-out
gain's 95% interval was about +/-10 points wide, as wide as the gap being measured. ``ci95`` holds bootstrap
intervals of both headline numbers.

Headline keys:
  human_goal_gain_fraction   (RLHG - task-only) / task-only human-goal achievement, held-out person
  task_return_retained       RLHG task return / task-only task return, mean over all people and nobody
  targets                    +30% human goals, >= 85% task return retained

::

    python -m bench.human_gain            # evaluate the shipped agents (assets/collab_*.zip), 500 episodes each
    python -m bench.human_gain --quick    # 10 episodes each (under a minute)
    python -m bench.human_gain --train --alpha 5   # retrain both agents (CPU, about 15 minutes), then evaluate
    python -m bench.human_gain --train --reuse-task-only --alpha 5   # retrain only the RLHG agent
    python -m bench.human_gain --train --reuse-task-only --alpha 5 --checkpoint-every 250000   # the shipped agent

Checkpoint selection (``--checkpoint-every N``): Stage II saves the agent every N steps, and the shipped agent is
the checkpoint chosen on the *training* people only (novice, expert, far_first, shy, and nobody), on validation
seeds (``VALIDATION_SEED``, disjoint from the evaluation seeds), against the task-only agent on the same seeds:
among checkpoints that keep at least ``SELECT_MIN_RETAINED`` of the task-only agent's task return there, the one
with the largest gain in the training people's goals (if none does, the one keeping the most task return). The
held-out person is never seen by the selection; PPO's policy drifts along the task/help trade-off from one
update to the next, so picking a checkpoint on held-in validation is ordinary early stopping.

The shipped RLHG agent is the 2.25M-step checkpoint chosen by that last command (alpha 5, beta 0.5, 2.5M Stage
II steps, the shipped task-only agent unchanged); ``details.training.selection`` in the results lists the
validation table. On the machine it was made on, two runs gave bit-identical checkpoints (and a 3.5M-step run
the same first 2.5M); an older 2.5M-step agent made elsewhere differed by up to 0.03 per weight, so on another
machine a rerun may choose a neighbouring checkpoint.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.humans import HELD_OUT_HUMAN, HUMAN_NAMES, TRAINING_HUMANS
from agents.rlhg import (RLHG_PATH, TASK_ONLY_PATH, PPOConfig, RLHGSettings, evaluate, fit_primitive_value,
                         load_agent, train_rlhg, train_task_only)
from bench.common import finish, parser

TASK_STEPS = 800_000
RLHG_STEPS = 2_500_000
VALIDATION_SEED = 50_000          # checkpoint selection: seeds disjoint from evaluate()'s 10_000 + episode
VALIDATION_EPISODES = 100
SELECT_MIN_RETAINED = 0.87
_EXCLUDE = ["human_values", "settings", "gain_log", "_delta_opt"]


class _Checkpoints(BaseCallback):
    """Saves the Stage II agent every ``every`` steps under ``folder``."""

    def __init__(self, every: int, folder: Path):
        super().__init__()
        self.every, self.folder, self.next, self.paths = every, folder, every, []

    def _on_step(self) -> bool:
        if self.model.num_timesteps >= self.next:
            path = self.folder / f"rlhg_{self.next}.zip"
            self.model.save(path, exclude=_EXCLUDE)
            self.paths.append(path)
            self.next += self.every
        return True


def validate(task_only, agent, episodes: int = VALIDATION_EPISODES, seed: int = VALIDATION_SEED,
             base: dict | None = None) -> dict:
    """Training people and nobody only (never the held-out person), on validation seeds: goal gain, retained."""
    keys = [*TRAINING_HUMANS, None]
    base = base or {h: evaluate(task_only, h, episodes=episodes, seed=seed) for h in keys}
    mine = {h: evaluate(agent, h, episodes=episodes, seed=seed) for h in keys}
    goals = lambda rows: sum(rows[h].human_goals_done for h in TRAINING_HUMANS)
    ret = lambda rows: sum(rows[h].task_return for h in keys)
    return {"gain": goals(mine) / goals(base) - 1, "retained": ret(mine) / ret(base), "base": base}


def select_checkpoint(task_only, paths: list[Path]) -> tuple[Path, list[dict]]:
    """The checkpoint :func:`validate` prefers (see the module docstring)."""
    table, base = [], None
    for path in paths:
        v = validate(task_only, load_agent(path), base=base)
        base = v.pop("base")
        table.append({"checkpoint": path.name, **{k: round(x, 4) for k, x in v.items()}})
    ok = [(row["gain"], i) for i, row in enumerate(table) if row["retained"] >= SELECT_MIN_RETAINED]
    best = max(ok)[1] if ok else max(range(len(table)), key=lambda i: table[i]["retained"])
    return paths[best], table


def train(task_path: Path, rlhg_path: Path, task_steps: int, rlhg_steps: int, alpha: float, beta: float,
          seed: int = 0, reuse_task_only: bool = False, checkpoint_every: int = 0) -> dict:
    """Train pi_0 (task only; or load the shipped one), fit V_phi (Stage I), train RLHG (Stage II); save."""
    t0 = time.perf_counter()
    task_only = load_agent(task_path) if reuse_task_only else train_task_only(task_steps, seed=seed)
    t1 = time.perf_counter()
    values, stage1 = fit_primitive_value(task_only, seed=seed + 7)
    t2 = time.perf_counter()
    folder = Path(tempfile.mkdtemp(prefix="rlhg_checkpoints_"))
    saver = _Checkpoints(checkpoint_every, folder) if checkpoint_every > 0 else None
    rlhg = train_rlhg(task_only, rlhg_steps, RLHGSettings(alpha, beta), seed=seed, human_values=values,
                      callback=saver)
    t3 = time.perf_counter()
    gain_log_tail, selection = rlhg.gain_log[-5:], None
    if saver is not None:
        final = folder / "rlhg_final.zip"
        rlhg.save(final, exclude=_EXCLUDE)
        chosen, table = select_checkpoint(task_only, [*saver.paths, final])
        rlhg = load_agent(chosen)
        selection = {"every": checkpoint_every, "chosen": chosen.name, "min_retained": SELECT_MIN_RETAINED,
                     "validation_seed": VALIDATION_SEED, "validation_episodes": VALIDATION_EPISODES,
                     "table": table, "seconds": time.perf_counter() - t3}
    task_path.parent.mkdir(parents=True, exist_ok=True)
    task_only.save(task_path)
    rlhg.save(rlhg_path, exclude=_EXCLUDE)
    shutil.rmtree(folder, ignore_errors=True)
    return {"selection": selection, "task_steps": task_steps, "rlhg_steps": rlhg_steps, "alpha": alpha, "beta": beta,
            "stage1": stage1, "seconds": {"task_only": t1 - t0, "stage1": t2 - t1, "stage2": t3 - t2},
            "gain_log_tail": gain_log_tail, "ppo": PPOConfig().__dict__}


def bootstrap_ci(per_episode: dict, held: str, keys: list[str], episodes: int, n: int = 2000) -> dict:
    """95% bootstrap intervals of the two headline numbers, resampling episodes (seeds are shared by both agents
    and all people, so each resample keeps the pairing)."""
    rng = np.random.default_rng(0)
    gains, kept = [], []
    for _ in range(n):
        idx = rng.integers(0, episodes, episodes)
        base = per_episode[f"task_only/{held}"][0][idx].mean()
        gains.append((per_episode[f"rlhg/{held}"][0][idx].mean() - base) / base if base > 0 else np.inf)
        ret = {a: np.mean([per_episode[f"{a}/{k}"][1][idx].mean() for k in keys]) for a in ("task_only", "rlhg")}
        kept.append(ret["rlhg"] / ret["task_only"])
    q = lambda xs: [round(float(np.percentile(xs, 2.5)), 4), round(float(np.percentile(xs, 97.5)), 4)]
    return {"human_goal_gain_fraction": q(gains), "task_return_retained": q(kept), "resamples": n}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=None, help="episodes per agent and person (default 500, quick 10)")
    p.add_argument("--train", action="store_true", help="retrain both agents and overwrite assets/collab_*.zip")
    p.add_argument("--reuse-task-only", action="store_true", help="with --train: keep the shipped task-only agent")
    p.add_argument("--task-steps", type=int, default=TASK_STEPS)
    p.add_argument("--rlhg-steps", type=int, default=RLHG_STEPS)
    p.add_argument("--alpha", type=float, default=RLHGSettings().alpha)
    p.add_argument("--beta", type=float, default=RLHGSettings().beta)
    p.add_argument("--checkpoint-every", type=int, default=0,
                   help="with --train: save Stage II every N steps and ship the checkpoint chosen on the training "
                        "people")
    args = p.parse_args()
    torch.set_num_threads(1)
    training = None
    if args.train:
        training = train(TASK_ONLY_PATH, RLHG_PATH, args.task_steps, args.rlhg_steps, args.alpha, args.beta,
                         reuse_task_only=args.reuse_task_only, checkpoint_every=args.checkpoint_every)
    agents = {"task_only": load_agent(TASK_ONLY_PATH), "rlhg": load_agent(RLHG_PATH)}
    episodes = args.episodes or (10 if args.quick else 500)
    people = [*HUMAN_NAMES, None]
    rows: dict[str, dict] = {}
    per_episode: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    t0 = time.perf_counter()
    for name, agent in agents.items():
        for human in people:
            r = evaluate(agent, human, episodes=episodes)
            rows[f"{name}/{human or 'nobody'}"] = {k: v for k, v in r.__dict__.items() if not k.startswith("per_")}
            per_episode[f"{name}/{human or 'nobody'}"] = (np.array(r.per_episode_goals),
                                                         np.array(r.per_episode_returns))
    seconds = time.perf_counter() - t0

    def goals(agent: str, human: str) -> float:
        return rows[f"{agent}/{human}"]["human_goals_done"]

    held = HELD_OUT_HUMAN
    base = goals("task_only", held)
    gain = (goals("rlhg", held) - base) / base if base > 0 else float("inf")
    keys = [h or "nobody" for h in people]
    ret = {a: sum(rows[f"{a}/{k}"]["task_return"] for k in keys) / len(keys) for a in agents}
    retained = ret["rlhg"] / ret["task_only"]
    ci = bootstrap_ci(per_episode, held, [h or "nobody" for h in people], episodes)
    per_human = {k: {"task_only": goals("task_only", k), "rlhg": goals("rlhg", k)} for k in HUMAN_NAMES}
    headline = {
        "bench": "human_gain", "quick": args.quick, "held_out_human": held, "episodes": episodes,
        "human_goal_task_only": round(base, 4), "human_goal_rlhg": round(goals("rlhg", held), 4),
        "human_goal_gain_fraction": round(gain, 4),
        "task_return_task_only": round(ret["task_only"], 4), "task_return_rlhg": round(ret["rlhg"], 4),
        "task_return_retained": round(retained, 4),
        "ci95": ci,
        "task_success_task_only": round(rows["task_only/nobody"]["task_success"], 4),
        "task_success_rlhg": round(rows["rlhg/nobody"]["task_success"], 4),
        "targets_met": {"human_goal_gain_fraction>=0.30": gain >= 0.30, "task_return_retained>=0.85": retained >= 0.85},
    }
    details = {"rows": rows, "per_human_goals": per_human, "eval_seconds": seconds, "training": training,
               "quick": args.quick}
    finish("human_gain", details, headline, args.out)


if __name__ == "__main__":
    main()
