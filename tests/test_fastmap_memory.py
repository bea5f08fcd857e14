"""The dual-coding memory agent: the memory wrapper, the DCEM read, the seek-names term, the harness, the
shipped agents (the memory agent beats chance on held-out names, the no-memory agent does not), and the page.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch as th
from streamlit.testing.v1 import AppTest

from agents.memory import DCEMExtractor, DualCodingMemory, SeekNamesTerm
from agents.memory.train import TrainConfig, evaluate, make_env, make_stack, make_venv, train
from agents.memory.wrappers import MOVES
from agents.rewards.base import StepBatch
from worlds.fastmap import FastMapRoomEnv

ASSETS = Path(__file__).parents[1] / "assets"


def to_discrete(action: np.ndarray) -> int:
    if action[2] > 0.5:
        return 5
    if abs(action[0]) >= abs(action[1]):
        return 1 if action[0] > 0 else 2
    return 3 if action[1] > 0 else 4


def scripted_discovery(env, seed: int):
    """Drive a wrapped room (discrete moves) through discovery with the true positions; return the obs."""
    world = env.unwrapped
    obs, info = env.reset(seed=seed)
    infos = [info]
    while world.phase == 0:
        todo = [i for i in range(world.n_objects) if not world.named[i]]
        goal = world.pos[todo[0]] if todo else world.hand
        delta = np.clip((goal - world.hand) / world.speed, -1, 1)
        obs, _, _, _, info = env.step(to_discrete(np.array([*delta, 0.0])) if todo else 0)
        infos.append(info)
    return obs, infos


def batch_of(obs: dict) -> dict:
    return {k: th.as_tensor(v)[None] for k, v in obs.items()}


def test_memoryless_agent_sees_an_empty_memory():
    env = make_env(TrainConfig(agent="memoryless"))
    obs, _ = scripted_discovery(env, seed=4)
    assert obs["mem_mask"].sum() == 0 and not obs["mem_text"].any()


def test_memory_writes_every_step_and_flags_new_names_once_per_object():
    env = make_env(TrainConfig(agent="dcem"))
    obs, infos = scripted_discovery(env, seed=4)
    memory = env                                      # DualCodingMemory is the outermost wrapper
    assert isinstance(memory, DualCodingMemory)
    assert memory.written == len(infos) and obs["mem_mask"].sum() == len(infos)
    heard = [i for i in range(memory.written) if obs["mem_text"][i].any()]
    assert len(heard) >= 3 and all(obs["mem_vis"][i].any() for i in heard)
    assert sum(i["memory_new_name"] for i in infos) == 3.0    # one bonus per object, not per step
    env.reset(seed=5)
    assert env.mask.sum() == 1 and not env.text.any()           # cleared on reset


def test_dcem_read_finds_the_instructed_object_from_the_first_step_of_training():
    """An untrained extractor already reads the right memory row and points at the right object: the
    language codes start orthogonal, and the pointers compare codes of one encoder."""
    th.manual_seed(0)
    env = make_env(TrainConfig(agent="dcem", split="heldout"))
    extractor = DCEMExtractor(env.observation_space)
    hits = 0
    for seed in range(8):
        obs, _ = scripted_discovery(env, seed)
        world = env.unwrapped
        with th.no_grad():
            features = extractor(batch_of(obs))
        assert features.shape == (1, extractor.features_dim)
        last = extractor.last
        top_row = int(last["read_rows"][0, last["read_weights"][0].argmax()])
        assert obs["mem_text"][top_row][3] == obs["instruction"][3]    # the row that heard the instructed name
        hits += int(last["pointer_a"][0].argmax()) == world.slot_of(world.target)
    assert hits >= 7


def test_dcem_extractor_handles_an_empty_memory_and_a_batch():
    env = make_env(TrainConfig(agent="dcem"))
    extractor = DCEMExtractor(env.observation_space)
    obs = {k: th.as_tensor(np.stack([v] * 5)) for k, v in env.observation_space.sample().items()}
    obs["mem_mask"][:] = 0
    out = extractor(obs)
    assert out.shape == (5, 128) and th.isfinite(out).all()
    out.sum().backward()
    assert extractor.vis[0].weight.grad is not None


def test_seek_names_term_in_the_stack_sums_to_the_reward_and_can_be_switched():
    config = TrainConfig(agent="dcem", reward="intrinsic", bonus=0.5, n_envs=2)
    venv, stack = make_venv(config)
    assert stack.names == ["success", "naming", "seek_names"]
    venv.reset()
    rng = np.random.default_rng(0)
    paid = 0.0
    for _ in range(150):
        _, rewards, _, infos = venv.step(rng.integers(0, 6, size=2))
        for r, info in zip(rewards, infos):
            assert r == pytest.approx(sum(info["reward_terms"].values()), abs=1e-6)
            assert info["reward_naming"] == 0.0            # the world's shaping is off in "intrinsic"
            paid += info["reward_seek_names"]
    assert paid > 0 and paid % 0.5 == pytest.approx(0.0, abs=1e-6)
    stack.update("seek_names", enabled=False)          # a live edit: the bonus stops on the next step
    for _ in range(100):
        _, _, _, infos = venv.step(rng.integers(0, 6, size=2))
        assert all(info["reward_seek_names"] == 0.0 for info in infos)
    venv.close()
    term = SeekNamesTerm()
    assert list(term.score(StepBatch(infos=[{"memory_new_name": 1.0}, {"memory_new_name": 0.0}]))) == [1.0, 0.0]
    with pytest.raises(KeyError, match="DualCodingMemory"):
        term.score(StepBatch(infos=[{}]))


def test_config_refuses_the_bonus_without_memory():
    with pytest.raises(ValueError, match="memory"):
        TrainConfig(agent="no_memory", reward="intrinsic")
    with pytest.raises(ValueError, match="agent"):
        TrainConfig(agent="gru")


@pytest.mark.parametrize("agent", ["dcem", "memoryless", "no_memory", "lstm", "oracle"])
def test_every_agent_trains_and_evaluates(agent):
    model, minutes = train(TrainConfig(agent=agent, steps=512, n_envs=2,
                                       ppo={"n_steps": 128, "batch_size": 128, "n_epochs": 1}))
    result = evaluate(model, agent, episodes=2)
    assert result.episodes == 2 and 0.0 <= result.success <= 1.0 and minutes > 0


def shipped(name: str) -> Path:
    path = ASSETS / name
    if not path.exists():
        pytest.skip(f"{path} not shipped; create it with python -m bench.fastmap --save-assets")
    return path


def test_shipped_memory_agent_beats_chance_and_the_no_memory_agent_does_not():
    from agents.memory.train import load

    memory = evaluate(load(shipped("fastmap_memory.zip"), "dcem"), "dcem", episodes=50, seed=777)
    no_memory = evaluate(load(shipped("fastmap_no_memory.zip"), "memoryless"), "memoryless", episodes=50, seed=777)
    assert memory.success >= 0.7, memory            # chance is 1/3 on held-out names
    assert no_memory.success <= 0.5, no_memory
    assert memory.success - no_memory.success >= 0.3


def test_memory_page_renders_both_agents():
    shipped("fastmap_memory.zip")
    at = AppTest.from_string("from studio.ui import memory_page\nmemory_page.render()", default_timeout=120)
    at.run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Memory agent"
    assert [s.value for s in at.subheader] == ["Memory agent", "No-memory agent"]
    assert len(at.get("imgs")) + len(at.get("image")) >= 2
    text = " ".join(m.value for m in at.markdown)
    assert "Instruction:" in text and "heard" in text
    at.slider(key=at.slider[0].key).set_value(3).run()
    assert not at.exception
