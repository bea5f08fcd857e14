"""Studio CLIP checkpoints side by side on fresh held-out draws, with the differences paired.

``python -m bench.clip_compare [NAME=]CKPT [[NAME=]CKPT ...] [--reference [NAME=]CKPT] [--draws 1000 2000]
[--episodes 60] [--rollouts 36] [--quick]``

``bench.domain_clip`` measures every figure on one fixed held-out draw (seed 1). Runs are chosen by those
figures, so after many runs the best one on that draw carries some luck of the draw as well as its own. This
bench renders other held-out draws (``--draws``: seeds) and scores every checkpoint on the very same frames.
A draw's episode ``i`` resets with seed ``draw + i + EVAL_SEED_OFFSET + SCENE_SEED_STRIDE * objects``
(:func:`~agents.vlm.domain_data.manipulation_frames`), so nearby seeds share scenes: a draw whose scenes could
meet those of another draw or of ``bench.domain_clip``'s (seed 1, 240 episodes; its fit check's seed 5000, 60)
is refused. The trainer's own check draws use the training seeds (multiples of 5,000 or 10,000 so far: held-out
scenes, never trained on, but a run may have been chosen by them); the defaults 1000 and 2000 meet none.
Per checkpoint:

* ``caption_top1``: 5-way caption retrieval against one-fact-changed hard negatives, held-out paraphrases
  (:func:`agents.vlm.domain_eval.caption_retrieval`, as ``caption_top1_heldout``), per draw and pooled over
  draws (weighted by frames), the pooled one with a 95% interval that resamples whole episodes
  (``caption_top1_ci95`` in the details);
* ``spearman``: the pooled Spearman of the task-prompt reward with true progress on scripted push and
  pick-and-place rollouts of each draw (:func:`agents.vlm.domain_eval.progress_spearman`, alpha 1, averaged
  over the two tasks), per draw and its mean over draws;
* ``paired``: for every checkpoint after the first, its caption top-1 minus the first's with a 95% bootstrap
  interval that resamples whole episodes (frames of one episode share a scene, so they are not independent;
  both models are scored on the same frames and negatives, so the interval is the paired one), and the number
  of frames on which the two disagree.

Each draw's details also keep the pairwise wins per kind of negative and the colour wins split by binding
(``by_negative_kind``, ``colour_wins_by_binding``, as ``bench.domain_clip`` reports them for its draw).

``objects``: the caption retrieval again (with its own draw of negatives, the same for every checkpoint) on the
frames whose target is the held-out object ("purple cylinder", never in a training scene) and on those whose
target is its colour in the shape training does show ("purple cube"), pooled over the draws: top-1 and the
shape negatives' pairwise wins. Training that breaks the link between that colour and a shape
(``train_domain_clip --shapeless-colours``) should lift the first without losing the second. Headline:
``<name>_purple_cylinder_shape`` and ``<name>_purple_cube_shape``.

The reference is ``--reference`` when given, else the first checkpoint named; with no checkpoint at all, the
shipped one is measured alone.
Headline keys: ``<name>_caption_top1`` and ``<name>_spearman`` for each checkpoint (``name`` is the file's stem
unless named ``NAME=PATH``), and ``<name>_minus_reference`` for the others.
"""

from __future__ import annotations

import time
from pathlib import Path

from worlds import gl  # noqa: F401

import numpy as np

from agents.vlm.captions import HELDOUT_TEMPLATES
from agents.vlm.domain_data import HELDOUT_COLOUR_SEEN, HELDOUT_OBJECT, SCENE_SEED_STRIDE, manipulation_frames
from agents.vlm.domain_eval import caption_retrieval, episode_interval, progress_spearman, scripted_frames
from agents.vlm.embedder import STUDIO_CHECKPOINT, studio_embedder
from agents.vlm.model_configs import register
from bench.common import CAPTION_DRAW, CAPTION_EPISODES, COMPARE_DRAWS, COMPARE_EPISODES, FIT_DRAW, FIT_EPISODES, \
    finish, parser

BOOTSTRAP_DRAWS = 2000
DEFAULT_DRAWS, DEFAULT_EPISODES = COMPARE_DRAWS, COMPARE_EPISODES
# bench.domain_clip's held-out draws (its captions, its fit check): a draw here must meet neither.
BENCH_DRAWS = ((CAPTION_DRAW, CAPTION_EPISODES), (FIT_DRAW, FIT_EPISODES))
OBJECT_COUNTS = (1, 2, 3)


def named(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named by its stem) -> (name, path). A name holds no "/", so a bare path with
    an "=" in a folder's name (``runs/lr=3e-4/run.pt``) is read as a path."""
    name, sep, path = spec.partition("=")
    if not sep or "/" in name:
        name, path = "", spec
    path = Path(path)
    return (name or path.stem), path


def draws_meet(a: int, b: int, width: int) -> bool:
    """Whether draws ``a`` and ``b``, ``width`` episodes each, can reset an episode with the same seed (for some
    object counts): then both could hold the very same scene."""
    return any(abs((a + SCENE_SEED_STRIDE * ka) - (b + SCENE_SEED_STRIDE * kb)) < width
               for ka in OBJECT_COUNTS for kb in OBJECT_COUNTS)


def object_targets() -> dict[str, str]:
    """``{"purple_cylinder": "purple cylinder", "purple_cube": "purple cube"}``: the held-out object, then its
    colour in the other shape, the one the training scenes show (keys: the names with underscores)."""
    return {name.replace(" ", "_"): name for name in (HELDOUT_OBJECT, *HELDOUT_COLOUR_SEEN)}


def pool_objects(parts: list[dict]) -> dict:
    """Per-draw ``{"top1", "n", "shape", "shape_n"}`` pooled over the draws, weighted by frames (top-1) and by
    shape negatives (shape); ``None`` where no draw had any."""
    n, shape_n = sum(q["n"] for q in parts), sum(q["shape_n"] for q in parts)
    return {"top1": round(sum(q["top1"] * q["n"] for q in parts) / n, 4) if n else None, "n": n,
            "shape": round(sum(q["shape"] * q["shape_n"] for q in parts) / shape_n, 4) if shape_n else None,
            "shape_n": shape_n}


def paired_interval(a: np.ndarray, b: np.ndarray, groups: np.ndarray, seed: int = 0) -> list[float]:
    """95% bootstrap interval of ``mean(b) - mean(a)`` over paired per-frame hits, resampling whole ``groups``
    (one label per frame: its draw and episode) with replacement."""
    return episode_interval(b.astype(float) - a.astype(float), groups, seed, BOOTSTRAP_DRAWS)


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="*", help="studio CLIP checkpoints, PATH or NAME=PATH (the first is the "
                                                  "reference; default: the shipped one alone)")
    p.add_argument("--reference", default=None, help="put this checkpoint first (NAME=PATH or PATH)")
    p.add_argument("--draws", type=int, nargs="+", default=list(DEFAULT_DRAWS),
                   help="held-out draws (seeds) to render; any that could share a scene with another or with "
                        "bench.domain_clip's draws (seeds 1 and 5000) is refused")
    p.add_argument("--episodes", type=int, default=DEFAULT_EPISODES,
                   help="held-out caption episodes per draw (6 with --quick)")
    p.add_argument("--rollouts", type=int, default=36, help="scripted rollouts per task and draw (3 with --quick)")
    args = p.parse_args(argv)
    specs = ([args.reference] if args.reference else []) + list(args.checkpoints)
    specs = specs or [f"shipped={STUDIO_CHECKPOINT}"]
    models = [named(s) for s in specs]
    names = [n for n, _ in models]
    if len(set(names)) != len(names):
        p.error(f"two checkpoints share a name ({names}): name them NAME=PATH")
    for name, path in models:
        if not path.is_file():
            p.error(f"checkpoint {path} ({name}) is not a file: give a studio CLIP checkpoint (.pt), e.g. "
                    f"{STUDIO_CHECKPOINT}")
    if args.episodes < 1 or args.rollouts < 2:
        p.error(f"--episodes {args.episodes} / --rollouts {args.rollouts}: give --episodes of at least 1 and "
                f"--rollouts of at least 2 (the Spearman needs frames of more than one rollout)")
    episodes, rollouts = (6, 3) if args.quick else (args.episodes, args.rollouts)
    own_width = max(episodes, rollouts)
    for k, draw in enumerate(args.draws):
        for other, other_width in [*BENCH_DRAWS, *((d, own_width) for d in args.draws[:k])]:
            width = max(own_width, other_width)
            if draws_meet(draw, other, width):
                p.error(f"--draws {draw} could share scenes with draw {other} ({width} episodes each, seeds "
                        f"{SCENE_SEED_STRIDE} apart per object count): space the draws at least {width} apart, "
                        f"e.g. 1000 and 2000")
    register()
    embedders = {name: studio_embedder(path, "cpu") for name, path in models}

    started = time.perf_counter()
    hits: dict[str, list[np.ndarray]] = {n: [] for n in names}
    groups: list[np.ndarray] = []
    per_draw: dict[str, dict] = {n: {} for n in names}
    targets = object_targets()
    by_object: dict[str, dict[str, list]] = {n: {k: [] for k in targets} for n in names}
    for draw in args.draws:
        frames = manipulation_frames(episodes, draw, heldout=True)
        groups.append(np.array([f"{draw}:{e}" for e in frames.episode]))
        runs = {task: scripted_frames(task, rollouts, draw) for task in ("push", "pick_place")}
        for name, emb in embedders.items():
            ret = caption_retrieval(emb.embed_images, emb.embed_texts, frames, HELDOUT_TEMPLATES, seed=draw,
                                    keep_hits=True)
            hits[name].append(np.asarray(ret["hits"], bool))
            rho = progress_spearman(emb.embed_images, emb.embed_texts, rollouts, draw, frames_by_task=runs)
            per_draw[name][str(draw)] = {"caption_top1": round(ret["top1"], 4), "frames": ret["n"],
                                         "spearman": round(rho["pooled_mean_alpha1"], 4),
                                         "by_negative_kind": ret["by_negative_kind"],
                                         "colour_wins_by_binding": ret.get("colour_wins_by_binding", {})}
            for key, target in targets.items():
                mask = np.array([f.obj == target for f in frames.facts])
                if not mask.any():
                    continue
                sub = caption_retrieval(emb.embed_images, emb.embed_texts, frames.subset(mask), HELDOUT_TEMPLATES,
                                        seed=draw)
                by_object[name][key].append({"top1": sub["top1"], "n": sub["n"],
                                             "shape": sub["by_negative_kind"].get("shape", 0.0),
                                             "shape_n": sub["negatives_by_kind"].get("shape", 0)})
    reference = names[0]
    results: dict = {"draws": args.draws, "episodes_per_draw": episodes, "rollouts_per_task": rollouts,
                     "reference": reference, "checkpoints": {n: str(p) for n, p in models}, "per_draw": per_draw,
                     "caption_top1_ci95": {}, "paired": {}, "seconds": round(time.perf_counter() - started, 1)}
    headline: dict = {}
    for name in names:
        top1 = float(np.concatenate(hits[name]).mean())
        results["caption_top1_ci95"][name] = episode_interval(np.concatenate(hits[name]), np.concatenate(groups))
        headline[f"{name}_caption_top1"] = round(top1, 4)
        headline[f"{name}_spearman"] = round(float(np.mean([d["spearman"] for d in per_draw[name].values()])), 4)
        results.setdefault("objects", {})[name] = {key: {"target": targets[key], **pool_objects(parts)}
                                                   for key, parts in by_object[name].items()}
        for key in targets:
            headline[f"{name}_{key}_shape"] = results["objects"][name][key]["shape"]
    ref = np.concatenate(hits[reference])
    for name in names[1:]:
        other = np.concatenate(hits[name])
        results["paired"][name] = {"minus_reference": round(float(other.mean() - ref.mean()), 4),
                                   "ci95": paired_interval(ref, other, np.concatenate(groups)),
                                   "frames_disagreeing": int((ref != other).sum()),
                                   "frames": int(len(ref))}
        headline[f"{name}_minus_reference"] = results["paired"][name]["minus_reference"]
    headline["quick"] = bool(args.quick)
    finish("clip_compare", results, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
