"""The still-arm search (agents.vlm.still_arm): held poses are really held, the search finds what a reward pays
most among poses that leave the cube alone, and the training frames it yields carry the true state's facts."""

from __future__ import annotations

from worlds import gl  # noqa: F401

import numpy as np
import pytest

import worlds
from agents.vlm import still_arm
from agents.vlm.domain_data import CAMERA, TASK_IDS
from agents.vlm.still_arm import POSE_HIGH, POSE_LOW, hold_pose, search_scene, still_arm_frames


@pytest.fixture
def push():
    env = worlds.make(TASK_IDS["push"], n_objects=1, camera=CAMERA, render_profile="reward", width=96, height=96,
                      render_mode="rgb_array")
    yield env
    env.close()


def test_a_held_pose_is_reached_and_leaves_a_far_cube_where_it_was(push):
    push.reset(seed=4)
    cube = push.unwrapped.object_position(0)
    pose = np.array([cube[0], cube[1] + (0.2 if cube[1] < 0 else -0.2), 0.25, -1.0])   # 20 cm aside, high
    frame, record, moved = hold_pose(push, 4, pose)
    assert frame.shape == (96, 96, 3)
    assert np.linalg.norm(push.unwrapped.tcp_position() - pose[:3]) < 0.02
    assert moved < 1e-3 and record[0].relation == "far from"
    assert record[0].obj == push.unwrapped.describe().objects[0]


def _rigged(monkeypatch, peak: np.ndarray, forbidden=None):
    """hold_pose replaced by one whose 'frame' is the pose itself and whose reward peaks at ``peak``; poses
    within 5 cm of ``forbidden`` 'move the cube'."""
    def fake_hold(env, seed, pose, steps=25):
        moved = 1.0 if forbidden is not None and np.linalg.norm(pose[:3] - forbidden) < 0.05 else 0.0
        return np.asarray(pose, np.float64), ("facts",), moved

    monkeypatch.setattr(still_arm, "hold_pose", fake_hold)

    def images(frames):        # a unit vector whose goal coordinate falls with the distance to the peak
        # A pose "frame" is scored by its distance to the peak; the scene's real start frame as far away.
        d = np.array([np.linalg.norm(f[:3] - peak) if np.shape(f) == (4,) else 1.5 for f in frames])
        x = np.cos(np.minimum(d, 1.5))
        return np.stack([x, np.sin(np.minimum(d, 1.5)), np.zeros(len(d))], axis=1)

    def texts(t):
        return np.array([[1.0, 0, 0] if " on " in t[0] else [-1.0, 0, 0]])

    return images, texts


def test_the_search_finds_the_pose_the_reward_pays_most(push, monkeypatch):
    peak = np.array([0.2, -0.1, 0.3])
    images, texts = _rigged(monkeypatch, peak)
    found = search_scene(push, 0, images, texts, np.random.default_rng(0), goal="x on y", baseline="x far y",
                         success_reward=False)
    assert np.linalg.norm(found.best_pose[:3] - peak) < 0.03
    assert len(found.frames) == 48 * 6 == len(found.records) == len(found.rewards)
    assert np.all(found.best_pose >= POSE_LOW) and np.all(found.best_pose <= POSE_HIGH)


def test_poses_that_move_the_cube_are_not_counted(push, monkeypatch):
    peak = np.array([0.2, -0.1, 0.3])
    images, texts = _rigged(monkeypatch, peak, forbidden=peak)
    found = search_scene(push, 0, images, texts, np.random.default_rng(0), goal="x on y", baseline="x far y",
                         success_reward=False)
    assert np.linalg.norm(found.best_pose[:3] - peak) >= 0.05
    assert np.linalg.norm(found.best_pose[:3] - peak) < 0.15      # the best of what is left is next to it
    assert np.isneginf(found.rewards).any()


def test_the_share_prices_the_best_pose_against_start_and_success(push):
    found = still_arm.SceneSearch(np.zeros(4), best_reward=0.5, start_reward=0.2, success_reward=0.8, frames=[],
                                  records=[], rewards=np.array([0.5]))
    assert found.share == pytest.approx(0.5)


def test_one_scene_with_a_tiny_gap_moves_the_mean_share_but_not_the_median(monkeypatch):
    shares = iter([0.4, 0.5, 0.6, -5.0])

    def rigged(env, seed, *args, **kwargs):        # best - start over success - start = the next share
        return still_arm.SceneSearch(np.zeros(4), best_reward=next(shares), start_reward=0.0, success_reward=1.0,
                                     frames=[np.zeros((2, 2, 3), np.uint8)], records=[], rewards=np.zeros(1))

    monkeypatch.setattr(still_arm, "search_scene", rigged)
    out = still_arm.still_arm_share(None, None, range(4))
    assert out["still_arm_share"] == pytest.approx(-0.875) and out["median"] == pytest.approx(0.45)
    assert out["shares"] == [0.4, 0.5, 0.6, -5.0]


def test_training_frames_carry_the_true_state_of_each_candidate():
    rng = np.random.default_rng(1)

    def images(frames):
        return rng.normal(size=(len(frames), 8))

    def texts(t):
        return rng.normal(size=(len(t), 8))

    data = still_arm_frames(images, texts, 2, seed=5, every=2, population=8, generations=2)
    assert len(data) == 2 * 8 and set(data.tasks) == {"push"} and set(np.unique(data.episode)) == {0, 1}
    assert data.images.shape[1:] == (96, 96, 3)
    for i in range(len(data)):
        assert data.facts[i].relation in ("on", "next to", "far from")
        assert data.facts[i].obj == data.present[i][0]
        on = data.ref_distance[i] < 0.06
        assert (data.facts[i].relation == "on") == on
