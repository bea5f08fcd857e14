"""Honest measurements of a CLIP model on the studio's scenes (used by training and by ``bench.domain_clip``).

* :func:`caption_retrieval`: for each held-out frame, its true caption against ``k`` hard negatives that
  each change exactly one fact (relation, lifted or not, object colour, object shape, reference colour) and
  are false of the scene; top-1 accuracy. With ``k = 4`` chance is 20%. ``by_negative_kind`` gives, per kind
  of changed fact, how often the true caption beat that negative (pairwise; chance 50%).
  ``relation_by_margin`` splits the pairwise relation wins (pads only) by how far the object is from the
  nearest place where its relation changes (6 cm: on / next to; 15 cm: next to / far from): a caption for an
  object 5 mm inside "next to" describes nearly the same picture as its "far from" negative, so those frames
  bound what any model can reach on this metric. Its captions never say where the gripper is.
* :func:`gripper_retrieval`: the gripper clause alone (:data:`~agents.vlm.captions.GRIPPER_CLAUSE`): the
  caption saying where the gripper truly is against the same caption with each other relation (chance 1/3),
  and whether the push goal said whole (:func:`whole_goal_prompts`: the cube on the pad and the gripper at the
  cube, against both far) rises as a scripted arm approaches the cube.
* :func:`progress_spearman`: scripted push and pick-and-place rollouts on held-out seeds; Spearman rank
  correlation between the CLIP reward for the task prompt ("the red cube is on the blue pad", baseline "the
  red cube is far from the blue pad", alpha 0 and 1) and true task progress (1 - object-to-goal distance /
  start distance), pooled over all frames of all episodes, and the mean of the per-episode correlations.
  :func:`relation_ceiling` is what a perfect reader of the captions' three relations reaches on the same
  rollouts: a reward that only knows "on", "next to" or "far from" cannot rank frames within a relation.

* :func:`shape_probe`: is the object's shape in the image embedding at all? A logistic regression from the
  embedding to "cube or cylinder", fitted on one-object scenes of the training range and scored on held-out
  ones. Near chance, no caption or prompt can name the shape, and the fix is in the image tower, not the text.
* :func:`gripper_probe`: the same question for where the gripper is against the object (at, near, far from).
* :func:`arm_hover`: can the arm alone earn the reward? Held-out push scenes where an
  :class:`~agents.vlm.domain_data.ArmWander` arm hovers over the pad and roams while the cube stays far from
  it, against scripted pushes that end with the cube on the pad: the share of the reward of success that
  hovering earns (``arm_gain``, 0 is a reward the arm cannot fake).
* :func:`arm_occlusion`: can the arm earn it by hiding the scene? The same, with an arm that goes between the
  camera and the cube or the pad (``occlusion_gain``).

All take plain callables (frames -> embeddings, texts -> embeddings), so any model can be measured.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Callable, Sequence

import numpy as np

from agents.vlm.captions import GRIPPER_RELATIONS, Facts, caption, colour_elsewhere, distractors, negative_kind, \
    unsaid_gripper
from agents.vlm.domain_data import PAD_THRESHOLDS, FrameSet, manipulation_frames
from worlds.manipulation import COLORS, SHAPES

MARGIN_BANDS_CM = (0, 1, 2, 4, 8)     # lower edges of the relation_by_margin bands (the last is open)
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
                      templates: Sequence[str], k: int = 4, seed: int = 0, keep_hits: bool = False) -> dict:
    """Top-1 accuracy of the true caption among ``k`` one-fact-changed negatives, per frame (each frame in one
    of ``templates``, drawn at random). Also: top-1 per true relation (``by_relation``) and per template
    (``by_template``: what each wording costs), pairwise wins per kind of negative (``by_negative_kind``; how
    many negatives of each kind: ``negatives_by_kind``),
    relation wins per distance to the nearest relation threshold (``relation_by_margin``), the pairwise wins of
    each kind per where the gripper truly is against the object (``wins_by_gripper``, kind -> at, near or far
    from it; a gripper at the object can hide it), and the colour wins per whether the negative's colour belongs
    to another object in view (``colour_wins_by_binding``: "elsewhere" or "absent"; a model that sees the
    colours but not which object wears which loses the first). ``top1_if_won``: the top-1 had every negative of
    one kind (or of shape and relation both) been beaten, the rest scored as they were: what mastering that fact
    alone would reach. No caption here says where the gripper is (a recorded ``Facts.gripper`` is dropped), so
    the figure means what it meant for the models trained before the clause existed; :func:`gripper_retrieval`
    measures the clause. ``keep_hits``: also ``hits``, each frame's success in order, so two models scored on
    the same frames (same ``seed``) can be compared pairwise."""
    rng = np.random.default_rng(seed)
    img = embed_images(frames.images)
    colours, shapes = list(COLORS), list(SHAPES)
    candidates: list[list[str]] = []
    kinds: list[list[str]] = []
    used: list[str] = []
    grippers = [f.gripper for f in frames.facts]
    bound: list[list[bool]] = []
    for i, (facts, present) in enumerate(zip(frames.facts, frames.present)):
        facts = unsaid_gripper(facts)
        negatives = distractors(facts, colours, shapes, present, frames.relations_of(i))
        chosen = [negatives[j] for j in rng.choice(len(negatives), size=min(k, len(negatives)), replace=False)]
        template = templates[rng.integers(len(templates))]
        used.append(template)
        candidates.append([caption(f, template) for f in [facts, *chosen]])
        kinds.append([negative_kind(facts, f) for f in chosen])
        bound.append([colour_elsewhere(kind, facts, f, present) for kind, f in zip(kinds[-1], chosen)])
    unique = sorted({c for cands in candidates for c in cands})
    index = {c: i for i, c in enumerate(unique)}
    txt = embed_texts(unique)
    scores = [txt[[index[c] for c in cands]] @ img[i] for i, cands in enumerate(candidates)]
    correct = np.array([s[0] > s[1:].max(initial=-np.inf) for s in scores])   # strict: a tie is not a success
    pairwise: dict[str, list[bool]] = {}
    margin_wins: list[tuple[float, bool]] = []
    by_gripper: dict[str, dict[str, list[bool]]] = {}
    by_binding: dict[str, dict[str, list[bool]]] = {}
    for i, (s, ks) in enumerate(zip(scores, kinds)):
        for score, kind, elsewhere in zip(s[1:], ks, bound[i]):
            pairwise.setdefault(kind, []).append(bool(s[0] > score))
            if kind in ("obj_colour", "ref_colour"):
                where = "elsewhere" if elsewhere else "absent"
                by_binding.setdefault(kind, {}).setdefault(where, []).append(bool(s[0] > score))
            if grippers[i]:
                by_gripper.setdefault(kind, {}).setdefault(grippers[i], []).append(bool(s[0] > score))
            if kind == "relation" and frames.ref_distance is not None and np.isfinite(frames.ref_distance[i]):
                margin = min(abs(float(frames.ref_distance[i]) - t) for t in PAD_THRESHOLDS)
                margin_wins.append((100 * margin, bool(s[0] > score)))
    by_relation = {}
    for rel in ("on", "next to", "far from"):
        mask = np.array([f.relation == rel for f in frames.facts])
        if mask.any():
            by_relation[rel] = float(correct[mask].mean())
    by_template = {t: {"top1": round(float(correct[[u == t for u in used]].mean()), 4), "n": used.count(t)}
                   for t in templates if t in used}
    out = {"top1": float(correct.mean()), "n": int(len(correct)), "k": k, "by_relation": by_relation,
           "by_negative_kind": {kind: round(float(np.mean(v)), 4) for kind, v in sorted(pairwise.items())},
           "negatives_by_kind": {kind: len(v) for kind, v in sorted(pairwise.items())},
           "by_template": by_template}
    if margin_wins:
        out["relation_by_margin"] = _by_margin(margin_wins)
    out["top1_if_won"] = {"+".join(won): round(_top1_if_won(scores, kinds, won), 4)
                          for won in (("shape",), ("relation",), ("shape", "relation"))}
    if by_binding:
        out["colour_wins_by_binding"] = _win_table(by_binding)
    if by_gripper:
        out["wins_by_gripper"] = _win_table(by_gripper)
    if keep_hits:
        out["hits"] = correct.tolist()
    return out


def _win_table(groups: dict[str, dict[str, list[bool]]]) -> dict[str, dict[str, dict]]:
    """kind -> group -> ``{"pairwise": share of wins, "n": pairs}``, sorted by kind and group."""
    return {kind: {g: {"pairwise": round(float(np.mean(v)), 4), "n": len(v)} for g, v in sorted(by.items())}
            for kind, by in sorted(groups.items())}


def _top1_if_won(scores: list[np.ndarray], kinds: list[list[str]], won: tuple[str, ...]) -> float:
    """Top-1 with every negative of the ``won`` kinds counted as beaten (left out of the comparison)."""
    hits = [s[0] > max((x for x, k in zip(s[1:], ks) if k not in won), default=-np.inf)
            for s, ks in zip(scores, kinds)]
    return float(np.mean(hits))


def _by_margin(wins: list[tuple[float, bool]]) -> dict[str, dict]:
    """Pairwise relation wins per band of distance (cm) to the nearest relation threshold."""
    margins, won = np.array([m for m, _ in wins]), np.array([w for _, w in wins])
    edges = [*MARGIN_BANDS_CM, np.inf]
    out = {}
    for lo, hi in zip(edges[:-1], edges[1:]):
        mask = (margins >= lo) & (margins < hi)
        if mask.any():
            name = f"{lo}-{hi} cm" if np.isfinite(hi) else f">={lo} cm"
            out[name] = {"pairwise": round(float(won[mask].mean()), 4), "n": int(mask.sum())}
    return out


def scripted_frames(task: str, n_episodes: int = 12, seed: int = 0, wander: bool = False,
                    occlude: float = 0.0) -> FrameSet:
    """Every frame of ``n_episodes`` noiseless scripted ``task`` episodes in held-out scenes (the rollouts the
    reward measures below run on; ``wander``: episodes whose arm wanders first, as :func:`arm_hover` needs,
    ``occlude`` the share of its targets that hide the object or the pad, as :func:`arm_occlusion` needs)."""
    return manipulation_frames(n_episodes, seed, heldout=True, every=1, random_fraction=0.0, noise=0.0,
                               tasks=(task,), wander_fraction=1.0 if wander else 0.0, occlude=occlude)


def progress_spearman(embed_images: EmbedImages, embed_texts: EmbedTexts, n_episodes: int = 12,
                      seed: int = 0, tasks: tuple[str, ...] = ("push", "pick_place"),
                      frames_by_task: dict[str, FrameSet] | None = None) -> dict:
    """Spearman between the goal-prompt reward and true progress on noiseless scripted rollouts
    (:func:`scripted_frames`, or ``frames_by_task`` already rendered).

    ``pooled_mean_alpha1_ci95``: a 95% bootstrap interval of ``pooled_mean_alpha1`` over episodes (each task's
    episodes drawn with replacement, 200 times): how much another draw of as many held-out scenes could move
    the figure.
    """
    out: dict = {}
    alpha1: dict[str, tuple[np.ndarray, FrameSet]] = {}
    for task in tasks:
        frames = (frames_by_task or {}).get(task)
        frames = frames if frames is not None else scripted_frames(task, n_episodes, seed)
        rewards = _task_rewards(embed_images, embed_texts, frames)
        alpha1[task] = (rewards["alpha1"], frames)
        out[task] = {"frames": int(len(frames))}
        for name, reward in rewards.items():
            per_episode = [spearman(reward[frames.episode == e], frames.progress[frames.episode == e])
                           for e in np.unique(frames.episode) if np.ptp(frames.progress[frames.episode == e]) > 0]
            out[task][name] = {"pooled": spearman(reward, frames.progress),
                               "per_episode_mean": float(np.mean(per_episode))}
    for name in ("alpha0", "alpha1"):
        out[f"pooled_mean_{name}"] = float(np.mean([out[t][name]["pooled"] for t in tasks]))
    out["pooled_mean_alpha1_ci95"] = _bootstrap_episodes(alpha1, seed)
    return out


RELATION_RANK = {"on": 2, "next to": 1, "far from": 0}


def relation_ceiling(frames_by_task: dict[str, FrameSet]) -> dict:
    """Pooled Spearman between true progress and a score that is each frame's true relation alone
    (:data:`RELATION_RANK`: on > next to > far from), per task and their mean (``pooled_mean``): the figure
    of :func:`progress_spearman` that a model reading its captions perfectly, and nothing finer, would reach."""
    out: dict = {task: spearman(np.array([RELATION_RANK[f.relation] for f in frames.facts], float), frames.progress)
                 for task, frames in frames_by_task.items()}
    out["pooled_mean"] = float(np.mean(list(out.values())))
    return out


def episode_interval(values: np.ndarray, groups: np.ndarray, seed: int = 0, draws: int = 2000) -> list[float]:
    """95% bootstrap interval of the mean of per-frame ``values`` (hits, or paired differences of hits),
    resampling whole ``groups`` (one label per frame: its episode, or its draw and episode) with replacement.
    Frames of one episode share a scene and succeed or fail together, so the frames are not the independent
    samples; an interval over frames would be too narrow (with a per-episode spread of about 0.18 in caption
    top-1, 60 episodes give about +-0.045)."""
    rng = np.random.default_rng(seed)
    _, label = np.unique(groups, return_inverse=True)
    sums, counts = np.bincount(label, weights=np.asarray(values, float)), np.bincount(label)
    means = []
    for _ in range(draws):
        pick = rng.integers(len(counts), size=len(counts))
        means.append(sums[pick].sum() / counts[pick].sum())
    return [round(float(np.percentile(means, 2.5)), 4), round(float(np.percentile(means, 97.5)), 4)]


def _bootstrap_episodes(by_task: dict[str, tuple[np.ndarray, FrameSet]], seed: int, draws: int = 200) -> list:
    """95% percentile interval of the mean over tasks of the pooled Spearman, episodes resampled per task."""
    rng = np.random.default_rng(seed)
    rows = {t: [np.flatnonzero(f.episode == e) for e in np.unique(f.episode)] for t, (_, f) in by_task.items()}
    stats = []
    for _ in range(draws):
        per_task = []
        for t, (reward, frames) in by_task.items():
            pick = np.concatenate([rows[t][i] for i in rng.integers(len(rows[t]), size=len(rows[t]))])
            per_task.append(spearman(reward[pick], frames.progress[pick]))
        stats.append(np.mean(per_task))
    return [round(float(np.percentile(stats, 2.5)), 4), round(float(np.percentile(stats, 97.5)), 4)]


def whole_goal_prompts(obj: str, ref: str) -> tuple[str, str]:
    """The push prompt that also says where the gripper is: the goal state (the object on the reference, the
    gripper at the object that it has just pushed there) against the start state (both far)."""
    return (caption(Facts(obj=obj, ref=ref, relation="on", gripper="at"), GOAL_TEMPLATE),
            caption(Facts(obj=obj, ref=ref, relation="far from", gripper="far from"), GOAL_TEMPLATE))


def _task_rewards(embed_images: EmbedImages, embed_texts: EmbedTexts, frames: FrameSet,
                  whole: bool = False) -> dict[str, np.ndarray]:
    """Each frame's reward for its own task prompt ("on" against the baseline "far from"; with ``whole``,
    :func:`whole_goal_prompts`), up to a constant.

    ``alpha0``: cosine with the goal prompt. ``alpha1``: VLM-RM's projection onto the baseline-to-goal
    direction, which (up to a per-scene constant) is the image's coordinate along that direction.
    """
    img = embed_images(frames.images)
    if whole:
        goals, bases = map(list, zip(*[whole_goal_prompts(f.obj, f.ref) for f in frames.facts]))
    else:
        goals = [caption(Facts(obj=f.obj, ref=f.ref, relation="on"), GOAL_TEMPLATE) for f in frames.facts]
        bases = [caption(Facts(obj=f.obj, ref=f.ref, relation="far from"), GOAL_TEMPLATE) for f in frames.facts]
    unique = sorted(set(goals) | set(bases))
    txt = embed_texts(unique)
    index = {g: i for i, g in enumerate(unique)}
    g, b = txt[[index[x] for x in goals]], txt[[index[x] for x in bases]]
    return {"alpha0": np.einsum("nd,nd->n", img, g),
            "alpha1": np.einsum("nd,nd->n", img - g, (g - b) / np.linalg.norm(g - b, axis=1, keepdims=True))}


def gripper_retrieval(embed_images: EmbedImages, embed_texts: EmbedTexts, frames: FrameSet,
                      templates: Sequence[str], scripted: FrameSet | None = None, seed: int = 0) -> dict:
    """Can the model tell where the gripper is, and does the whole-goal prompt pay the approach?

    ``top1``: over the table frames of ``frames`` (each in one of ``templates``, drawn at random), how often the
    caption with the true gripper clause outscores both captions that differ only in the gripper's relation
    (chance 1/3); ``by_gripper`` splits it by the true relation.
    With ``scripted`` (noiseless scripted pushes, :func:`scripted_frames`): ``approach_spearman``, the mean
    over episodes of the Spearman between the alpha-1 reward of :func:`whole_goal_prompts` and the step, over
    the steps before the cube first moves (the scripted arm closes in on the cube all that time); the same
    for the plain task prompt (``approach_spearman_task_prompt``, which says nothing of the gripper); and
    ``whole_prompt_progress_spearman``, the pooled Spearman of the whole-goal reward with the cube's progress.
    """
    rng = np.random.default_rng(seed)
    rows = [i for i, f in enumerate(frames.facts) if f.gripper]
    img = embed_images(frames.images[rows])
    candidates = []
    for i in rows:
        template = templates[rng.integers(len(templates))]
        f = frames.facts[i]
        candidates.append([caption(replace(f, gripper=g), template)
                           for g in (f.gripper, *[g for g in GRIPPER_RELATIONS if g != f.gripper])])
    unique = sorted({c for cands in candidates for c in cands})
    index = {c: k for k, c in enumerate(unique)}
    txt = embed_texts(unique)
    correct = np.array([(lambda s: s[0] > s[1:].max())(txt[[index[c] for c in cands]] @ img[k])
                        for k, cands in enumerate(candidates)])
    truth = np.array([frames.facts[i].gripper for i in rows])
    out: dict = {"top1": float(correct.mean()), "n": int(len(correct)),
                 "by_gripper": {g: round(float(correct[truth == g].mean()), 4) for g in GRIPPER_RELATIONS
                                if (truth == g).any()}}
    if scripted is not None:
        whole = _task_rewards(embed_images, embed_texts, scripted, whole=True)["alpha1"]
        plain = _task_rewards(embed_images, embed_texts, scripted)["alpha1"]
        for name, reward in (("approach_spearman", whole), ("approach_spearman_task_prompt", plain)):
            per_episode = []
            for e in np.unique(scripted.episode):
                steps = np.flatnonzero(scripted.episode == e)
                before = steps[:np.argmax(scripted.progress[steps] > 0)] if (scripted.progress[steps] > 0).any() \
                    else steps
                if len(before) > 2:
                    per_episode.append(spearman(reward[before], np.arange(len(before), dtype=float)))
            out[name] = float(np.mean(per_episode)) if per_episode else float("nan")
        out["whole_prompt_progress_spearman"] = spearman(whole, scripted.progress)
    return out


DISTANCE_BANDS_CM = (0, 3, 6, 10, 15, 20, 25, 30, 40)


def reward_by_distance(embed_images: EmbedImages, embed_texts: EmbedTexts, n_episodes: int = 12, seed: int = 0,
                       bands_cm: Sequence[float] = DISTANCE_BANDS_CM, frames: FrameSet | None = None) -> dict:
    """The task prompt's reward (alpha 1, as :func:`progress_spearman`) per band of cube-to-pad distance, on
    noiseless scripted pushes of held-out scenes: ``{"a-b cm": {"mean", "std", "n"}}`` (the last band open).

    What an agent rewarded by the prompt can feel: the step from one band to the next against the spread
    within a band (the arm's pose, the scene) says how far a push must move the cube before the reward
    notices.
    """
    frames = frames if frames is not None else scripted_frames("push", n_episodes, seed)
    reward = _task_rewards(embed_images, embed_texts, frames)["alpha1"]
    cm = 100 * np.asarray(frames.ref_distance, np.float64)
    edges = [*bands_cm, np.inf]
    out = {}
    for lo, hi in zip(edges, edges[1:]):
        mask = (cm >= lo) & (cm < hi)
        if mask.any():
            name = f"{lo:g}-{hi:g} cm" if np.isfinite(hi) else f">={lo:g} cm"
            out[name] = {"mean": round(float(reward[mask].mean()), 4), "std": round(float(reward[mask].std()), 4),
                         "n": int(mask.sum())}
    return out


def arm_hover(embed_images: EmbedImages, embed_texts: EmbedTexts, n_episodes: int = 12, seed: int = 0,
              scripted: FrameSet | None = None) -> dict:
    """How much of the task reward the arm earns alone, on held-out push scenes.

    ``arm_gain``: (90th percentile of the reward of frames whose arm hovers within 6 cm of the pad in x-y
    while the cube is still far from it) minus (median reward of the scripted pushes' first frames), over
    (median reward of the frames with the cube on the pad) minus the same first-frame median. 0: hovering
    earns nothing; 1: as much as success. An agent rewarded by CLIP finds the hover long before it finds the
    push when this is high.
    ``auc``: the probability that a cube-on-pad frame outscores an arm-only frame.
    """
    wander = scripted_frames("push", n_episodes, seed, wander=True)
    far = np.array([f.relation == "far from" for f in wander.facts])
    hover = far & (wander.hover < 0.06)
    scripted = scripted if scripted is not None else scripted_frames("push", n_episodes, seed)
    on = np.array([f.relation == "on" for f in scripted.facts])
    first = np.r_[True, scripted.episode[1:] != scripted.episode[:-1]]
    r_wander = _task_rewards(embed_images, embed_texts, wander)["alpha1"]
    r_scripted = _task_rewards(embed_images, embed_texts, scripted)["alpha1"]
    r_on, r_first = r_scripted[on], r_scripted[first]
    return {"arm_gain": _gain(r_wander[hover], r_on, r_first), "auc": _auc(r_on, r_wander[far]),
            "hover_frames": int(hover.sum()), "on_frames": int(on.sum()), "first_frames": int(first.sum())}


def _gain(r_fake: np.ndarray, r_on: np.ndarray, r_first: np.ndarray) -> float:
    """(90th percentile of ``r_fake`` - median of ``r_first``) / (median of ``r_on`` - median of ``r_first``).
    The 90th percentile, not the median: an agent finds and keeps the best pose, not the typical one."""
    gap = float(np.median(r_on) - np.median(r_first))
    return float((np.percentile(r_fake, 90) - np.median(r_first)) / gap) if len(r_fake) else float("nan")


def _auc(r_on: np.ndarray, r_fake: np.ndarray) -> float:
    """The probability that a frame of ``r_on`` outscores one of ``r_fake`` (ties count half)."""
    return float((r_on[:, None] > r_fake[None, :]).mean() + 0.5 * (r_on[:, None] == r_fake[None, :]).mean())


def arm_occlusion(embed_images: EmbedImages, embed_texts: EmbedTexts, n_episodes: int = 12, seed: int = 0,
                  scripted: FrameSet | None = None) -> dict:
    """How much of the task reward the arm earns by hiding the scene, on held-out push scenes.

    ``occlusion_gain``: as :func:`arm_hover`'s ``arm_gain``, for the frames of episodes whose arm goes only to
    targets between the camera and the cube or the pad (:class:`~agents.vlm.domain_data.ArmWander` with
    ``occlude=1``) while the cube is far from the pad. 0: a hidden scene earns nothing; 1: as much as
    success. The CLIP agent trained on run 13 kept such a pose for a whole episode.
    ``auc``: the probability that a cube-on-pad frame outscores one of those frames.
    """
    hide = scripted_frames("push", n_episodes, seed, wander=True, occlude=1.0)
    far = np.array([f.relation == "far from" for f in hide.facts])
    scripted = scripted if scripted is not None else scripted_frames("push", n_episodes, seed)
    on = np.array([f.relation == "on" for f in scripted.facts])
    first = np.r_[True, scripted.episode[1:] != scripted.episode[:-1]]
    r_hide = _task_rewards(embed_images, embed_texts, hide)["alpha1"][far]
    r_scripted = _task_rewards(embed_images, embed_texts, scripted)["alpha1"]
    return {"occlusion_gain": _gain(r_hide, r_scripted[on], r_scripted[first]), "auc": _auc(r_scripted[on], r_hide),
            "hidden_frames": int(far.sum())}


def shape_sets(n_train: int, n_heldout: int, seed: int = 0, every: int = 6, size: int = 96,
               render_profile: Any = "reward", fit_every: int | None = None) -> tuple[FrameSet, FrameSet]:
    """The shape questions' frames: one-object push and pick-and-place episodes, ``n_train`` from the training
    seed range (to fit on) and ``n_heldout`` held-out ones (to score on), every ``every``-th frame, drawn at
    ``size`` px with ``render_profile`` (a name or a ``worlds.rendering.RenderProfile``; the studio CLIP's
    frames are the ``reward`` profile's at 96 px). ``fit_every`` spaces the fit set's frames alone (default
    ``every``), so fits on fewer frames per scene are scored on the same held-out frames."""
    tasks = ("push", "pick_place")
    render = {"size": size, "render_profile": render_profile}
    fit_every = every if fit_every is None else fit_every
    fit = manipulation_frames(n_train, seed + 500_000, every=fit_every, n_objects=1, tasks=tasks, **render)
    return fit, manipulation_frames(n_heldout, seed, heldout=True, every=every, n_objects=1, tasks=tasks, **render)


def is_cube(frames: FrameSet) -> np.ndarray:
    """Per frame, whether object 0 is a cube (else a cylinder): the label of the shape questions."""
    return np.array([f.obj.endswith("cube") for f in frames.facts])


def shape_probe(embed_images: EmbedImages, n_train: int = 300, n_heldout: int = 150, seed: int = 0,
                every: int = 6, steps: int = 1500, sets: tuple[FrameSet, FrameSet] | None = None) -> dict:
    """Linear-probe accuracy of object shape (cube or cylinder) from the image embedding.

    One-object push and pick-and-place episodes (scripted, noisy, as the training data is played): ``n_train``
    from the training seed range to fit an L2-regularised logistic regression (full batch, Adam, ``steps``
    steps), ``n_heldout`` held-out ones to score it. Returns ``{"train_acc", "heldout_acc", "majority",
    "n_train", "n_heldout"}``; ``majority`` is the held-out share of the commoner shape (what a probe that
    sees nothing scores). With one object in view nothing else in the frame can stand for its shape.
    ``sets``: the (fit, held-out) frames of :func:`shape_sets` already rendered.
    """
    fit, test = sets if sets is not None else shape_sets(n_train, n_heldout, seed, every)
    return _linear_probe(embed_images(fit.images), is_cube(fit), embed_images(test.images), is_cube(test), seed,
                         steps) | {"n_train": len(fit), "n_heldout": len(test)}


def to_tensor(images: np.ndarray):
    """uint8 (N, H, W, 3) -> normalised float torch tensor (N, 3, H, W), as the studio CLIP's preprocessing at
    its native size (OpenAI's mean and spread)."""
    import open_clip
    import torch

    mean = torch.tensor(open_clip.OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(open_clip.OPENAI_DATASET_STD).view(1, 3, 1, 1)
    return (torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255.0 - mean) / std


def patch_cell(column: float, row: float, grid: int, size: int) -> int:
    """The index (row-major) of the patch of a ``grid`` x ``grid`` ViT, on ``size`` px images, that holds pixel
    position ``(column, row)``; a position outside the image gets its nearest patch."""
    def clamp(v: float) -> int:
        return min(max(int(v // (size / grid)), 0), grid - 1)

    return clamp(row) * grid + clamp(column)


def object_tokens(model, frames: FrameSet) -> np.ndarray:
    """Per frame, the open_clip ViT ``model``'s last patch token (after its final norm) of the patch that holds
    object 0's centre (:func:`~agents.vlm.domain_data.object_pixels`), the frames taken at the model's own
    size (96 px) and normalised as its preprocessing does."""
    import torch

    visual = model.visual
    grid, size = visual.grid_size[0], frames.images.shape[1]
    cells = [patch_cell(c, r, grid, size) for c, r, _ in (frames.objects_of(i)[0] for i in range(len(frames)))]
    out = []
    visual.output_tokens = True
    try:
        with torch.inference_mode():
            for start in range(0, len(frames), 256):
                weights = next(visual.parameters())
                _, tokens = visual(to_tensor(frames.images[start:start + 256]).to(weights.device, weights.dtype))
                out.append(tokens[torch.arange(len(tokens)), torch.tensor(cells[start:start + 256])].float().cpu())
    finally:
        visual.output_tokens = False
    return torch.cat(out).numpy()


def token_shape_probe(model, sets: tuple[FrameSet, FrameSet], seed: int = 0, steps: int = 1500) -> dict:
    """:func:`shape_probe` on the patch token under the object (:func:`object_tokens`) instead of the image
    embedding: whether the tower sees the shape where the object is, before pooling. Read beside
    ``shape_probe``: if both are low the tower does not see it; if only the embedding's is, pooling drops it."""
    fit, test = sets
    return _linear_probe(object_tokens(model, fit), is_cube(fit), object_tokens(model, test), is_cube(test), seed,
                         steps) | {"n_train": len(fit), "n_heldout": len(test)}


def _linear_probe(x: np.ndarray, y: np.ndarray, xt: np.ndarray, yt: np.ndarray, seed: int, steps: int) -> dict:
    """An L2-regularised logistic regression fitted on ``(x, y)`` (full batch, Adam), scored on both sets."""
    import torch

    x, xt = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(xt, dtype=torch.float32)
    y, yt = torch.as_tensor(y, dtype=torch.float32), torch.as_tensor(yt, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(x.shape[1], generator=gen) * 0.01).requires_grad_()
    b = torch.zeros(1, requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w + b, y) + 1e-4 * (w @ w)
        loss.backward()
        opt.step()
    with torch.no_grad():
        train_acc = float(((x @ w + b > 0).float() == y).float().mean())
        heldout_acc = float(((xt @ w + b > 0).float() == yt).float().mean())
    share = float(yt.mean())
    return {"train_acc": round(train_acc, 4), "heldout_acc": round(heldout_acc, 4),
            "majority": round(max(share, 1 - share), 4)}


def gripper_probe(embed_images: EmbedImages, fit: FrameSet, test: FrameSet, seed: int = 0, steps: int = 1500) -> dict:
    """Linear-probe accuracy of where the gripper is against object 0 (the three
    :data:`~agents.vlm.captions.GRIPPER_RELATIONS`) from the image embedding: a multinomial logistic regression
    (L2-regularised, full batch, Adam, ``steps`` steps) fitted on ``fit``'s table frames and scored on
    ``test``'s (e.g. the two sets of :func:`shape_sets`). ``majority``: the held-out share of the commonest
    relation. Near it, no caption or prompt can pay the approach to the object, whatever the training."""
    import torch

    def data(frames: FrameSet):
        rows = [i for i, f in enumerate(frames.facts) if f.gripper]
        x = torch.as_tensor(embed_images(frames.images[rows]), dtype=torch.float32)
        return x, torch.tensor([GRIPPER_RELATIONS.index(frames.facts[i].gripper) for i in rows])

    (x, y), (xt, yt) = data(fit), data(test)
    gen = torch.Generator().manual_seed(seed)
    w = (torch.randn(x.shape[1], len(GRIPPER_RELATIONS), generator=gen) * 0.01).requires_grad_()
    b = torch.zeros(len(GRIPPER_RELATIONS), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=1e-2)
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(x @ w + b, y) + 1e-4 * (w * w).sum()
        loss.backward()
        opt.step()
    with torch.no_grad():
        train_acc = float(((x @ w + b).argmax(1) == y).float().mean())
        heldout_acc = float(((xt @ w + b).argmax(1) == yt).float().mean())
    majority = float(torch.bincount(yt, minlength=len(GRIPPER_RELATIONS)).max()) / max(len(yt), 1)
    return {"train_acc": round(train_acc, 4), "heldout_acc": round(heldout_acc, 4), "majority": round(majority, 4),
            "n_train": int(len(y)), "n_heldout": int(len(yt))}
