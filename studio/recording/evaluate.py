"""Record N evaluation episodes of a run's checkpoint: ``python -m studio record --run <id> --episodes N``.

The checkpoint plays the run's world (same world arguments) rewarded by the run's latest reward spec, so the
per-term rewards and the spec version are recorded exactly as in training; episode ``k`` is seeded
``seed + k`` (reproducible), and every episode is filmed with the ``viewer`` profile. The recording is
``studio/<world>/eval-step-<n>-v<k>`` inside the run's ``recordings/`` folder (a re-run gets the next version).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from agents.memory.wrappers import MEMORY_KEYS
from studio.recording.layout import RecordingPaths, next_version, run_metadata, world_spec
from studio.recording.reader import run_recordings_root
from studio.recording.vec_recorder import VecRecorder, recorded_space
from studio.recording.writer import RecordingError, RecordingWriter
from studio.runs import RunPaths, read_json
from studio.spec import RewardSpec, parse_run_config


@dataclass
class EvalRecording:
    paths: RecordingPaths
    episodes: int
    successes: int
    mean_return: float
    seconds: float

    def as_dict(self) -> dict:
        return {"dataset_id": self.paths.dataset_id, "folder": str(self.paths.folder), "episodes": self.episodes,
                "success_rate": round(self.successes / max(self.episodes, 1), 3),
                "mean_return": round(self.mean_return, 4), "seconds": round(self.seconds, 1)}


def latest_spec(paths: RunPaths) -> RewardSpec:
    """The run's newest applied reward spec (``specs/v*.json``), or the config's initial one."""
    files = sorted(paths.specs.glob("v*.json"))
    if files:
        return RewardSpec.model_validate(read_json(files[-1]))
    return parse_run_config(paths.config).reward


def resolve_checkpoint(paths: RunPaths, checkpoint: str | Path | None) -> Path:
    """A checkpoint path, a file name in the run's ``checkpoints/``, or (``None``) the latest one."""
    if checkpoint:
        candidate = Path(checkpoint)
        for path in (candidate, paths.checkpoints / candidate.name):
            if path.is_file():
                return path
        raise FileNotFoundError(f"checkpoint {checkpoint!r} not found; the run has "
                                f"{[p.name for p in sorted(paths.checkpoints.glob('step-*.zip'))]}")
    found = sorted(paths.checkpoints.glob("step-*.zip"))
    if not found:
        raise FileNotFoundError(f"run {paths.run_id} has no checkpoint yet; save one (Save on the Studio page, or "
                                f"`python -m studio stop --run {paths.run_id}`) and record again")
    return found[-1]


def record_checkpoint(run_dir: str | Path, episodes: int = 10, checkpoint: str | Path | None = None,
                      seed: int = 10_000, deterministic: bool = True, video_size: int = 256,
                      progress: Callable[[int, int], None] | None = None) -> EvalRecording:
    """Play and record ``episodes`` episodes of a checkpoint (see module docstring)."""
    from agents.reward_factory import build_stack
    from agents.normalize import observation_map
    from agents.sb3_factory import load_model, make_venv

    if episodes < 1:
        raise ValueError(f"episodes={episodes}: record at least 1 episode")
    paths = RunPaths(Path(run_dir))
    config = parse_run_config(paths.config)
    ckpt = resolve_checkpoint(paths, checkpoint)
    step = int(read_json(ckpt.with_suffix(".json"), {}).get("step", 0)) or _step_from_name(ckpt)
    spec = latest_spec(paths)
    embedder = None

    def embedder_provider():
        nonlocal embedder
        if embedder is None:
            from agents.vlm.embedder import embedder_for
            embedder = embedder_for(config.clip_setting, "cpu")
        return embedder

    stack = build_stack(spec.term_params(), embedder_provider)
    venv, _ = make_venv(config.world_id, config.world_kwargs, 1, seed, stack, camera=spec.camera, agent=config.agent)
    root = run_recordings_root(paths.root)
    rec_paths = RecordingPaths(root, next_version(root, config.world_id, f"eval-step-{step:09d}"))
    writer = RecordingWriter(rec_paths, world_spec(config.world_id, config.world_kwargs),
                             recorded_space(venv.observation_space, MEMORY_KEYS),
                             venv.action_space, algorithm_name=config.algo,
                             metadata=_metadata(paths, config, spec, ckpt, step, seed, deterministic),
                             description=f"Reward Studio: {episodes} evaluation episodes of {ckpt.name} from run "
                                         f"{paths.run_id} on {config.world_id}")
    if not writer.enabled:
        raise RecordingError(writer.error)
    recorder = VecRecorder(venv, writer, version_of=lambda _v: spec.version, video_every=1, video_size=video_size,
                           video_profile="viewer", drop_keys=MEMORY_KEYS)
    model = load_model(config.algo, ckpt, device="cpu")
    policy_obs = observation_map(ckpt, config.normalize)
    start, successes, returns = time.time(), 0, []
    try:
        for k in range(episodes):
            recorder.seed(seed + k)
            obs = recorder.reset()
            state, episode_start, total, done = None, np.ones(1, dtype=bool), 0.0, False
            while not done:
                action, state = model.predict(policy_obs(obs), state=state, episode_start=episode_start,
                                              deterministic=deterministic)
                episode_start = np.zeros(1, dtype=bool)
                obs, reward, dones, infos = recorder.step(action)
                total += float(reward[0])
                done = bool(dones[0])
            successes += bool(infos[0].get("is_success", False))
            returns.append(total)
            if writer.error:
                raise RecordingError(writer.error)
            if progress is not None:
                progress(k + 1, episodes)
    finally:
        recorder.close()
    return EvalRecording(rec_paths, writer.episodes, successes, float(np.mean(returns)), time.time() - start)


def _step_from_name(path: Path) -> int:
    digits = "".join(ch for ch in path.stem if ch.isdigit())
    return int(digits) if digits else 0


def _metadata(paths: RunPaths, config, spec: RewardSpec, ckpt: Path, step: int, seed: int,
              deterministic: bool) -> dict:
    return run_metadata(paths.run_id, "eval", config.world_id, config.world_kwargs, config.algo,
                        [spec.model_dump(mode="json")], checkpoint=ckpt.name, checkpoint_step=step, seed=seed,
                        deterministic=deterministic)


__all__ = ["EvalRecording", "latest_spec", "record_checkpoint", "resolve_checkpoint"]
