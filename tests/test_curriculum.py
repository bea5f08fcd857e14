"""agents.curriculum: lessons applied through the world's setters, promotion on the current lesson's own
successes only, and clear errors for lessons that are not data."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

from agents.curriculum import Curriculum


class Graded(gym.Env):
    """Three-step episodes that succeed exactly when the ``level`` set at their reset is at most ``passable`` (as
    a world draws its scene at reset; the policy is irrelevant: the test is about the teacher)."""

    observation_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    action_space = gym.spaces.Box(-1, 1, (1,), np.float32)
    passable = 1

    def __init__(self):
        self.level, self.drawn, self.t = 0, 0, 0

    def set_level(self, level):
        self.level = level

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t, self.drawn = 0, self.level
        return np.zeros(1, np.float32), {}

    def step(self, action):
        self.t += 1
        done = self.t >= 3
        return np.zeros(1, np.float32), 0.0, done, False, {"is_success": done and self.drawn <= self.passable}


def teach(lessons, steps=600, **kwargs):
    venv = make_vec_env(Graded, n_envs=2, seed=0)
    teacher = Curriculum(lessons, **kwargs)
    PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0).learn(steps, callback=teacher)
    return teacher, venv


def test_lessons_advance_while_passed_and_stop_at_the_first_one_failed():
    lessons = [{"level": 0}, {"level": 1}, {"level": 2}, {"level": 3}]
    # promote_at 0.4 over 4 episodes: the two envs' episodes end together, so when lesson 2 begins two episodes
    # drawn under lesson 1 (successes) are still running; were they counted, 2 of 4 would pass lesson 2 wrongly.
    teacher, venv = teach(lessons, promote_at=0.4, window=4)
    assert [i for _, i in teacher.history] == [0, 1, 2]
    steps = [t for t, _ in teacher.history]
    assert steps == sorted(steps) and steps[1] > steps[0]
    assert teacher.lesson == 2 and not teacher.finished
    assert venv.get_attr("level") == [2, 2]          # applied to every env
    summary = teacher.summary()
    assert summary["reached"] == 2 and summary["finished"] is False and summary["lessons"] == lessons


def test_the_last_lesson_is_kept_once_reached():
    teacher, venv = teach([{"level": 0}, {"level": 1}], promote_at=1.0, window=3)
    assert teacher.finished and [i for _, i in teacher.history] == [0, 1]
    assert venv.get_attr("level") == [1, 1]


def test_episode_tags_name_the_lesson_each_ending_episode_was_drawn_under():
    """Asked as a recorder asks (inside ``step_wait``, before the callbacks see the step), ``episode_tags`` gives
    the lesson whose settings the ending episode was drawn with, across promotions; -1 before the first."""
    from stable_baselines3.common.vec_env import VecEnvWrapper

    lessons = [{"level": 1}, {"level": 2}, {"level": 3}]
    teacher = Curriculum(lessons, promote_at=0.5, window=4)
    seen = []

    class Probe(VecEnvWrapper):
        def reset(self):
            return self.venv.reset()

        def step_wait(self):
            obs, rewards, dones, infos = self.venv.step_wait()
            for i in np.flatnonzero(dones):
                seen.append((teacher.episode_tags(int(i))["lesson"], infos[i]["drawn"]))
            return obs, rewards, dones, infos

    class Told(Graded):
        passable = 5

        def step(self, action):
            obs, reward, done, truncated, info = super().step(action)
            return obs, reward, done, truncated, {**info, "drawn": self.drawn}

    venv = Probe(make_vec_env(Told, n_envs=2, seed=0))
    PPO("MlpPolicy", venv, n_steps=32, batch_size=32, n_epochs=1, seed=0).learn(200, callback=teacher)
    assert [i for _, i in teacher.history] == [0, 1, 2]
    assert seen[:2] == [(-1, 0), (-1, 0)]          # drawn at the default level, before the first lesson
    assert {lesson for lesson, _ in seen} == {-1, 0, 1, 2}
    assert all(drawn == (0 if lesson < 0 else lessons[lesson]["level"]) for lesson, drawn in seen), seen


@pytest.mark.parametrize("lessons, words", [
    ([], ["lessons=[]", "non-empty list"]),
    ({"level": 1}, ["not a non-empty list"]),
    ([{"level": 1}, 3], ["lesson 1 (3)", "dict of world settings"]),
    ([{}], ["lesson 0 ({})"]),
])
def test_lessons_that_are_not_data_are_refused(lessons, words):
    with pytest.raises(ValueError) as err:
        Curriculum(lessons)
    for word in words:
        assert word in str(err.value)


@pytest.mark.parametrize("kwargs, words", [
    ({"promote_at": 0.0}, ["promote_at=0.0", "(0, 1]"]),
    ({"promote_at": float("nan")}, ["promote_at=nan"]),
    ({"window": 0}, ["window=0", ">= 1"]),
    ({"window": 2.5}, ["window=2.5"]),
])
def test_bad_promotion_settings_are_refused(kwargs, words):
    with pytest.raises(ValueError) as err:
        Curriculum([{"level": 0}], **kwargs)
    for word in words:
        assert word in str(err.value)


def test_a_setting_the_world_cannot_change_is_named_when_training_starts():
    with pytest.raises(ValueError) as err:
        teach([{"level": 0}, {"colour": "red"}], steps=10)
    assert "lesson 1 sets 'colour'" in str(err.value) and "set_colour()" in str(err.value)


PUSH_TERMS = [{"kind": "world", "key": "push"}, {"kind": "world", "key": "success"}]
LESSONS = [{"pad_distance": [0.07, 0.10]}, {"pad_distance": None}]


def _run_config(curriculum, world_id="studio/Push-v0", **changes):
    from studio.spec import parse_run_config

    return parse_run_config({"world_id": world_id, "n_envs": 2, "total_steps": 256, "curriculum": curriculum,
                             "reward": {"terms": PUSH_TERMS if world_id == "studio/Push-v0" else
                                        [{"kind": "world", "key": "reach"}]},
                             "algo_kwargs": {"n_steps": 64, "batch_size": 64, "n_epochs": 1},
                             "telemetry": {"frame_every_s": 0}, **changes})


def test_a_run_config_curriculum_round_trips_and_a_bad_lesson_is_named_before_training():
    import yaml

    from studio.spec import SpecError, parse_run_config

    cfg = _run_config({"lessons": LESSONS, "window": 50})
    assert (cfg.curriculum.promote_at, cfg.curriculum.window) == (0.7, 50)
    assert parse_run_config(yaml.safe_load(cfg.to_yaml())) == cfg
    for curriculum, world, words in [
        ({"lessons": [{"pad_distance": [0.03, 0.1]}]}, "studio/Push-v0",
         ["curriculum.lessons[0].pad_distance", "0.06 < lo <= hi"]),
        ({"lessons": [LESSONS[0], {"colour": "red"}]}, "studio/Push-v0", ["lessons[1] sets 'colour'", "set_colour"]),
        ({"lessons": LESSONS}, "studio/Reach-v0", ["'reach' has no pads"]),
        ({"lessons": []}, "studio/Push-v0", ["curriculum.lessons"]),
        ({"lessons": LESSONS, "promote_at": 1.5}, "studio/Push-v0", ["curriculum.promote_at"]),
    ]:
        with pytest.raises(SpecError) as err:
            _run_config(curriculum, world)
        for word in words:
            assert word in str(err.value), (curriculum, str(err.value))


def test_a_studio_run_teaches_its_first_lesson_and_says_so(tmp_path):
    import json

    from studio.runs import RunPaths, new_run, read_status
    from studio.worker import Worker

    cfg = _run_config({"lessons": LESSONS})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg)
    assert worker.train() == "completed"
    status = read_status(RunPaths(paths.root))
    assert status.lesson == {"index": 0, "of": 2, "settings": LESSONS[0], "step": 0}
    events = [json.loads(line) for line in paths.events.read_text().splitlines()]
    assert [e["lesson"] for e in events if e["type"] == "lesson"] == [0]
    assert worker.venv.get_attr("pad_distance") == [(0.07, 0.10)] * 2     # the world was told


def test_a_recorded_studio_run_says_which_lesson_each_episode_began_under(tmp_path):
    """Index lines, Minari's info column and a rebuilt index all carry the lesson: the episodes that began before
    the first lesson was applied say -1, the next ones 0."""
    import json

    from studio.recording import health, reader
    from studio.runs import new_run
    from studio.worker import Worker

    cfg = _run_config({"lessons": LESSONS}, total_steps=512, recording={"enabled": True})
    paths = new_run(tmp_path, cfg.world_id, cfg.algo)
    paths.config.write_text(cfg.to_yaml())
    worker = Worker(paths, cfg)
    assert worker.train() == "completed"
    rec = worker.recorder.writer.paths
    index = [json.loads(line) for line in rec.index.read_text().splitlines()]
    by_env = {e: [r["lesson"] for r in index if r["env_index"] == e] for e in (0, 1)}
    assert by_env == {0: [-1, 0], 1: [-1, 0]}, by_env         # 100-step episodes, 256 steps each
    data = reader.load(rec)
    for episode in data.iterate_episodes():
        column = episode.infos["lesson"]
        assert column.dtype == np.int64 and len(column) == len(episode.rewards) + 1
        assert set(column.tolist()) == {index[episode.id]["lesson"]}
    assert list(reader.episodes_table(rec)["lesson"]) == [r["lesson"] for r in index]
    rec.index.write_text("")                                    # lost: rebuilt from the data, lessons too
    assert health.repair(rec).ok
    rebuilt = [json.loads(line) for line in rec.index.read_text().splitlines()]
    assert [r["lesson"] for r in rebuilt] == [r["lesson"] for r in index]
