"""Environments in subprocesses or in the trainer's process: PPO steps/s with a CLIP reward and without.

``python -m bench.vec_env [--quick] [--n-envs N]`` trains PPO on ``studio/Push-v0`` (red cube, blue pad) with
the studio's VecEnv (:func:`agents.sb3_factory.make_venv`) built both ways: ``DummyVecEnv`` (every env steps
and renders in the trainer's process, the default) and ``SubprocVecEnv`` (``subprocess_envs=True``: each env
in its own process; the reward stack still embeds all frames in one call in the trainer). Two rewards:

* ``clip``: one CLIP prompt ("the red cube is on the blue pad" against "... far from ...", the studio CLIP):
  every step renders a 96 px frame, so rendering can run beside the trainer;
* ``world``: the world's dense terms: no frames, so a step is microseconds of physics and IPC is the cost.

The two trainers of a reward run in alternating blocks (dummy, subproc, subproc, dummy, ...) so background
load hits both alike; ``speedup_<reward>`` is the median of the per-pair ratios subproc / dummy. Torch runs
on one thread, as in the studio's worker. Also the memory of one env process (Linux: private and
proportional-set MB, after the warm-up; the fork server preloads torch and SB3, so env processes share them).
Headline keys: ``speedup_clip``, ``speedup_world``, ``steps_per_s_clip_dummy``, ``steps_per_s_clip_subproc``,
``env_process_private_mb``, ``n_envs``, ``cpu_count``.
"""

from __future__ import annotations

import os
import time

from worlds import gl  # noqa: F401

import numpy as np
import torch

from agents.rewards import ClipTerm, RewardStack, WorldTerm
from agents.sb3_factory import make_model, make_venv
from bench.common import PUSH_BASELINE as BASELINE, PUSH_GOAL as GOAL, finish, parser

WORLD = "studio/Push-v0"
WORLD_KWARGS = {"colors": ["red"], "pad_colors": ["blue"]}


def stack_for(reward: str, embedder) -> RewardStack:
    if reward == "clip":
        return RewardStack([(ClipTerm([GOAL], [BASELINE], embedder=embedder, alpha=1.0), 1.0)], embedder=embedder)
    return RewardStack([(WorldTerm(key), 1.0) for key in ("reach", "push", "success")])


def trainer(reward: str, subprocess_envs: bool, n_envs: int, embedder):
    venv, _ = make_venv(WORLD, WORLD_KWARGS, n_envs, 0, stack_for(reward, embedder), camera="workspace",
                        subprocess_envs=subprocess_envs)
    model = make_model("ppo", venv, {"n_steps": 256}, seed=0)
    model.learn(256 * n_envs)                      # warm-up: processes, GL contexts, first embeddings
    return model, venv


def process_memory_mb(pid: int) -> dict | None:
    """``{"private": MB, "pss": MB}`` of process ``pid`` from Linux's smaps_rollup (``None`` elsewhere)."""
    try:
        fields = {}
        for line in open(f"/proc/{pid}/smaps_rollup"):
            parts = line.split()
            if len(parts) >= 2 and parts[0].endswith(":"):
                fields[parts[0][:-1]] = int(parts[1])
    except OSError:
        return None
    return {"private": round((fields["Private_Clean"] + fields["Private_Dirty"]) / 1024),
            "pss": round(fields["Pss"] / 1024)}


def block(model, steps: int) -> float:
    start = time.perf_counter()
    model.learn(steps, reset_num_timesteps=False)
    return steps / (time.perf_counter() - start)


def compare(reward: str, n_envs: int, pairs: int, steps: int, embedder) -> dict:
    runs = {kind: trainer(reward, kind == "subproc", n_envs, embedder) for kind in ("dummy", "subproc")}
    base = runs["subproc"][0].get_env()
    while not hasattr(base, "processes"):     # down the wrappers to the SubprocVecEnv
        base = base.venv
    memory = [process_memory_mb(p.pid) for p in base.processes]
    rates: dict[str, list[float]] = {"dummy": [], "subproc": []}
    for p in range(pairs):
        order = ("dummy", "subproc") if p % 2 == 0 else ("subproc", "dummy")
        for kind in order:
            rates[kind].append(block(runs[kind][0], steps))
    for _, venv in runs.values():
        venv.close()
    ratios = [s / d for s, d in zip(rates["subproc"], rates["dummy"])]
    return {"steps_per_s_dummy": round(float(np.median(rates["dummy"])), 1),
            "steps_per_s_subproc": round(float(np.median(rates["subproc"])), 1),
            "speedup": round(float(np.median(ratios)), 3), "ratios": [round(r, 3) for r in ratios],
            "block_steps": steps, "pairs": pairs,
            "env_process_memory_mb": memory[0] if memory and memory[0] else None}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--n-envs", type=int, default=None, help="parallel envs (default 8; 4 with --quick)")
    args = p.parse_args(argv)
    args.n_envs = args.n_envs or (4 if args.quick else 8)
    torch.set_num_threads(1)
    # Imported here, not at the top: each env process re-imports this module (the fork server's __main__), and
    # open_clip would add ~100 MB to each, which the studio's worker does not.
    from agents.vlm.embedder import default_embedder

    embedder = default_embedder("cpu")
    pairs, rollouts = (1, 1) if args.quick else (4, 2)
    steps = 256 * args.n_envs * rollouts
    details = {reward: compare(reward, args.n_envs, pairs, steps, embedder) for reward in ("clip", "world")}
    for reward, result in details.items():
        print(reward, result, flush=True)
    headline = {"speedup_clip": details["clip"]["speedup"], "speedup_world": details["world"]["speedup"],
                "steps_per_s_clip_dummy": details["clip"]["steps_per_s_dummy"],
                "steps_per_s_clip_subproc": details["clip"]["steps_per_s_subproc"],
                "env_process_private_mb": (details["clip"]["env_process_memory_mb"] or {}).get("private"),
                "n_envs": args.n_envs, "cpu_count": os.cpu_count(), "quick": args.quick}
    finish("vec_env", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
