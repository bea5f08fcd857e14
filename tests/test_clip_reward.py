"""VLM-RM reward maths (agents/vlm/clip_reward.py): hand-computed values, the fast form, validation."""

import numpy as np
import pytest

from agents.vlm.clip_reward import (check_alpha, check_mode, check_prompts, check_threshold, fast_reward,
                                    goal_baseline, projection_reward, success_probability, success_reward,
                                    vlm_rm_reward)


def unit_rows(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


# ------------------------------------------------------------------------------ hand-computed examples
def test_alpha_zero_is_cosine_similarity_plus_a_constant_by_hand():
    # Two goal prompts (1,0,0) and (0,0,1): g = (0.5, 0, 0.5), ||g||^2 = 0.5, not renormalised.
    goal = np.array([[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]])
    base = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0]])
    images = np.array([[0.6, 0.8, 0.0],     # s.g = 0.3;  s - g = (0.1, 0.8, -0.5), ||.||^2 = 0.90 -> R = 0.55
                       [0.0, 0.0, 1.0],     # s.g = 0.5;  s - g = (-0.5, 0, 0.5),  ||.||^2 = 0.50 -> R = 0.75
                       [0.0, 3.0, 4.0]])    # normalised to (0, 0.6, 0.8): s.g = 0.4 -> R = 0.65
    expected = np.array([0.55, 0.75, 0.65])
    np.testing.assert_allclose(vlm_rm_reward(images, goal, base, alpha=0.0), expected, atol=1e-12)
    np.testing.assert_allclose(projection_reward(images, goal_baseline(goal, base), 0.0), expected, atol=1e-12)
    # The constant is 0.5 - 0.5 ||g||^2 = 0.25 for every image.
    s = unit_rows(images)
    np.testing.assert_allclose(expected - s @ np.array([0.5, 0.0, 0.5]), 0.25, atol=1e-12)


def test_alpha_zero_with_one_unit_prompt_is_exactly_cosine_similarity():
    goal, base = np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    s = np.array([[0.6, 0.8, 0.0]])
    assert vlm_rm_reward(s, goal, base, 0.0)[0] == pytest.approx(0.6)   # <g, s> = 0.6


def test_alpha_one_removes_components_orthogonal_to_the_goal_baseline_direction():
    goal, base = np.array([[1.0, 0.0, 0.0]]), np.array([[0.0, 1.0, 0.0]])
    # d = (1, -1, 0); both images are orthogonal to d but differ elsewhere: same reward.
    # u . d_hat = 0 - g . d_hat = -1/sqrt(2), so R = 1 - 0.5 * 0.5 = 0.75 for both.
    images = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0]])
    np.testing.assert_allclose(vlm_rm_reward(images, goal, base, 1.0), [0.75, 0.75], atol=1e-12)
    # In general the reward depends on s only through s . d_hat.
    rng = np.random.default_rng(0)
    goal, base = unit_rows(rng.normal(size=(2, 8))), unit_rows(rng.normal(size=(2, 8)))
    s = unit_rows(rng.normal(size=(5, 8)))
    d = goal.mean(0) - base.mean(0)
    d_hat = d / np.linalg.norm(d)
    expected = 1 - 0.5 * ((s - goal.mean(0)) @ d_hat) ** 2
    np.testing.assert_allclose(vlm_rm_reward(s, goal, base, 1.0), expected, atol=1e-12)


@pytest.mark.parametrize("alpha", [0.0, 0.2, 0.5, 0.9, 1.0])
def test_fast_form_equals_the_reference_matrix_form(alpha):
    rng = np.random.default_rng(int(alpha * 10))
    goal, base = unit_rows(rng.normal(size=(3, 32))), unit_rows(rng.normal(size=(3, 32)))
    images = rng.normal(size=(200, 32)).astype(np.float32) * 3.0  # unnormalised on purpose
    gb = goal_baseline(goal, base)
    reference = vlm_rm_reward(images, goal, base, alpha)
    assert np.allclose(projection_reward(images, gb, alpha), reference, atol=1e-5)
    assert np.allclose(projection_reward(unit_rows(images), gb, alpha, normalized=True), reference, atol=1e-5)
    assert np.allclose(fast_reward(images, goal, base, alpha), reference, atol=1e-5)
    assert np.all(reference <= 1.0)


def test_success_classifier_is_a_two_way_softmax_over_normalised_captions():
    rng = np.random.default_rng(1)
    goal, base = unit_rows(rng.normal(size=(2, 16))), unit_rows(rng.normal(size=(2, 16)))
    images = unit_rows(rng.normal(size=(50, 16)))
    g_n, b_n = unit_rows(goal.mean(0, keepdims=True))[0], unit_rows(base.mean(0, keepdims=True))[0]
    logits = 100.0 * np.stack([images @ g_n, images @ b_n], axis=1)
    softmax = np.exp(logits - logits.max(1, keepdims=True))
    softmax /= softmax.sum(1, keepdims=True)
    gb = goal_baseline(goal, base)
    p = success_probability(images, gb, logit_scale=100.0)
    np.testing.assert_allclose(p, softmax[:, 0], atol=1e-6)
    sparse = success_reward(images, gb, 100.0, threshold=0.7)
    assert set(np.unique(sparse)) <= {0.0, 1.0}
    np.testing.assert_array_equal(sparse, (p > 0.7).astype(float))
    # Huge logits do not overflow.
    assert np.all(np.isfinite(success_probability(images, gb, logit_scale=1e6)))


# ------------------------------------------------------------------------------ validation
def test_prompt_lists_of_unequal_length_are_rejected():
    with pytest.raises(ValueError, match="goal_prompts has 2 prompts but baseline_prompts has 1.*equal length"):
        check_prompts(["a", "b"], ["c"])


@pytest.mark.parametrize("goal, baseline, field", [([], ["a table"], "goal_prompts is empty"),
                                                   (["a cube"], [], "baseline_prompts is empty"),
                                                   (["a cube", "  "], ["x", "y"], r"goal_prompts\[1\] = '  '"),
                                                   (["a cube"], [""], r"baseline_prompts\[0\] = ''")])
def test_empty_lists_and_blank_prompts_are_rejected(goal, baseline, field):
    with pytest.raises(ValueError, match=field):
        check_prompts(goal, baseline)


def test_identical_goal_and_baseline_are_rejected_as_text_and_as_embeddings():
    with pytest.raises(ValueError, match="the prompts must differ"):
        check_prompts(["a cube on the pad"], ["a cube on the pad"])
    e = unit_rows(np.ones((1, 4)))
    with pytest.raises(ValueError, match="the prompts must differ"):
        goal_baseline(e, e.copy())
    with pytest.raises(ValueError, match="the prompts must differ"):
        vlm_rm_reward(e, e, e, 0.5)


def test_a_bare_string_is_one_prompt():
    assert check_prompts("a cube on the pad", "a cube") == (("a cube on the pad",), ("a cube",))


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "0.5", True, None])
def test_alpha_outside_unit_interval_or_nan_is_rejected(alpha):
    with pytest.raises(ValueError, match=r"alpha=.* is not a number in \[0, 1\]"):
        check_alpha(alpha)
    goal, base = np.eye(3)[:1], np.eye(3)[1:2]
    with pytest.raises(ValueError, match="alpha="):
        projection_reward(np.eye(3), goal_baseline(goal, base), alpha)


@pytest.mark.parametrize("threshold", [0.0, 1.0, -1, 2, float("nan")])
def test_threshold_must_be_strictly_between_zero_and_one(threshold):
    with pytest.raises(ValueError, match="threshold=.*strictly between 0 and 1"):
        check_threshold(threshold)
    assert check_threshold(0.5) == 0.5


def test_unknown_mode_and_shape_errors_name_the_fix():
    with pytest.raises(ValueError, match="mode='dense' is unknown; choose 'projection'"):
        check_mode("dense")
    gb = goal_baseline(np.eye(4)[:1], np.eye(4)[1:2])
    with pytest.raises(ValueError, match=r"expected \(N, 4\)"):
        projection_reward(np.ones((2, 5)), gb, 0.0)
    with pytest.raises(ValueError, match="equally many goal and baseline"):
        goal_baseline(np.eye(4)[:2], np.eye(4)[2:3])
