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


def test_rendering_then_building_an_optimizer_does_not_crash(tmp_path):
    """Mesa's llvmpipe and triton (imported by torch for its first optimizer) each load LLVM; with Mesa first
    the process died with SIGSEGV. ``worlds.gl`` loads triton first (see ``load_llvm_users_first``)."""
    import subprocess
    import sys
    from pathlib import Path

    script = tmp_path / "render_then_optimizer.py"
    script.write_text(
        "import worlds\n"
        "env = worlds.make('studio/Reach-v0')\n"
        "env.reset(seed=0)\n"
        "assert env.unwrapped.render_camera('front', 'reward', 32, 32).shape == (32, 32, 3)\n"
        "import torch\n"
        "torch.optim.Adam(torch.nn.Linear(2, 2).parameters())\n"
        "print('ok')\n")
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run([sys.executable, str(script)], cwd=root, capture_output=True, text=True, timeout=120,
                          env={**__import__("os").environ, "PYTHONPATH": str(root)})
    assert done.returncode == 0 and done.stdout.strip() == "ok", (done.returncode, done.stderr[-500:])
