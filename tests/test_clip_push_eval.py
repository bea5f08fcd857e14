"""bench.clip_push's evaluation tells a real push from a gripper parked over the pad, and films what it saw."""

from __future__ import annotations

from worlds import gl  # noqa: F401

import imageio.v2 as imageio
import numpy as np
import pytest

from bench.clip_push import evaluate, main


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


def test_a_missing_checkpoint_is_refused_before_any_training(tmp_path, capsys):
    """``--checkpoint`` names the file it could not find and what to give instead, and trains nothing."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--checkpoint", str(tmp_path / "nope.pt"), "--out", str(tmp_path / "r.json")])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert "nope.pt is not a file" in err and "train_domain_clip" in err
    assert not (tmp_path / "r.json").exists()


@pytest.mark.parametrize("value", ["-1", "nan", "11"])
def test_a_reach_weight_outside_0_to_10_is_refused(value, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--reach-weight", value, "--out", str(tmp_path / "r.json")])
    assert exit_info.value.code == 2
    assert f"--reach-weight {float(value)}" in capsys.readouterr().err


def test_the_reach_weight_adds_the_worlds_reach_term_beside_the_prompt():
    """With ``--reach-weight`` the agent's reward is the CLIP term plus the weighted reach term, as the
    stack's ``info["reward_terms"]`` shows; without it the prompt is the only term."""
    from bench.clip_push import make_venv

    for weight, want in ((0.0, {"clip"}), (0.5, {"clip", "reach"})):
        venv = make_venv("clip", "sac", 1, seed=0, reach_weight=weight)
        venv.reset()
        _, _, _, infos = venv.step(np.zeros((1, 4), np.float32))
        terms = infos[0]["reward_terms"]
        venv.close()
        assert set(terms) == want
        if weight:
            assert 0.0 < terms["reach"] <= weight      # the gripper starts away from the cube


def test_the_whole_prompt_is_the_clip_terms_only_goal_and_baseline():
    """``--prompt whole`` scores one goal sentence against one baseline, each saying where the gripper is."""
    from bench.clip_push import make_venv
    from bench.common import PUSH_PROMPTS

    venv = make_venv("clip", "sac", 1, seed=0, prompt=PUSH_PROMPTS["whole"])
    venv.reset()
    _, _, _, infos = venv.step(np.zeros((1, 4), np.float32))
    params = venv.venv.venv.stack["clip"].params     # VecStandardizeReward > VecMonitor > VecRewardStack
    venv.close()
    assert set(infos[0]["reward_terms"]) == {"clip"}      # the prompt is the only term
    assert params["goal_prompts"] == [PUSH_PROMPTS["whole"][0]]
    assert params["baseline_prompts"] == [PUSH_PROMPTS["whole"][1]]


@pytest.mark.parametrize("extra, said", [(["--parallel"], "no CLIP run to go beside"),
                                         (["--reach-weight", "0.1"], "would do nothing"),
                                         (["--prompt", "whole"], "would do nothing")])
def test_reference_alone_refuses_what_only_a_clip_run_uses(extra, said, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--quick", "--reference-alone", *extra, "--out", str(tmp_path / "r.json")])
    assert exit_info.value.code == 2
    assert said in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_a_curriculum_starts_the_pad_near_the_cube_and_reports_its_lessons():
    """``--curriculum``: the result says which lesson was reached (the first, in a few hundred steps); the envs
    it trains on start the pad 7-10 cm from the cube; without it there is no curriculum."""
    from bench.clip_push import PUSH_LESSONS, make_venv, train
    from agents.curriculum import Curriculum
    from stable_baselines3 import SAC

    taught = train("reference", 1.0, seed=0, eval_episodes=1, max_steps=300, curriculum=True)
    assert taught["curriculum"]["reached"] == 0 and taught["curriculum"]["lessons"] == PUSH_LESSONS
    assert taught["curriculum"]["began_at_steps"] == {"0": 0}
    assert train("reference", 1.0, seed=0, eval_episodes=1, max_steps=300)["curriculum"] is None

    venv = make_venv("reference", "sac", 2, seed=0)
    SAC("MlpPolicy", venv, learning_starts=10**6, seed=0).learn(250, callback=Curriculum(PUSH_LESSONS))
    assert venv.get_attr("pad_distance") == [(0.07, 0.10)] * 2
    venv.reset()
    for env in venv.venv.envs:
        u = env.unwrapped
        assert 0.07 <= np.linalg.norm(u.object_position(0)[:2] - u.pad_position(0)[:2]) <= 0.10
    venv.close()
