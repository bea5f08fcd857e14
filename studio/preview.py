"""Look at a world without training anything: camera views of a seeded scene, a scripted demo episode, and
for the humanoid what its target pose looks like.

Used by the studio's World page and by the README screenshot; everything returns plain arrays and bytes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

import worlds
from agents.scripted import ScriptedController
from studio.video import encode_mp4
from worlds.humanoid import HumanoidPosesEnv, pose_qpos



@dataclass
class SceneViews:
    """One seeded scene seen from every camera, described in words (``lines``: short Markdown lines)."""

    world_id: str
    seed: int
    instruction: str
    lines: list[str]
    frames: dict[str, np.ndarray]
    target_frames: dict[str, np.ndarray] = field(default_factory=dict)   # humanoid: the target pose


@dataclass
class DemoEpisode:
    """A scripted episode: its video, per-step reward terms and outcome."""

    world_id: str
    seed: int
    instruction: str
    success: bool
    episode_return: float
    steps: int
    mp4: bytes
    terms: dict[str, list[float]] = field(default_factory=dict)
    success_curve: list[bool] = field(default_factory=list)


def scene_views(world_id: str, seed: int, size: int = 320, **world_kwargs) -> SceneViews:
    """Render the scene of ``reset(seed=seed)`` from every camera under the viewer profile."""
    env = worlds.make(world_id, render_profile="viewer", width=size, height=size, **world_kwargs)
    try:
        _, info = env.reset(seed=seed)
        u = env.unwrapped
        desc = u.describe()
        frames = {cam: u.render_camera(cam) for cam in u.camera_names}
        if isinstance(u, HumanoidPosesEnv):
            lines = [f"**Target pose:** {desc.target.replace('_', ' ')}: goal prompt *\"{desc.caption}\"*, "
                     f"baseline *\"{desc.baseline}\"*",
                     f"**Poses true now:** {', '.join(desc.poses) or 'none'}"]
            u.set_pose_state(pose_qpos(desc.target))
            target = {cam: u.render_camera(cam) for cam in u.camera_names}
            return SceneViews(world_id, seed, desc.instruction, lines, frames, target)
        lines = [f"**Task:** {desc.instruction}", f"**Objects:** {', '.join(desc.objects)}"]
        if desc.pads:
            lines.append(f"**Pads:** {', '.join(desc.pads)}")
        return SceneViews(world_id, seed, desc.instruction, lines, frames)
    finally:
        env.close()


def scripted_demo(world_id: str, seed: int, size: int = 320, camera: str = "front",
                  progress=None, **world_kwargs) -> DemoEpisode:
    """Play the scripted controller for one episode and return its MP4 and reward terms.

    ``progress(fraction)`` is called after each step when given (the UI's progress bar).
    """
    env = worlds.make(world_id, render_profile="viewer", width=size, height=size, camera=camera, **world_kwargs)
    try:
        controller = ScriptedController(env)
        obs, info = env.reset(seed=seed)
        instruction = env.unwrapped.describe().instruction
        frames = [env.render()]
        terms: dict[str, list[float]] = {k: [] for k in info["reward_terms"]}
        success, total, done, steps = [], 0.0, False, 0
        limit = env.spec.max_episode_steps or 100
        while not done:
            obs, reward, terminated, truncated, info = env.step(controller(obs))
            done = terminated or truncated
            steps += 1
            total += reward
            for k, v in info["reward_terms"].items():
                terms[k].append(v)
            success.append(info["is_success"])
            frames.append(env.render())
            if progress is not None:
                progress(min(steps / limit, 1.0))
        mp4 = encode_mp4(frames, fps=env.metadata["render_fps"])
        return DemoEpisode(world_id, seed, instruction, bool(info["is_success"]), float(total), steps, mp4,
                           terms, success)
    finally:
        env.close()
