"""PPO with observations and rewards normalised (``RunConfig.normalize``, agents.normalize): the statistics a
checkpoint is played through, the live-edit log under a VecNormalize, PPO started from demonstrations in a studio
run, and every player of its checkpoints (eval, Inspect's episode, recorded evaluation) acting as it trained."""

from __future__ import annotations

import json

from worlds import gl  # noqa: F401

import numpy as np
import pytest
import torch

from agents.callbacks import BoundaryCallback, LiveRewardCallback
from agents.normalize import ObsNormalizer, checkpoint_normalizer, normalize_venv, observation_map, statistics
from agents.reward_factory import build_stack
from agents.sb3_factory import make_model, make_venv
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.vec_env import VecEnvWrapper

pytestmark = pytest.mark.usefixtures("one_torch_thread")

OLD = [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "success"}]
SHAPED = [{"kind": "world", "key": "reach", "weight": 2.0}, {"kind": "world", "key": "success"},
          {"kind": "shaping", "potential": "neg_tcp_object_distance", "gamma": 0.99, "weight": 3.0}]
PUSH = dict(colors=["red"], shapes=["cube"], pad_colors=["blue"])


def _normalised_reach(terms, n_envs=2):
    stack = build_stack(terms)
    venv, reward_env = make_venv("studio/Reach-v0", {}, n_envs, 0, stack)
    return stack, normalize_venv(venv, gamma=0.99), reward_env


def test_the_saved_statistics_normalise_as_the_training_env_did():
    """After some steps the frozen map from :func:`statistics` equals ``VecNormalize.normalize_obs`` on any
    observation, the sidecar round trip keeps it, and a map for another observation size is refused."""
    _, venv, _ = _normalised_reach(OLD)
    venv.reset()
    rng = np.random.default_rng(0)
    for _ in range(60):
        venv.step(rng.uniform(-1, 1, (2, 4)).astype(np.float32))
    stats = json.loads(json.dumps(statistics(venv)))                       # only plain numbers survive JSON
    frozen = ObsNormalizer.from_statistics(stats)
    probe = rng.normal(0, 1, (5, venv.observation_space.shape[0])) * 0.3
    np.testing.assert_allclose(frozen(probe), venv.normalize_obs(probe), rtol=1e-5, atol=1e-6)
    assert not np.allclose(frozen(probe), probe)                          # it does change them
    assert stats["norm_reward"] and stats["return_var"] > 0 and stats["gamma"] == 0.99
    with pytest.raises(ValueError, match="observation of 3 entries"):
        frozen(np.zeros((1, 3)))
    with pytest.raises(ValueError, match="obs_mean, obs_var"):
        ObsNormalizer.from_statistics({"obs_mean": [0.0]})
    venv.close()


def test_a_checkpoint_without_statistics_plays_raw_unless_its_run_normalised(tmp_path):
    ckpt = tmp_path / "step-000000010.zip"
    assert checkpoint_normalizer(ckpt) is None                            # no sidecar: a run before the option
    obs = np.ones((1, 3))
    assert observation_map(ckpt, normalized=False)(obs) is obs
    with pytest.raises(ValueError, match="trained on normalised observations.*holds no statistics"):
        observation_map(ckpt, normalized=True)
    ckpt.with_suffix(".json").write_text(json.dumps({"step": 10, "normalize": {"norm_obs": True, "obs_mean": [0.0],
                                                                                "obs_var": [-1.0], "epsilon": 1e-8,
                                                                                "clip_obs": 10.0}}))
    with pytest.raises(ValueError, match="step-000000010.json.*non-negative variance"):
        checkpoint_normalizer(ckpt)


class _RawTerminals(VecEnvWrapper):
    """Below the studio's normalisation: every terminal observation exactly as the env gave it, in order."""

    def __init__(self, venv):
        super().__init__(venv)
        self.seen = []

    def reset(self):
        return self.venv.reset()

    def step_wait(self):
        obs, rewards, dones, infos = self.venv.step_wait()
        self.seen += [np.array(infos[i]["terminal_observation"], copy=True) for i in np.flatnonzero(dones)]
        return obs, rewards, dones, infos


def _logged_reach(freeze_tiny_spread: bool = False):
    """PPO on Reach under the studio's normalisation for one rollout (64 x 2 steps, each env's 50-step episode
    ending at the 50th), with a spy below it; optionally with the observation statistics frozen at a spread so
    small that every observation entry is clipped at 10 spreads."""
    torch.manual_seed(0)
    stack = build_stack(SHAPED)
    base, reward_env = make_venv("studio/Reach-v0", {}, 2, 0, stack)
    spy = _RawTerminals(base)
    venv = normalize_venv(spy, gamma=0.99)
    if freeze_tiny_spread:
        venv.obs_rms.mean[:], venv.obs_rms.var[:], venv.training = 0.0, 1e-12, False
    model = make_model("ppo", venv, {"n_steps": 64, "batch_size": 64, "gamma": 0.99}, seed=0)
    live = LiveRewardCallback(stack, reward_env)
    model.learn(128, callback=[live])
    return stack, venv, model, live, spy


def test_the_live_log_keeps_raw_steps_under_a_vecnormalize():
    """The log holds what the stack saw and paid, not what the learner saw: re-scoring it with the same stack
    gives its rewards back, a shaping term (which reads observations) included, and its factors are the ones
    the learner's rewards were divided by."""
    stack, venv, model, live, spy = _logged_reach()
    rows = live.log.rows()
    np.testing.assert_allclose(stack.evaluate(live.log.batch(rows)).total, live.log.reward[rows], rtol=1e-5,
                               atol=1e-6)
    ended = rows[live.log.step[rows] == 100]           # both envs' 50th step (2 envs): their episodes' last
    assert len(spy.seen) == len(ended) == 2
    np.testing.assert_allclose(live.log.next_obs[ended], np.stack(spy.seen), rtol=1e-6, atol=1e-7)
    factor = live.log.learner_factor[rows]
    assert factor.min() < factor.max()     # the return spread changes as it goes
    normalised = np.clip(live.log.reward[rows] * factor, -10, 10)
    kept = live.log.step[rows] != 100                  # SB3 adds a time-limit bootstrap to the episodes' last
    np.testing.assert_allclose(model.rollout_buffer.rewards.ravel()[kept], normalised[kept], rtol=1e-5, atol=1e-6)
    venv.close()


def test_the_logged_terminal_observations_are_the_envs_own_where_the_normaliser_clipped_them():
    """VecNormalize clips normalised entries at 10 spreads, in place in the info: an entry that hardly varied (a
    resting cube's height) cannot be normalised back. The log's terminal observations are the env's own all the
    same (here the statistics are frozen at a spread so small that every entry clips)."""
    _, venv, _, live, spy = _logged_reach(freeze_tiny_spread=True)
    rows = live.log.rows()
    ended = rows[live.log.step[rows] == 100]
    raw = np.stack(spy.seen)
    assert (np.abs(venv.normalize_obs(raw)) >= venv.clip_obs).mean() > 0.5          # clipped, lost to unnormalise
    np.testing.assert_array_equal(live.log.next_obs[ended], raw.astype(np.float32))
    venv.close()


class _Capture(BaseCallback):
    """Copies PPO's stored rewards and the log's at the first rollout's end (before or after the re-scoring,
    by where it stands among the callbacks)."""

    def __init__(self, live: LiveRewardCallback):
        super().__init__()
        self.live, self.rewards, self.logged = live, None, None

    def _on_step(self):
        return True

    def _on_rollout_end(self):
        if self.rewards is None:
            self.rewards = self.model.rollout_buffer.rewards.copy()
            self.logged = self.live.log.reward[self.live.log.rows()].copy()


def test_an_edit_mid_rollout_reaches_the_learner_as_the_normaliser_would_have_given_it():
    """Under VecNormalize an edit mid-rollout leaves each of PPO's stored rewards as that step's normaliser would
    have given the new reward (its own return spread, clipped at 10): the steps before the edit move, those after
    it (paid the new reward already) stay, and what the learner stored for them is exactly that."""
    torch.manual_seed(0)
    stack, venv, reward_env = _normalised_reach(OLD)
    model = make_model("ppo", venv, {"n_steps": 64, "batch_size": 64, "gamma": 0.99}, seed=0)
    live = LiveRewardCallback(stack, reward_env)
    applied, before, after = [], _Capture(live), _Capture(live)

    def hook(cb):
        if not applied and cb.num_timesteps >= 40:
            applied.append(live.apply(SHAPED))
        return True
    model.learn(128, callback=[before, live, BoundaryCallback(hook), after])     # one rollout of 64 x 2
    assert applied and applied[0].step == 40
    rows = live.log.rows()
    new, factor = live.log.reward[rows], live.log.learner_factor[rows]
    changed = ~np.isclose(new, before.logged)
    assert changed[:40].all() and not changed[42:].any()       # re-scored: the steps paid the old reward
    as_normalised = np.clip(new * factor, -10, 10).reshape(64, 2)
    ended = (live.log.step[rows] == 100).reshape(64, 2)       # SB3 adds a time-limit bootstrap to these
    np.testing.assert_allclose(after.rewards[~ended], as_normalised[~ended], rtol=1e-5, atol=1e-6)
    shift = (as_normalised - np.clip(before.logged * factor, -10, 10).reshape(64, 2))
    np.testing.assert_allclose(after.rewards[ended], (before.rewards + shift)[ended], rtol=1e-5, atol=1e-6)
    at_end = venv.normalize_reward(new).reshape(64, 2)         # one spread for all: what the first version did
    assert not np.allclose(after.rewards[~ended], at_end[~ended], atol=1e-3)
    venv.close()


def _ppo_push_worker(tmp_path, **changes):
    from studio.runs import new_run
    from studio.spec import parse_run_config
    from studio.worker import Worker

    cfg = parse_run_config({"world_id": "studio/Push-v0", "world_kwargs": PUSH, "algo": "ppo", "n_envs": 2,
                            "total_steps": 128, "demos": 2, "normalize": True,
                            "reward": {"terms": [{"kind": "world", "key": "reach"},
                                                 {"kind": "world", "key": "push"}]},
                            "algo_kwargs": {"n_steps": 64, "batch_size": 64, "gamma": 0.95},
                            "telemetry": {"frame_every_s": 0}, **changes})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    return Worker(paths, cfg)


def test_a_normalised_ppo_run_starts_from_demos_and_its_checkpoints_play_as_it_trained(tmp_path, monkeypatch):
    """A studio PPO run with ``demos`` and ``normalize``: it is cloned from the demonstrations (on the
    VecNormalize's scale, whose gamma is the learner's), trains, and saves the statistics beside its final
    checkpoint; eval, Inspect's episode and a recorded evaluation then act exactly as the model does on
    observations normalised by the training env."""
    from stable_baselines3.common.vec_env import VecNormalize

    import worlds
    from agents.sb3_factory import load_model
    from studio.cli import evaluate
    from studio.recording.evaluate import record_checkpoint
    from studio.rollout import policy_episode
    from studio.session import Session

    worker = _ppo_push_worker(tmp_path)
    assert worker.train() == "completed"
    vn = worker.model.get_env()
    assert isinstance(vn, VecNormalize) and vn.gamma == 0.95 and worker.model.gamma == 0.95
    events = [json.loads(line) for line in worker.paths.events.read_text().splitlines()]
    (cloned,) = [e for e in events if e["type"] == "demos_cloned"]
    assert cloned["bc_loss"] < 5 and cloned["value_loss"] >= 0
    (ckpt,) = sorted(worker.paths.checkpoints.glob("step-*.zip"))
    saved = json.loads(ckpt.with_suffix(".json").read_text())["normalize"]
    np.testing.assert_allclose(saved["obs_mean"], vn.obs_rms.mean, rtol=1e-6)
    assert vn.obs_rms.count > 128 + 2 * 50            # the demonstrations' observations are in the statistics

    env = worlds.make("studio/Push-v0", render_mode=None, **PUSH)
    obs, _ = env.reset(seed=3)
    model = load_model("ppo", ckpt)
    trained, _ = model.predict(vn.normalize_obs(obs), deterministic=True)
    played, _ = model.predict(observation_map(ckpt, True)(obs), deterministic=True)
    raw, _ = model.predict(obs, deterministic=True)
    np.testing.assert_allclose(played, trained, atol=1e-5)
    assert not np.allclose(raw, trained, atol=1e-3)      # playing it on raw observations would be another policy
    reach, done = [], False                              # the episode as the training env would have played it
    while not done:
        obs, _, terminated, truncated, info = env.step(model.predict(vn.normalize_obs(obs), deterministic=True)[0])
        reach.append(info["reward_terms"]["reach"])
        done = terminated or truncated
    env.close()

    episode = policy_episode(worker.paths.root, seed=3, size=48)      # Inspect's episode
    np.testing.assert_allclose(episode.world_terms["reach"], reach, rtol=1e-4, atol=1e-5)
    import agents.normalize

    mapped = []                  # every observation eval and a recorded evaluation act on, through the map

    def counting(checkpoint, normalized):
        found = observation_map(checkpoint, normalized)
        return lambda obs: mapped.append(1) or found(obs)
    monkeypatch.setattr(agents.normalize, "observation_map", counting)
    result = evaluate(Session(worker.paths), episodes=1)
    assert result["episodes"] == 1 and result["mean_length"] == len(mapped) == 100
    recorded = record_checkpoint(worker.paths.root, episodes=1, video_size=48)
    assert recorded.episodes == 1 and len(mapped) == 200


def test_a_normalised_checkpoint_without_its_statistics_is_refused_by_its_players(tmp_path):
    from studio.rollout import policy_episode

    worker = _ppo_push_worker(tmp_path, demos=0, total_steps=64)
    worker.train()
    (ckpt,) = sorted(worker.paths.checkpoints.glob("step-*.zip"))
    sidecar = json.loads(ckpt.with_suffix(".json").read_text())
    del sidecar["normalize"]
    ckpt.with_suffix(".json").write_text(json.dumps(sidecar))
    with pytest.raises(ValueError, match="holds no statistics"):
        policy_episode(worker.paths.root, seed=3, size=48)


@pytest.mark.parametrize("changes, said", [
    ({"algo": "sac", "algo_kwargs": {}}, "normalize: true is for PPO.*not algo 'sac'"),
    ({"algo": "recurrent_ppo", "algo_kwargs": {}}, "normalize: true is for PPO"),
])
def test_normalize_is_refused_where_it_does_not_apply(tmp_path, changes, said):
    from studio.spec import SpecError

    with pytest.raises(SpecError, match=said):
        _ppo_push_worker(tmp_path, demos=0, **changes)


def test_the_ppo_example_config_is_the_benchs_ppo_learner_with_50_demonstrations():
    """``examples/clip_push_ppo_demos.yaml`` is bench.clip_push's ``--algo ppo --demos 50`` learner: its settings,
    envs, normalisation (the bench's VecNormalize) and prompt, so the bench's figures describe what it runs."""
    from pathlib import Path

    from bench.clip_push import ALPHA, BASELINE, GOAL, PPO_ENVS, PPO_SETTINGS, WORLD
    from studio.spec import parse_run_config

    cfg = parse_run_config(Path(__file__).parents[1] / "examples" / "clip_push_ppo_demos.yaml")
    assert (cfg.algo, cfg.demos, cfg.n_envs, cfg.normalize, cfg.time_limit_s) == ("ppo", 50, PPO_ENVS, True, 1800)
    assert cfg.algo_kwargs == PPO_SETTINGS
    assert cfg.world_kwargs == {k: WORLD[k] for k in ("colors", "shapes", "pad_colors")}
    (clip,) = [t for t in cfg.reward.terms if t.enabled]
    assert (clip.goal_prompts, clip.baseline_prompts, clip.alpha) == ([GOAL], [BASELINE], ALPHA)
