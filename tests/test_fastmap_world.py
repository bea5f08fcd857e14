"""The object-naming room (studio/FastMapRoom-v0): phases, naming, the reshuffle, splits, rewards, cameras.

A scripted agent that reads the true state (where each object is and which one is instructed) proves the
task is solvable; one that picks a random object proves chance is 1/N (no leak through slots or positions).
"""

from __future__ import annotations

import numpy as np
import pytest

import worlds
from worlds.fastmap import (APPEARANCES, HELDOUT_NAMES, MAX_OBJECTS, TRAIN_NAMES, FastMapRoomEnv, appearance_of,
                            appearance_code, sentence)

GRIP = np.array([0.0, 0.0, 1.0])


def go_to(env: FastMapRoomEnv, xy: np.ndarray) -> np.ndarray:
    delta = (xy - env.hand) / env.speed
    return np.array([*np.clip(delta, -1, 1), 0.0])


def scripted_episode(env: FastMapRoomEnv, seed: int, pick: str = "target"):
    """Visit every object in discovery, then grip the target (``pick="target"``) or a random object."""
    obs, info = env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    choice = None
    infos = [info]
    for _ in range(env.max_steps + 5):
        if env.phase == 0:
            todo = [i for i in range(env.n_objects) if not env.named[i]]
            action = go_to(env, env.pos[todo[0]]) if todo else np.zeros(3)
        else:
            if choice is None:
                choice = env.target if pick == "target" else int(rng.integers(env.n_objects))
            near = np.linalg.norm(env.pos[choice] - env.hand) < 0.03
            action = GRIP if near and not env._grip_was_down else go_to(env, env.pos[choice])
        obs, reward, terminated, truncated, info = env.step(action)
        infos.append(info)
        if terminated or truncated:
            return infos
    raise AssertionError("episode did not end")


def test_registered_and_makeable():
    env = worlds.make("studio/FastMapRoom-v0", n_objects=5, render_mode=None)
    assert isinstance(env.unwrapped, FastMapRoomEnv)
    assert worlds.WORLDS["studio/FastMapRoom-v0"].family == "fastmap"
    obs, _ = env.reset(seed=0)
    assert obs["obj_mask"].sum() == 5 and obs["objects"].shape == (MAX_OBJECTS, 11)
    assert all(v.dtype == np.float32 for v in obs.values())


def test_scripted_agent_hears_every_name_then_succeeds():
    env = FastMapRoomEnv(n_objects=3, render_mode=None)
    for seed in range(5):
        infos = scripted_episode(env, seed)
        said = {i["said"] for i in infos if i["said"]}
        assert said == {f"this is a {n}" for n in env.names}
        assert infos[-1]["outcome"] == "correct" and infos[-1]["is_success"]
        assert infos[-1]["reward_success"] == 1.0
        assert sum(i["reward_naming"] for i in infos) == pytest.approx(0.3)
        assert infos[-1]["instruction"] == f"pick up the {env.names[env.target]}"


def test_random_pick_is_at_chance_and_a_wrong_pick_ends_the_episode():
    env = FastMapRoomEnv(n_objects=3, render_mode=None)
    outcomes = [scripted_episode(env, seed, pick="random")[-1]["outcome"] for seed in range(150)]
    assert set(outcomes) <= {"correct", "wrong"}
    assert 0.2 < outcomes.count("correct") / len(outcomes) < 0.47


def test_instruction_phase_reshuffles_positions_and_slots():
    env = FastMapRoomEnv(n_objects=5, render_mode=None)
    moved, reslotted = 0, 0
    for seed in range(10):
        env.reset(seed=seed)
        before_pos, before_slots = env.pos.copy(), env.slots.copy()
        env.named[:] = True                       # skip to the switch
        env.step(np.zeros(3))
        assert env.phase == 1
        moved += np.linalg.norm(env.pos - before_pos, axis=1).min() > 1e-6
        reslotted += not np.array_equal(env.slots, before_slots)
    assert moved >= 9 and reslotted >= 8


def test_text_is_only_heard_in_discovery_and_instruction_only_after():
    env = FastMapRoomEnv(n_objects=3, render_mode=None)
    for info in scripted_episode(env, 7):
        if info["phase"] == 0:
            assert info["instruction"] == ""
        else:
            assert info["said"] == "" and info["instruction"].startswith("pick up the ")


def test_splits_hold_out_names_and_appearances():
    train_looks = {tuple(appearance_code(*a)) for a in APPEARANCES["train"]}
    for split, names, held_looks in (("train", TRAIN_NAMES, False), ("heldout_names", HELDOUT_NAMES, False),
                                     ("heldout_objects", TRAIN_NAMES, True), ("heldout", HELDOUT_NAMES, True)):
        env = FastMapRoomEnv(n_objects=8, split=split, render_mode=None)
        for seed in range(5):
            env.reset(seed=seed)
            assert set(env.names) <= set(names)
            looks = {tuple(c) for c in env.codes}
            assert looks.isdisjoint(train_looks) if held_looks else looks <= train_looks
    assert set(TRAIN_NAMES).isdisjoint(HELDOUT_NAMES)


def test_appearance_code_round_trips():
    for look in APPEARANCES["train"][:20] + APPEARANCES["heldout"][:5]:
        assert appearance_of(appearance_code(*look)) == look
    assert appearance_of(np.zeros(9)) is None


def test_put_task_needs_the_right_object_in_the_right_place():
    env = FastMapRoomEnv(n_objects=3, task="put", render_mode=None)
    env.reset(seed=1)
    env.named[:] = True
    env.step(np.zeros(3))
    assert env.instruction.startswith("put the ")
    target = env.pos[env.target].copy()
    env.hand = target.copy()
    _, r, term, _, info = env.step(GRIP)
    assert not term and env.held == env.target          # holding the right object is not yet success
    from worlds.fastmap import PLACES
    centre = PLACES[env.place][0]
    for _ in range(30):
        _, r, term, _, info = env.step(go_to(env, centre))
    _, r, term, _, info = env.step(GRIP)
    assert term and info["is_success"] and r == 1.0
    assert sentence(np.zeros(6)) == ""


def test_bad_arguments_say_what_to_do():
    with pytest.raises(ValueError, match="n_objects"):
        FastMapRoomEnv(n_objects=9)
    with pytest.raises(ValueError, match="split"):
        FastMapRoomEnv(split="test")


def test_overhead_camera_shows_the_objects_in_their_colours():
    """At each object's projected position, the overhead pixel's chroma is nearest to that object's colour."""
    from worlds.fastmap import COLORS

    env = FastMapRoomEnv(n_objects=5, render_profile="reward", width=96, height=96)
    palette = np.array(list(COLORS.values()))
    chroma = lambda rgb: np.asarray(rgb, float) / (np.sum(rgb, -1, keepdims=True) + 1e-6)  # noqa: E731
    for seed in range(3):
        env.reset(seed=seed)
        frame = env.render_camera("overhead").astype(float)
        focal = 48 / np.tan(np.radians(21))
        for i, (_, color, _) in enumerate(env.looks):
            x, y = env.pos[i]
            u, v = int(round(48 + focal * x / 1.4)), int(round(48 - focal * y / 1.4))
            pixel = frame[v, u]
            nearest = int(np.argmin(np.abs(chroma(palette) - chroma(pixel)).sum(-1)))
            assert nearest == color, f"object {i} at pixel {(u, v)} shows {pixel}, not {list(COLORS)[color]}"
    ego = env.render_camera("egocentric").astype(int)
    assert np.abs(ego - frame).mean() > 10
    env.close()
