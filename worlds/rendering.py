"""Render profiles and a small offscreen renderer that applies them.

Software rendering (Mesa llvmpipe) spends almost all its time on shadow maps and multisampling, so each use
picks a profile instead of one global setting:

=========  ======  ========  ===========  ===========  ==============================================
profile    size    shadows   multisample  reflections  for
=========  ======  ========  ===========  ===========  ==============================================
reward     96x96   off       off          off          CLIP rewards and pixel observations: fast
viewer     480x480 on        4x           on           people, the studio's live view and videos
default    (any)   model's   model's      model's      MuJoCo's own settings: the benchmark baseline
=========  ======  ========  ===========  ===========  ==============================================

The ``reward`` profile also tessellates spheres, capsules and cylinders coarsely (8 slices, 4 stacks instead
of MuJoCo's 28 and 16): at 64 px the difference is invisible and it more than doubles software frame rates.

MuJoCo reads ``shadowsize`` and ``offsamples`` when the GL context is created, so :class:`ProfileRenderer`
sets them on the model just for the creation of its context and restores them afterwards: one model can
serve a fast reward renderer and a pretty viewer renderer at the same time.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from worlds import gl  # noqa: F401  (must precede the mujoco import)

import mujoco
import numpy as np


@dataclass(frozen=True)
class RenderProfile:
    """How frames are rendered for one use.

    Attributes:
        name: the profile's name, as passed to ``render_profile=``.
        width: image width in pixels.
        height: image height in pixels.
        shadows: draw shadow maps (costly in software GL).
        multisample: multisampling (anti-aliasing) samples, 0 to turn it off.
        reflections: draw reflective floors (a second render pass).
        skybox: draw the skybox texture.
        keep_model_visuals: use the model's own visual settings untouched (the ``default`` baseline).
        slices: tessellation of round primitives (slices, stacks); ``None`` keeps the model's.
    """

    name: str
    width: int
    height: int
    shadows: bool = True
    multisample: int = 4
    reflections: bool = True
    skybox: bool = True
    keep_model_visuals: bool = False
    slices: tuple[int, int] | None = None

    def sized(self, width: int | None = None, height: int | None = None) -> "RenderProfile":
        """The same profile at another size (``None`` keeps the current one)."""
        w = self.width if width is None else int(width)
        h = self.height if height is None else int(height)
        if w <= 0 or h <= 0:
            raise ValueError(f"render size {w}x{h} is not positive; pass width and height of at least 1 pixel")
        return replace(self, width=w, height=h)


PROFILES: dict[str, RenderProfile] = {
    "reward": RenderProfile("reward", 96, 96, shadows=False, multisample=0, reflections=False, skybox=True,
                            slices=(8, 4)),
    "viewer": RenderProfile("viewer", 480, 480, shadows=True, multisample=4, reflections=True, skybox=True),
    "default": RenderProfile("default", 480, 480, keep_model_visuals=True),
}


def get_profile(profile: str | RenderProfile) -> RenderProfile:
    """Return a profile by name, or the profile itself; an unknown name lists the valid ones."""
    if isinstance(profile, RenderProfile):
        return profile
    if profile not in PROFILES:
        raise ValueError(f"unknown render profile {profile!r}; choose one of {sorted(PROFILES)}")
    return PROFILES[profile]


class ProfileRenderer:
    """An offscreen ``mujoco.Renderer`` built for one :class:`RenderProfile`.

    ``render(data, camera)`` returns a fresh ``uint8`` array of shape ``(height, width, 3)``.
    """

    def __init__(self, model: mujoco.MjModel, profile: str | RenderProfile):
        self.profile = get_profile(profile)
        self.model = model
        quality, glob = model.vis.quality, model.vis.global_
        saved = (quality.shadowsize, quality.offsamples, quality.numslices, quality.numstacks,
                 glob.offwidth, glob.offheight)
        try:
            if not self.profile.keep_model_visuals:
                quality.shadowsize = 2048 if self.profile.shadows else 0
                quality.offsamples = self.profile.multisample
                if self.profile.slices is not None:
                    quality.numslices, quality.numstacks = self.profile.slices
            # The offscreen buffer only needs to hold this profile's frames; a smaller one is cheaper.
            glob.offwidth = max(self.profile.width, 1)
            glob.offheight = max(self.profile.height, 1)
            self._renderer = mujoco.Renderer(model, height=self.profile.height, width=self.profile.width)
        finally:
            (quality.shadowsize, quality.offsamples, quality.numslices, quality.numstacks,
             glob.offwidth, glob.offheight) = saved
        if not self.profile.keep_model_visuals:
            flags = self._renderer.scene.flags
            flags[mujoco.mjtRndFlag.mjRND_SHADOW] = self.profile.shadows
            flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = self.profile.reflections
            flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = self.profile.skybox

    def render(self, data: mujoco.MjData, camera: int | str) -> np.ndarray:
        """Render ``data`` from ``camera`` (name or id) to a new uint8 HxWx3 array."""
        self._renderer.update_scene(data, camera=camera)
        return self._renderer.render()

    def close(self) -> None:
        """Free the GL context (safe to call twice)."""
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            renderer.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the GL library may already be gone
            pass
