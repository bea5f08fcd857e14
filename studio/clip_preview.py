"""The CLIP reward on a whole episode, re-scored instantly when prompts or alpha change.

:func:`record_episode` plays one episode once (the scripted controller for manipulation worlds; for the
humanoid a kinematic sweep from standing into the target pose), keeping for every step a viewer frame for
people, the reward-profile frame's CLIP embedding, ground-truth success and task progress. :func:`score`
then turns prompts and alpha into one reward per step with a single matrix product over the stored
embeddings (VLM-RM's closed form), so editing a prompt never re-renders or re-embeds frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import worlds
from agents.rewards.wrappers import default_reward_camera, render_reward_frame
from agents.scripted import ScriptedController
from agents.vlm.captions import POSE_PHRASES, RELATIONS, Facts, caption
from agents.vlm.clip_reward import check_prompts, goal_baseline, projection_reward, success_probability
from agents.vlm.embedder import ClipEmbedder
from worlds.humanoid import HumanoidPosesEnv, pose_qpos

SWEEP_STEPS = 40


@dataclass
class EpisodeRecord:
    """One episode kept for re-scoring: frames for people, embeddings for the reward, truth for judging."""

    world_id: str
    seed: int
    instruction: str
    goal_prompt: str                 # a sensible default goal prompt for this scene
    baseline_prompt: str             # and its baseline
    frames: np.ndarray               # (T, H, W, 3) uint8, viewer profile
    embeddings: np.ndarray           # (T, D) normalised CLIP embeddings of the reward-profile frames
    success: np.ndarray              # (T,) bool, ground truth
    progress: np.ndarray             # (T,) float in [0, 1], ground truth
    candidate_captions: list[str]    # captions to rank against a frame ("what does CLIP see?")


def _object_prompts(desc) -> tuple[str, str, list[str]]:
    """Goal, baseline and candidate captions for a manipulation scene description."""
    ref = desc.objects[1] if desc.task == "stack" else (desc.pads[0] if desc.pads else desc.objects[0])
    template = "the {obj} is {rel} the {ref}"
    goal = caption(Facts(obj=desc.objects[0], ref=ref, relation="on"), template)
    base = caption(Facts(obj=desc.objects[0], ref=ref, relation="far from"), template)
    candidates = [caption(Facts(obj=desc.objects[0], ref=ref, relation=r, lifted=lifted), template)
                  for r in RELATIONS for lifted in (False, True)]
    return goal, base, candidates


def _pose_candidates() -> list[str]:
    return [caption(Facts(pose=p), "a humanoid robot {pose}") for p in POSE_PHRASES]


def _manipulation_episode(world_id: str, seed: int, embedder: ClipEmbedder, size: int, n_objects: int | None):
    kwargs = {} if n_objects is None else {"n_objects": n_objects}
    env = worlds.make(world_id, render_profile="viewer", width=size, height=size, **kwargs)
    try:
        controller = ScriptedController(env)
        env.reset(seed=seed)
        u = env.unwrapped
        desc = u.describe()
        camera = default_reward_camera(env)
        start = float(np.linalg.norm(u.object_position(0)[:2] - u.goal_position()[:2]))
        frames, reward_frames, success, progress = [], [], [], []
        done = False
        while True:
            frames.append(u.render_camera())
            reward_frames.append(render_reward_frame(env, camera, embedder.image_size))
            d = float(np.linalg.norm(u.object_position(0)[:2] - u.goal_position()[:2]))
            progress.append(float(np.clip(1 - d / max(start, 1e-6), 0, 1)))
            if done:
                break
            _, _, term, trunc, info = env.step(controller())
            success.append(info["is_success"])
            done = term or trunc
        success.insert(0, False)
        goal, base, candidates = _object_prompts(desc)
        return desc.instruction, goal, base, frames, reward_frames, success, progress, candidates
    finally:
        env.close()


def _humanoid_sweep(world_id: str, seed: int, embedder: ClipEmbedder, size: int):
    """Frames interpolating joint angles from standing into the target pose (kinematics only)."""
    env = worlds.make(world_id, render_profile="viewer", width=size, height=size)
    try:
        env.reset(seed=seed)
        u: HumanoidPosesEnv = env.unwrapped
        desc = u.describe()
        rng = np.random.default_rng(seed)
        start, end = pose_qpos("standing", rng), pose_qpos(desc.target, rng)
        frames, reward_frames, success, progress = [], [], [], []
        camera = default_reward_camera(env)
        for k in range(SWEEP_STEPS):
            w = k / (SWEEP_STEPS - 1)
            qpos = (1 - w) * start + w * end
            qpos[3:7] /= np.linalg.norm(qpos[3:7])
            u.set_pose_state(qpos)
            frames.append(u.render_camera())
            reward_frames.append(render_reward_frame(env, camera, embedder.image_size))
            success.append(u.poses()[desc.target])
            progress.append(w)
        candidates = _pose_candidates()
        return (f"sweep from standing into {desc.target.replace('_', ' ')}", desc.caption, desc.baseline,
                frames, reward_frames, success, progress, candidates)
    finally:
        env.close()


def record_episode(world_id: str, seed: int, embedder: ClipEmbedder, size: int = 256,
                   n_objects: int | None = None) -> EpisodeRecord:
    """Play (or sweep) one episode and embed every step's reward frame in one batched call."""
    if worlds.WORLDS[world_id].family == "humanoid":
        parts = _humanoid_sweep(world_id, seed, embedder, size)
    else:
        parts = _manipulation_episode(world_id, seed, embedder, size, n_objects)
    instruction, goal, base, frames, reward_frames, success, progress, candidates = parts
    embeddings = embedder.embed_images(np.stack(reward_frames))
    return EpisodeRecord(world_id, seed, instruction, goal, base, np.stack(frames), embeddings,
                         np.array(success, bool), np.array(progress, np.float32), candidates)


def record_policy_episode(run_dir, embedder: ClipEmbedder, checkpoint=None, seed: int = 10_000, size: int = 256,
                          progress=None) -> EpisodeRecord:
    """One episode of a run's saved policy (:func:`studio.rollout.policy_episode`), embedded like
    :func:`record_episode`. The default prompts are the run's current CLIP prompts when it has a CLIP term.

    Raises:
        FileNotFoundError: the run has no checkpoint yet.
    """
    from studio.rollout import policy_episode
    from studio.session import Session

    episode = policy_episode(run_dir, checkpoint, seed, size, reward_frames=True, progress=progress,
                             reward_frame_size=embedder.image_size)
    desc = episode.describe
    if hasattr(desc, "objects"):
        goal, base, candidates = _object_prompts(desc)
    else:
        goal, base, candidates = desc.caption, desc.baseline, _pose_candidates()
    clip = [t for t in Session.attach(run_dir).current_spec().terms if getattr(t, "kind", "") == "clip"]
    if clip:
        goal, base = "\n".join(clip[0].goal_prompts), "\n".join(clip[0].baseline_prompts)
    embeddings = embedder.embed_images(np.stack(episode.reward_frames))
    return EpisodeRecord(episode.world_id, seed, episode.instruction, goal, base,
                         np.stack(episode.frames), embeddings, np.array([False, *episode.success], bool),
                         np.array(episode.progress, np.float32), candidates)


def score(record: EpisodeRecord, embedder: ClipEmbedder, goal_prompts: list[str], baseline_prompts: list[str],
          alpha: float, mode: str = "projection") -> np.ndarray:
    """CLIP reward of every stored step: VLM-RM projection, or the success-classifier probability.

    Raises ``ValueError`` (from :mod:`agents.vlm.clip_reward`) naming a bad prompt list or alpha.
    """
    goals, bases = check_prompts(goal_prompts, baseline_prompts)
    gb = goal_baseline(embedder.embed_texts(goals), embedder.embed_texts(bases))
    if mode == "success":
        return success_probability(record.embeddings, gb, embedder.logit_scale, normalized=True)
    return projection_reward(record.embeddings, gb, alpha, normalized=True)


def closest_captions(record: EpisodeRecord, step: int, embedder: ClipEmbedder, extra: list[str] = ()) -> list:
    """The candidate captions ranked by cosine similarity to the frame at ``step``: [(caption, similarity)]."""
    texts = list(dict.fromkeys([*record.candidate_captions, *extra]))
    sims = embedder.embed_texts(texts) @ record.embeddings[step]
    order = np.argsort(-sims)
    return [(texts[i], float(sims[i])) for i in order]
