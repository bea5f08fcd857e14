"""The MUJOCO_GL choice (worlds.gl): the user's setting wins, headless picks EGL, then OSMesa."""

import os

from worlds.gl import choose_backend


def test_user_setting_is_respected():
    assert choose_backend({"MUJOCO_GL": "osmesa"}, has_egl=True) == "osmesa"


def test_headless_prefers_egl_then_osmesa():
    assert choose_backend({}, has_egl=True, has_osmesa=True) == "egl"
    assert choose_backend({}, has_egl=False, has_osmesa=True) == "osmesa"
    assert choose_backend({}, has_egl=False, has_osmesa=False) == "egl"


def test_window_backend_only_when_asked_and_a_display_exists():
    assert choose_backend({"DISPLAY": ":0"}, has_egl=True) == "egl"
    assert choose_backend({"DISPLAY": ":0", "STUDIO_WINDOW": "1"}, has_egl=True) == "glfw"
    assert choose_backend({"STUDIO_WINDOW": "1"}, has_egl=True) == "egl"


def test_importing_worlds_set_the_backend_before_mujoco():
    import worlds  # noqa: F401

    assert os.environ.get("MUJOCO_GL") in {"egl", "osmesa", "glfw"}
