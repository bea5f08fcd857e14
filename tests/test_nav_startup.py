"""The navigation is drawn before any page's heavy imports (see :mod:`studio.ui.nav`)."""

from __future__ import annotations

import subprocess
import sys
import threading
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


def _slow_package(root: Path, name: str, seconds: float) -> None:
    """A package holding ``slow_page``, whose import takes ``seconds`` before it defines ``render``."""
    (root / name).mkdir()
    (root / name / "__init__.py").write_text("")
    (root / name / "slow_page.py").write_text(
        f"import time\ntime.sleep({seconds})\nCALLS = []\n\n\ndef render():\n    CALLS.append(1)\n")


def test_a_lazy_page_imports_on_first_render_and_a_second_session_waits_for_it(tmp_path, monkeypatch):
    from studio.ui import nav

    _slow_package(tmp_path, "slowpkg_nav", 1.0)
    monkeypatch.syspath_prepend(str(tmp_path))
    render = nav.lazy("slow_page", package="slowpkg_nav")
    assert render.__name__ == "render_slow_page"
    errors = []

    def session():
        try:
            render()
        except Exception as exc:        # noqa: BLE001 (the failure under test)
            errors.append(exc)

    # Two sessions at once: the second must not find the module half built (listed, no render yet).
    threads = [threading.Thread(target=session) for _ in range(2)]
    threads[0].start()
    threads[0].join(0.3)
    threads[1].start()
    for t in threads:
        t.join(10)
    assert errors == []
    render()
    assert sys.modules["slowpkg_nav.slow_page"].CALLS == [1, 1, 1]
    monkeypatch.delitem(sys.modules, "slowpkg_nav.slow_page")
    monkeypatch.delitem(sys.modules, "slowpkg_nav")


# A meta-path finder that cuts the import of one module short, as an interrupted script run would: Python then
# drops the packages whose __init__ was still running (stable_baselines3) but keeps finished ones (its `common`).
_CUT_SHORT = """
import importlib.abc, sys
class Cut(importlib.abc.MetaPathFinder):
    armed = True
    def find_spec(self, name, path, target=None):
        if Cut.armed and name == "stable_baselines3.common.save_util":
            Cut.armed = False
            raise KeyboardInterrupt(name)
sys.meta_path.insert(0, Cut())
try:
    import stable_baselines3.common.base_class
except KeyboardInterrupt:
    pass
assert "stable_baselines3" not in sys.modules and "stable_baselines3.common" in sys.modules
"""


def _after_a_cut_short_import(then: str) -> subprocess.CompletedProcess:
    code = _CUT_SHORT + then + "\nfrom agents.sb3_factory import algo_class\nprint(algo_class('ppo').__name__)\n"
    return subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "MUJOCO_GL": "egl"})


def test_an_sb3_import_cut_short_breaks_the_start_button_until_the_preload_mends_it():
    """Under load, Start training once failed with "cannot import name 'BaseAlgorithm' from partially initialized
    module": the state a cut-short SB3 import leaves, in which every later Start fails alike. The page's preload,
    done on every render before the page, mends that state; the control shows the state breaks the import."""
    broken = _after_a_cut_short_import("")
    assert broken.returncode != 0 and "partially initialized module" in broken.stderr
    mended = _after_a_cut_short_import("import studio.ui.nav as nav\nnav.preload()")
    assert mended.returncode == 0, mended.stderr
    assert mended.stdout.strip().splitlines()[-1] == "PPO"
