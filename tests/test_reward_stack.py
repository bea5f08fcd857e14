"""Reward terms, the stack, both wrappers and the embedding store on the manipulation world.

The contract checked throughout: every term's weighted value is in ``info["reward_terms"]`` under the same
keys every step, and they sum to the reward the agent sees.
"""

import threading
import time

import numpy as np
import pytest
import torch
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv

import worlds
from agents.rewards import (ClipTerm, EmbeddingStore, PotentialShaping, RewardFrameWrapper, RewardStack,
                            RewardStackWrapper, StepBatch, VecRewardStack, WorldTerm)
from agents.rewards.terms import neg_object_goal_distance
from agents.scripted import ScriptedController
from agents.vlm.clip_reward import vlm_rm_reward
from agents.vlm.embedder import ClipEmbedder

GOAL = ["a red cube on the green pad", "the cube is on the target"]
BASE = ["a red cube on a table", "a table with a robot arm"]
EPISODE = 20  # short episodes keep the CLIP tests quick


@pytest.fixture(scope="module")
def embedder():
    torch.manual_seed(0)
    return ClipEmbedder("studio-clip-tiny", pretrained=None, device="cpu")


def make_env(max_steps: int | None = None):
    kwargs = {} if max_steps is None else {"max_episode_steps": max_steps}
    return worlds.make("studio/Push-v0", render_mode=None, **kwargs)


def full_stack(embedder, alpha=0.5):
    return RewardStack([(WorldTerm("push"), 1.0),
                        (WorldTerm("reach"), 0.5),
                        (PotentialShaping("neg_object_goal_distance", gamma=0.99), 2.0),
                        (ClipTerm(GOAL, BASE, embedder, alpha=alpha), 0.3),
                        (ClipTerm(GOAL, BASE, embedder, mode="success", name="clip_success"), 1.0, False)])


def check_contract(reward, info, names, tol=1e-9):
    assert list(info["reward_terms"]) == names
    assert sum(info["reward_terms"].values()) == pytest.approx(reward, abs=tol)
    for name in names:
        assert info[f"reward_{name}"] == info["reward_terms"][name]
    assert "reward_frame" not in info
    assert set(info["world_reward_terms"]) == {"reach", "push", "success"}
    assert info["world_reward"] == pytest.approx(sum(info["world_reward_terms"].values()))


# ------------------------------------------------------------------------------ single env
def test_world_terms_reproduce_the_world_reward():
    stack = RewardStack([WorldTerm("reach"), WorldTerm("push"), WorldTerm("success")])
    env = RewardStackWrapper(make_env(), stack)
    env.reset(seed=0)
    for _ in range(30):
        _, reward, _, _, info = env.step(env.action_space.sample())
        assert reward == pytest.approx(info["world_reward"], abs=1e-12)
        check_contract(reward, info, ["reach", "push", "success"])


def test_terms_sum_to_the_reward_with_fixed_keys_through_the_gym_wrapper(embedder):
    stack = full_stack(embedder)
    env = RewardStackWrapper(make_env(EPISODE), stack)
    assert env.camera == "workspace"
    _, info = env.reset(seed=1)
    names = stack.names
    assert list(info["reward_terms"]) == names and all(v == 0.0 for v in info["reward_terms"].values())
    truncated, steps = False, 0
    while not truncated:
        _, reward, _, truncated, info = env.step(env.action_space.sample())
        check_contract(reward, info, names)
        assert info["reward_clip_success"] == 0.0   # disabled: zero, key kept
        assert info["reward_clip"] != 0.0
        assert info["reward_version"] == 0
        steps += 1
    assert steps == EPISODE


def test_disabling_a_term_zeroes_it_but_keeps_its_key(embedder):
    stack = full_stack(embedder)
    env = RewardStackWrapper(make_env(), stack)
    env.reset(seed=2)
    _, _, _, _, before = env.step(env.action_space.sample())
    assert before["reward_push"] != 0.0
    version = stack.update("push", enabled=False)
    assert version == stack.version == 1
    _, reward, _, _, info = env.step(env.action_space.sample())
    check_contract(reward, info, stack.names)
    assert info["reward_push"] == 0.0 and info["world_reward_push"] != 0.0
    assert info["reward_version"] == 1
    stack.update("push", enabled=True, weight=2.0)
    _, reward, _, _, info = env.step(env.action_space.sample())
    assert info["reward_push"] == pytest.approx(2.0 * info["world_reward_push"])


@pytest.mark.parametrize("bad, match", [({"alpha": 2.0}, r"clip: alpha=2.0 is not a number in \[0, 1\]"),
                                        ({"weight": float("nan")}, "weight=nan is not a finite number"),
                                        ({"goal_prompts": GOAL, "baseline_prompts": BASE[:1]}, "equal length"),
                                        ({"baseline_prompts": GOAL}, "the prompts must differ"),
                                        ({"threshold": 1.0}, "threshold=1.0"),
                                        ({"gamma": 0.5}, r"no parameter\(s\) \['gamma'\]"),
                                        ({"enabled": "yes"}, "enabled='yes' must be True or False")])
def test_a_bad_update_raises_and_leaves_the_stack_as_it_was(embedder, bad, match):
    stack = full_stack(embedder)
    env = RewardStackWrapper(make_env(), stack)
    env.reset(seed=3)
    snapshot, version, term = stack.describe(), stack.version, stack["clip"]
    with pytest.raises(ValueError, match=match):
        stack.update("clip", **bad)
    assert stack.describe() == snapshot and stack.version == version and stack["clip"] is term
    _, reward, _, _, info = env.step(env.action_space.sample())  # the next step still works
    check_contract(reward, info, stack.names)


def test_live_parameter_edits_take_effect_on_the_next_step(embedder):
    stack = full_stack(embedder, alpha=0.0)
    old_term = stack["clip"]
    stack.update("clip", alpha=1.0, goal_prompts=["a cube on a pad"], baseline_prompts=["a cube"])
    assert stack["clip"].params["alpha"] == 1.0 and old_term.params["alpha"] == 0.0  # copy swapped in
    assert stack["clip"].params["goal_prompts"] == ["a cube on a pad"]
    with pytest.raises(KeyError, match=r"no term named 'nope'.*\['push', 'reach'"):
        stack.update("nope", weight=1.0)


def test_shaping_telescopes_over_an_episode_with_gamma_one():
    stack = RewardStack([(PotentialShaping("neg_object_goal_distance", gamma=1.0), 1.0)])
    env = RewardStackWrapper(make_env(), stack)
    controller = ScriptedController(env)  # pushes the object to the pad, so the potential really changes
    obs, _ = env.reset(seed=4)
    controller.reset()
    first, total, truncated = obs, 0.0, False
    while not truncated:
        obs, reward, _, truncated, info = env.step(controller(obs))
        total += info["reward_shaping"]
    phi = neg_object_goal_distance
    change = float(phi(obs[None])[0] - phi(first[None])[0])
    assert change > 0.05  # the object moved towards its pad
    assert total == pytest.approx(change, abs=1e-9)


def test_shaping_uses_zero_potential_at_terminal_states_only():
    term = PotentialShaping(lambda o: o[:, 0], gamma=0.9)
    obs, nxt = np.array([[1.0], [1.0]]), np.array([[2.0], [2.0]])
    out = term.score(StepBatch(obs=obs, next_obs=nxt, dones=np.array([False, True])))
    np.testing.assert_allclose(out, [0.9 * 2.0 - 1.0, -1.0])
    assert term.params["potential"] == "<lambda>"
    term.set_params(gamma=1.0)  # keeps the callable
    np.testing.assert_allclose(term.score(StepBatch(obs=obs, next_obs=nxt)), [1.0, 1.0])
    with pytest.raises(ValueError, match="potential='nope' is unknown; choose one of"):
        term.set_params(potential="nope")
    with pytest.raises(ValueError, match="expects the manipulation world's observations"):
        PotentialShaping("neg_tcp_object_distance").score(StepBatch(obs=obs, next_obs=nxt))


def test_world_term_error_lists_the_available_keys():
    with pytest.raises(KeyError, match=r"no 'reward_lift'; its terms are \['push', 'reach', 'success'\]"):
        WorldTerm("lift").score(StepBatch(infos=[{"reward_push": 1.0, "reward_reach": 0.0, "reward_success": 0.0,
                                                  "reward_terms": {}}]))


def test_stack_rejects_bad_names_and_missing_inputs(embedder):
    with pytest.raises(ValueError, match="already in the stack"):
        RewardStack([WorldTerm("push"), WorldTerm("push")])
    with pytest.raises(ValueError, match="lower_snake_case and not one of"):
        RewardStack([WorldTerm("push", name="version")])
    stack = RewardStack([ClipTerm(GOAL, BASE, embedder)])
    with pytest.raises(ValueError, match=r"terms \['clip'\] need \['embeddings'\]"):
        stack.score(StepBatch(infos=[{}]))
    other = ClipEmbedder("studio-clip-tiny")
    with pytest.raises(ValueError, match="different embedder"):
        stack.add(ClipTerm(GOAL, BASE, other, name="clip2"))


def test_stack_embeds_frames_once_for_all_clip_terms(embedder):
    calls = []

    class Counting:
        logit_scale = embedder.logit_scale

        def embed_texts(self, prompts):
            return embedder.embed_texts(prompts)

        def embed_images(self, frames):
            calls.append(len(frames))
            return embedder.embed_images(frames)

    counting = Counting()
    stack = RewardStack([ClipTerm(GOAL, BASE, counting, alpha=a, name=f"clip{i}") for i, a in enumerate([0, 0.5, 1])])
    frames = np.random.default_rng(0).integers(0, 256, size=(5, 64, 64, 3), dtype=np.uint8)
    batch = StepBatch(frames=frames)
    scores = stack.evaluate(batch)
    assert calls == [5] and batch.embeddings.shape == (5, 128)
    for i, alpha in enumerate([0, 0.5, 1]):
        expected = vlm_rm_reward(batch.embeddings, embedder.embed_texts(GOAL), embedder.embed_texts(BASE), alpha)
        np.testing.assert_allclose(scores.raw[f"clip{i}"], expected, atol=1e-5)
    np.testing.assert_allclose(scores.total, sum(scores.weighted.values()))


def test_concurrent_updates_never_mix_configurations(embedder):
    stack = RewardStack([(WorldTerm("push"), 1.0), (ClipTerm(GOAL, BASE, embedder), 1.0)])
    batch = StepBatch(infos=[{"reward_push": 1.0}] * 4, embeddings=embedder.embed_texts(GOAL * 2))
    stop, errors = threading.Event(), []

    def edit():
        k = 0
        while not stop.is_set():
            k += 1
            stack.update("push", weight=float(k))  # the weight always equals the version
            try:
                stack.update("clip", alpha=3.0)
            except ValueError:
                pass
    thread = threading.Thread(target=edit)
    thread.start()
    try:
        for _ in range(300):
            s = stack.evaluate(batch)
            # Each edit round bumps the version once, by the push update, so weight == version throughout.
            if s.version and not np.allclose(s.weighted["push"], s.version):
                errors.append((s.version, s.weighted["push"][0]))
    finally:
        stop.set()
        thread.join()
    assert not errors
    assert stack["clip"].params["alpha"] == 0.0


# ------------------------------------------------------------------------------ VecEnv
def vec_env(n_envs, seed):
    return make_vec_env(lambda: make_env(EPISODE), n_envs=n_envs, seed=seed, vec_env_cls=DummyVecEnv,
                        wrapper_class=RewardFrameWrapper)


def test_vec_wrapper_scores_across_auto_resets_like_the_single_env(embedder):
    """Two envs, two episodes each. Env 0's rewards equal a single-env run with the same seed and actions,
    terminal steps included: the terminal frame and observation are the finished episode's, not the reset's."""
    stack = full_stack(embedder)
    stack.update("clip_success", enabled=True)
    store = EmbeddingStore(capacity=1000, dim=embedder.embed_dim)
    venv = VecRewardStack(vec_env(2, seed=10), stack, store=store)
    single = RewardStackWrapper(make_env(EPISODE), stack)
    venv.reset()
    single.reset(seed=10)
    rng = np.random.default_rng(0)
    names, done_steps = stack.names, 0
    for step in range(2 * EPISODE):
        actions = rng.uniform(-1, 1, size=(2, 4)).astype(np.float32)
        _, rewards, dones, infos = venv.step(actions)
        _, r_single, _, truncated, info_single = single.step(actions[0])
        if truncated:
            single.reset()
        assert rewards.dtype == np.float32  # SB3's reward dtype: the sum holds to float32 precision
        for reward, info in zip(rewards, infos):
            check_contract(float(reward), info, names, tol=1e-6 * max(1.0, abs(float(reward))))
        np.testing.assert_allclose(rewards[0], r_single, rtol=1e-5, atol=1e-5)
        for name in names:
            assert infos[0][f"reward_{name}"] == pytest.approx(info_single[f"reward_{name}"], abs=1e-5)
        done_steps += int(dones.sum())
        assert all(info["TimeLimit.truncated"] for info, d in zip(infos, dones) if d)
    assert done_steps == 4
    assert len(store) == 2 * 2 * EPISODE
    np.testing.assert_array_equal(store.column("env")[:4], [0, 1, 0, 1])
    np.testing.assert_array_equal(store.column("step")[:4], [0, 1, 2, 3])
    np.testing.assert_allclose(store.rescore(stack["clip"]), store.column("reward_clip") / 0.3, atol=1e-5)
    venv.close()


def test_vec_wrapper_without_frames_needs_no_frame_wrapper():
    stack = RewardStack([WorldTerm("push"), PotentialShaping(gamma=1.0)])
    venv = VecRewardStack(make_vec_env(lambda: make_env(EPISODE), n_envs=2, seed=0), stack)
    first = venv.reset()
    phi = neg_object_goal_distance
    totals = np.zeros(2)
    for _ in range(EPISODE):
        _, rewards, dones, infos = venv.step(np.zeros((2, 4), dtype=np.float32))
        totals += [info["reward_shaping"] for info in infos]
    assert dones.all()
    last = np.stack([info["terminal_observation"] for info in infos])
    np.testing.assert_allclose(totals, phi(last) - phi(first), atol=1e-9)  # telescopes per env


def test_vec_wrapper_demands_the_frame_wrapper_when_frames_are_needed(embedder):
    stack = RewardStack([ClipTerm(GOAL, BASE, embedder)])
    with pytest.raises(ValueError, match="wrapper_class=RewardFrameWrapper"):
        VecRewardStack(make_vec_env(lambda: make_env(EPISODE), n_envs=1), stack)


# ------------------------------------------------------------------------------ embedding store
def test_store_rescore_equals_the_reference_formula_and_keeps_chronological_order(embedder):
    rng = np.random.default_rng(0)
    store = EmbeddingStore(capacity=50, dim=128)
    raw = rng.normal(size=(70, 128)).astype(np.float32)
    for start in range(0, 70, 7):  # wraps around the ring
        store.add(raw[start:start + 7], step=np.arange(start, start + 7), env=0)
    store.add(raw[:0])
    assert len(store) == 50 and store.total_added == 70
    np.testing.assert_array_equal(store.column("step"), np.arange(20, 70))
    term = ClipTerm(GOAL, BASE, embedder, alpha=0.4)
    reference = vlm_rm_reward(raw[20:], embedder.embed_texts(GOAL), embedder.embed_texts(BASE), 0.4)
    np.testing.assert_allclose(store.rescore(term), reference, atol=1e-5)
    reference_1 = vlm_rm_reward(raw[20:], embedder.embed_texts(GOAL), embedder.embed_texts(BASE), 1.0)
    np.testing.assert_allclose(store.rescore(term, alpha=1.0), reference_1, atol=1e-5)
    assert term.params["alpha"] == 0.4
    store.add(raw[:1], world_reward_push=0.5)  # a new column: earlier rows are NaN
    assert np.isnan(store.column("world_reward_push")[:-1]).all() and store.column("world_reward_push")[-1] == 0.5
    with pytest.raises(ValueError, match=r"this store holds \(n, 128\)"):
        store.add(np.zeros((1, 64)))


def test_store_rescoring_100k_steps_timing(embedder):
    store = EmbeddingStore(capacity=100_000, dim=128)
    store.add(np.random.default_rng(0).normal(size=(100_000, 128)).astype(np.float32))
    term = ClipTerm(GOAL, BASE, embedder, alpha=0.5)
    store.rescore(term)
    start = time.perf_counter()
    for _ in range(5):
        scores = store.rescore(term)
    elapsed = (time.perf_counter() - start) / 5
    print(f"\nre-scoring 100k x 128 embeddings: {elapsed * 1e3:.1f} ms")
    assert scores.shape == (100_000,)
    ref = vlm_rm_reward(store.embeddings()[:1000], embedder.embed_texts(GOAL), embedder.embed_texts(BASE), 0.5)
    np.testing.assert_allclose(scores[:1000], ref, atol=1e-5)


class Big:
    """An embedder whose input is 224 px (as ViT-B-32's), without ViT-B-32's cost on a 2-core CPU."""

    image_size = (224, 224)

    def __init__(self):
        self.inner = ClipEmbedder("studio-clip-tiny", pretrained=None, device="cpu")

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def embed_images(self, frames):
        assert frames.shape[1:3] == (224, 224)
        return self.inner.embed_images(frames)


class _SizeProbe(ClipTerm):
    """A CLIP term that records the shape of the frames it is given."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.shapes = []

    def score(self, batch):
        self.shapes.append(batch.frames.shape[1:])
        return super().score(batch)


def test_frames_are_rendered_at_the_embedders_input_size_not_upsampled():
    """A 224-px model (open_clip's ViT-B-32 layout at its real input size) gets 224-px renders from both
    wrappers; the studio CLIP keeps the reward profile's 96 px."""

    for embedder, px in ((Big(), 224), (ClipEmbedder("studio-clip-tiny", pretrained=None, device="cpu"), 96)):
        term = _SizeProbe(GOAL, BASE, embedder)
        venv = VecRewardStack(vec_env(2, seed=3), RewardStack([term], embedder=embedder))
        venv.reset()
        venv.step(np.zeros((2, 4), dtype=np.float32))
        single = RewardStackWrapper(make_env(EPISODE), RewardStack([term], embedder=embedder))
        single.reset(seed=3)
        single.step(np.zeros(4, dtype=np.float32))
        assert term.shapes == [(px, px, 3), (px, px, 3)]
        venv.close()
        single.close()


def test_a_clip_term_added_while_training_gets_frames_at_its_embedders_size():
    """The stack starts with no frames at all; a live edit adds a CLIP term whose model takes 224 px."""
    stack = RewardStack([WorldTerm("push")])
    venv = VecRewardStack(vec_env(2, seed=4), stack)
    venv.reset()
    venv.step(np.zeros((2, 4), dtype=np.float32))
    term = _SizeProbe(GOAL, BASE, Big())
    stack.add(term)
    venv.step(np.zeros((2, 4), dtype=np.float32))
    assert term.shapes == [(224, 224, 3)]
    venv.close()
