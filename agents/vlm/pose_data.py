"""Captioned renders of the humanoid poses world for the studio CLIP (see :mod:`agents.vlm.domain_data`).

Each designed pose (:func:`worlds.humanoid.pose_qpos`, randomised) is rendered from the ``front`` camera under
the ``reward`` profile and captioned from the true predicates; random bodies (:func:`worlds.humanoid.random_qpos`)
whose torso is far from upright are captioned "lying on the ground". Upright random bodies that meet no
predicate are left out: no caption in the set describes them truthfully.
"""

from __future__ import annotations

import numpy as np

import worlds
from agents.vlm.captions import Facts
from agents.vlm.domain_data import EVAL_SEED_OFFSET, FrameSet
from worlds.humanoid import POSES, pose_features, pose_qpos, random_qpos

CAMERA = "front"
SPECIFIC_FIRST = ("arms_raised", "kneeling", "lotus", "splits", "standing")


def label(env) -> str | None:
    """The most specific true pose, "lying" for a toppled body, ``None`` when no caption fits."""
    u = env.unwrapped
    poses = u.poses()
    for pose in SPECIFIC_FIRST:
        if poses[pose]:
            return pose
    return "lying" if pose_features(u.model, u.data)["torso_up"] < 0.3 else None


def pose_frames(n_per_pose: int, seed: int, heldout: bool = False, size: int = 96) -> FrameSet:
    """``n_per_pose`` frames of each pose plus as many of lying bodies, reproducible from ``seed``."""
    rng = np.random.default_rng(seed + (EVAL_SEED_OFFSET if heldout else 0) + 17)
    env = worlds.make("studio/HumanoidPoses-v0", camera=CAMERA, render_profile="reward", width=size, height=size)
    env.reset(seed=seed)
    images, facts = [], []
    targets = [p for p in POSES for _ in range(n_per_pose)] + ["lying"] * n_per_pose
    for target in targets:
        for _ in range(200):
            qpos = random_qpos(rng) if target == "lying" else pose_qpos(target, rng)
            env.unwrapped.set_pose_state(qpos)
            name = label(env)
            if name == target:
                break
        else:
            continue
        images.append(env.render())
        facts.append(Facts(pose=name))
    env.close()
    n = len(facts)
    return FrameSet(np.stack(images), facts, np.zeros(n, np.float32), np.arange(n), ["pose"] * n, [()] * n)
