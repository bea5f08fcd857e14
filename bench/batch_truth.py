"""How wrong the studio CLIP trainer's in-batch labels are without ``--scene-truth``.

``python -m bench.batch_truth [--quick] [--episodes N] [--batches B] [--batch-size K]`` renders training frames as
a round of ``train_domain_clip`` does (push, pick-and-place and stack in turn, half the arms wandering; seeded),
draws batches of table frames, and counts, per image, the captions of the other frames of its batch that:

* ``old_true``: state its own facts, the only positives the trainer had before ``--scene-truth``;
* ``added_true``: are true of it through object 0's relation to another reference, which the old labels counted
  as false and :mod:`agents.vlm.scene_truth` counts as true;
* ``unknown``: are about another object in view against a reference in view (or object 0 against an object whose
  relation the frame does not record), which the old labels counted as false and ``--scene-truth`` leaves out.

Both the other frames' own captions (``captions``) and their hard negatives (``negatives``,
:func:`~agents.vlm.train_domain_clip.draw_negatives`, three a frame as the shipped runs draw) are counted; no
caption says the gripper clause (the shipped runs do not). It measures labels, not a model: no training, no
timing. Headline keys: ``old_true_per_image``, ``added_true_per_image``, ``unknown_per_image`` (own captions),
the same with ``_negatives``, ``others_per_image``.
"""

from __future__ import annotations

import numpy as np
import torch

from bench.common import finish, parser

HEADLINE = ("old_true_per_image", "added_true_per_image", "unknown_per_image")


def count(episodes: int, batches: int, batch_size: int, seed: int, hard_negatives: int = 3) -> dict:
    """The per-image counts of the module docstring over ``batches`` batches of ``batch_size`` frames."""
    from agents.vlm import train_domain_clip as T
    from agents.vlm.domain_data import manipulation_frames
    from agents.vlm.scene_truth import SceneIndex

    data = manipulation_frames(episodes, seed, every=6, wander_fraction=0.5)
    facts = [T.unsaid_gripper(f) for f in data.facts]
    fact_ids, name_ids = {}, {}

    def fact_id(f) -> int:
        return fact_ids.setdefault(f, len(fact_ids))

    def name_id(n: str) -> int:
        return name_ids.setdefault(n, len(name_ids))

    relations = [data.relations_of(i) for i in range(len(data))]
    index = SceneIndex([[f] for f in facts], data.present, relations, fact_id, name_id)
    rng = np.random.default_rng(seed)
    negatives = [T.draw_negatives(f, data.present[i], relations[i], hard_negatives, rng)
                 for i, f in enumerate(facts)]
    sums = {f"{k}{kind}": 0.0 for k in HEADLINE for kind in ("", "_negatives")}
    images = 0
    for _ in range(batches):
        idx = torch.tensor(rng.choice(len(data), min(batch_size, len(data)), replace=False))
        n = len(idx)
        for kind, texts, owner in (
                ("", [facts[i] for i in idx.tolist()], torch.arange(n)),
                ("_negatives", [f for i in idx.tolist() for f in negatives[i]],
                 torch.tensor([k for k, i in enumerate(idx.tolist()) for _ in negatives[i]]))):
            labels = torch.tensor([fact_id(f) for f in texts])
            none = torch.zeros(len(texts), dtype=torch.long)
            where = torch.zeros(n, dtype=torch.long)
            new = T.positives(index.labels[idx], where, labels, none)
            old = T.positives(torch.tensor([fact_id(facts[i]) for i in idx.tolist()]), where, labels, none)
            unknown = index.unknown(idx, torch.tensor([name_id(f.obj) for f in texts]),
                                    torch.tensor([name_id(f.ref) for f in texts]),
                                    torch.tensor([f.lifted for f in texts]),
                                    torch.ones(n, len(texts), dtype=torch.bool))
            others = owner[None, :] != torch.arange(n)[:, None]      # another frame's caption or negative
            sums["old_true_per_image" + kind] += float(old[others].sum())
            sums["added_true_per_image" + kind] += float((new - old)[others].sum())
            sums["unknown_per_image" + kind] += float((unknown & (new == 0))[others].sum())
        images += n
    return {"frames": len(data), "episodes": episodes, "batches": batches, "batch_size": batch_size,
            "images": images, "others_per_image": n - 1, **{k: round(v / images, 3) for k, v in sums.items()}}


def main(argv=None) -> dict:
    p = parser(__doc__.splitlines()[0])
    p.add_argument("--episodes", type=int, default=150)
    p.add_argument("--batches", type=int, default=20)
    p.add_argument("--batch-size", type=int, default=224, help="table frames a batch (the shipped 256 less poses)")
    p.add_argument("--seed", type=int, default=777000)
    a = p.parse_args(argv)
    limits = (("--episodes", a.episodes, 1), ("--batches", a.batches, 1), ("--batch-size", a.batch_size, 2))
    for name, value, least in limits:
        if value < least:
            p.error(f"{name} {value} is too small: give at least {least}")
    if a.quick:
        a.episodes, a.batches = 30, 5
    result = count(a.episodes, a.batches, a.batch_size, a.seed)
    headline = {"quick": a.quick, **{k: v for k, v in result.items() if k.endswith(("_image", "_negatives"))}}
    finish("batch_truth", result, headline, a.out)
    return headline


if __name__ == "__main__":
    main()
