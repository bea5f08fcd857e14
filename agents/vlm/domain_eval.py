"""Honest measurements of a CLIP model on the studio's scenes (used by training and by ``bench.domain_clip``).

* :func:`caption_retrieval`: for each held-out frame, its true caption against ``k`` hard negatives that
  each change exactly one fact (relation, lifted or not, object colour, object shape, reference colour);
  top-1 accuracy. With ``k = 4`` chance is 20%.
* :func:`progress_spearman`: scripted push and pick-and-place rollouts on held-out seeds; Spearman rank
  correlation between the CLIP reward for the task prompt ("the red cube is on the blue pad", baseline "the
  red cube is far from the blue pad", alpha 0 and 1) and true task progress (1 - object-to-goal distance /
  start distance), pooled over all frames of all episodes, and the mean of the per-episode correlations.

Both take plain callables (frames -> embeddings, texts -> embeddings), so any model can be measured.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from agents.vlm.captions import Facts, caption, distractors
from agents.vlm.domain_data import FrameSet, manipulation_frames
from worlds.manipulation import COLORS, SHAPES

EmbedImages = Callable[[np.ndarray], np.ndarray]
EmbedTexts = Callable[[list[str]], np.ndarray]
GOAL_TEMPLATE = "the {obj} is {rel} the {ref}"


def rank(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (as scipy.stats.rankdata)."""
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), dtype=np.float64)
    ranks[order] = np.arange(len(x), dtype=np.float64)
    sorted_x = x[order]
    start = 0
    for i in range(1, len(x) + 1):
        if i == len(x) or sorted_x[i] != sorted_x[start]:
            ranks[order[start:i]] = (start + i - 1) / 2.0
            start = i
    return ranks


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally long arrays."""
    ra, rb = rank(np.asarray(a, float)), rank(np.asarray(b, float))
    ra -= ra.mean()
    rb -= rb.mean()
    return float((ra @ rb) / np.sqrt((ra @ ra) * (rb @ rb)))


def caption_retrieval(embed_images: EmbedImages, embed_texts: EmbedTexts, frames: FrameSet,
                      templates: Sequence[str], k: int = 4, seed: int = 0) -> dict:
    """Top-1 accuracy of the true caption among ``k`` one-fact-changed negatives, per frame."""
    rng = np.random.default_rng(seed)
    img = embed_images(frames.images)
    colours, shapes = list(COLORS), list(SHAPES)
    candidates: list[list[str]] = []
    for facts, present in zip(frames.facts, frames.present):
        negatives = distractors(facts, colours, shapes, present)
        chosen = [negatives[j] for j in rng.choice(len(negatives), size=min(k, len(negatives)), replace=False)]
        template = templates[rng.integers(len(templates))]
        candidates.append([caption(f, template) for f in [facts, *chosen]])
    unique = sorted({c for cands in candidates for c in cands})
    index = {c: i for i, c in enumerate(unique)}
    txt = embed_texts(unique)
    correct = np.array([np.argmax(txt[[index[c] for c in cands]] @ img[i]) == 0
                        for i, cands in enumerate(candidates)])
    by_relation = {}
    for rel in ("on", "next to", "far from"):
        mask = np.array([f.relation == rel for f in frames.facts])
        if mask.any():
            by_relation[rel] = float(correct[mask].mean())
    return {"top1": float(correct.mean()), "n": int(len(correct)), "k": k, "by_relation": by_relation}


def progress_spearman(embed_images: EmbedImages, embed_texts: EmbedTexts, n_episodes: int = 12,
                      seed: int = 0, tasks: tuple[str, ...] = ("push", "pick_place")) -> dict:
    """Spearman between the goal-prompt reward and true progress on noiseless scripted rollouts."""
    out = {}
    for task in tasks:
        frames = manipulation_frames(n_episodes, seed, heldout=True, every=1, random_fraction=0.0, noise=0.0,
                                     tasks=(task,))
        img = embed_images(frames.images)
        goals = [caption(Facts(obj=f.obj, ref=f.ref, relation="on"), GOAL_TEMPLATE) for f in frames.facts]
        bases = [caption(Facts(obj=f.obj, ref=f.ref, relation="far from"), GOAL_TEMPLATE) for f in frames.facts]
        unique = sorted(set(goals) | set(bases))
        txt = embed_texts(unique)
        index = {g: i for i, g in enumerate(unique)}
        g = txt[[index[x] for x in goals]]
        b = txt[[index[x] for x in bases]]
        # alpha = 0: cosine with the goal prompt. alpha = 1: VLM-RM's projection onto the baseline-to-goal
        # direction, which (up to a per-scene constant) is the image's coordinate along that direction.
        rewards = {"alpha0": np.einsum("nd,nd->n", img, g),
                   "alpha1": np.einsum("nd,nd->n", img - g, (g - b) / np.linalg.norm(g - b, axis=1, keepdims=True))}
        out[task] = {"frames": int(len(frames))}
        for name, reward in rewards.items():
            per_episode = [spearman(reward[frames.episode == e], frames.progress[frames.episode == e])
                           for e in np.unique(frames.episode) if np.ptp(frames.progress[frames.episode == e]) > 0]
            out[task][name] = {"pooled": spearman(reward, frames.progress),
                               "per_episode_mean": float(np.mean(per_episode))}
    for name in ("alpha0", "alpha1"):
        out[f"pooled_mean_{name}"] = float(np.mean([out[t][name]["pooled"] for t in tasks]))
    return out
