"""The scripted controller solves push and pick_place: the tasks are solvable and the gripper really grasps."""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from agents.scripted import run_episode


@pytest.mark.parametrize("world_id", ["studio/Push-v0", "studio/PickPlace-v0"])
def test_scripted_controller_succeeds_on_95_percent_of_50_seeds(world_id):
    env = worlds.make(world_id, render_mode=None)
    results = [run_episode(env, seed)[0] for seed in range(50)]
    env.close()
    rate = float(np.mean(results))
    assert rate >= 0.95, f"{world_id}: scripted success {rate:.0%}; failing seeds " \
                         f"{[s for s, ok in enumerate(results) if not ok]}"


@pytest.mark.parametrize("world_id", ["studio/Reach-v0", "studio/Stack-v0"])
def test_scripted_controller_solves_reach_and_stack(world_id):
    env = worlds.make(world_id, render_mode=None)
    results = [run_episode(env, seed)[0] for seed in range(10)]
    env.close()
    assert np.mean(results) >= 0.9


def test_random_actions_rarely_succeed():
    """The success predicate is not trivially true: random flailing almost never pushes onto the pad."""
    env = worlds.make("studio/PickPlace-v0", render_mode=None)
    rng = np.random.default_rng(0)
    wins = 0
    for seed in range(5):
        env.reset(seed=seed)
        done = False
        while not done:
            _, _, term, trunc, info = env.step(rng.uniform(-1, 1, 4))
            done = term or trunc
        wins += info["is_success"]
    assert wins == 0
