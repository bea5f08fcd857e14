"""The learner's reward standardisation (``agents.reward_scale``): the map, the replay buffer that applies it at
sampling time, and a studio run that measures it when learning starts and again after an edit."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch as th
from gymnasium import spaces

from agents.demos import DemoReplayBuffer, Demos
from agents.reward_scale import RewardStandardizer, StandardizeRewardCallback, stored_rewards


def test_the_map_is_the_identity_until_measured_then_standardises_arrays_and_tensors():
    s = RewardStandardizer()
    x = np.array([1.0, 2.0, 3.0])
    assert not s.measured and s(x) is x
    s.measure(np.array([[2.0, 4.0], [np.nan, 6.0]]))        # the NaN is not counted
    assert s.measured and (s.mean, s.count) == (4.0, 3) and s.std == pytest.approx(np.std([2, 4, 6]))
    np.testing.assert_allclose(s(np.array([4.0, 6.0])), [0.0, 2.0 / np.std([2, 4, 6])])
    assert th.allclose(s(th.tensor([4.0])), th.tensor([0.0]))
    assert s.state() == {"mean": 4.0, "std": float(f"{np.std([2, 4, 6]):.7g}"), "count": 3}


def test_a_constant_reward_loses_its_mean_and_is_not_divided_by_zero():
    s = RewardStandardizer()
    s.measure(np.full(10, 0.7))
    assert s.std == 1.0 and s(np.array([0.7, 1.7])) == pytest.approx([0.0, 1.0])


def test_nothing_finite_to_measure_is_refused_with_the_fix():
    with pytest.raises(ValueError, match="raise SAC's learning_starts"):
        RewardStandardizer().measure(np.array([np.nan, np.inf]))


def _buffer(own_rewards, demo_rewards=None):
    """A buffer whose observation is the step's index and whose reward is read from ``own_rewards`` by it (demos:
    indices from 1000 on), so a sampled transition's raw reward is known from its observation."""
    obs_space, act_space = spaces.Box(-1e6, 1e6, (1,), np.float32), spaces.Box(-1, 1, (1,), np.float32)
    buffer = DemoReplayBuffer(64, obs_space, act_space, "cpu", n_envs=1)
    for i, r in enumerate(own_rewards):
        buffer.add(np.array([[i]], np.float32), np.array([[i]], np.float32), np.zeros((1, 1), np.float32),
                   np.array([r], np.float32), np.array([0.0]), [{}])
    if demo_rewards is not None:
        n = len(demo_rewards)
        obs = (1000 + np.arange(n, dtype=np.float32))[:, None]
        buffer.add_demos(Demos(obs, np.zeros((n, 1), np.float32), obs, np.asarray(demo_rewards, np.float32),
                               np.zeros(n, np.float32), np.zeros(n, np.float32), episodes=1, successes=1))
    return buffer


def test_the_buffer_keeps_raw_rewards_and_standardises_every_sampled_one_own_and_demonstrated():
    own = np.linspace(10.0, 12.0, 40)
    demo = np.full(20, 13.0)
    buffer = _buffer(own, demo)
    buffer.standardizer = s = RewardStandardizer()
    s.measure(stored_rewards(buffer))
    assert s.count == 40 and s.mean == pytest.approx(own.mean())           # the agent's own steps only
    batch = buffer.sample(32)
    index = batch.observations[:, 0].numpy().astype(int)
    raw = np.where(index >= 1000, 13.0, own[np.minimum(index, 39)])
    assert (index >= 1000).sum() == 16                                      # half from the demonstrations
    np.testing.assert_allclose(batch.rewards[:, 0].numpy(), (raw - own.mean()) / own.std(), atol=1e-4)
    np.testing.assert_allclose(buffer.rewards[:40, 0], own.astype(np.float32))   # stored as given
    buffer.demos = None                                                      # and without demonstrations
    batch = buffer.sample(8)
    raw = own[batch.observations[:, 0].numpy().astype(int)]
    np.testing.assert_allclose(batch.rewards[:, 0].numpy(), (raw - own.mean()) / own.std(), atol=1e-4)


def test_the_buffer_measures_its_first_rows_again_until_it_wraps_over_them_then_everything():
    buffer = _buffer([1.0, 3.0])
    s = RewardStandardizer()
    s.measure_buffer(buffer)
    assert (s.rows, s.mean) == (2, 2.0)
    for r in (10.0, 20.0):
        buffer.add(np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32),
                   np.array([r], np.float32), np.array([0.0]), [{}])
    s.measure_buffer(buffer)
    assert (s.count, s.mean) == (2, 2.0)                  # the same two rows, not the later ones
    for r in range(62):                                   # 64 slots: now full, the first rows written over
        buffer.add(np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32),
                   np.array([5.0], np.float32), np.array([0.0]), [{}])
    assert buffer.full
    s.measure_buffer(buffer)
    assert s.count == 64 and s.mean == pytest.approx((10 + 20 + 60 * 5.0 + 2 * 5.0) / 64)


def test_the_callback_refuses_a_learner_without_a_standardising_buffer():
    from stable_baselines3 import PPO

    model = PPO("MlpPolicy", "Pendulum-v1", n_steps=64, batch_size=64)
    with pytest.raises(ValueError, match="needs SAC with agents.demos.DemoReplayBuffer"):
        model.learn(64, callback=StandardizeRewardCallback())


# ------------------------------------------------------------------------------------------------ a studio run
REACH = [{"kind": "world", "key": "reach"}]


def _config(**changes):
    from studio.spec import parse_run_config

    return parse_run_config({"world_id": "studio/Push-v0", "world_kwargs": {"colors": ["red"], "shapes": ["cube"]},
                             "algo": "sac", "n_envs": 2, "total_steps": 64, "standardize_reward": True,
                             "reward": {"terms": REACH},
                             "algo_kwargs": {"learning_starts": 32, "batch_size": 16, "buffer_size": 500},
                             "telemetry": {"frame_every_s": 0}, **changes})


def _worker(tmp_path, **changes):
    from studio.runs import new_run
    from studio.worker import Worker

    cfg = _config(**changes)
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    return Worker(paths, cfg).build()


def _events(worker, kind):
    return [e for e in map(json.loads, worker.paths.events.read_text().splitlines()) if e["type"] == kind]


def test_a_studio_run_standardises_when_learning_starts_and_again_after_an_edit(tmp_path):
    """The measurement happens at the end of the rollout that passes the 32 warm-up steps (SAC trains from the
    next), on the agent's own steps; the buffer keeps the stack's rewards; an edit that triples the reward
    relabels the buffer and measures the same slots again, so the learner sees the new reward on the scale it
    knew, and an edit back gives back the first map."""
    from studio.spec import parse_reward_spec

    worker = _worker(tmp_path)
    buffer = worker.model.replay_buffer
    assert isinstance(buffer, DemoReplayBuffer) and buffer.demos is None and not buffer.standardizer.measured
    worker.model.learn(64, callback=worker.callbacks())
    (measured,) = _events(worker, "reward_standardized")
    assert measured["step"] == 34 and measured["count"] == 34              # 17 rows of 2 envs, all stored
    first = buffer.rewards[:17]
    assert measured["mean"] == pytest.approx(first.mean(), abs=1e-5) and measured["std"] == pytest.approx(
        first.std(), abs=1e-5)
    assert first.min() > 0           # stored as the reach term pays it (> 0); standardised, half would be < 0
    before = stored_rewards(buffer).copy()
    assert worker.apply_spec(parse_reward_spec({"terms": [{"kind": "world", "key": "reach", "weight": 3.0}]}))
    edit = _events(worker, "edit")[-1]
    after = stored_rewards(buffer)
    np.testing.assert_allclose(after, 3 * before, rtol=1e-5)
    assert edit["standardized"]["count"] == 34 and not edit["relabel_note"]
    assert edit["standardized"]["mean"] == pytest.approx(3 * measured["mean"], rel=1e-4)
    assert edit["standardized"]["std"] == pytest.approx(3 * measured["std"], rel=1e-4)
    assert worker.apply_spec(parse_reward_spec({"terms": REACH}))
    back = _events(worker, "edit")[-1]["standardized"]
    assert back["mean"] == pytest.approx(measured["mean"], rel=1e-4) and back["std"] == pytest.approx(
        measured["std"], rel=1e-4)
    assert len(_events(worker, "reward_standardized")) == 1                # measured once; edits re-measure
    checkpoint = json.loads(worker.save_checkpoint("test").with_suffix(".json").read_text())
    assert checkpoint["reward_standardized"] == back
    worker.model.learn(16, callback=worker.callbacks(), reset_num_timesteps=False)   # training goes on
    worker.venv.close()


def test_an_edit_that_cannot_relabel_keeps_the_map_and_says_so(tmp_path):
    from studio.spec import parse_reward_spec

    worker = _worker(tmp_path, telemetry={"frame_every_s": 0, "relabel_replay": False})
    worker.model.learn(40, callback=worker.callbacks())
    (measured,) = _events(worker, "reward_standardized")
    assert worker.apply_spec(parse_reward_spec({"terms": [{"kind": "world", "key": "reach", "weight": 3.0}]}))
    edit = _events(worker, "edit")[-1]
    assert edit["relabelled"] is None and "standardisation is kept" in edit["relabel_note"]
    assert {k: edit["standardized"][k] for k in ("mean", "std")} == {k: measured[k] for k in ("mean", "std")}
    worker.venv.close()


def test_a_measurement_that_fails_after_an_edit_keeps_the_map_and_the_run(tmp_path):
    from studio.spec import parse_reward_spec

    worker = _worker(tmp_path)
    worker.model.learn(40, callback=worker.callbacks())
    (measured,) = _events(worker, "reward_standardized")

    def fails(replay):
        raise ValueError("no finite reward to standardise by")

    worker.model.replay_buffer.standardizer.measure_buffer = fails
    assert worker.apply_spec(parse_reward_spec({"terms": [{"kind": "world", "key": "reach", "weight": 3.0}]}))
    edit = _events(worker, "edit")[-1]
    assert "standardisation is kept: no finite reward" in edit["relabel_note"]
    assert edit["standardized"]["mean"] == measured["mean"] and edit["new_version"] == 1
    worker.venv.close()


def test_with_no_warm_up_it_measures_the_first_stored_step_before_any_gradient_step():
    """``learning_starts: 0``: SAC trains after its first step, so the map is measured on that step (never on an
    empty buffer), and no update has happened by then."""
    from stable_baselines3 import SAC

    from agents.demos import sac_demo_kwargs

    model = SAC("MlpPolicy", "Pendulum-v1", learning_starts=0, batch_size=8, seed=0, **sac_demo_kwargs())
    model.replay_buffer.standardizer = RewardStandardizer()
    seen = []
    model.learn(5, callback=StandardizeRewardCallback(lambda state, step: seen.append((state, step,
                                                                                       model._n_updates))))
    assert seen == [({"mean": pytest.approx(float(model.replay_buffer.rewards[0, 0]), abs=1e-5), "std": 1.0,
                      "count": 1}, 1, 0)]


def test_a_run_without_it_keeps_sb3s_buffer_measures_nothing_and_its_edits_say_none(tmp_path):
    from stable_baselines3.common.buffers import ReplayBuffer

    from studio.runs import new_run
    from studio.spec import parse_reward_spec
    from studio.worker import Worker

    cfg = _config(standardize_reward=False)
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg).build()
    assert type(worker.model.replay_buffer) is ReplayBuffer                # SB3's own, as before the option
    worker.model.learn(40, callback=worker.callbacks())
    assert worker.apply_spec(parse_reward_spec({"terms": [{"kind": "world", "key": "reach", "weight": 3.0}]}))
    events = [json.loads(line) for line in paths.events.read_text().splitlines()]
    assert not [e for e in events if e["type"] == "reward_standardized"]
    assert [e for e in events if e["type"] == "edit"][-1]["standardized"] is None
    worker.venv.close()


@pytest.mark.parametrize("changes, said", [({"algo": "ppo", "algo_kwargs": {}}, "needs algo sac"),
                                           ({"algo_kwargs": {"replay_buffer_class": "mine"}},
                                            "remove algo_kwargs.replay_buffer_class"),
                                           ({"standardize_reward": "yes"}, "standardize_reward")])
def test_a_run_config_refuses_standardising_what_it_cannot(changes, said):
    from studio.spec import SpecError

    with pytest.raises(SpecError, match=said):
        _config(**changes)


def test_a_checkpoint_zip_appears_only_once_its_sidecar_is_written(tmp_path, monkeypatch):
    """Players list ``step-*.zip`` and read the ``.json`` beside it (a normalised run's statistics, the reward
    scale), so the sidecar is written first and the zip appears after it."""
    import studio.worker

    worker = _worker(tmp_path)
    seen = []
    write = studio.worker.write_json_atomic

    def spy(path, data):
        if path.parent == worker.paths.checkpoints:
            seen.append((path.name, sorted(p.name for p in path.parent.glob("step-*.zip"))))
        return write(path, data)

    monkeypatch.setattr(studio.worker, "write_json_atomic", spy)
    final = worker.save_checkpoint("test")
    assert seen == [(final.with_suffix(".json").name, [])]     # no zip to be seen while its sidecar was written
    assert final.exists() and final.with_suffix(".json").exists()
    assert not list(final.parent.glob(".*tmp*"))                # the temporary zip was moved, not left behind
    worker.venv.close()
