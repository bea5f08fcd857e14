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

from contextlib import contextmanager
from dataclasses import dataclass, replace
from math import ceil, sqrt
from typing import Sequence

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


@contextmanager
def _profile_visuals(model: mujoco.MjModel, profile: RenderProfile, width: int, height: int):
    """Set ``model``'s context-creation visuals (shadow map, samples, tessellation, offscreen size) for
    ``profile`` inside the block, then restore them: MuJoCo reads them only when a GL context is made."""
    quality, glob = model.vis.quality, model.vis.global_
    saved = (quality.shadowsize, quality.offsamples, quality.numslices, quality.numstacks,
             glob.offwidth, glob.offheight)
    try:
        if not profile.keep_model_visuals:
            quality.shadowsize = 2048 if profile.shadows else 0
            quality.offsamples = profile.multisample
            if profile.slices is not None:
                quality.numslices, quality.numstacks = profile.slices
        # The offscreen buffer only needs to hold this renderer's frames; a smaller one is cheaper.
        glob.offwidth, glob.offheight = max(width, 1), max(height, 1)
        yield
    finally:
        (quality.shadowsize, quality.offsamples, quality.numslices, quality.numstacks,
         glob.offwidth, glob.offheight) = saved


def _apply_flags(scene: mujoco.MjvScene, profile: RenderProfile) -> None:
    if not profile.keep_model_visuals:
        scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = profile.shadows
        scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = profile.reflections
        scene.flags[mujoco.mjtRndFlag.mjRND_SKYBOX] = profile.skybox


class _FreedOnCollection:
    """Frees its GL context (``close``) when garbage-collected, if not closed before."""

    def close(self) -> None:
        raise NotImplementedError

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:  # interpreter shutdown: the GL library may already be gone
            pass


class ProfileRenderer(_FreedOnCollection):
    """An offscreen ``mujoco.Renderer`` built for one :class:`RenderProfile`.

    ``render(data, camera)`` returns a fresh ``uint8`` array of shape ``(height, width, 3)``.
    """

    def __init__(self, model: mujoco.MjModel, profile: str | RenderProfile):
        self.profile = get_profile(profile)
        self.model = model
        with _profile_visuals(model, self.profile, self.profile.width, self.profile.height):
            self._renderer = mujoco.Renderer(model, height=self.profile.height, width=self.profile.width)
        _apply_flags(self._renderer.scene, self.profile)

    def render(self, data: mujoco.MjData, camera: int | str) -> np.ndarray:
        """Render ``data`` from ``camera`` (name or id) to a new uint8 HxWx3 array."""
        self._renderer.update_scene(data, camera=camera)
        return self._renderer.render()

    def close(self) -> None:
        """Free the GL context (safe to call twice)."""
        renderer, self._renderer = getattr(self, "_renderer", None), None
        if renderer is not None:
            renderer.close()


class TiledRenderer(_FreedOnCollection):
    """Frames of many copies of one scene, drawn in one GL context and read back in one call.

    ``TiledRenderer(model, profile, count)`` lays ``count`` tiles of the profile's size on a grid in one
    offscreen buffer. :meth:`render` draws each ``(model, data)`` state from ``camera`` into its tile and reads
    the whole buffer back once, returning ``(count, height, width, 3)`` uint8 frames: the same pixels one
    :class:`ProfileRenderer` per state would give (tested), for one GL context and one read-back instead of
    ``count`` of each. On a GPU the read-back is a pipeline stall and every context a time slice, so this is
    how a process renders many environments cheaply (``bench.reward_gpu``).

    The states may come from different ``MjModel`` objects (colours, sizes and poses are read from each), but
    the GL context holds the meshes and textures of the model it was built with, so every model must have the
    same assets; a model with other counts of meshes, textures, height fields or skins raises ``ValueError``.
    """

    def __init__(self, model: mujoco.MjModel, profile: str | RenderProfile, count: int):
        if int(count) < 1:
            raise ValueError(f"count={count!r}: a tiled renderer needs at least 1 tile")
        self.profile = get_profile(profile)
        self.model = model
        self.count = int(count)
        self.cols = ceil(sqrt(self.count))
        self.rows = ceil(self.count / self.cols)
        w, h = self.profile.width, self.profile.height
        self._full = mujoco.MjrRect(0, 0, self.cols * w, self.rows * h)
        # Tile i sits in row i // cols counted from the top of the returned image; GL counts rows from the
        # bottom, hence the flip in y.
        self._tiles = [mujoco.MjrRect((i % self.cols) * w, (self.rows - 1 - i // self.cols) * h, w, h)
                       for i in range(self.count)]
        self._gl = self._con = None
        with _profile_visuals(model, self.profile, self._full.width, self._full.height):
            self._gl = mujoco.GLContext(self._full.width, self._full.height)
            self._gl.make_current()
            self._con = mujoco.MjrContext(model, mujoco.mjtFontScale.mjFONTSCALE_150)
        mujoco.mjr_setBuffer(mujoco.mjtFramebuffer.mjFB_OFFSCREEN, self._con)
        if self._con.offWidth < self._full.width or self._con.offHeight < self._full.height:
            size = f"{self._full.width}x{self._full.height}"
            self.close()
            raise ValueError(f"{self.count} tiles of {w}x{h} px need a {size} buffer, more than this GL "
                             f"allows; use fewer tiles per renderer or smaller frames")
        self._scene = mujoco.MjvScene(model, maxgeom=10000)
        _apply_flags(self._scene, self.profile)
        self._option = mujoco.MjvOption()
        self._camera = mujoco.MjvCamera()
        self._camera.type = mujoco.mjtCamera.mjCAMERA_FIXED
        self._buffer = np.empty((self._full.height, self._full.width, 3), np.uint8)
        self._assets = self._asset_counts(model)

    @staticmethod
    def _asset_counts(model: mujoco.MjModel) -> tuple[int, ...]:
        return (model.nmesh, model.nmeshvert, model.ntex, model.ntexdata, model.nhfield, model.nskin)

    def render(self, states: Sequence[tuple[mujoco.MjModel, mujoco.MjData]], camera: int | str,
               out: np.ndarray | None = None) -> np.ndarray:
        """Draw each ``(model, data)`` of ``states`` (at most ``count``) from ``camera`` (name or id); returns
        ``(len(states), height, width, 3)`` uint8, written into ``out`` when given."""
        if self._con is None:
            raise RuntimeError("this TiledRenderer is closed; make a new one")
        if not 1 <= len(states) <= self.count:
            raise ValueError(f"{len(states)} states for a renderer of {self.count} tiles; pass 1 to {self.count}")
        cam = mujoco.mj_name2id(self.model, mujoco.mjtObj.mjOBJ_CAMERA, camera) if isinstance(camera, str) else camera
        if not 0 <= cam < self.model.ncam:
            raise ValueError(f"unknown camera {camera!r}; the model has {self.model.ncam} cameras")
        self._camera.fixedcamid = cam
        self._gl.make_current()
        for (model, data), tile in zip(states, self._tiles):
            if model is not self.model and self._asset_counts(model) != self._assets:
                raise ValueError("a state's model has other meshes or textures than the renderer's; make one "
                                 "TiledRenderer per scene (same XML and assets)")
            mujoco.mjv_updateScene(model, data, self._option, None, self._camera, mujoco.mjtCatBit.mjCAT_ALL,
                                   self._scene)
            mujoco.mjr_render(tile, self._scene, self._con)
        mujoco.mjr_readPixels(self._buffer, None, self._full, self._con)
        w, h = self.profile.width, self.profile.height
        n = len(states)
        if out is None:
            out = np.empty((n, h, w, 3), np.uint8)
        grid = self._buffer[::-1].reshape(self.rows, h, self.cols, w, 3)   # the flip: GL rows are bottom-up
        for i in range(n):
            out[i] = grid[i // self.cols, :, i % self.cols]
        return out

    def render_envs(self, envs: Sequence, camera: str | None = None, out: np.ndarray | None = None) -> np.ndarray:
        """:meth:`render` for studio environments (wrapped or not), from ``camera`` (default: the first env's);
        each env syncs any drawn state kept outside ``MjData`` first (``render_state``)."""
        envs = [getattr(e, "unwrapped", e) for e in envs]
        return self.render([e.render_state() for e in envs], envs[0].camera if camera is None else camera, out)

    def close(self) -> None:
        """Free the GL context (safe to call twice)."""
        con, self._con = getattr(self, "_con", None), None
        gl, self._gl = getattr(self, "_gl", None), None
        if gl is not None:
            gl.make_current()
            if con is not None:
                con.free()
            gl.free()
