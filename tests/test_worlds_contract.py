"""Contract tests over every registered studio world (see DESIGN.md, "Contracts worth keeping")."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import worlds
from worlds.rendering import PROFILES

WORLD_IDS = worlds.world_ids()


def flat(env, obs) -> np.ndarray:
    """An observation as one array (Dict observations, e.g. FastMapRoom's, flattened in key order)."""
    return gym.spaces.flatten(env.observation_space, obs).astype(np.float64)


def test_registry_lists_the_manipulation_tasks():
    assert {"studio/Reach-v0", "studio/Push-v0", "studio/PickPlace-v0", "studio/Stack-v0"} <= set(WORLD_IDS)


@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_gymnasium_env_checker_passes(world_id):
    env = gym.make(world_id, render_mode=None)
    check_env(env.unwrapped, skip_render_check=True)
    env.close()


@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_seeded_rollouts_are_bit_identical(world_id):
    def rollout():
        env = worlds.make(world_id, render_mode=None)
        obs, info = env.reset(seed=123)
        space = env.action_space
        actions = np.random.default_rng(0).uniform(space.low, space.high, (25, *space.shape))
        trace = [flat(env, obs)]
        for a in actions:
            obs, reward, *_ = env.step(a)
            trace += [flat(env, obs), np.array([reward])]
        desc = env.unwrapped.describe()
        env.close()
        return np.concatenate(trace), desc

    (a, desc_a), (b, desc_b) = rollout(), rollout()
    assert a.tobytes() == b.tobytes()
    assert desc_a == desc_b


@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_different_seeds_randomise_the_scene(world_id):
    env = worlds.make(world_id, render_mode=None)
    scenes = {tuple(flat(env, env.reset(seed=s)[0]).round(4)) for s in range(1, 8)}
    assert len(scenes) == 7
    env.close()


@pytest.mark.parametrize("world_id", WORLD_IDS)
def test_reward_terms_sum_to_reward_with_fixed_keys(world_id):
    env = worlds.make(world_id, render_mode=None)
    _, info = env.reset(seed=0)
    keys = list(info["reward_terms"])
    rng = np.random.default_rng(1)
    space = env.action_space
    for _ in range(40):
        _, reward, _, _, info = env.step(rng.uniform(space.low, space.high, space.shape))
        assert list(info["reward_terms"]) == keys
        assert reward == pytest.approx(sum(info["reward_terms"].values()), abs=1e-9)
        for k, v in info["reward_terms"].items():
            assert info[f"reward_{k}"] == v
        assert isinstance(info["is_success"], bool)
    env.close()


@pytest.mark.parametrize("world_id", WORLD_IDS)
@pytest.mark.parametrize("profile", ["reward", "viewer"])
def test_render_every_camera_and_profile(world_id, profile):
    env = worlds.make(world_id, render_profile=profile)
    env.reset(seed=0)
    u = env.unwrapped
    spec = PROFILES[profile]
    assert u.camera_names, f"{world_id} has no named camera"
    for camera in u.camera_names:
        frame = u.render_camera(camera)
        assert frame.dtype == np.uint8 and frame.shape == (spec.height, spec.width, 3)
        assert frame.std() > 5, f"{camera} frame of {world_id} is blank"
    assert env.render().shape == (spec.height, spec.width, 3)
    small = u.render_camera(u.camera_names[-1], "reward", width=32, height=24)
    assert small.shape == (24, 32, 3)
    env.close()


def test_cameras_see_different_views():
    env = worlds.make("studio/Push-v0", render_profile="reward")
    env.reset(seed=0)
    frames = [env.unwrapped.render_camera(c).astype(int) for c in ("front", "top", "wrist")]
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(frames[i] - frames[j]).mean() > 10
    env.close()


def test_object_colour_shows_in_the_top_camera():
    """The object named in the description is the colour the camera sees at its position."""
    from worlds.manipulation import COLORS

    env = worlds.make("studio/Push-v0", render_profile="viewer", colors=["red"], shapes=["cube"])
    env.reset(seed=3)
    u = env.unwrapped
    assert u.describe().objects == ["red cube"]
    frame = u.render_camera("top").astype(int)
    red = (frame[..., 0] > 150) & (frame[..., 1] < 90) & (frame[..., 2] < 90)
    assert red.sum() > 20
    assert COLORS["red"][0] > 0.8
    env.close()
