"""The base every studio world builds on: a MuJoCo model, a control step, named cameras and render profiles.

Subclasses build the model, then implement ``_reset_task``, ``_observation`` and ``_evaluate``. The base class
keeps the Gymnasium contract the studio relies on:

* ``render()`` returns ``uint8`` ``(H, W, 3)`` from the camera and profile chosen at construction;
  :meth:`StudioEnv.render_camera` renders any named camera under any profile on demand.
* ``info`` carries ``is_success`` (bool), ``reward_terms`` (a dict with the same keys every step whose values
  sum to the reward) and each term again as ``reward_<term>`` so flat loggers (SB3, Minari) keep them.
"""

from __future__ import annotations

from typing import Any

from worlds import gl  # noqa: F401  (must precede the mujoco import)

import gymnasium as gym
import mujoco
import numpy as np

from worlds.rendering import PROFILES, ProfileRenderer, RenderProfile, get_profile


def check_choice(kind: str, value: Any, allowed: list | tuple) -> None:
    """Raise ``ValueError`` naming ``value`` and the allowed values when ``value`` is not among them."""
    if value not in allowed:
        raise ValueError(f"unknown {kind} {value!r}; choose one of {list(allowed)}")


class StudioEnv(gym.Env):
    """A MuJoCo world with named cameras and per-use render profiles (see module docstring)."""

    metadata = {"render_modes": ["rgb_array"], "render_fps": 25}

    def __init__(self, model: mujoco.MjModel, *, frame_skip: int, camera: str, render_profile: str,
                 width: int | None, height: int | None, render_mode: str | None):
        if render_mode not in (None, "rgb_array"):
            raise ValueError(f"unknown render_mode {render_mode!r}; choose 'rgb_array' or None")
        self.model = model
        self.data = mujoco.MjData(model)
        self.frame_skip = int(frame_skip)
        self.dt = self.model.opt.timestep * self.frame_skip
        self.metadata = {**self.metadata, "render_fps": int(round(1.0 / self.dt))}
        self.render_mode = render_mode
        check_choice("camera", camera, self.camera_names)
        self.camera = camera
        self.profile = get_profile(render_profile).sized(width, height)
        self._renderers: dict[RenderProfile, ProfileRenderer] = {}

    # ---------------------------------------------------------------- cameras and rendering
    @property
    def camera_names(self) -> list[str]:
        """Names of the model's cameras, in model order."""
        return [mujoco.mj_id2name(self.model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(self.model.ncam)]

    def render(self) -> np.ndarray | None:
        """The current frame from the env's camera under its profile (``None`` when render_mode is None)."""
        if self.render_mode is None:
            return None
        return self.render_camera(self.camera, self.profile)

    def render_camera(self, camera: str | None = None, profile: str | RenderProfile | None = None,
                      width: int | None = None, height: int | None = None) -> np.ndarray:
        """Render ``camera`` (default: the env's) under ``profile`` (default: the env's), optionally resized."""
        camera = self.camera if camera is None else camera
        check_choice("camera", camera, self.camera_names)
        prof = self.profile if profile is None else get_profile(profile)
        if profile is not None and width is None and height is None and prof.name == self.profile.name:
            prof = self.profile
        prof = prof.sized(width, height)
        renderer = self._renderers.get(prof)
        if renderer is None:
            renderer = self._renderers[prof] = ProfileRenderer(self.model, prof)
        return renderer.render(self.render_state()[1], camera)

    def render_state(self) -> tuple[mujoco.MjModel, mujoco.MjData]:
        """The model and data a renderer draws, brought up to date: worlds that keep drawn state outside
        ``MjData`` (the collab table's drawn arms, the naming room's object slots) sync it here."""
        return self.model, self.data

    def close(self) -> None:
        for renderer in self._renderers.values():
            renderer.close()
        self._renderers.clear()

    # ---------------------------------------------------------------- physics
    def _step_physics(self) -> None:
        mujoco.mj_step(self.model, self.data, nstep=self.frame_skip)

    @staticmethod
    def terms_info(terms: dict[str, float], success: bool) -> dict[str, Any]:
        """The info entries every studio world returns: ``is_success``, ``reward_terms``, ``reward_<term>``."""
        info: dict[str, Any] = {"is_success": bool(success), "reward_terms": dict(terms)}
        for name, value in terms.items():
            info[f"reward_{name}"] = float(value)
        return info


__all__ = ["StudioEnv", "check_choice", "PROFILES"]
