"""Task semantics of the manipulation world: success predicates on constructed states, the grasp, bad input."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest

import worlds
from worlds.manipulation import HALF, ManipulationEnv


def place(env: ManipulationEnv, i: int, xyz) -> None:
    adr = env._obj_qadr[i]
    env.data.qpos[adr:adr + 3] = xyz
    env.data.qpos[adr + 3:adr + 7] = (1, 0, 0, 0)
    env.data.qvel[env._obj_dadr[i]:env._obj_dadr[i] + 6] = 0
    mujoco.mj_forward(env.model, env.data)


def evaluate(env: ManipulationEnv):
    return env._evaluate()[1]


def test_push_success_only_when_object_on_pad():
    env = ManipulationEnv(task="push", render_mode=None)
    env.reset(seed=0)
    pad = env.pad_position(0)
    place(env, 0, (pad[0] + 0.02, pad[1], HALF))
    assert evaluate(env)["is_success"]
    place(env, 0, (pad[0] + 0.08, pad[1], HALF))
    assert not evaluate(env)["is_success"]
    place(env, 0, (pad[0], pad[1], HALF + 0.05))     # hovering above the pad is not "on" it
    assert not evaluate(env)["is_success"]


def test_pick_place_needs_a_lift_before_the_pad():
    env = ManipulationEnv(task="pick_place", render_mode=None)
    env.reset(seed=0)
    pad = env.pad_position(0)
    place(env, 0, (pad[0], pad[1], HALF))
    assert not evaluate(env)["is_success"], "pushed onto the pad without lifting"
    place(env, 0, (0.0, 0.0, HALF + 0.06))
    evaluate(env)
    place(env, 0, (pad[0], pad[1], HALF))
    assert evaluate(env)["is_success"]


def test_stack_success_and_failure():
    env = ManipulationEnv(task="stack", render_mode=None)
    env.reset(seed=0)
    place(env, 1, (0.05, 0.05, HALF))
    place(env, 0, (0.05, 0.05, 3 * HALF))
    assert evaluate(env)["is_success"]
    place(env, 0, (0.09, 0.05, 3 * HALF))
    assert not evaluate(env)["is_success"]
    place(env, 0, (0.2, 0.2, HALF))
    assert not evaluate(env)["is_success"]


def test_reach_success_near_object():
    env = ManipulationEnv(task="reach", render_mode=None)
    env.reset(seed=0)
    assert not evaluate(env)["is_success"]
    tcp = env.tcp_position()
    place(env, 0, tcp + [0.0, 0.0, 0.01])
    assert evaluate(env)["is_success"]


def test_zero_action_holds_the_arm_still():
    env = ManipulationEnv(task="reach", render_mode=None)
    env.reset(seed=0)
    for _ in range(10):
        env.step(np.zeros(4))
    start = env.tcp_position()
    for _ in range(25):
        env.step(np.zeros(4))
    assert np.linalg.norm(env.tcp_position() - start) < 0.005


def test_tcp_follows_cartesian_commands_and_stays_in_workspace():
    env = ManipulationEnv(task="reach", render_mode=None)
    env.reset(seed=0)
    start = env.tcp_position()
    for _ in range(5):
        env.step(np.array([1.0, 0, 0, 0]))
    moved = env.tcp_position() - start
    assert moved[0] > 0.12 and abs(moved[1]) < 0.02 and abs(moved[2]) < 0.03
    for _ in range(30):
        env.step(np.array([0, 0, -1.0, 0]))
    assert env.tcp_position()[2] > 0.015, "the TCP must never be driven into the table"


def test_grasp_holds_object_through_contacts_only():
    """Close on the object, lift: it rises with the fingers; open: it falls back to the table."""
    env = ManipulationEnv(task="pick_place", shapes=["cube"], render_mode=None)
    env.reset(seed=2)
    place(env, 0, (0.05, 0.0, HALF))
    for _ in range(40):
        target = np.array([0.05, 0.0, HALF + 0.006])
        env.step(np.append(np.clip((target - env.tcp_position()) / 0.04, -1, 1), -1))
    for _ in range(8):
        env.step(np.array([0, 0, 0, 1.0]))
    assert env.is_grasped(0)
    assert env.model.neq == 0, "no weld or equality constraint may hold the object"
    for _ in range(15):
        env.step(np.array([0, 0, 0.5, 1.0]))
    assert env.object_position(0)[2] > HALF + 0.1
    for _ in range(25):
        env.step(np.array([0, 0, 0, -1.0]))
    assert env.object_position(0)[2] < HALF + 0.01


def test_describe_names_colours_and_instruction():
    env = ManipulationEnv(task="push", n_objects=2, colors=["red", "blue"], shapes=["cube", "cylinder"],
                          pad_colors=["green", "yellow"], render_mode=None)
    _, info = env.reset(seed=0)
    d = env.describe()
    assert d.objects == ["red cube", "blue cylinder"]
    assert d.pads == ["green pad", "yellow pad"]
    assert info["instruction"] == "push the red cube onto the green pad"


@pytest.mark.parametrize("kwargs, words", [
    ({"task": "juggle"}, ["juggle", "reach", "push", "pick_place", "stack"]),
    ({"task": "push", "n_objects": 4}, ["n_objects=4", "1 to 3"]),
    ({"task": "stack", "n_objects": 1}, ["n_objects=1", "2 to 3"]),
    ({"task": "push", "colors": ["mauve"]}, ["mauve", "red"]),
    ({"task": "push", "n_objects": 2, "colors": ["red", "red"]}, ["repeat"]),
    ({"task": "push", "colors": ["red", "blue"]}, ["2 colours", "1 are needed"]),
    ({"task": "push", "shapes": ["sphere"]}, ["sphere", "cube", "cylinder"]),
    ({"task": "push", "colors": ["red"], "pad_colors": ["red"]}, ["share a colour"]),
    ({"task": "push", "camera": "side"}, ["side", "front", "top", "wrist"]),
    ({"task": "push", "render_profile": "pretty"}, ["pretty", "reward", "viewer"]),
    ({"task": "push", "width": 0}, ["not positive"]),
    ({"task": "push", "max_delta": 0.5}, ["max_delta=0.5"]),
    ({"task": "push", "pad_distance": (0.05, 0.1)}, ["pad_distance=(0.05, 0.1)", "0.06 < lo <= hi"]),
    ({"task": "push", "pad_distance": (0.2, 0.1)}, ["pad_distance=(0.2, 0.1)", "lo <= hi"]),
    ({"task": "push", "pad_distance": (0.1, float("nan"))}, ["nan", "0.06 < lo"]),
    ({"task": "push", "pad_distance": 0.1}, ["pad_distance=0.1", "(lo, hi)"]),
    ({"task": "reach", "pad_distance": (0.07, 0.1)}, ["'reach' has no pads", "push and pick_place"]),
])
def test_bad_arguments_name_the_value_and_the_fix(kwargs, words):
    with pytest.raises(ValueError) as err:
        ManipulationEnv(render_mode=None, **kwargs)
    for word in words:
        assert word in str(err.value)


def test_unknown_world_id_lists_valid_ids():
    with pytest.raises(ValueError) as err:
        worlds.make("studio/Juggle-v0")
    assert "studio/Push-v0" in str(err.value) and "Juggle" in str(err.value)


def test_bad_actions_are_refused_with_a_message():
    env = ManipulationEnv(task="push", render_mode=None)
    env.reset(seed=0)
    with pytest.raises(ValueError, match="shape"):
        env.step(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        env.step(np.array([np.nan, 0, 0, 0]))


@pytest.mark.parametrize("task, lo, hi", [("push", 0.07, 0.10), ("pick_place", 0.07, 0.10), ("push", 0.25, 0.30),
                                         ("push", 0.38, 0.40)])     # far: object 0 is drawn again until it fits
def test_pad_distance_puts_pad_0_that_far_from_object_0_and_none_restores_the_default(task, lo, hi):
    env = ManipulationEnv(task=task, n_objects=3, render_mode=None, pad_distance=(lo, hi))
    far = []
    for seed in range(30):
        _, info = env.reset(seed=seed)
        d = np.linalg.norm(env.object_position(0)[:2] - env.pad_position(0)[:2])
        assert lo - 1e-9 <= d <= hi + 1e-9
        assert not info["is_success"]                       # never starts solved
        for i in (1, 2):                                    # still clear of the other objects
            assert np.linalg.norm(env.object_position(i)[:2] - env.pad_position(0)[:2]) >= 0.105 - 1e-9
    env.set_pad_distance(None)
    default = ManipulationEnv(task=task, n_objects=3, render_mode=None)
    for seed in range(30):
        env.reset(seed=seed)
        default.reset(seed=seed)
        assert np.allclose(env.pad_position(0), default.pad_position(0))      # the same draw as never set
        far.append(np.linalg.norm(env.object_position(0)[:2] - env.pad_position(0)[:2]))
    assert min(far) >= 0.12
