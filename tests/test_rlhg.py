"""RLHG on SB3's PPO: the advantage step, the live knobs, the shipped agents, play-along and the page."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from agents.humans import HELD_OUT_HUMAN, make_human
from agents.rlhg import (RLHG_PATH, TASK_ONLY_PATH, HumanValues, PPOConfig, RLHGSettings, discounted_returns,
                         evaluate, fit_primitive_value, load_agent, train_rlhg, train_task_only)
from worlds.collab import OBS_SIZE

TINY = PPOConfig(n_envs=2, n_steps=120, batch_size=120, n_epochs=1, net_arch=(16,))


def test_discounted_returns_reset_at_episode_ends():
    r = np.ones((4, 1, 1))
    dones = np.array([[0.0], [1.0], [0.0], [0.0]])
    out = discounted_returns(r, dones, np.array([[10.0]]), gamma=0.5)
    np.testing.assert_allclose(out[:, 0, 0], [1.5, 1.0, 1 + 0.5 * (1 + 0.5 * 10), 1 + 0.5 * 10])


def test_settings_are_checked():
    with pytest.raises(ValueError, match="alpha"):
        RLHGSettings(alpha=-1).checked()
    with pytest.raises(ValueError, match="beta"):
        RLHGSettings(beta=1.5).checked()


@pytest.fixture(scope="module")
def tiny_task_only():
    torch.manual_seed(0)
    return train_task_only(240, TINY, seed=0)


def test_stage1_and_stage2_add_alpha_times_human_advantage(tiny_task_only):
    values, stats = fit_primitive_value(tiny_task_only, [make_human("expert")], episodes_per_human=8, epochs=2)
    assert stats["samples"] == 8 * 120 and np.isfinite(stats["final_mse"])
    calls = []

    def settings():                       # a live knob: read at the start of every rollout
        calls.append(1)
        return RLHGSettings(alpha=3.0 if len(calls) <= 2 else 0.0, beta=0.5)

    model = train_rlhg(tiny_task_only, 480, settings, TINY, human_values=values)
    assert len(calls) == 3 and [g["alpha"] for g in model.gain_log] == [3.0, 0.0]   # 1st call: the worlds' beta
    # the task value head is untouched by RLHG: returns = task GAE advantages + values; with alpha=0 the
    # advantages are exactly PPO's own
    buf = model.rollout_buffer
    np.testing.assert_allclose(buf.returns, buf.advantages + buf.values, atol=1e-5)
    # the gain head outputs >= 0 and was fitted (its weights moved)
    obs = torch.zeros(4, OBS_SIZE)
    assert (values.gain_head(obs) >= 0).all()
    # beta reached the worlds
    assert model.get_env().get_attr("human_probability") == [0.5, 0.5]


def test_human_advantage_is_zero_in_robot_only_episodes(tiny_task_only):
    values = HumanValues(OBS_SIZE)
    model = train_rlhg(tiny_task_only, 240, RLHGSettings(alpha=0.0, beta=0.0), TINY, human_values=values)
    base = model.rollout_buffer.advantages.copy()
    model2 = train_rlhg(tiny_task_only, 240, RLHGSettings(alpha=5.0, beta=0.0), TINY, human_values=values, seed=0)
    assert model2.gain_log[-1]["mean_a_h"] == 0.0
    np.testing.assert_allclose(model2.rollout_buffer.advantages, base, atol=1e-5)


@pytest.mark.skipif(not (TASK_ONLY_PATH.exists() and RLHG_PATH.exists()), reason="shipped agents missing")
def test_shipped_rlhg_agent_helps_the_held_out_person_more():
    task_only, rlhg = load_agent(TASK_ONLY_PATH), load_agent(RLHG_PATH)
    base = evaluate(task_only, HELD_OUT_HUMAN, episodes=20, seed=777)
    helped = evaluate(rlhg, HELD_OUT_HUMAN, episodes=20, seed=777)
    assert helped.human_goals_done >= 1.15 * base.human_goals_done
    alone_base = evaluate(task_only, None, episodes=20, seed=777)
    alone = evaluate(rlhg, None, episodes=20, seed=777)
    assert alone.task_return >= 0.75 * alone_base.task_return


def test_play_along_headless_with_synthetic_keys(tmp_path, monkeypatch):
    monkeypatch.setenv("SDL_VIDEODRIVER", "dummy")
    monkeypatch.setenv("SDL_AUDIODRIVER", "dummy")
    import pygame

    from studio.play_along import PlayAlong

    class Still:
        def predict(self, obs, deterministic=True):
            return np.zeros(3, np.float32), None

    game = PlayAlong(policy=Still(), agent="still", size=(160, 120), fps=0, seed=0)
    start = game.env.reset(seed=0)
    pygame.display.init()
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_LEFT))
    pygame.event.post(pygame.event.Event(pygame.KEYDOWN, key=pygame.K_SPACE))
    summaries = game.run(episodes=1, max_frames=8)
    assert summaries == []                      # stopped by max_frames, before the episode ended
    assert game.env.hand_xy[0] < -0.2, "holding LEFT for 8 steps moves the hand left"
    assert game.human.grip
    path = game.save(tmp_path / "play.npz")
    data = np.load(path)
    assert data["obs"].shape == (8, OBS_SIZE) and data["human_action"][:, 0].max() < 0
    assert data["human_progress"].shape == (8, 3)
    del start


def test_play_along_cli_runs_a_shipped_agent(tmp_path):
    import subprocess
    import sys

    if not TASK_ONLY_PATH.exists():
        pytest.skip("shipped agents missing")
    env = {**os.environ, "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy", "MUJOCO_GL": "egl"}
    out = subprocess.run([sys.executable, "-m", "studio", "play-along", "--agent", "task_only", "--fps", "0",
                          "--max-frames", "5", "--record", str(tmp_path / "r.npz")], env=env, capture_output=True,
                         text=True, timeout=120, cwd=str(TASK_ONLY_PATH.parents[1]))
    assert out.returncode == 0, out.stderr
    assert "recorded 5 steps" in out.stdout and (tmp_path / "r.npz").exists()


def test_human_gain_page_renders():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_string("from studio.ui import human_gain_page\nhuman_gain_page.render()", default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Human gain"
    assert at.slider(key="hg_alpha").value == 2.0
    if TASK_ONLY_PATH.exists():
        at.sidebar.slider(key="hg_episodes").set_value(2).run()
        assert not at.exception
        assert len(at.metric) == 3 and len(at.get("image")) == 2 and len(at.get("vega_lite_chart")) == 1
        # The bars name their measures whole (Vega cuts axis labels at 180 px by default) and print their values.
        spec = json.loads(at.get("vega_lite_chart")[0].proto.spec)
        assert [layer["mark"]["type"] for layer in spec["layer"]] == ["bar", "text"]
        assert spec["layer"][0]["encoding"]["y"]["axis"]["labelLimit"] == 0


def test_file_settings_are_a_live_knob(tmp_path):
    from studio.human_gain import FileSettings, read_progress, write_settings

    knob = FileSettings(tmp_path)
    assert knob() == RLHGSettings()                      # no file yet: the defaults
    write_settings(tmp_path, 4.0, 0.25)
    assert knob() == RLHGSettings(4.0, 0.25)
    (tmp_path / "settings.json").write_text("{half written")
    assert knob() == RLHGSettings(4.0, 0.25)             # a bad file keeps the last good settings
    with pytest.raises(ValueError, match="beta"):
        write_settings(tmp_path, 1.0, 2.0)
    assert read_progress(tmp_path) == {}
