"""EPIC distance: invariances (scale, shaping, constants), unrelated and opposite rewards, and the live stack."""

import numpy as np
import pytest

from agents.epic import UNRELATED, canonicalize, epic, epic_distance, pearson_distance
from agents.live_reward import TransitionLog, stack_epic
from agents.reward_factory import apply_terms, build_stack

S, A, GAMMA = 40, 5, 0.9


@pytest.fixture
def mdp():
    """A random tabular reward R[s, a, s'] and coverage transitions / samples as index keys."""
    rng = np.random.default_rng(0)
    reward = rng.normal(size=(S, A, S))
    cover = (rng.integers(0, S, 2000), rng.integers(0, A, 2000), rng.integers(0, S, 2000))
    samples = (rng.integers(0, S, 200), rng.integers(0, A, 200))
    return rng, reward, cover, samples


def table(r):
    return lambda s, a, s2: r[s, a, s2]


def distance(r1, r2, cover, samples):
    return epic_distance(table(r1), table(r2), *cover, *samples, GAMMA)


def test_positive_scaling_gives_exactly_zero(mdp):
    _, reward, cover, samples = mdp
    assert distance(reward, 3.7 * reward, cover, samples) == pytest.approx(0.0, abs=1e-9)
    assert distance(reward, 1e-3 * reward + 5.0, cover, samples) == pytest.approx(0.0, abs=1e-9)


def test_potential_shaping_reads_zero(mdp):
    rng, reward, cover, samples = mdp
    phi = rng.normal(scale=10.0, size=S)  # shaping much larger than the reward itself
    shaped = reward + GAMMA * phi[None, None, :] - phi[:, None, None]
    assert distance(reward, shaped, cover, samples) == pytest.approx(0.0, abs=1e-9)
    assert distance(reward, 2.0 * shaped + 1.0, cover, samples) == pytest.approx(0.0, abs=1e-9)
    # ... and pure shaping canonicalises to (numerically) nothing
    pure = np.broadcast_to(GAMMA * phi[None, None, :] - phi[:, None, None], (S, A, S))
    canon = canonicalize(table(pure), *cover, *samples, GAMMA)
    assert np.max(np.abs(canon)) < 1e-9


def test_unrelated_rewards_read_one_over_root_two_and_opposite_reads_one(mdp):
    rng, reward, cover, samples = mdp
    other = rng.normal(size=reward.shape)
    assert distance(reward, other, cover, samples) == pytest.approx(UNRELATED, abs=0.05)
    assert distance(reward, -reward, cover, samples) == pytest.approx(1.0, abs=1e-9)
    result = epic(table(reward), table(0.5 * reward + 0.5 * other), *cover, *samples, GAMMA)
    assert 0.05 < result.distance < UNRELATED and result.n == 2000 and result.m == 200


def test_pearson_distance_conventions():
    x = np.arange(10.0)
    assert pearson_distance(x, 2 * x + 1) == pytest.approx(0.0, abs=1e-12)
    assert pearson_distance(np.ones(10), np.full(10, 3.0)) == 0.0
    assert pearson_distance(np.ones(10), x) == pytest.approx(UNRELATED)
    with pytest.raises(ValueError, match="equal length"):
        pearson_distance(x, x[:5])


def test_bad_inputs_are_explained(mdp):
    _, reward, cover, samples = mdp
    with pytest.raises(ValueError, match="gamma"):
        canonicalize(table(reward), *cover, *samples, 1.5)
    with pytest.raises(ValueError, match="shape"):
        canonicalize(lambda s, a, s2: np.zeros(3), *cover, *samples, GAMMA)


def _logged(n=600, seed=0):
    """A transition log of fake manipulation-world steps (reach and success terms)."""
    rng = np.random.default_rng(seed)
    log = TransitionLog(1024, 20, ["reach", "success"])
    for _ in range(n // 4):
        obs, nxt = rng.normal(size=(4, 20)), rng.normal(size=(4, 20))
        infos = [{"world_reward_terms": {"reach": float(rng.uniform()), "success": float(rng.uniform() > 0.9)},
                  "is_success": False} for _ in range(4)]
        log.add(obs, nxt, infos, np.zeros(4, bool), np.zeros(4), 0, 0)
    return log


def test_stack_epic_sees_through_shaping_and_scaling_but_not_new_goals():
    log = _logged()
    terms = [{"kind": "world", "key": "reach"}, {"kind": "world", "key": "success"}]
    stack = build_stack(terms)
    v0 = stack.state
    apply_terms(stack, terms + [{"kind": "shaping", "potential": "neg_tcp_object_distance", "gamma": 0.99,
                                 "weight": 5.0}])
    assert stack_epic(stack, v0, stack.state, log, 0.99).distance == pytest.approx(0.0, abs=1e-6)
    v1 = stack.state
    apply_terms(stack, [dict(t, weight=4.0) for t in terms])
    assert stack_epic(stack, v0, stack.state, log, 0.99).distance == pytest.approx(0.0, abs=1e-9)
    apply_terms(stack, [terms[1]])
    assert stack_epic(stack, v1, stack.state, log, 0.99).distance > 0.3
