"""The manipulation world's hot paths, rewritten for speed, equal the plain formulas they replace bit for bit."""

import numpy as np

import worlds
from agents.scripted import ScriptedController
from worlds.manipulation import DOWN, orientation_error


def _rotation(rng) -> np.ndarray:
    q, r = np.linalg.qr(rng.normal(size=(3, 3)))
    return q * np.sign(np.diag(r))


def test_orientation_error_equals_the_cross_product_sum_bit_for_bit():
    rng = np.random.default_rng(0)
    rots = [_rotation(rng) for _ in range(500)] + [DOWN, np.eye(3)]
    for rot in rots:
        plain = 0.5 * sum(np.cross(rot[:, k], DOWN[:, k]) for k in range(3))
        assert np.array_equal(orientation_error(rot), plain)
    assert np.array_equal(orientation_error(DOWN), np.zeros(3))        # pointing down: no error


def _grasped_by_loop(env, i: int = 0) -> bool:
    """The contact loop is_grasped used to run: both finger geoms touch object ``i``."""
    touching = set()
    geoms = set(env._obj_geoms[i].values())
    for c in env.data.contact[: env.data.ncon]:
        pair = {c.geom1, c.geom2}
        if pair & geoms:
            touching |= pair & env._finger_geoms
    return len(touching) == 2


def test_is_grasped_agrees_with_the_contact_loop_through_scripted_pick_and_place():
    env = worlds.make("studio/PickPlace-v0", render_mode=None)
    seen = []
    for seed in range(3):
        obs, _ = env.reset(seed=seed)
        controller = ScriptedController(env)
        done = False
        while not done:
            obs, _, terminated, truncated, _ = env.step(controller(obs))
            done = terminated or truncated
            fast, loop = env.unwrapped.is_grasped(0), _grasped_by_loop(env.unwrapped)
            assert fast == loop
            seen.append(fast)
    assert any(seen) and not all(seen)      # the episodes both hold and release the object
