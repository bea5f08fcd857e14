"""Envs in subprocesses (SubprocVecEnv) give the same episodes and rewards as envs in the trainer's process."""

import numpy as np
import pytest

from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

from agents.rewards import ClipTerm, RewardStack, WorldTerm
from agents.sb3_factory import make_venv
from agents.vlm.embedder import default_embedder

WORLD_KWARGS = {"colors": ["red"], "pad_colors": ["blue"]}


@pytest.fixture(scope="module")
def embedder():
    return default_embedder("cpu")


def _rollout(subprocess_envs: bool, embedder, steps: int = 120) -> tuple[np.ndarray, np.ndarray, list]:
    stack = RewardStack([(ClipTerm(["the red cube is on the blue pad"], ["the red cube is far from the blue pad"],
                                   embedder=embedder, alpha=1.0), 1.0), (WorldTerm("success"), 1.0)],
                        embedder=embedder)
    venv, reward_env = make_venv("studio/Push-v0", WORLD_KWARGS, 2, 3, stack, camera="workspace",
                                 subprocess_envs=subprocess_envs)
    assert isinstance(reward_env.venv, SubprocVecEnv if subprocess_envs else DummyVecEnv)
    rng = np.random.default_rng(0)
    obs_log, rewards, terms = [venv.reset()], [], []
    try:
        for _ in range(steps):                   # past the 100-step episode end: resets happen in the workers
            obs, reward, done, infos = venv.step(rng.uniform(-1, 1, (2, 4)).astype(np.float32))
            obs_log.append(obs)
            rewards.append(reward)
            terms.append([info["reward_terms"] for info in infos])
    finally:
        venv.close()
    return np.stack(obs_log), np.stack(rewards), terms


def test_subprocess_envs_reproduce_the_in_process_rollout(embedder):
    obs_a, rew_a, terms_a = _rollout(False, embedder)
    obs_b, rew_b, terms_b = _rollout(True, embedder)
    assert np.array_equal(obs_a, obs_b)                        # same seeds, same physics
    assert np.allclose(rew_a, rew_b, atol=1e-5)                # same frames, embedded in one call either way
    assert terms_a[0][0].keys() == terms_b[0][0].keys() == {"clip", "success"}
    assert np.ptp(rew_a) > 0.01                                # the CLIP term really moved
