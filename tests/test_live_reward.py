"""Live reward edits inside SB3: the re-scored PPO rollout and the relabelled SAC replay buffer equal what the
new reward would have produced from the start; a bad edit changes nothing."""

import numpy as np
import pytest
import torch
from stable_baselines3.common.callbacks import BaseCallback

from agents.callbacks import BoundaryCallback, LiveRewardCallback
from agents.reward_factory import apply_terms, build_stack
from agents.sb3_factory import make_model, make_venv

OLD = [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "success"}]
NEW = [{"kind": "world", "key": "reach", "weight": 2.0}, {"kind": "world", "key": "success"},
       {"kind": "shaping", "potential": "neg_tcp_object_distance", "gamma": 0.99, "weight": 3.0}]

pytestmark = pytest.mark.usefixtures("one_torch_thread")


class Capture(BaseCallback):
    """Copies the rollout buffer after the first rollout (after LiveRewardCallback re-scored it)."""

    def __init__(self):
        super().__init__()
        self.buffer = None

    def _on_step(self):
        return True

    def _on_rollout_end(self):
        if self.buffer is None and hasattr(self.model, "rollout_buffer"):
            b = self.model.rollout_buffer
            self.buffer = {k: getattr(b, k).copy() for k in ("rewards", "advantages", "returns", "values")}


def run(algo, terms, edit_at=None, steps=128, **kwargs):
    torch.manual_seed(0)
    stack = build_stack(terms)
    venv, reward_env = make_venv("studio/Reach-v0", {}, 2, 0, stack)
    model = make_model(algo, venv, kwargs, seed=0)
    live = LiveRewardCallback(stack, reward_env)
    applied = []

    def hook(cb):
        if edit_at is not None and not applied and cb.num_timesteps >= edit_at:
            applied.append(live.apply(NEW))
        return True
    capture = Capture()
    model.learn(steps, callback=[live, BoundaryCallback(hook), capture])
    return model, capture, applied


def test_rescored_rollout_equals_a_rollout_scored_by_the_new_reward_throughout():
    # 64 steps x 2 envs: the edit lands mid-rollout, and the 50-step episodes end (time-limit bootstrap) inside it
    _, edited, applied = run("ppo", OLD, edit_at=40, steps=128, n_steps=64, batch_size=64)
    _, fresh, _ = run("ppo", NEW, steps=128, n_steps=64, batch_size=64)
    assert applied[0].step == 40
    assert not np.allclose(edited.buffer["rewards"][:10], 0)
    for key in ("rewards", "advantages", "returns", "values"):
        np.testing.assert_allclose(edited.buffer[key], fresh.buffer[key], rtol=1e-4, atol=1e-4, err_msg=key)


def test_relabelled_replay_equals_replay_filled_by_the_new_reward():
    kwargs = dict(learning_starts=10_000, buffer_size=1000)
    edited, _, applied = run("sac", OLD, edit_at=60, steps=120, **kwargs)
    fresh, _, _ = run("sac", NEW, steps=120, **kwargs)
    assert applied[0].relabelled == 2 * 29  # slots stored before the edit (the 30th is fixed on the next step)
    pos = edited.replay_buffer.pos
    np.testing.assert_allclose(edited.replay_buffer.rewards[:pos], fresh.replay_buffer.rewards[:pos], rtol=1e-5,
                               atol=1e-6)


def test_a_bad_edit_leaves_the_stack_unchanged():
    stack = build_stack(OLD)
    version, described = stack.version, stack.describe()
    with pytest.raises(ValueError, match="potential"):
        apply_terms(stack, [OLD[0], {"kind": "shaping", "potential": "nope"}])
    with pytest.raises(ValueError, match="weight"):
        apply_terms(stack, [dict(OLD[0], weight=float("nan")), OLD[1]])
    assert stack.version == version and stack.describe() == described
    assert apply_terms(stack, OLD) == version + 1  # an identical spec is still a new version


def test_make_model_leaves_the_callers_settings_as_they_were():
    """SB3 writes ``use_sde`` into the ``policy_kwargs`` it is given; a run's config must not change under it."""
    import gymnasium as gym
    from stable_baselines3.common.vec_env import DummyVecEnv

    settings = {"policy_kwargs": {"net_arch": [8, 8]}, "buffer_size": 100}
    model = make_model("sac", DummyVecEnv([lambda: gym.make("Pendulum-v1")]), settings)
    assert settings == {"policy_kwargs": {"net_arch": [8, 8]}, "buffer_size": 100}
    assert model.policy_kwargs["net_arch"] == [8, 8]
