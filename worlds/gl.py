"""Pick MuJoCo's OpenGL backend before ``mujoco`` is first imported.

MuJoCo reads ``MUJOCO_GL`` once, when ``mujoco`` is imported, so this module must run first: every package
of the studio imports ``worlds`` (whose ``__init__`` imports this) before it touches ``mujoco``.

Rules, in order:

1. ``MUJOCO_GL`` already set by the user: respected as is.
2. ``STUDIO_WINDOW=1`` and a display (``DISPLAY`` or ``WAYLAND_DISPLAY``) exists: ``glfw``, a window backend.
3. Otherwise headless: ``egl`` when an EGL library can be found (Mesa's llvmpipe renders on the CPU),
   else ``osmesa`` when libOSMesa is there.
4. Nothing found: ``egl`` is still chosen, and :func:`check_rendering` explains which packages to install.
"""

from __future__ import annotations

import ctypes.util
import os

_EGL_PLATFORM_DEFAULTS = {"PYOPENGL_PLATFORM": "egl"}


def _has_library(name: str) -> bool:
    return ctypes.util.find_library(name) is not None


def choose_backend(environ: dict[str, str] | None = None, *, has_egl: bool | None = None,
                   has_osmesa: bool | None = None) -> str:
    """Return the ``MUJOCO_GL`` value the rules above pick (pure: reads, never writes ``environ``)."""
    env = os.environ if environ is None else environ
    if env.get("MUJOCO_GL"):
        return env["MUJOCO_GL"]
    has_display = bool(env.get("DISPLAY") or env.get("WAYLAND_DISPLAY"))
    if env.get("STUDIO_WINDOW") == "1" and has_display:
        return "glfw"
    egl = _has_library("EGL") if has_egl is None else has_egl
    if egl:
        return "egl"
    osmesa = _has_library("OSMesa") if has_osmesa is None else has_osmesa
    return "osmesa" if osmesa else "egl"


def configure() -> str:
    """Set ``MUJOCO_GL`` (and PyOpenGL's platform to match) unless already set; return the backend."""
    backend = choose_backend()
    os.environ.setdefault("MUJOCO_GL", backend)
    if backend in ("egl", "osmesa"):
        os.environ.setdefault("PYOPENGL_PLATFORM", backend)
    return os.environ["MUJOCO_GL"]


def load_llvm_users_first() -> bool:
    """Import ``triton`` (when installed, as with torch's wheels) before Mesa creates a GL context.

    Mesa's software renderer (llvmpipe, behind EGL and OSMesa) and triton each load their own LLVM. If Mesa
    loads first, triton's later import crashes the process (SIGSEGV), and torch imports triton when it builds
    the first optimizer: rendering a frame and then creating or loading an SB3 model (the Inspect and
    Recordings pages, an evaluation after a preview) killed the process. Loaded first, both coexist; it costs
    ~0.1 s once. Returns whether triton was imported. (An optional import: ``worlds`` itself needs neither
    torch nor triton.)
    """
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        return False
    import triton  # noqa: F401
    return True


BACKEND = configure()
if BACKEND in ("egl", "osmesa"):
    load_llvm_users_first()
