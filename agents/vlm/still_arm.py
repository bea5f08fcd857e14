"""The most a still arm earns under a CLIP push reward: a cross-entropy search over held arm poses.

A reinforcement learner finds the best-paid pose a reward leaves open, and on this 2-core CPU it takes half an
hour of SAC (``bench.clip_push``) to learn which. This module asks the same question in seconds, without a
learner: for one push scene at a time, a cross-entropy method (CEM) searches the arm's poses (tool centre point
x, y, z in the workspace, and the gripper's opening) for the one whose frame the reward pays most, where a
pose counts only if the arm held it without moving the cube (:data:`MOVED_LIMIT`). Each candidate is played
from the scene's reset: the arm is driven to the pose for :data:`HOLD_STEPS` steps and the last frame scored.

* :func:`search_scene`: one scene's search; the best pose, its reward, and every candidate's frame with the
  facts of its true state.
* :func:`still_arm_share`: over several scenes, the mean of each scene's ``(best - start) / (success -
  start)``, with ``best`` the best candidate's reward, ``start`` the reset frame's and ``success`` the mean of
  a scripted push's last 5 frames: 0, a still arm earns nothing; 1, as much as pushing the cube onto the pad.
  ``bench.clip_push_probe`` prices a trained agent alike but from the mean of its last 20 frames over
  episodes, so the two are close cousins, not the same figure. The run-13 reward paid the pose its SAC agent
  kept 44% of success; this search finds 58% on the same world: the agent was following such poses.
* :func:`still_arm_frames`: the candidates' frames of searches on training scenes, each captioned from its
  true state (mostly the cube where it was, far from the pad; candidates that pushed it are kept with what is
  true of them), for ``train_domain_clip --still-arm``: the poses the current reward overpays become its
  training data, the way ``--policy`` mines a trained agent's, but found in minutes rather than hours.

Rewards are VLM-RM's with alpha 1 (:func:`~agents.vlm.clip_reward.vlm_rm_reward`), the goal prompt "the
{obj} is on the {ref}" and the baseline "... far from ..." (the scene's own names unless given).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

import worlds
from agents.scripted import run_episode
from agents.vlm.captions import Facts, caption
from agents.vlm.clip_reward import vlm_rm_reward
from agents.vlm.domain_data import CAMERA, EVAL_SEED_OFFSET, HELDOUT_OBJECT, SCENE_SEED_STRIDE, TASK_IDS, FrameSet, \
    goal_distance, state_record, toward
from worlds.manipulation import WORKSPACE_HIGH, WORKSPACE_LOW

EmbedImages = Callable[[np.ndarray], np.ndarray]
EmbedTexts = Callable[[list[str]], np.ndarray]
POSE_LOW = np.r_[WORKSPACE_LOW, -1.0]     # x, y, z (m), gripper command (-1 open, +1 closed)
POSE_HIGH = np.r_[WORKSPACE_HIGH, 1.0]
HOLD_STEPS = 25         # 4 cm a step: any pose of the workspace is reached from the start and held
# m: a candidate that moved the cube further than this in x-y pushed it, and is not a still arm. x-y is enough:
# the arm goes to its pose in a straight line and stays, never rising after it has come down, so it cannot lift it.
MOVED_LIMIT = 0.01
TEMPLATE = "the {obj} is {rel} the {ref}"


@dataclass
class SceneSearch:
    """One scene's search: the best still pose and its reward, the scene's start and scripted-success rewards,
    and every candidate's frame (``frames``) with its true state (``records``, as
    :func:`~agents.vlm.domain_data.state_record`) and reward (``-inf`` where the arm moved the cube)."""

    best_pose: np.ndarray
    best_reward: float
    start_reward: float
    success_reward: float
    frames: list[np.ndarray]
    records: list[tuple]
    rewards: np.ndarray

    @property
    def share(self) -> float:
        if not np.isfinite(self.best_reward):
            return float("nan")
        return float((self.best_reward - self.start_reward) / (self.success_reward - self.start_reward))


def hold_pose(env, seed: int, pose: np.ndarray, steps: int = HOLD_STEPS) -> tuple[np.ndarray, tuple, float]:
    """Reset to ``seed``, drive the tool centre point to ``pose[:3]`` with gripper command ``pose[3]`` for
    ``steps`` steps; return the last frame, its :func:`~agents.vlm.domain_data.state_record` and how far (m)
    the cube moved in x-y."""
    env.reset(seed=seed)
    u = env.unwrapped
    cube, start = u.object_position(0)[:2].copy(), goal_distance(env)
    for _ in range(steps):
        env.step(toward(u, pose[:3], pose[3]))
    return env.render(), state_record(env, start), float(np.linalg.norm(u.object_position(0)[:2] - cube))


def search_scene(env, seed: int, embed_images: EmbedImages, embed_texts: EmbedTexts, rng: np.random.Generator,
                 goal: str | None = None, baseline: str | None = None, population: int = 48, generations: int = 6,
                 elite: int = 8, success_reward: bool = True) -> SceneSearch:
    """CEM over held poses in the push scene ``env.reset(seed=seed)``: ``generations`` rounds of
    ``population`` candidates drawn from a normal around the last round's ``elite`` best (the first round's
    centred on the workspace with half its extent as the spread), clipped to the workspace (so about a third
    of the first round's coordinates sit on a bound, where the exploits found so far were). ``goal`` and
    ``baseline`` default to the scene's own names.
    ``success_reward=False`` skips the scripted push that prices a success (training needs no share); with
    it, a scripted push that fails leaves ``success_reward`` NaN. No candidate that left the cube alone leaves
    ``best_reward`` at ``-inf`` (and the share NaN)."""
    env.reset(seed=seed)
    names = env.unwrapped.describe()
    facts = Facts(obj=names.objects[0], ref=names.pads[0], relation="on")
    goal = goal or caption(facts, TEMPLATE)
    baseline = baseline or caption(Facts(obj=facts.obj, ref=facts.ref, relation="far from"), TEMPLATE)
    g, b = embed_texts([goal]), embed_texts([baseline])

    def reward(frames: Sequence[np.ndarray]) -> np.ndarray:
        return vlm_rm_reward(embed_images(np.stack(frames)), g, b, 1.0)

    start = float(reward([env.render()])[0])
    success = float("nan")
    if success_reward:
        succeeded, _, frames = run_episode(env, seed, render=True)
        success = float(reward(frames[-5:]).mean()) if succeeded else float("nan")
    mean, spread = (POSE_LOW + POSE_HIGH) / 2, (POSE_HIGH - POSE_LOW) / 2
    best_pose, best_reward = mean, -np.inf
    all_frames, records, rewards = [], [], []
    for _ in range(generations):
        candidates = np.clip(rng.normal(mean, spread, (population, 4)), POSE_LOW, POSE_HIGH)
        held = [hold_pose(env, seed, c) for c in candidates]
        r = reward([h[0] for h in held])
        r = np.where(np.array([h[2] for h in held]) < MOVED_LIMIT, r, -np.inf)
        order = np.argsort(-r)[:elite]
        mean, spread = candidates[order].mean(0), candidates[order].std(0) + 0.01
        if r[order[0]] > best_reward:
            best_pose, best_reward = candidates[order[0]], float(r[order[0]])
        all_frames += [h[0] for h in held]
        records += [h[1] for h in held]
        rewards.append(r)
    return SceneSearch(best_pose, best_reward, start, success, all_frames, records, np.concatenate(rewards))


def still_arm_share(embed_images: EmbedImages, embed_texts: EmbedTexts, seeds: Sequence[int],
                    world: dict | None = None, goal: str | None = None, baseline: str | None = None,
                    population: int = 48, generations: int = 6) -> dict:
    """:func:`search_scene` on the push scenes ``seeds`` of ``worlds.make("studio/Push-v0", **world)``:
    ``still_arm_share`` (the mean over scenes of :attr:`SceneSearch.share`), ``median`` (the median over
    scenes: a scene whose success pays little more than its start has a share far from the others, -4.8 in run
    19, and moves the mean alone), its maximum, each scene's share
    and best pose (x, y, z m, gripper command), and ``best_frames`` (each scene's best frame, for a look).
    A scene whose share is NaN (its scripted push failed, or no still candidate) is left out of the mean and
    counted in ``scenes_left_out``."""
    if len(seeds) == 0:
        raise ValueError("seeds is empty: give the push scenes to search, e.g. range(8)")
    env = worlds.make(TASK_IDS["push"], render_mode="rgb_array", **(world or {"camera": CAMERA,
                                                                            "render_profile": "reward"}))
    rng = np.random.default_rng(0)
    searches = [search_scene(env, int(s), embed_images, embed_texts, rng, goal, baseline, population, generations)
                for s in seeds]
    env.close()
    shares = [s.share for s in searches]
    return {"still_arm_share": float(np.nanmean(shares)) if not np.all(np.isnan(shares)) else float("nan"),
            "median": float(np.nanmedian(shares)) if not np.all(np.isnan(shares)) else float("nan"),
            "max": float(np.nanmax(shares)) if not np.all(np.isnan(shares)) else float("nan"),
            "scenes_left_out": int(np.isnan(shares).sum()),
            "shares": [round(x, 3) for x in shares], "poses": [np.round(s.best_pose, 3).tolist() for s in searches],
            "best_frames": [s.frames[int(np.argmax(s.rewards))] for s in searches]}


def still_arm_frames(embed_images: EmbedImages, embed_texts: EmbedTexts, n_scenes: int, seed: int,
                     every: int = 2, size: int = 96, population: int = 48, generations: int = 6) -> FrameSet:
    """Every ``every``-th candidate frame of searches on ``n_scenes`` push scenes of the training range
    (seeded from ``seed``; 1-3 objects; scenes with :data:`~agents.vlm.domain_data.HELDOUT_OBJECT` and evaluation
    seeds skipped), each
    with the facts of its true state. Candidates that moved the cube are kept too: their captions are true."""
    rng = np.random.default_rng(seed)
    envs: dict[int, object] = {}
    images, records, episode, tasks = [], [], [], []
    i, attempt = 0, 0
    while i < n_scenes:
        n_obj = int(rng.integers(1, 4))
        if n_obj not in envs:
            envs[n_obj] = worlds.make(TASK_IDS["push"], n_objects=n_obj, camera=CAMERA, render_profile="reward",
                                      width=size, height=size)
        env, scene = envs[n_obj], int(seed + attempt + SCENE_SEED_STRIDE * n_obj)
        attempt += 1
        env.reset(seed=scene)
        if HELDOUT_OBJECT in env.unwrapped.describe().objects or \
                EVAL_SEED_OFFSET <= scene < EVAL_SEED_OFFSET + 100_000:     # never an evaluation scene
            continue
        found = search_scene(env, scene, embed_images, embed_texts, rng, population=population,
                             generations=generations, success_reward=False)
        keep = range(int(rng.integers(0, every)), len(found.frames), every)
        images += [found.frames[k] for k in keep]
        records += [found.records[k] for k in keep]
        episode += [i] * len(keep)
        tasks += ["push"] * len(keep)
        i += 1
    for env in envs.values():
        env.close()
    facts, progress, present, relations, hover, distance = (list(c) for c in zip(*records))
    return FrameSet(np.stack(images), facts, np.array(progress, np.float32), np.array(episode), tasks, present,
                    relations, np.array(hover, np.float32), np.array(distance, np.float32))
