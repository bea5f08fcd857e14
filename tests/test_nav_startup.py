"""The navigation is drawn before any page's heavy imports (see :mod:`studio.ui.nav`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HEAVY = ("torch", "open_clip", "stable_baselines3", "studio.ui.studio_page", "studio.ui.inspect_page")


def test_building_the_navigation_imports_no_page_and_no_torch():
    code = ("import sys, studio.ui.nav as nav; found = nav.pages(); "
            f"print(sorted(found)); print([m for m in {HEAVY!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"})
    assert out.returncode == 0, out.stderr
    names, loaded = out.stdout.strip().splitlines()[-2:]
    assert "'studio'" in names and "'inspect'" in names
    assert loaded == "[]"


def test_a_lazy_page_imports_its_module_on_first_render_and_calls_its_render(monkeypatch):
    from studio.ui import nav

    calls = []
    module = type(sys)("studio.ui.fake_page")
    module.render = lambda: calls.append("rendered")
    monkeypatch.setattr(nav.importlib, "import_module",
                        lambda name: monkeypatch.setitem(sys.modules, name, module) or calls.append(name))
    render = nav.lazy("fake_page")
    assert render.__name__ == "render_fake_page"
    render()
    render()          # already imported: no second import
    assert calls == ["studio.ui.fake_page", "rendered", "rendered"]
