"""Human gain (RLHG) in ``studio/CollabTable-v0``: does the RLHG agent help people reach their goals more than
the task-only agent, while keeping its own task?

For the task-only agent and the RLHG agent, beside each simulated person (the four RLHG trains with and the
held-out one) and with nobody at the table, on the same seeds: the share of the person's red cubes at their
station at the end (human-goal achievement), the agent's own task return and task success.

Headline keys:
  human_goal_gain_fraction   (RLHG - task-only) / task-only human-goal achievement, held-out person
  task_return_retained       RLHG task return / task-only task return, mean over all people and nobody
  targets                    +30% human goals, >= 85% task return retained

::

    python -m bench.human_gain            # evaluate the shipped agents (assets/collab_*.zip), 100 episodes each
    python -m bench.human_gain --quick    # 10 episodes each (under a minute)
    python -m bench.human_gain --train --alpha 5   # retrain both agents (CPU, about 15 minutes), then evaluate
    python -m bench.human_gain --train --reuse-task-only --alpha 5   # retrain only the RLHG agent
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from agents.humans import HELD_OUT_HUMAN, HUMAN_NAMES
from agents.rlhg import (RLHG_PATH, TASK_ONLY_PATH, PPOConfig, RLHGSettings, evaluate, fit_primitive_value,
                         load_agent, train_rlhg, train_task_only)
from bench.common import finish, parser

TASK_STEPS = 800_000
RLHG_STEPS = 2_500_000


def train(task_path: Path, rlhg_path: Path, task_steps: int, rlhg_steps: int, alpha: float, beta: float,
          seed: int = 0, reuse_task_only: bool = False) -> dict:
    """Train pi_0 (task only; or load the shipped one), fit V_phi (Stage I), train RLHG (Stage II); save."""
    t0 = time.perf_counter()
    task_only = load_agent(task_path) if reuse_task_only else train_task_only(task_steps, seed=seed)
    t1 = time.perf_counter()
    values, stage1 = fit_primitive_value(task_only, seed=seed + 7)
    t2 = time.perf_counter()
    rlhg = train_rlhg(task_only, rlhg_steps, RLHGSettings(alpha, beta), seed=seed, human_values=values)
    t3 = time.perf_counter()
    task_path.parent.mkdir(parents=True, exist_ok=True)
    task_only.save(task_path)
    rlhg.save(rlhg_path, exclude=["human_values", "settings", "gain_log", "_delta_opt"])
    return {"task_steps": task_steps, "rlhg_steps": rlhg_steps, "alpha": alpha, "beta": beta,
            "stage1": stage1, "seconds": {"task_only": t1 - t0, "stage1": t2 - t1, "stage2": t3 - t2},
            "gain_log_tail": rlhg.gain_log[-5:], "ppo": PPOConfig().__dict__}


def main() -> None:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=None, help="episodes per agent and person (default 100, quick 10)")
    p.add_argument("--train", action="store_true", help="retrain both agents and overwrite assets/collab_*.zip")
    p.add_argument("--reuse-task-only", action="store_true", help="with --train: keep the shipped task-only agent")
    p.add_argument("--task-steps", type=int, default=TASK_STEPS)
    p.add_argument("--rlhg-steps", type=int, default=RLHG_STEPS)
    p.add_argument("--alpha", type=float, default=RLHGSettings().alpha)
    p.add_argument("--beta", type=float, default=RLHGSettings().beta)
    args = p.parse_args()
    torch.set_num_threads(1)
    training = None
    if args.train:
        training = train(TASK_ONLY_PATH, RLHG_PATH, args.task_steps, args.rlhg_steps, args.alpha, args.beta,
                         reuse_task_only=args.reuse_task_only)
    agents = {"task_only": load_agent(TASK_ONLY_PATH), "rlhg": load_agent(RLHG_PATH)}
    episodes = args.episodes or (10 if args.quick else 100)
    people = [*HUMAN_NAMES, None]
    rows: dict[str, dict] = {}
    t0 = time.perf_counter()
    for name, agent in agents.items():
        for human in people:
            r = evaluate(agent, human, episodes=episodes)
            rows[f"{name}/{human or 'nobody'}"] = {k: v for k, v in r.__dict__.items() if k != "per_episode_goals"}
    seconds = time.perf_counter() - t0

    def goals(agent: str, human: str) -> float:
        return rows[f"{agent}/{human}"]["human_goals_done"]

    held = HELD_OUT_HUMAN
    base = goals("task_only", held)
    gain = (goals("rlhg", held) - base) / base if base > 0 else float("inf")
    keys = [h or "nobody" for h in people]
    ret = {a: sum(rows[f"{a}/{k}"]["task_return"] for k in keys) / len(keys) for a in agents}
    retained = ret["rlhg"] / ret["task_only"]
    per_human = {k: {"task_only": goals("task_only", k), "rlhg": goals("rlhg", k)} for k in HUMAN_NAMES}
    headline = {
        "bench": "human_gain", "quick": args.quick, "held_out_human": held, "episodes": episodes,
        "human_goal_task_only": round(base, 4), "human_goal_rlhg": round(goals("rlhg", held), 4),
        "human_goal_gain_fraction": round(gain, 4),
        "task_return_task_only": round(ret["task_only"], 4), "task_return_rlhg": round(ret["rlhg"], 4),
        "task_return_retained": round(retained, 4),
        "task_success_task_only": round(rows["task_only/nobody"]["task_success"], 4),
        "task_success_rlhg": round(rows["rlhg/nobody"]["task_success"], 4),
        "targets_met": {"human_goal_gain_fraction>=0.30": gain >= 0.30, "task_return_retained>=0.85": retained >= 0.85},
    }
    details = {"rows": rows, "per_human_goals": per_human, "eval_seconds": seconds, "training": training,
               "quick": args.quick}
    finish("human_gain", details, headline, args.out)


if __name__ == "__main__":
    main()
