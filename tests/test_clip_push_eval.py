"""bench.clip_push's evaluation tells a real push from a gripper parked over the pad, and films what it saw."""

from __future__ import annotations

from worlds import gl  # noqa: F401

import imageio.v2 as imageio
import numpy as np

from bench.clip_push import evaluate


class Policy:
    """A stand-in for an SB3 model: ``predict`` maps a batch of observations to actions."""

    def __init__(self, act):
        self.act = act

    def predict(self, obs, deterministic=True):
        return np.stack([self.act(o) for o in obs]), None


def hover_over_pad(obs: np.ndarray) -> np.ndarray:
    """Fly the gripper 10 cm above the pad (obs: tcp position first, goal position last); never touch the cube."""
    tcp, goal = obs[:3], obs[-3:]
    target = np.array([goal[0], goal[1], goal[2] + 0.10])
    if tcp[2] < 0.12:                      # rise first, so the way over never sweeps the cube
        target[:2] = tcp[:2]
    return np.append(np.clip((target - tcp) * 40.0, -1, 1), 1.0).astype(np.float32)


def test_a_gripper_parked_over_the_pad_is_told_from_a_push():
    parked = evaluate(Policy(hover_over_pad), None, episodes=2, seed=0)
    assert parked["success_rate"] == 0.0
    assert parked["final_gripper_to_pad_cm"] < 3.0          # the gripper got there ...
    assert parked["cube_moved_cm"] < 0.5                    # ... and the cube never moved
    assert parked["final_cube_to_pad_cm"] > 5.0


def test_the_film_has_one_row_of_eight_frames_per_filmed_episode(tmp_path):
    still = evaluate(Policy(lambda o: np.zeros(4, np.float32)), None, episodes=3, seed=0, film=tmp_path / "still")
    assert still["cube_moved_cm"] == 0.0 and still["success_rate"] == 0.0
    sheet = imageio.imread(tmp_path / "still.png")
    assert sheet.shape == (3 * 192, 8 * 192, 3)
    assert (tmp_path / "still.mp4").stat().st_size > 1000
