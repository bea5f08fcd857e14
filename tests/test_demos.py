"""Demonstrations: scripted episodes played through a reward stack, and a replay buffer that gives them a fixed
share of every batch (agents.demos); bench.clip_push's --demos and --reference zero."""

from __future__ import annotations

import copy

from worlds import gl  # noqa: F401

import gymnasium as gym
import numpy as np
import pytest
import torch as th
from stable_baselines3 import SAC
from stable_baselines3.common.vec_env import DummyVecEnv

import worlds
from agents.demos import DemoReplayBuffer, Demos, play_demos
from agents.scripted import ScriptedController

PUSH = dict(colors=["red"], shapes=["cube"], pad_colors=["blue"])

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def push_venv(n: int, seed: int = 0) -> DummyVecEnv:
    def make(i):
        def thunk():
            env = worlds.make("studio/Push-v0", render_mode=None, **PUSH)
            env.reset(seed=seed + i)
            return env
        return thunk
    return DummyVecEnv([make(i) for i in range(n)])


def test_scripted_pushes_are_whole_episodes_with_the_worlds_rewards():
    venv = push_venv(2)
    demos = play_demos(venv, ScriptedController, episodes=3)
    venv.close()
    steps = 100                                           # Push-v0's time limit
    assert demos.episodes == 3 and len(demos) == 3 * steps  # env 1's second episode, ending with the 3rd, is not
    assert demos.successes == 3
    assert np.all(np.abs(demos.actions) <= 1.0)
    # every episode ends on its time limit (a truncation, not a terminal state) and nowhere else
    ends = np.flatnonzero(demos.dones)
    assert sorted(ends % steps) == [steps - 1] * 3
    assert np.all(demos.timeouts[ends] == 1.0)
    # inside an episode each step starts where the last ended
    first = demos.observations[:steps]
    np.testing.assert_allclose(demos.next_observations[:steps - 1], first[1:], atol=1e-6)
    # the reward is the world's dense one: under 0.1 at the start, above 1.9 (the success term's size) at the end
    ends_paid = demos.rewards[ends]
    assert np.all(demos.rewards[ends - (steps - 1)] < 0.1) and np.all(ends_paid > 1.9)


def test_the_rewards_are_what_the_stack_above_the_env_pays():
    """A wrapper that pays -7 everywhere is what the demonstrations record: they carry the agent's reward."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    class Minus7(VecEnvWrapper):
        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            obs, rewards, dones, infos = self.venv.step_wait()
            return obs, np.full_like(rewards, -7.0), dones, infos

    venv = Minus7(push_venv(1))
    demos = play_demos(venv, ScriptedController, episodes=1)
    venv.close()
    assert np.all(demos.rewards == -7.0)


def test_play_demos_refuses_what_it_cannot_steer():
    class Elsewhere:            # what a SubprocVecEnv looks like from here: no envs in this process
        unwrapped = object()

    with pytest.raises(TypeError, match="DummyVecEnv"):
        play_demos(Elsewhere(), ScriptedController, episodes=1)
    venv = push_venv(1)
    with pytest.raises(ValueError, match="episodes 0"):
        play_demos(venv, ScriptedController, episodes=0)
    venv.close()


def _buffer(share: float) -> DemoReplayBuffer:
    space = gym.spaces.Box(-1.0, 1.0, (3,), np.float32)
    buffer = DemoReplayBuffer(1000, space, gym.spaces.Box(-1.0, 1.0, (2,), np.float32), "cpu", n_envs=1,
                              demo_share=share)
    for _ in range(50):         # the agent's own steps, paid 0
        buffer.add(np.zeros((1, 3)), np.zeros((1, 3)), np.zeros((1, 2)), np.zeros(1), np.zeros(1), [{}])
    return buffer


def _demos(n: int, reward: float) -> Demos:
    rows = lambda width: np.ones((n, width), np.float32)      # noqa: E731
    return Demos(rows(3), rows(2), rows(3), np.full(n, reward, np.float32), np.zeros(n, np.float32),
                 np.zeros(n, np.float32), episodes=1, successes=1)


def test_each_batch_draws_the_demo_share_from_the_demonstrations_with_their_reward_map():
    buffer = _buffer(0.25)
    assert th.all(buffer.sample(64).rewards == 0)          # no demonstrations yet: SB3's own sampling
    buffer.add_demos(_demos(10, 1.0))
    batch = buffer.sample(64)
    assert batch.rewards.shape == (64, 1)
    assert int((batch.rewards == 1.0).sum()) == 16           # exactly a quarter, every batch
    assert int((batch.observations[:, 0] == 1.0).sum()) == 16  # whole transitions, not just their rewards
    buffer.reward_transform = lambda r: (r - 0.5) / 0.25      # standardised as the online rewards are
    batch = buffer.sample(64)
    assert int((batch.rewards == 2.0).sum()) == 16 and int((batch.rewards == 0.0).sum()) == 48


def test_a_time_limit_is_not_a_terminal_state_in_the_demo_batches():
    """SB3 bootstraps through a truncation: a demonstration that ended on its time limit is drawn with done 0,
    one that reached a terminal state with done 1."""
    buffer = _buffer(0.999)
    demos = _demos(2, 1.0)
    demos.dones[:] = 1.0
    demos.timeouts[:] = [1.0, 0.0]
    demos.observations[1] = 2.0                 # tells the terminal one apart
    buffer.add_demos(demos)
    batch = buffer.sample(64)
    drawn = batch.rewards[:, 0] == 1.0
    assert int(drawn.sum()) == 63               # never the whole batch: one of the agent's own steps is kept
    terminal = batch.observations[drawn, 0] == 2.0
    assert th.all(batch.dones[drawn][terminal] == 1.0) and th.all(batch.dones[drawn][~terminal] == 0.0)
    assert terminal.any() and (~terminal).any()


@pytest.mark.parametrize("share", [1.0, -0.1, float("nan")])
def test_a_demo_share_outside_0_to_1_is_refused(share):
    with pytest.raises(ValueError, match="demo_share"):
        _buffer(share)


def test_sac_learns_from_a_demo_buffer():
    """SB3's SAC takes the buffer as ``replay_buffer_class`` and trains on batches that include the demos."""
    venv = DummyVecEnv([lambda: gym.make("Pendulum-v1")])
    model = SAC("MlpPolicy", venv, learning_starts=64, batch_size=32, seed=0, device="cpu",
                replay_buffer_class=DemoReplayBuffer, replay_buffer_kwargs=dict(demo_share=0.5))
    drawn = []
    sample = model.replay_buffer.sample
    model.replay_buffer.sample = lambda n, env=None: drawn.append(sample(n, env)) or drawn[-1]
    model.replay_buffer.add_demos(Demos(np.zeros((20, 3), np.float32), np.zeros((20, 1), np.float32),
                                        np.zeros((20, 3), np.float32), np.full(20, 5.0, np.float32),
                                        np.zeros(20, np.float32), np.zeros(20, np.float32), 1, 0))
    model.learn(100)
    venv.close()
    assert drawn and all(int((b.rewards == 5.0).sum()) == 16 for b in drawn)


def test_the_bench_refuses_bad_demo_settings(tmp_path, capsys):
    from bench.clip_push import main

    for argv, said in ((["--demos", "-1"], "--demos -1"),
                       (["--demos", "5", "--algo", "ppo", "--demo-share", "0.3"], "PPO keeps no replay buffer"),
                       (["--demos", "5", "--demo-share", "1"], "--demo-share 1.0")):
        with pytest.raises(SystemExit) as exit_info:
            main(["--quick", *argv, "--out", str(tmp_path / "r.json")])
        assert exit_info.value.code == 2
        assert said in capsys.readouterr().err
    assert not (tmp_path / "r.json").exists()


def test_the_zero_control_pays_nothing_and_the_clip_agent_gets_its_demos_standardised():
    """``--reference zero`` pays 0 everywhere; ``show_demos`` gives the demonstrations the CLIP agent's own
    standardisation when they are drawn."""
    from bench.clip_push import SAC_SETTINGS, VecStandardizeReward, make_venv, show_demos

    zero = make_venv("zero", "sac", 1, seed=0)
    zero.reset()
    _, rewards, _, _ = zero.step(np.zeros((1, 4), np.float32))
    zero.close()
    assert rewards[0] == 0.0

    venv = make_venv("clip", "sac", 2, seed=0)
    assert isinstance(venv, VecStandardizeReward)
    model = SAC("MlpPolicy", venv, device="cpu", replay_buffer_class=DemoReplayBuffer,
                **{**copy.deepcopy(SAC_SETTINGS), "buffer_size": 1000})
    shown = show_demos(model, venv, episodes=2)
    assert venv.seen == []                                  # the warm-up's statistics never saw them
    assert shown["episodes"] == 2 and shown["steps"] == 200 and shown["success_rate"] == 1.0
    raw = model.replay_buffer.demos.rewards[:200, 0].copy()
    venv.mean, venv.std = 0.9, 0.02                         # as if the warm-up had frozen these
    drawn = model.replay_buffer.reward_transform(th.as_tensor(raw))
    venv.close()
    np.testing.assert_allclose(drawn.numpy(), (raw - 0.9) / 0.02, rtol=1e-5)
    assert 0.5 < raw.mean() < 1.5                            # a CLIP reward near 1, not the world's


# ---------------------------------------------------------------------------------------------- in the studio
CLIP_TERM = {"kind": "clip", "goal_prompts": ["the red cube is on the blue pad"],
             "baseline_prompts": ["the red cube is far from the blue pad"], "alpha": 1.0}
OLD_TERMS = [{"kind": "world", "key": "reach"}, CLIP_TERM]
NEW_TERMS = [{"kind": "world", "key": "reach", "weight": 3.0}, {**CLIP_TERM, "alpha": 0.5, "weight": 2.0}]


def _studio_config(terms, **changes):
    from studio.spec import parse_run_config

    return parse_run_config({"world_id": "studio/Push-v0", "world_kwargs": PUSH, "algo": "sac", "n_envs": 2,
                             "total_steps": 64, "demos": 2, "reward": {"terms": terms},
                             "algo_kwargs": {"learning_starts": 32, "batch_size": 16, "buffer_size": 500},
                             "telemetry": {"frame_every_s": 0}, **changes})


def _worker(tmp_path, terms):
    from studio.runs import new_run
    from studio.worker import Worker

    cfg = _studio_config(terms)
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    return Worker(paths, cfg).build()


@pytest.mark.parametrize("changes, said", [({"algo": "recurrent_ppo", "algo_kwargs": {}}, "needs algo sac .* or ppo"),
                                           ({"world_id": "studio/HumanoidStand-v0", "world_kwargs": {}},
                                            "table-top worlds only"),
                                           ({"subprocess_envs": True}, "subprocess_envs: false"),
                                           ({"demos": -1}, "demos: .*greater than or equal to 0"),
                                           ({"demos": 1001}, "demos: .*less than or equal to 1000"),
                                           ({"algo_kwargs": {"replay_buffer_class": "mine"}},
                                            "remove algo_kwargs.replay_buffer_class")])
def test_a_run_config_refuses_demos_it_cannot_play(changes, said):
    from studio.spec import SpecError

    with pytest.raises(SpecError, match=said):
        _studio_config([{"kind": "world", "key": "reach"}], **changes)


def test_a_studio_run_learns_from_demos_and_an_edit_relabels_them_as_if_they_were_played_under_it(tmp_path):
    """The demonstrations a worker plays are paid the run's reward (world terms and a CLIP term), every batch
    draws half from them, and after an edit their rewards equal those of demonstrations played under the new
    reward from the start (the embeddings are kept, so the CLIP term is re-scored without rendering again)."""
    import json

    from studio.spec import parse_reward_spec

    edited = _worker(tmp_path / "a", OLD_TERMS)
    demos = edited.model.replay_buffer.demos
    assert isinstance(edited.model.replay_buffer, DemoReplayBuffer) and demos.buffer_size == 200
    before = demos.rewards[:, 0].copy()
    drawn = []
    sample = demos.sample
    demos.sample = lambda n, env=None: drawn.append(n) or sample(n, env)
    edited.model.learn(40, callback=edited.callbacks())           # trains on mixed batches (learning_starts 32)
    assert drawn and set(drawn) == {8}                             # half of every batch of 16
    assert edited.apply_spec(parse_reward_spec({"terms": NEW_TERMS}))
    fresh = _worker(tmp_path / "b", NEW_TERMS)
    want = fresh.model.replay_buffer.demos.rewards[:, 0]
    got = demos.rewards[:, 0]
    assert not np.allclose(before, want, atol=1e-2)                # the edit changed what they are paid ...
    np.testing.assert_allclose(got, want, atol=2e-3)              # ... to what the new reward pays them
    events = [json.loads(line) for line in edited.paths.events.read_text().splitlines()]
    shown = [e for e in events if e["type"] == "demos"]
    assert shown and shown[0]["episodes"] == 2 and shown[0]["successes"] == 2
    edit = [e for e in events if e["type"] == "edit"][-1]
    assert edit["demos_relabelled"] == 200 and edit["relabelled"] > 0 and not edit["relabel_note"]
    for worker in (edited, fresh):
        worker.venv.close()


def test_demos_an_edit_cannot_relabel_are_dropped_and_training_goes_on(tmp_path):
    """Demonstrations played under world terms alone kept no embeddings: an edit that adds a CLIP term cannot
    relabel them, so they leave the batches (they would teach the old reward forever), and the edit says so."""
    import json

    from studio.spec import parse_reward_spec

    worker = _worker(tmp_path, [{"kind": "world", "key": "reach"}])
    worker.model.learn(40, callback=worker.callbacks())
    assert worker.model.replay_buffer.demos is not None
    assert worker.apply_spec(parse_reward_spec({"terms": OLD_TERMS}))
    assert worker.model.replay_buffer.demos is None
    assert worker.model.replay_buffer.sample(16).rewards.shape == (16, 1)     # all from the agent's own steps
    worker.model.learn(40, callback=worker.callbacks(), reset_num_timesteps=False)   # goes on training
    edit = [json.loads(line) for line in worker.paths.events.read_text().splitlines()
            if json.loads(line)["type"] == "edit"][-1]
    assert edit["demos_relabelled"] == 0 and "demonstrations dropped" in edit["relabel_note"]
    worker.venv.close()


def test_the_example_run_config_is_the_benchs_learner_with_50_demonstrations():
    """``examples/clip_push_demos.yaml`` parses, and its learner is bench.clip_push's, its reward standardised for
    the learner as the bench's is (so the bench's figures describe what it configures)."""
    from pathlib import Path

    from bench.clip_push import BASELINE, GOAL, SAC_ENVS, SAC_SETTINGS, WARMUP, WORLD
    from studio.spec import parse_run_config

    cfg = parse_run_config(Path(__file__).parents[1] / "examples" / "clip_push_demos.yaml")
    assert (cfg.algo, cfg.demos, cfg.n_envs, cfg.time_limit_s) == ("sac", 50, SAC_ENVS, 1800)
    assert cfg.standardize_reward and cfg.algo_kwargs["learning_starts"] == WARMUP   # measured as the bench does
    assert cfg.algo_kwargs == SAC_SETTINGS
    assert cfg.world_kwargs == {k: WORLD[k] for k in ("colors", "shapes", "pad_colors")}
    (clip,) = [t for t in cfg.reward.terms if t.enabled]
    assert (clip.goal_prompts, clip.baseline_prompts, clip.alpha) == ([GOAL], [BASELINE], 1.0)
    assert clip.weight == 16.0        # ~1 / the reward's spread over random actions (0.063 in the bench's runs)


# ---------------------------------------------------------------------------------------------- on-policy start
def _tiny_demos(rewards, dones) -> Demos:
    n = len(rewards)
    obs = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return Demos(obs, np.zeros((n, 4), np.float32), obs + 1, np.asarray(rewards, np.float32),
                 np.asarray(dones, np.float32), np.asarray(dones, np.float32), episodes=int(sum(dones)), successes=0)


def test_discounted_returns_restart_at_each_episode_end():
    from agents.demos import discounted_returns

    returns = discounted_returns(_tiny_demos([1, 2, 3, 10, 20], [0, 0, 1, 0, 1]), gamma=0.5)
    np.testing.assert_allclose(returns, [1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3, 3, 10 + 0.5 * 20, 20])


def test_demos_are_put_on_a_vecnormalize_scale_as_it_would_have_seen_them():
    """The statistics ``normalised_by`` leaves are those SB3's VecNormalize reaches stepping through the same
    rewards and observations itself, and the demonstrations come back divided as it divides."""
    from stable_baselines3.common.vec_env import VecNormalize

    from agents.demos import normalised_by

    venv = VecNormalize(push_venv(1), gamma=0.9)
    played = play_demos(venv.venv, ScriptedController, episodes=2)
    scaled = normalised_by(venv, played)
    stepped = VecNormalize(push_venv(1), gamma=0.9)
    for reward, done, obs in zip(played.rewards, played.dones, played.observations):
        stepped.obs_rms.update(obs[None])
        stepped._update_reward(np.array([reward]))      # VecNormalize.step_wait's own return recurrence
        stepped.returns[np.array([done > 0])] = 0.0
    np.testing.assert_allclose(venv.ret_rms.var, stepped.ret_rms.var, rtol=1e-6)
    np.testing.assert_allclose(venv.obs_rms.mean, stepped.obs_rms.mean, rtol=1e-5, atol=1e-6)   # float32 sums
    np.testing.assert_allclose(scaled.rewards, stepped.normalize_reward(played.rewards), rtol=1e-5)
    np.testing.assert_allclose(scaled.observations, stepped.normalize_obs(played.observations), atol=1e-3)
    assert scaled.rewards.max() < 0.5 * played.rewards.max()       # returns of ~10 and up: rewards shrink
    venv.close()
    stepped.close()


def test_ppo_cloned_from_scripted_pushes_pushes_and_knows_what_they_were_worth():
    """After :func:`pretrain_on_policy` the PPO policy's mean action follows the controller's far better than
    before, its spread is the one asked for, and its value head has learnt the demonstrations' returns (on the
    VecNormalize scale PPO trains on)."""
    from stable_baselines3 import PPO

    from stable_baselines3.common.vec_env import VecNormalize

    from agents.demos import discounted_returns, normalised_by, pretrain_on_policy

    venv = VecNormalize(push_venv(2), gamma=0.99)     # as bench.clip_push's PPO sees them
    demos = normalised_by(venv, play_demos(venv.venv, ScriptedController, episodes=4))
    model = PPO("MlpPolicy", venv, n_steps=64, batch_size=64, seed=0, device="cpu")
    obs = th.as_tensor(demos.observations)

    def errors():
        with th.no_grad():
            mean = model.policy.get_distribution(obs).distribution.mean.numpy()
            values = model.policy.predict_values(obs).flatten().numpy()
        returns = discounted_returns(demos, model.gamma)
        return np.abs(mean - demos.actions).mean(), np.abs(values - returns).mean()

    action_before, value_before = errors()
    losses = pretrain_on_policy(model, demos, epochs=60, log_std=-1.0)
    action_after, value_after = errors()
    assert action_after < 0.5 * action_before
    assert value_after < 0.5 * value_before
    assert set(losses) == {"bc_loss", "value_loss"}
    np.testing.assert_allclose(model.policy.log_std.detach().numpy(), -1.0)
    assert model.policy.log_std.requires_grad                     # PPO learns the spread from there
    with pytest.raises(ValueError, match="epochs=0"):
        pretrain_on_policy(model, demos, epochs=0)
    venv.close()
