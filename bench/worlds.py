"""Physics and rendering throughput of the manipulation world.

``python -m bench.worlds [--quick]`` measures, in one run:

* physics: raw ``mj_step`` steps/s and ``env.step`` control steps/s (20 physics steps each, with the IK);
* rendering: frames/s for the ``reward`` and ``viewer`` profiles at 64, 128 and 224 px, each beside the same
  scene and camera under MuJoCo's default visual settings (the model's own shadows and 4x multisampling).

Headline keys: ``physics_steps_per_s``, ``env_steps_per_s``, ``render_fps_reward_64``,
``render_speedup_vs_default_64``.
"""

from __future__ import annotations

from worlds import gl  # noqa: F401

import mujoco
import numpy as np

import worlds
from bench.common import finish, parser, rate
from worlds.rendering import ProfileRenderer, get_profile

SIZES = (64, 128, 224)


def main(argv=None) -> dict:
    args = parser(__doc__.splitlines()[0]).parse_args(argv)
    seconds = 1.0 if args.quick else 4.0
    env = worlds.make("studio/Push-v0", render_mode=None, n_objects=3)
    env.reset(seed=0)
    u = env.unwrapped
    model, data = u.model, u.data

    physics = rate(lambda: mujoco.mj_step(model, data, nstep=100), seconds) * 100
    rng = np.random.default_rng(0)

    def env_step():
        _, _, term, trunc, _ = env.step(rng.uniform(-1, 1, 4))
        if term or trunc:
            env.reset()
    env_steps = rate(env_step, seconds)

    render = {}
    for size in SIZES:
        for name in ("reward", "viewer", "default"):
            renderer = ProfileRenderer(model, get_profile(name).sized(size, size))
            # Frames this slow still need a few calls to be measured; don't spend minutes on them.
            render[f"{name}_{size}"] = rate(lambda: renderer.render(data, "front"), seconds / 2, min_calls=3)
            renderer.close()
    env.close()

    headline = {
        "physics_steps_per_s": round(physics),
        "env_steps_per_s": round(env_steps),
        "render_fps_reward_64": round(render["reward_64"], 1),
        "render_fps_default_64": round(render["default_64"], 1),
        "render_speedup_vs_default_64": round(render["reward_64"] / render["default_64"], 1),
        "render_fps_viewer_224": round(render["viewer_224"], 1),
        "quick": args.quick,
    }
    details = {"render_fps": {k: round(v, 1) for k, v in render.items()},
               "speedup_vs_default": {f"{p}_{s}": round(render[f"{p}_{s}"] / render[f"default_{s}"], 2)
                                      for p in ("reward", "viewer") for s in SIZES},
               "scene": "studio/Push-v0 with 3 objects, camera 'front'"}
    finish("worlds", details, headline, args.out)
    return headline


if __name__ == "__main__":
    main()
