"""worlds.rendering.TiledRenderer: many environments' frames from one GL context equal one renderer each."""

import numpy as np
import pytest

import worlds
from bench.reward import push_envs, render_window
from worlds.rendering import TiledRenderer, get_profile


def _stepped_push_envs(n: int) -> list:
    envs = push_envs(n, first_seed=10)
    rng = np.random.default_rng(1)
    for env in envs:
        for _ in range(int(rng.integers(1, 8))):
            env.step(rng.uniform(-1, 1, 4))
    return envs


@pytest.mark.parametrize("count, size", [(5, 96), (3, 64)])
def test_tiles_match_one_renderer_per_env(count, size):
    envs = _stepped_push_envs(count)
    tiled = TiledRenderer(envs[0].unwrapped.model, get_profile("reward").sized(size, size), count)
    frames = tiled.render_envs(envs, "workspace")
    single = np.stack([e.unwrapped.render_camera("workspace", "reward", size, size) for e in envs])
    assert frames.shape == (count, size, size, 3) and frames.dtype == np.uint8
    # Same rasteriser, same scene: at most a grey level on a handful of pixels (seen: none at 96 px).
    assert np.abs(frames.astype(int) - single).max() <= 2
    assert (frames != single).mean() < 1e-3
    assert len({f.tobytes() for f in frames}) == count        # each tile is its own env, none repeated
    # Fewer states than tiles fill the first tiles only.
    assert np.array_equal(tiled.render_envs(envs[:2], "workspace"), frames[:2])
    tiled.close()
    tiled.close()
    for env in envs:
        env.close()


def test_each_env_keeps_its_own_colours():
    """The GL context comes from the first env's model, yet every env's geom colours are its own."""
    red, green = (worlds.make("studio/Push-v0", render_mode=None, camera="workspace", render_profile="reward",
                              colors=[c], pad_colors=["blue"]) for c in ("red", "green"))
    for env in (red, green):
        env.reset(seed=3)          # same scene, only the cube's colour differs
    tiled = TiledRenderer(red.unwrapped.model, "reward", 2)
    a, b = tiled.render_envs([red, green], "workspace")
    assert np.array_equal(a, red.unwrapped.render_camera("workspace", "reward"))
    assert np.array_equal(b, green.unwrapped.render_camera("workspace", "reward"))
    assert not np.array_equal(a, b)
    tiled.close()


def test_render_window_tiled_equals_untiled_across_an_episode_end():
    """bench.reward's window of steps: the tiled path renders the same frames from the same seeds, through
    the end of a push episode (100 steps): the last step's frame shows the last state, not the reset."""
    out, steps = [], 104
    for tiled in (False, True):
        envs = push_envs(2, first_seed=5)
        renderer = TiledRenderer(envs[0].unwrapped.model, get_profile("reward"), 2) if tiled else None
        frames = np.empty((2 * steps, 96, 96, 3), np.uint8)
        render_window(envs, np.random.default_rng(0), frames, 96, renderer)
        out.append(frames)
    assert np.abs(out[0].astype(int) - out[1]).max() <= 2
    last, first = out[1][2 * 99], out[1][2 * 100]         # env 0: step 100 ends the episode, step 101 restarts it
    assert np.abs(last.astype(int) - first).mean() > 0.5    # the terminal frame is not the new episode's


def test_bad_use_says_what_to_do():
    envs = push_envs(2)
    model = envs[0].unwrapped.model
    with pytest.raises(ValueError, match="count=0"):
        TiledRenderer(model, "reward", 0)
    tiled = TiledRenderer(model, "reward", 1)
    with pytest.raises(ValueError, match="2 states for a renderer of 1 tiles"):
        tiled.render_envs(envs, "workspace")
    with pytest.raises(ValueError, match="unknown camera 'nope'"):
        tiled.render_envs(envs[:1], "nope")
    other = worlds.make("studio/HumanoidPoses-v0", render_mode=None)
    other.reset(seed=0)
    with pytest.raises(ValueError, match="other meshes or textures"):
        tiled.render([(other.unwrapped.model, other.unwrapped.data)], 0)
    tiled.close()
    with pytest.raises(RuntimeError, match="closed"):
        tiled.render_envs(envs[:1], "workspace")
