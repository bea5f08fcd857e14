"""Play one episode of a run's saved policy and keep its frames: the Runs page's videos and the Inspect page's
episodes from a checkpoint.

The policy acts on the run's own world (same world arguments); the episode is rendered with the ``viewer``
profile for people and, when asked, with the ``reward`` profile from the reward camera for CLIP.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

import worlds
from studio.runs import RunPaths
from studio.spec import parse_run_config
from studio.video import encode_mp4


@dataclass
class PolicyEpisode:
    """One episode of a checkpoint: viewer frames, ground truth and the world's reference terms per step."""

    run_id: str
    world_id: str
    checkpoint: str
    seed: int
    instruction: str
    frames: list[np.ndarray]
    success: list[bool]                              # after each step
    world_terms: dict[str, list[float]] = field(default_factory=dict)
    reward_frames: list[np.ndarray] = field(default_factory=list)
    progress: list[float] = field(default_factory=list)   # ground-truth task progress in [0, 1], per frame
    describe: object = None                          # the world's scene description at reset

    @property
    def succeeded(self) -> bool:
        return bool(self.success and self.success[-1])

    @property
    def world_return(self) -> float:
        return float(sum(sum(v) for v in self.world_terms.values()))

    def mp4(self, fps: int = 20) -> bytes:
        return encode_mp4(self.frames, fps=fps)


def checkpoints(paths: RunPaths) -> list[Path]:
    """The run's checkpoints, oldest first."""
    return sorted(paths.checkpoints.glob("step-*.zip"))


def _progress(env, start: float | None) -> tuple[float, float]:
    """Ground-truth progress in [0, 1]: how much of the object-to-goal distance was closed (manipulation), or
    the humanoid's soft target-pose score; the object-naming room: 1 once the episode succeeded, else 0."""
    u = env.unwrapped
    if isinstance(getattr(u, "outcome", None), str):      # the object-naming room
        return float(u.outcome == "correct"), 0.0
    if hasattr(u, "goal_position"):
        if u.task == "reach":
            d = float(np.linalg.norm(u.tcp_position() - u.object_position(0)))
        else:
            d = float(np.linalg.norm(u.object_position(0)[:2] - u.goal_position()[:2]))
        start = d if start is None else start
        return float(np.clip(1 - d / max(start, 1e-6), 0, 1)), start
    from worlds.humanoid import pose_features, pose_score

    return float(pose_score(u.pose, pose_features(u.model, u.data))), 0.0


def policy_episode(run_dir: str | Path, checkpoint: str | Path | None = None, seed: int = 10_000, size: int = 256,
                   deterministic: bool = True, reward_frames: bool = False,
                   progress: Callable[[float], None] | None = None,
                   reward_frame_size: tuple[int, int] | None = None) -> PolicyEpisode:
    """Play one episode of ``checkpoint`` (default: the run's latest) on the run's world.

    With ``reward_frames``, each step's reward-camera frame is kept too, rendered at ``reward_frame_size``
    (the embedder's ``image_size``; default: the ``reward`` profile's 96 px).

    Raises:
        FileNotFoundError: the run has no checkpoint yet (the message says how to get one).
    """
    from agents.rewards.wrappers import default_reward_camera, render_reward_frame
    from agents.normalize import observation_map
    from agents.sb3_factory import load_model

    paths = RunPaths(Path(run_dir))
    config = parse_run_config(paths.config)
    ckpts = checkpoints(paths)
    path = Path(checkpoint) if checkpoint else (ckpts[-1] if ckpts else None)
    if path is None or not path.is_file():
        raise FileNotFoundError(f"run {paths.run_id} has no checkpoint yet; press Save on the Studio page while it "
                                f"trains (or stop it, which saves one)")
    model = load_model(config.algo, path, device="cpu")
    policy_obs = observation_map(path, config.normalize)
    env = worlds.make(config.world_id, render_profile="viewer", width=size, height=size, **config.world_kwargs)
    if config.agent != "mlp":               # the policy acts through the harness's wrappers (moves, memory)
        from agents.memory.train import wrap_world

        env = wrap_world(env, config.agent)
    try:
        obs, _ = env.reset(seed=seed)
        u = env.unwrapped
        camera = default_reward_camera(env)
        limit = env.spec.max_episode_steps or 100
        frames, rframes, success = [u.render_camera()], [], []
        if reward_frames:
            rframes.append(render_reward_frame(env, camera, reward_frame_size))
        prog, start = _progress(env, None)
        progress_curve = [prog]
        terms: dict[str, list[float]] = {}
        state, episode_start, done = None, np.ones(1, dtype=bool), False
        while not done:
            action, state = model.predict(policy_obs(obs), state=state, episode_start=episode_start,
                                          deterministic=deterministic)
            episode_start = np.zeros(1, dtype=bool)
            obs, _, terminated, truncated, info = env.step(action)
            done = terminated or truncated
            for k, v in info.get("reward_terms", {}).items():
                terms.setdefault(k, []).append(float(v))
            success.append(bool(info.get("is_success", False)))
            frames.append(u.render_camera())
            if reward_frames:
                rframes.append(render_reward_frame(env, camera, reward_frame_size))
            progress_curve.append(_progress(env, start)[0])
            if progress is not None:
                progress(min(len(success) / limit, 1.0))
        desc = u.describe()
        return PolicyEpisode(paths.run_id, config.world_id, path.name, seed, desc.instruction, frames, success, terms,
                             rframes, progress_curve, desc)
    finally:
        env.close()


__all__ = ["PolicyEpisode", "checkpoints", "policy_episode"]
