"""Studio CLIP checkpoints side by side on fresh held-out draws, with the differences paired.

``python -m bench.clip_compare CKPT [CKPT ...] [--draws 2 3] [--quick]``

``bench.domain_clip`` measures every figure on one fixed held-out draw (seed 1). Runs are chosen by those
figures, so after many runs the best one on that draw carries some luck of the draw as well as its own. This
bench renders other held-out draws (``--draws``: seeds; the training runs evaluate on their own training seed
and ``bench.domain_clip`` on seed 1, so pick neither) and scores every checkpoint on the very same frames:

* ``caption_top1``: 5-way caption retrieval against one-fact-changed hard negatives, held-out paraphrases
  (:func:`agents.vlm.domain_eval.caption_retrieval`, as ``caption_top1_heldout``), per draw and pooled over
  draws (weighted by frames);
* ``spearman``: the pooled Spearman of the task-prompt reward with true progress on scripted push and
  pick-and-place rollouts of each draw (:func:`agents.vlm.domain_eval.progress_spearman`, alpha 1, averaged
  over the two tasks), per draw and its mean over draws;
* ``paired``: for every checkpoint after the first, its caption top-1 minus the first's with a 95% bootstrap
  interval over frames (both models scored on the same frames and negatives, so the interval is the paired
  one), and the number of frames on which the two disagree.

Each draw's details also keep the pairwise wins per kind of negative and the colour wins split by binding
(``by_negative_kind``, ``colour_wins_by_binding``, as ``bench.domain_clip`` reports them for its draw).

The first checkpoint is the reference (the shipped one, by default, when ``--reference`` is not given).
Headline keys: ``<name>_caption_top1`` and ``<name>_spearman`` for each checkpoint (``name`` is the file's stem
unless named ``NAME=PATH``), and ``<name>_minus_reference`` for the others.
"""

from __future__ import annotations

from pathlib import Path

from worlds import gl  # noqa: F401

import numpy as np

from agents.vlm.captions import HELDOUT_TEMPLATES
from agents.vlm.domain_data import manipulation_frames
from agents.vlm.domain_eval import caption_retrieval, progress_spearman, scripted_frames
from agents.vlm.embedder import STUDIO_CHECKPOINT, studio_embedder
from agents.vlm.model_configs import register
from bench.common import finish, parser

BOOTSTRAP_DRAWS = 2000


def named(spec: str) -> tuple[str, Path]:
    """``NAME=PATH`` or ``PATH`` (named by its stem) -> (name, path)."""
    name, _, path = spec.rpartition("=")
    path = Path(path)
    return (name or path.stem), path


def paired_interval(a: np.ndarray, b: np.ndarray, seed: int = 0) -> list[float]:
    """95% bootstrap interval of ``mean(b) - mean(a)`` over paired per-frame hits (resampling frames)."""
    rng = np.random.default_rng(seed)
    diff = b.astype(float) - a.astype(float)
    means = [diff[rng.integers(len(diff), size=len(diff))].mean() for _ in range(BOOTSTRAP_DRAWS)]
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("checkpoints", nargs="*", help="studio CLIP checkpoints, PATH or NAME=PATH (the first is the "
                                                  "reference; default: the shipped one alone)")
    p.add_argument("--reference", default=None, help="put this checkpoint first (NAME=PATH or PATH)")
    p.add_argument("--draws", type=int, nargs="+", default=[2, 3],
                   help="held-out draws (seeds) to render; not 1, which bench.domain_clip measures")
    p.add_argument("--episodes", type=int, default=60, help="held-out caption episodes per draw (6 with --quick)")
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
            p.error(f"checkpoint {path} ({name}) is not a file: give a studio CLIP .pt (its .json beside it)")
    if args.episodes < 1 or args.rollouts < 2:
        p.error(f"--episodes {args.episodes} / --rollouts {args.rollouts}: give at least 1 and 2")
    episodes, rollouts = (6, 3) if args.quick else (args.episodes, args.rollouts)
    register()
    embedders = {name: studio_embedder(path, "cpu") for name, path in models}

    hits: dict[str, list[np.ndarray]] = {n: [] for n in names}
    per_draw: dict[str, dict] = {n: {} for n in names}
    for draw in args.draws:
        frames = manipulation_frames(episodes, draw, heldout=True)
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
    reference = names[0]
    results: dict = {"draws": args.draws, "episodes_per_draw": episodes, "rollouts_per_task": rollouts,
                     "reference": reference, "checkpoints": {n: str(p) for n, p in models}, "per_draw": per_draw,
                     "paired": {}}
    headline: dict = {}
    for name in names:
        top1 = float(np.concatenate(hits[name]).mean())
        headline[f"{name}_caption_top1"] = round(top1, 4)
        headline[f"{name}_spearman"] = round(float(np.mean([d["spearman"] for d in per_draw[name].values()])), 4)
    ref = np.concatenate(hits[reference])
    for name in names[1:]:
        other = np.concatenate(hits[name])
        results["paired"][name] = {"minus_reference": round(float(other.mean() - ref.mean()), 4),
                                   "ci95": paired_interval(ref, other), "frames_disagreeing": int((ref != other).sum()),
                                   "frames": int(len(ref))}
        headline[f"{name}_minus_reference"] = results["paired"][name]["minus_reference"]
    headline["quick"] = bool(args.quick)
    finish("clip_compare", results, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
