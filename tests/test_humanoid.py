"""The VLM-RM humanoid poses world: pose predicates on constructed states, Gymnasium parity, fixed-length
episodes, reward terms, rendering and bad input."""

from __future__ import annotations

import gymnasium as gym
import mujoco
import numpy as np
import pytest

import worlds
from worlds.humanoid import (BASELINE_PROMPT, CAMERAS, POSE_CONDITIONS, POSE_PROMPTS, POSES, HumanoidPosesEnv,
                             pose_features, pose_predicates, pose_qpos, pose_score, random_qpos,
                             self_penetration)
from worlds.rendering import PROFILES

POSE_IDS = {"standing": "studio/HumanoidStand-v0", "kneeling": "studio/HumanoidKneel-v0",
            "arms_raised": "studio/HumanoidArmsRaised-v0", "lotus": "studio/HumanoidLotus-v0",
            "splits": "studio/HumanoidSplits-v0"}
IMPLIED = {"arms_raised": {"standing"}}     # arms_raised is "standing up, with both arms raised"


@pytest.fixture(scope="module")
def env():
    e = HumanoidPosesEnv(render_profile="reward")
    e.reset(seed=0)
    yield e
    e.close()


def _in(env: HumanoidPosesEnv, qpos: np.ndarray) -> dict[str, bool]:
    env.set_pose_state(qpos)
    return env.poses()


# ---------------------------------------------------------------------------- predicates
@pytest.mark.parametrize("pose", POSES)
def test_constructed_pose_meets_its_predicate_and_no_exclusive_one(env, pose):
    for seed in [None, *range(12)]:
        qpos = pose_qpos(pose, None if seed is None else np.random.default_rng(seed))
        poses = _in(env, qpos)
        true_now = {p for p, holds in poses.items() if holds}
        assert true_now == {pose} | IMPLIED.get(pose, set()), (pose, seed, pose_features(env.model, env.data))
        assert self_penetration(env.model, env.data) <= 0.005, "body parts overlap"
        floor_id = mujoco.mj_name2id(env.model, mujoco.mjtObj.mjOBJ_GEOM, "floor")
        floor = [c for c in env.data.contact[: env.data.ncon] if floor_id in (c.geom1, c.geom2)]
        assert floor and min(abs(c.dist) for c in floor) < 1e-3, "the body rests on the floor"


def test_exclusive_poses_are_exclusive_by_their_thresholds():
    """The thresholds themselves keep the clearly exclusive poses apart, whatever the state."""
    def bound(pose, feature, op):
        return next(c.threshold for c in POSE_CONDITIONS[pose] if c.feature == feature and c.op == op)

    assert bound("standing", "knee_z_min", ">=") > bound("kneeling", "knee_z_min", "<=")
    assert bound("kneeling", "pelvis_z", ">=") > bound("lotus", "pelvis_z", "<=")
    assert bound("kneeling", "pelvis_z", ">=") > bound("splits", "pelvis_z", "<=")
    assert bound("splits", "feet_apart", ">=") > bound("lotus", "feet_apart", "<=")
    assert set(POSE_CONDITIONS["standing"]) <= set(POSE_CONDITIONS["arms_raised"])


def test_pose_qpos_is_seeded_and_varied():
    a = pose_qpos("kneeling", np.random.default_rng(5))
    b = pose_qpos("kneeling", np.random.default_rng(5))
    c = pose_qpos("kneeling", np.random.default_rng(6))
    assert a.tobytes() == b.tobytes()
    assert np.abs(a - c).max() > 1e-3
    assert np.allclose(pose_qpos("kneeling"), pose_qpos("kneeling"))


def test_random_qpos_stays_in_joint_ranges_and_is_rarely_a_goal_pose(env):
    rng = np.random.default_rng(0)
    counts = dict.fromkeys(POSES, 0)
    low, high = env.model.jnt_range[1:].T
    for _ in range(200):
        qpos = random_qpos(rng)
        assert np.all(qpos[7:] >= low - 1e-9) and np.all(qpos[7:] <= high + 1e-9)
        for pose, holds in _in(env, qpos).items():
            counts[pose] += holds
        assert env.data.ncon > 0, "the random body rests on the floor"
    assert counts["arms_raised"] <= 2 and counts["lotus"] == 0 and counts["splits"] == 0, counts


def test_random_flailing_falls_are_not_the_hard_poses():
    """Random torques make the humanoid crumple and fall: never arms raised, lotus or splits, and not standing
    (nor, at the end, kneeling) once it has fallen."""
    env = HumanoidPosesEnv(render_mode=None)
    for seed in range(3):
        env.reset(seed=seed)
        env.action_space.seed(seed)
        for t in range(100):
            *_, info = env.step(env.action_space.sample())
            assert not (info["poses"]["arms_raised"] or info["poses"]["lotus"] or info["poses"]["splits"])
            if t >= 60:
                assert not info["poses"]["standing"]
        assert not info["poses"]["kneeling"]
    env.close()


def test_soft_pose_score_is_one_exactly_on_the_pose_and_bounded(env):
    for pose in POSES:
        for other in POSES:
            env.set_pose_state(pose_qpos(other, np.random.default_rng(1)))
            features = pose_features(env.model, env.data)
            score = pose_score(pose, features)
            assert 0.0 <= score <= 1.0
            assert (score == 1.0) == pose_predicates(env.model, env.data)[pose], (pose, other, score)
    # Standing is closer to kneeling than lying flat is: the soft score says so.
    env.set_pose_state(pose_qpos("standing"))
    standing = pose_score("kneeling", pose_features(env.model, env.data))
    lying = pose_qpos("standing")
    lying[3:7] = (np.cos(np.pi / 4), 0.0, np.sin(np.pi / 4), 0.0)      # pitched 90 deg: face down
    lying[2] = 0.12
    env.set_pose_state(lying)
    assert 0.0 < pose_score("kneeling", pose_features(env.model, env.data)) < standing < 1.0


# ---------------------------------------------------------------------------- Gymnasium contract
def test_observation_and_dynamics_match_gymnasium_humanoid_v5():
    ref = gym.make("Humanoid-v5").unwrapped
    env = HumanoidPosesEnv(render_mode=None)
    obs_ref, _ = ref.reset(seed=3)
    obs, _ = env.reset(seed=3)
    assert env.observation_space.shape == ref.observation_space.shape == (348,)
    assert env.action_space.shape == (17,) and np.all(env.action_space.high == np.float32(0.4))
    assert np.array_equal(obs, obs_ref)
    rng = np.random.default_rng(0)
    for _ in range(20):
        action = rng.uniform(-0.4, 0.4, 17)
        obs_ref, *_ = ref.step(action)
        obs, *_ = env.step(action)
    assert np.array_equal(obs, obs_ref)
    env.close()
    ref.close()


def test_no_early_termination_and_fixed_length_through_the_registry():
    env = worlds.make("studio/HumanoidKneel-v0", render_mode=None)
    env.reset(seed=0)
    env.action_space.seed(0)
    ends = []
    for t in range(1, 201):
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        assert not terminated
        if truncated:
            ends.append(t)
            env.reset()
    assert ends == [100, 200]
    env.close()


def test_episode_steps_argument_sets_the_length():
    env = HumanoidPosesEnv(episode_steps=7, render_mode=None)
    env.reset(seed=0)
    flags = [env.step(np.zeros(17))[3] for _ in range(7)]
    assert flags == [False] * 6 + [True]
    env.close()


@pytest.mark.parametrize("pose", POSES)
def test_registered_ids_select_the_pose(pose):
    info = worlds.WORLDS[POSE_IDS[pose]]
    assert info.kwargs == {"pose": pose} and info.max_episode_steps == 100 and info.summary
    assert worlds.WORLDS["studio/HumanoidPoses-v0"].kwargs == {"pose": "kneeling"}


def test_reward_terms_sum_and_success_follows_the_target_predicate():
    env = worlds.make("studio/HumanoidLotus-v0", render_mode=None, ctrl_cost_weight=0.2, pose_weight=2.0)
    _, info = env.reset(seed=0)
    assert list(info["reward_terms"]) == ["pose", "ctrl"] and list(info["poses"]) == list(POSES)
    rng = np.random.default_rng(1)
    for _ in range(30):
        action = rng.uniform(-0.4, 0.4, 17)
        _, reward, _, _, info = env.step(action)
        assert reward == pytest.approx(sum(info["reward_terms"].values()), abs=1e-12)
        assert info["reward_ctrl"] == pytest.approx(-0.2 * np.sum(action ** 2))
        assert 0.0 <= info["reward_pose"] <= 2.0
        assert info["is_success"] == info["poses"]["lotus"]
    u = env.unwrapped
    u.set_pose_state(pose_qpos("lotus"))
    u.data.ctrl[:] = 0.0
    reward, info = u._evaluate()
    assert info["is_success"] and reward == pytest.approx(2.0)
    env.close()


def test_describe_and_prompts(env):
    assert set(POSE_PROMPTS) == set(POSES)
    for pose in POSES:
        assert POSE_PROMPTS[pose]["baseline"] == BASELINE_PROMPT == "a humanoid robot"
        assert POSE_PROMPTS[pose]["goal"].startswith("a humanoid robot ")
    assert POSE_PROMPTS["kneeling"]["goal"] == "a humanoid robot kneeling"
    env.set_pose_state(pose_qpos("arms_raised"))
    desc = env.describe()
    assert desc.target == "kneeling" and desc.caption == "a humanoid robot kneeling"
    assert desc.poses == ["standing", "arms_raised"] and desc.baseline == "a humanoid robot"


# ---------------------------------------------------------------------------- rendering
@pytest.mark.parametrize("profile", ["reward", "viewer"])
def test_every_camera_renders_the_body_under_each_profile(profile):
    env = worlds.make("studio/HumanoidPoses-v0", render_profile=profile)
    env.reset(seed=0)
    u = env.unwrapped
    spec = PROFILES[profile]
    views = {}
    for camera in CAMERAS:
        frames = []
        for pose in ("standing", "lotus"):
            u.set_pose_state(pose_qpos(pose))
            frame = u.render_camera(camera)
            assert frame.dtype == np.uint8 and frame.shape == (spec.height, spec.width, 3)
            assert frame.std() > 5, f"{camera} frame is blank"
            frames.append(frame.astype(int))
        assert np.abs(frames[0] - frames[1]).mean() > 0.5, f"{camera}: standing and lotus look the same"
        views[camera] = frames[0]
    assert np.abs(views["front"] - views["side"]).mean() > 0.5, "front and side see the same picture"
    assert env.render().shape == (spec.height, spec.width, 3)
    assert u.render_camera("side", "reward", width=32, height=24).shape == (24, 32, 3)
    env.close()


def test_body_is_brighter_than_the_floor_in_the_reward_profile(env):
    """The textured white body stands out against the slate floor at 64 px (what a CLIP reward sees)."""
    env.set_pose_state(pose_qpos("standing"))
    frame = env.render_camera("front", "reward").astype(float).mean(axis=2)
    column = frame[:, 30:34]                   # the body stands in the middle of the image
    floor = frame[-6:, :8]                     # bottom-left corner: floor only
    assert column.max() > floor.mean() + 60


# ---------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("kwargs, words", [
    ({"pose": "handstand"}, ["handstand", "kneeling", "lotus", "splits"]),
    ({"camera": "top"}, ["top", "front", "side"]),
    ({"render_profile": "pretty"}, ["pretty", "reward", "viewer"]),
    ({"episode_steps": 0}, ["episode_steps=0", "positive integer"]),
    ({"episode_steps": 2.5}, ["episode_steps=2.5", "positive integer"]),
    ({"episode_steps": True}, ["episode_steps=True"]),
    ({"ctrl_cost_weight": -1.0}, ["ctrl_cost_weight=-1.0"]),
    ({"width": 0}, ["not positive"]),
])
def test_bad_arguments_name_the_value_and_the_fix(kwargs, words):
    with pytest.raises(ValueError) as err:
        HumanoidPosesEnv(render_mode=None, **kwargs)
    for word in words:
        assert word in str(err.value)


def test_bad_calls_raise_value_errors(env):
    with pytest.raises(ValueError, match="handstand.*standing"):
        pose_qpos("handstand")
    with pytest.raises(ValueError, match=r"\(4,\).*\(17,\)"):
        env.step(np.zeros(4))
    with pytest.raises(ValueError, match="24 finite"):
        env.set_pose_state(np.zeros(5))
    with pytest.raises(ValueError, match="wrist.*front"):
        env.render_camera("wrist")
    with pytest.raises(ValueError, match="pretty"):
        env.render_camera("front", "pretty")


def test_pose_features_need_no_env():
    """The predicates are pure functions of (model, data): usable on any MjData, e.g. from a recording."""
    model = mujoco.MjModel.from_xml_path(str(worlds.humanoid.XML_PATH))
    data = mujoco.MjData(model)
    data.qpos[:] = pose_qpos("splits")
    mujoco.mj_kinematics(model, data)
    assert pose_predicates(model, data)["splits"]


def test_docstring_table_states_every_threshold():
    doc = worlds.humanoid.__doc__
    for pose, conditions in POSE_CONDITIONS.items():
        for condition in conditions:
            assert str(condition) in doc, f"{pose}: {condition} missing from the module docstring"
