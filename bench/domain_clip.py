"""The shipped studio CLIP, measured on data it never saw.

``python -m bench.domain_clip [--quick] [--checkpoint PATH] [--episodes N] [--caption-episodes N]
[--spearman-episodes N]`` loads
``assets/studio_clip.pt`` (or a candidate checkpoint, to measure it before shipping it) through the studio's real
loader (:class:`agents.vlm.embedder.ClipEmbedder`) and measures:

* ``caption_top1_heldout``: caption retrieval top-1 on held-out scenes (a separate seed range) with held-out
  paraphrases, the true caption against 4 hard negatives that each change one fact (chance 20%), on
  ``--caption-episodes`` held-out episodes (240; every third frame), with ``caption_top1_heldout_ci95``, a
  95% bootstrap interval that resamples whole episodes (:func:`agents.vlm.domain_eval.episode_interval`).
  ``caption_top1_heldout_60``: the same on the first 60 of those episodes alone, the very frames and negatives
  every run up to run 30 was measured on (until 2026-11-28 the headline was this figure; one scene's frames
  fail or succeed together, and 60 episodes left it +-0.045 wide, wider than most differences between runs);
  ``caption_top1_if_shape_relation_won``: the same top-1 had every shape and relation negative been beaten
  (the colours and "lifted" scored as they were: how far mastering the two weakest facts alone would go);
  ``caption_top1_heldout_object``: the same on frames whose target is the held-out "purple cylinder";
  ``caption_top1_poses``: the humanoid poses, held-out paraphrases, 5-way;
  ``caption_top1_heldout_train_templates``: the held-out scenes again with the training paraphrases (the gap
  to ``caption_top1_heldout`` is what unseen wording costs); details give top-1 per wording
  (``by_template``), pairwise wins per kind of negative and, for relations, per distance to the nearest
  relation threshold (``relation_by_margin``), and ``word_probe``: top-1 with a training wording behind words
  the model never read or read only in other scenes (:data:`WORD_PROBES`), and ``pose_word_probe``: pose
  wordings without the trained subject (:data:`POSE_WORD_PROBES`);
* ``spearman_progress``: Spearman between the CLIP reward for the task prompt (baseline "far from", alpha 1)
  and true progress on noiseless scripted push and pick-and-place rollouts of held-out scenes
  (``--spearman-episodes`` per task, 144 by default), pooled per task and averaged over the two tasks, with
  ``spearman_progress_ci95``, a bootstrap interval over those episodes, and ``spearman_progress_36``: the
  same on the first 36 episodes alone, the very rollouts every run up to run 32 was measured on (until
  2026-11-28 the headline was this figure: run 17 read 0.708 there and 0.60-0.70 on three other 36-episode
  draws); ``spearman_relation_ceiling``: the same figure for a reward that knows each frame's true relation
  (on, next to, far from) and nothing finer, which is what a perfect reader of the training captions reaches
  (:func:`agents.vlm.domain_eval.relation_ceiling`). The other rollout figures below use the first
  ``--episodes`` (36);
* details ``push_reward_by_distance``: the task prompt's reward per band of cube-to-pad distance on scripted
  pushes, mean and spread (:func:`agents.vlm.domain_eval.reward_by_distance`);
* ``shape_probe_heldout``: can a linear probe read the object's shape (cube or cylinder) from the image
  embedding of held-out one-object scenes (:func:`agents.vlm.domain_eval.shape_probe`; ``majority`` in the
  details is what seeing nothing scores)? It bounds what any shape caption can reach;
  ``token_shape_probe_heldout``: the same from the vision tower's patch token under the object, before pooling
  (:func:`agents.vlm.domain_eval.token_shape_probe`): low as well, the tower does not see the shape; high, the
  pooling drops it;
* ``arm_gain``: the share of the task prompt's reward of success that the arm earns alone by hovering over
  the pad while the cube stays far (:func:`agents.vlm.domain_eval.arm_hover`; 0 is best), and
  ``occlusion_gain``: the same for an arm that hides the cube or the pad from the camera
  (:func:`agents.vlm.domain_eval.arm_occlusion`), the pose run 13's CLIP agent found;
* ``still_arm_share``: on ``bench.clip_push``'s world and prompt, the best a still arm earns, searched for
  (:func:`agents.vlm.still_arm.still_arm_share`, a cross-entropy search over held arm poses on held-out
  scenes, 8 of them, 2 with ``--quick``), as a share of a scripted success's reward: what a reinforcement
  learner on that prompt can settle for without pushing (0 is best). The best poses' frames are drawn side by
  side in ``domain_clip_still_arm.png`` beside the JSON; ``still_arm_share_median``, the median over the
  scenes, which one scene with a tiny gap between start and success cannot drag as it drags the mean;
* ``gripper_top1_heldout``: can the model tell where the gripper is against the object (at, near, far from;
  chance 1/3) on the held-out scenes, held-out paraphrases with the gripper clause after them
  (:func:`agents.vlm.domain_eval.gripper_retrieval`); ``approach_spearman_whole_prompt``: the mean Spearman,
  over the scripted pushes' steps before the cube moves, between the step and the reward of the push goal said
  whole (``bench.clip_push --prompt whole``: "the red cube is on the blue pad and the gripper is at the red
  cube" against both far), beside the plain task prompt's (``approach_spearman_task_prompt``, which says
  nothing of the gripper); and ``still_arm_share_whole_prompt``, the still-arm share under that prompt
  (a still gripper at the cube is the approach it is meant to pay: compare it with a push's share, 1);
  ``gripper_probe_heldout``: a linear probe's held-out accuracy for the gripper's relation from the image
  embedding (:func:`agents.vlm.domain_eval.gripper_probe`, on the shape probe's frames; its ``majority`` in
  the details is what seeing nothing scores): what bounds ``gripper_top1_heldout``;
* ``caption_top1_own_round``: does the model fit what it was trained on? The same caption top-1 (training
  wordings) on the first ``FIT_EPISODES`` episodes of its own last training round, re-rendered from the
  seed and options its sidecar JSON records (scripted and wandering episodes as the trainer drew them;
  :func:`fit_check`), beside ``caption_top1_fresh_same_recipe``: episodes drawn the same way from held-out
  seeds (scenes with the held-out object dropped, as training drops them). Both low and close: the model
  underfits (its capacity or its training is the limit, not the scenes it saw); the first well above the
  second: it learns its scenes and does not generalise. Absent (``None``) for a checkpoint without the
  trainer's sidecar;
* ``embeds_per_s_cpu``: images/s at batch 256 at the model's input size (96 px), one torch thread and two;
* ``checkpoint_mb``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

from worlds import gl  # noqa: F401

import numpy as np
import torch
from PIL import Image

from agents.vlm.captions import HELDOUT_TEMPLATES, POSE_HELDOUT_TEMPLATES, TRAIN_TEMPLATES
from agents.vlm.domain_data import EVAL_SEED_OFFSET, HELDOUT_OBJECT, FrameSet, manipulation_frames
from agents.vlm.domain_eval import arm_hover, arm_occlusion, caption_retrieval, episode_interval, gripper_probe, \
    gripper_retrieval, progress_spearman, relation_ceiling, reward_by_distance, scripted_frames, shape_probe, \
    shape_sets, token_shape_probe
from agents.vlm.embedder import STUDIO_CHECKPOINT, studio_embedder
from agents.vlm.model_configs import register
from agents.vlm.pose_data import pose_frames
from agents.vlm.still_arm import still_arm_share
from agents.vlm.train_domain_clip import first_chunk_seed, render_chunk
from bench.clip_push import WORLD
from bench.common import CAPTION_DRAW, CAPTION_EPISODES, FIT_DRAW, FIT_EPISODES, PUSH_PROMPTS, RESULTS, \
    SPEARMAN_EPISODES, finish, parser

STILL_ARM_SEEDS = EVAL_SEED_OFFSET + 50_000     # held-out scenes that no other measure here plays
# CAPTION_DRAW, CAPTION_EPISODES: the held-out caption draw (240 episodes: one scene's frames succeed or fail
# together, see episode_interval). FIT_DRAW: fit_check's fresh episodes; seed 5000 was run 2's own held-out
# check draw (held-out scenes, never trained on), and it meets no other draw here or in bench.clip_compare.
CONTINUITY_EPISODES = 60    # the draw's length until 2026-11-28: ``caption_top1_heldout_60`` keeps it comparable
SPEARMAN_CONTINUITY = 36    # the Spearman's rollouts per task until 2026-11-28 (``spearman_progress_36``)

# Prefixes put in front of the first training wording (``word_probe`` in the details): "robot" appears in
# training in the humanoid captions and, since run 11 (--arm-phrases), in the table ones; "table with" only
# partly (never "table"), "piano zebra" never.
WORD_PROBES = ("", "robot ", "humanoid ", "table with ", "piano zebra ")
# Pose wordings without the subject "humanoid robot" (``pose_word_probe``): are the pose words read on their
# own, or only behind a word that names the humanoid? "{pose}" alone is a training wording since run 13 (see
# captions.POSE_TRAIN_TEMPLATES); "a person" and "a robot" in front of a pose never were.
POSE_WORD_PROBES = ("{pose}", "a person {pose}", "a robot {pose}", "a humanoid that is {pose}")


def embeds_per_s(embedder, threads: int, seconds: float) -> float:
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    size = embedder.image_size[0]
    frames = np.random.default_rng(0).integers(0, 255, (256, size, size, 3), dtype=np.uint8)
    embedder.embed_images(frames)
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        embedder.embed_images(frames)
        n += len(frames)
    torch.set_num_threads(old)
    return n / (time.perf_counter() - start)


def embedded_once(embed_images, images: np.ndarray, prefixes: tuple[np.ndarray, ...] = ()):
    """``embed_images`` with ``images``' embeddings computed once: every caption measure below scores the same
    held-out frames (9,335 of them), and each would embed them again. ``prefixes``: arrays that are the first rows
    of ``images`` (a shorter draw's frames, :func:`main`'s first rollouts), served the first rows' embeddings."""
    cached = embed_images(images)
    known = [(images, cached), *((prefix, cached[:len(prefix)]) for prefix in prefixes)]

    def embed(x: np.ndarray) -> np.ndarray:
        for array, embeddings in known:
            if x is array:
                return embeddings
        return embed_images(x)
    return embed


def fit_check(embedder, checkpoint: Path, episodes: int) -> dict | None:
    """Caption top-1 (training wordings) on the checkpoint's own last training round against fresh scenes drawn
    the same way (see ``caption_top1_own_round`` above); ``None`` without the trainer's sidecar JSON.

    "Own" assumes today's renderer draws the round's frames as the trainer did (runs trained before an option
    existed render without it, and the sidecar holds no per-frame record to check against); a round is seen once
    (one epoch; four in run 33), so this is what one pass taught. ``episodes`` is capped at the round's own
    episode count."""
    sidecar = checkpoint.with_suffix(".json")
    try:
        config = json.loads(sidecar.read_text())["config"]
        recipe = dict(every=int(config["every"]), wander=float(config.get("wander", 0.0)),
                      occlude=float(config.get("occlude", 0.0)), objects=config.get("objects"))
        seed = first_chunk_seed(int(config["seed"]), int(config["rounds"]) - 1)
        episodes = min(episodes, int(config["episodes"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None
    own = render_chunk(episodes, seed, **recipe)
    fresh = render_chunk(episodes, FIT_DRAW, **recipe, heldout=True)
    # Training redraws a scene holding the held-out object; here those episodes are dropped (fewer fresh ones).
    keep = np.array([not any(HELDOUT_OBJECT in o for o in present) for present in fresh.present])
    fresh = fresh.subset(keep)
    out: dict = {"round_seed": seed, "recipe": recipe, "episodes": episodes,
                 "fresh_episodes": int(len(np.unique(fresh.episode)))}
    for name, frames in (("own_round", own), ("fresh_same_recipe", fresh)):
        if not len(frames):      # every fresh episode held the held-out object (a tiny --quick draw)
            out[name] = None
            continue
        ret = caption_retrieval(embedder.embed_images, embedder.embed_texts, frames, TRAIN_TEMPLATES, seed=seed,
                                keep_hits=True)
        hits = np.asarray(ret.pop("hits"), float)
        out[name] = {"top1": round(ret["top1"], 4), "ci95": episode_interval(hits, frames.episode, seed),
                     "n": ret["n"], "by_negative_kind": ret["by_negative_kind"]}
    return out


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=STUDIO_CHECKPOINT,
                   help="a studio CLIP checkpoint (default: the shipped one); its sidecar names the architecture")
    p.add_argument("--episodes", type=int, default=36,
                   help="scripted rollouts per task for the arm gain, reward by distance and approach (4 with --quick)")
    p.add_argument("--spearman-episodes", type=int, default=SPEARMAN_EPISODES,
                   help=f"scripted rollouts per task for the Spearman ({SPEARMAN_EPISODES}; 6 with --quick); the "
                        f"first {SPEARMAN_CONTINUITY} are the rollouts every run up to run 32 was measured on")
    p.add_argument("--caption-episodes", type=int, default=CAPTION_EPISODES,
                   help=f"held-out episodes for the caption figures ({CAPTION_EPISODES}; 15 with --quick); the "
                        f"first {CONTINUITY_EPISODES} are the draw every run up to run 30 was measured on")
    args = p.parse_args(argv)
    if min(args.episodes, args.caption_episodes, args.spearman_episodes) < 2:
        p.error(f"--episodes {args.episodes} / --caption-episodes {args.caption_episodes} / --spearman-episodes "
                f"{args.spearman_episodes}: the bootstrap intervals resample episodes, give at least 2 of each")
    if not args.checkpoint.is_file():
        raise SystemExit(f"{args.checkpoint} is missing: train it with `python -m agents.vlm.train_domain_clip`")
    register()
    embedder = studio_embedder(args.checkpoint, "cpu")
    n_eval = 15 if args.quick else args.caption_episodes
    seed = CAPTION_DRAW
    heldout = manipulation_frames(n_eval, seed, heldout=True)
    embed_heldout = embedded_once(embedder.embed_images, heldout.images)
    scenes = caption_retrieval(embed_heldout, embedder.embed_texts, heldout, HELDOUT_TEMPLATES, seed=seed,
                               keep_hits=True)
    hits = np.asarray(scenes.pop("hits"), float)
    # The first episodes' frames and negatives are those of a shorter draw (one random stream, drawn in order).
    first = heldout.episode < CONTINUITY_EPISODES
    seen_wording = caption_retrieval(embed_heldout, embedder.embed_texts, heldout, TRAIN_TEMPLATES,
                                     seed=seed)
    # Which words cost accuracy: the first training wording alone and behind a few words (see WORD_PROBES).
    word_probe = {prefix or "(none)": round(caption_retrieval(embed_heldout, embedder.embed_texts, heldout,
                                                             (prefix + TRAIN_TEMPLATES[0],), seed=seed)["top1"], 3)
                  for prefix in WORD_PROBES}
    mask = np.array([HELDOUT_OBJECT == f.obj for f in heldout.facts])
    held_obj = caption_retrieval(embedder.embed_images, embedder.embed_texts, heldout.subset(mask),
                                 HELDOUT_TEMPLATES, seed=seed) if mask.any() else {"top1": float("nan"), "n": 0}
    poses = pose_frames(10 if args.quick else 40, seed, heldout=True)
    pose_ret = caption_retrieval(embedder.embed_images, embedder.embed_texts, poses, POSE_HELDOUT_TEMPLATES,
                                 seed=seed)
    pose_word_probe = {t: round(caption_retrieval(embedder.embed_images, embedder.embed_texts, poses, (t,),
                                                  seed=seed)["top1"], 3) for t in POSE_WORD_PROBES}
    episodes = 4 if args.quick else args.episodes
    n_spearman = 6 if args.quick else args.spearman_episodes
    # Rendered once: a longer draw starts with the shorter one's rollouts (one random stream, drawn in order).
    long = {task: scripted_frames(task, max(episodes, n_spearman), seed) for task in ("push", "pick_place")}

    def first_rollouts(n: int) -> dict[str, FrameSet]:      # the first n rollouts of each task (no copy if all)
        return {task: f if n >= max(episodes, n_spearman) else f.subset(f.episode < n) for task, f in long.items()}

    rollouts, spearman_sets = first_rollouts(episodes), first_rollouts(n_spearman)
    sets_36 = first_rollouts(SPEARMAN_CONTINUITY)
    embed_rollouts = embedder.embed_images       # each task's rollouts embedded once, for every measure below
    for task, f in long.items():
        embed_rollouts = embedded_once(embed_rollouts, f.images, (rollouts[task].images, sets_36[task].images))
    progress = progress_spearman(embed_rollouts, embedder.embed_texts, n_spearman, seed, frames_by_task=spearman_sets)
    progress_36 = (progress_spearman(embed_rollouts, embedder.embed_texts, SPEARMAN_CONTINUITY, seed,
                                     frames_by_task=sets_36) if n_spearman >= SPEARMAN_CONTINUITY else None)
    ceiling = relation_ceiling(spearman_sets)
    hover = arm_hover(embed_rollouts, embedder.embed_texts, episodes, seed, scripted=rollouts["push"])
    occlusion = arm_occlusion(embed_rollouts, embedder.embed_texts, episodes, seed, scripted=rollouts["push"])
    by_distance = reward_by_distance(embed_rollouts, embedder.embed_texts, episodes, seed, frames=rollouts["push"])
    # Some 0.8 GB of frames (and the embedder that holds them); the measures below keep the first ``episodes``.
    del long, spearman_sets, sets_36, embed_rollouts

    def still_arm(prompt: str) -> dict:      # the same held-out scenes and search for every prompt
        return still_arm_share(embedder.embed_images, embedder.embed_texts,
                               range(STILL_ARM_SEEDS, STILL_ARM_SEEDS + (2 if args.quick else 8)), WORLD,
                               *PUSH_PROMPTS[prompt], population=16 if args.quick else 48,
                               generations=3 if args.quick else 6)

    still = still_arm("task")
    grip = gripper_retrieval(embed_heldout, embedder.embed_texts, heldout, HELDOUT_TEMPLATES,
                             rollouts["push"], seed=seed)
    still_whole = still_arm("whole")
    still_whole.pop("best_frames")
    sheet = (args.out.with_name(f"{args.out.stem}_still_arm.png") if args.out else
             (RESULTS / "quick" if args.quick else RESULTS) / "domain_clip_still_arm.png")
    sheet.parent.mkdir(parents=True, exist_ok=True)
    strip = Image.fromarray(np.concatenate(still.pop("best_frames"), axis=1))
    strip.resize((2 * strip.width, 2 * strip.height), Image.NEAREST).save(sheet)     # 96 px frames, shown at 2x
    sets = shape_sets(60 if args.quick else 300, 30 if args.quick else 150, seed)
    probe = shape_probe(embedder.embed_images, seed=seed, sets=sets)
    token_probe = token_shape_probe(embedder.model, sets, seed=seed)
    grip_probe = gripper_probe(embedder.embed_images, *sets, seed=seed)
    fit = fit_check(embedder, args.checkpoint, 4 if args.quick else FIT_EPISODES)
    seconds = 1.0 if args.quick else 3.0
    headline = {
        "caption_top1_heldout": round(scenes["top1"], 3),
        "caption_top1_heldout_ci95": episode_interval(hits, heldout.episode, seed),
        "caption_top1_heldout_60": round(float(hits[first].mean()), 3) if n_eval >= CONTINUITY_EPISODES else None,
        "caption_episodes": n_eval,
        "caption_top1_heldout_train_templates": round(seen_wording["top1"], 3),
        "caption_top1_if_shape_relation_won": round(scenes["top1_if_won"]["shape+relation"], 3),
        "caption_top1_heldout_object": round(held_obj["top1"], 3),
        "caption_top1_poses": round(pose_ret["top1"], 3),
        "spearman_progress": round(progress["pooled_mean_alpha1"], 3),
        "spearman_progress_ci95": progress["pooled_mean_alpha1_ci95"],
        "spearman_progress_36": round(progress_36["pooled_mean_alpha1"], 3) if progress_36 else None,
        "spearman_episodes": n_spearman,
        "spearman_progress_alpha0": round(progress["pooled_mean_alpha0"], 3),
        "spearman_relation_ceiling": round(ceiling["pooled_mean"], 3),
        "arm_gain": round(hover["arm_gain"], 3),
        "occlusion_gain": round(occlusion["occlusion_gain"], 3),
        "still_arm_share": round(still["still_arm_share"], 3),
        "still_arm_share_median": round(still["median"], 3),
        "gripper_top1_heldout": round(grip["top1"], 3),
        "approach_spearman_whole_prompt": round(grip["approach_spearman"], 3),
        "approach_spearman_task_prompt": round(grip["approach_spearman_task_prompt"], 3),
        "still_arm_share_whole_prompt": round(still_whole["still_arm_share"], 3),
        "shape_probe_heldout": round(probe["heldout_acc"], 3),
        "token_shape_probe_heldout": round(token_probe["heldout_acc"], 3),
        "gripper_probe_heldout": round(grip_probe["heldout_acc"], 3),
        "caption_top1_own_round": fit["own_round"]["top1"] if fit and fit["own_round"] else None,
        "caption_top1_fresh_same_recipe": (fit["fresh_same_recipe"]["top1"] if fit and fit["fresh_same_recipe"]
                                           else None),
        "embeds_per_s_cpu": round(embeds_per_s(embedder, 2, seconds)),
        "embeds_per_s_cpu_1_thread": round(embeds_per_s(embedder, 1, seconds)),
        "checkpoint_mb": round(args.checkpoint.stat().st_size / 2**20, 2),
        "quick": args.quick,
    }
    details = {"retrieval_heldout_scenes": scenes, "retrieval_heldout_scenes_train_templates": seen_wording,
               "retrieval_heldout_object": held_obj, "retrieval_poses": pose_ret,
               "word_probe": word_probe, "pose_word_probe": pose_word_probe, "push_reward_by_distance": by_distance,
               "progress_spearman": progress, "progress_spearman_36": progress_36, "relation_ceiling": ceiling,
               "arm_hover": hover, "arm_occlusion": occlusion, "still_arm": still, "gripper": grip,
               "still_arm_whole_prompt": still_whole,
               "still_arm_sheet": sheet.name, "shape_probe": probe, "token_shape_probe": token_probe,
               "gripper_probe": grip_probe, "fit_check": fit, "model": embedder.name,
               "checkpoint": args.checkpoint.name,
               "k_negatives": 4, "rollout_episodes_per_task": episodes,
               "spearman_episodes_per_task": n_spearman}
    finish("domain_clip", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
