"""What the CLIP push agent learned to earn: the CLIP reward it reaches, beside the reward of a real success.

``python -m bench.clip_push_probe [--quick] [--checkpoint PATH]`` loads the CLIP agent that ``python -m bench.clip_push
--save`` kept (``bench/results/clip_push_clip_policy.zip``: an SB3 zip, which unpickles; load only one this bench wrote
on your machine), plays it on fresh seeds, and scores every frame with the VLM-RM reward of :mod:`bench.clip_push` (its
goal, baseline and alpha) under the shipped studio CLIP, which is what the agent was trained on when ``clip_push
--save`` ran last. ``--checkpoint`` scores with another studio CLIP instead (does a new reward model still pay what an
old agent found?); such runs, and runs with another ``--policy``, write ``clip_push_probe_other.json`` so the file of
record stays the kept agent under its own reward. The scripted controller plays the same seeds to show what a real
success is paid. Headline keys:

* ``policy_start_reward`` and ``policy_end_reward``: the reward of the first frame and the mean of the last 20;
* ``scripted_success_reward``: the mean reward of the scripted pushes' last 5 frames (cube on the pad);
* ``exploit_share``: ``(policy_end - start) / (scripted_success - start)``, the share of the reward of
  success the agent earns; with ``policy_cube_moved_cm`` near 0 it earned it without touching the cube;
* ``policy_success_rate`` and ``scripted_success_rate`` (ground truth).
"""

from __future__ import annotations

from pathlib import Path

from worlds import gl  # noqa: F401

import numpy as np

import worlds
from agents.scripted import run_episode
from agents.vlm.clip_reward import vlm_rm_reward
from agents.vlm.embedder import STUDIO_CHECKPOINT, studio_embedder
from bench.clip_push import ALPHA, BASELINE, GOAL, WORLD, play
from bench.common import RESULTS, finish, parser

POLICY = RESULTS / "clip_push_clip_policy.zip"


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--policy", default=str(POLICY), help="the SB3 SAC zip bench.clip_push --save wrote")
    p.add_argument("--checkpoint", type=Path, default=STUDIO_CHECKPOINT,
                   help="the studio CLIP that scores the frames (default: the shipped one)")
    args = p.parse_args(argv)
    if not args.checkpoint.is_file():
        raise SystemExit(f"{args.checkpoint} is missing: give a studio CLIP checkpoint "
                         f"(python -m agents.vlm.train_domain_clip writes one)")
    if not Path(args.policy).is_file():
        raise SystemExit(f"{args.policy} is missing: run `python -m bench.clip_push --save` first (it keeps the "
                         f"trained CLIP agent there)")
    from stable_baselines3 import SAC

    model = SAC.load(args.policy, device="cpu")
    embedder = studio_embedder(args.checkpoint, "cpu")
    goal, base = embedder.embed_texts([GOAL]), embedder.embed_texts([BASELINE])

    def reward(frames: list[np.ndarray]) -> np.ndarray:
        return vlm_rm_reward(embedder.embed_images(np.stack(frames)), goal, base, ALPHA)

    env = worlds.make("studio/Push-v0", render_mode="rgb_array", **WORLD)
    episodes = 3 if args.quick else 20
    start, end, moved, wins, scripted_end, scripted_wins = [], [], [], [], [], []
    for k in range(episodes):
        seed = 20_000 + k          # not the seeds bench.clip_push trained or evaluated on
        frames, info, cube = play(env, model, seed, render=True)
        r = reward(frames)
        start.append(r[0])
        end.append(r[-20:].mean())
        moved.append(np.linalg.norm(env.unwrapped.object_position(0)[:2] - cube))
        wins.append(info["is_success"])
        ok, _, frames = run_episode(env, seed, render=True)
        scripted_end.append(reward(frames)[-5:].mean())
        scripted_wins.append(ok)
    env.close()
    s, e, w = float(np.mean(start)), float(np.mean(end)), float(np.mean(scripted_end))
    headline = {"policy_start_reward": round(s, 3), "policy_end_reward": round(e, 3),
                "scripted_success_reward": round(w, 3), "exploit_share": round((e - s) / (w - s), 3),
                "policy_cube_moved_cm": round(100 * float(np.mean(moved)), 1),
                "policy_success_rate": round(float(np.mean(wins)), 3),
                "scripted_success_rate": round(float(np.mean(scripted_wins)), 3),
                "episodes": episodes, "prompt": GOAL, "baseline": BASELINE, "quick": args.quick}
    own = Path(args.policy).resolve() == POLICY.resolve() and args.checkpoint.resolve() == STUDIO_CHECKPOINT.resolve()
    finish("clip_push_probe" if own else "clip_push_probe_other",
           {"policy": args.policy, "checkpoint": str(args.checkpoint)}, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
