"""The studio's pages and their sections, in one place: ``app.py`` hands them to ``st.navigation`` and pages
link to each other with :func:`page`.

A page's module is imported when the page is first shown, not before the navigation is drawn: together they
import PyTorch, open_clip, MuJoCo and Stable-Baselines3 (about 10 s on a 2-core machine), and imported up front
they left a first visitor a blank window for all of it. Now the navigation bar is drawn at once and the first
page says what it is loading (:func:`lazy`)."""

from __future__ import annotations

import contextlib
import importlib
import sys
from typing import Callable

import streamlit as st

LOADING = "Starting the studio: loading PyTorch, MuJoCo and the studio CLIP (only on the first visit)..."
# Imported whole before any page, under the first visit's spinner, rather than lazily by the code a button runs.
# An import cut short part-way leaves a package broken. Under load, Start training once failed in exactly the
# state a cut-short SB3 import leaves (what cut it short was not found): Python drops ``stable_baselines3`` from
# ``sys.modules`` but keeps its ``common`` subpackage, so every later ``from stable_baselines3.common.base_class
# import ...`` runs into SB3's own import cycle and fails until the server restarts. Importing the package by its
# top name runs its ``__init__`` first, which also mends that state (``tests/test_nav_startup.py``).
PRELOAD = ("stable_baselines3",)


def lazy(module: str, package: str = "studio.ui") -> Callable[[], None]:
    """The ``render`` of ``<package>.<module>``, imported on the first call under a spinner that says why the
    wait (later calls find the module imported and show no spinner).

    Every call goes through ``importlib.import_module``, never straight to ``sys.modules``: Python lists a
    module there before its body has run, so a second browser session (a reload during the first visit's
    spinner) would find it half built; the import machinery makes that session wait for the first to finish.
    """
    name = f"{package}.{module}"

    def render() -> None:
        ready = hasattr(sys.modules.get(name), "render")
        with contextlib.nullcontext() if ready else st.spinner(LOADING):
            preload()
            loaded = importlib.import_module(name)      # at once, or waits while another session imports it
        loaded.render()

    render.__name__ = f"render_{module}"      # Streamlit names a page after its callable where not told
    return render


def preload() -> None:
    """Import :data:`PRELOAD` whole (a dictionary lookup once they are)."""
    for module in PRELOAD:
        importlib.import_module(module)


def pages() -> dict[str, st.Page]:
    """Every page by short name (a fresh ``st.Page`` each call, as Streamlit expects)."""
    from studio.ui import planned_page

    return {
        # The default page is served at "/" whatever its url_path (its own path answers "Page not found"), so
        # "/studio" and "/home" (the names a user would type or bookmark) need pages of their own: hidden ones
        # that hand over to "/" with the query kept.
        "studio": st.Page(lazy("studio_page"), title="Studio", icon=":material/model_training:",
                          url_path="studio-page", default=True),
        **{f"{alias}_alias": st.Page(_to_studio, title="Studio", url_path=alias, visibility="hidden")
           for alias in STUDIO_ALIASES},
        "editor": st.Page(lazy("editor_page"), title="Reward editor", icon=":material/tune:", url_path="editor"),
        "inspect": st.Page(lazy("inspect_page"), title="Inspect", icon=":material/image_search:",
                           url_path="inspect"),
        "runs": st.Page(lazy("runs_page"), title="Runs", icon=":material/history:", url_path="runs"),
        "world": st.Page(lazy("world_page"), title="World viewer", icon=":material/view_in_ar:", url_path="world"),
        "recordings": st.Page(lazy("recordings_page"), title="Recordings", icon=":material/video_library:",
                              url_path="recordings"),
        "human_gain": st.Page(lazy("human_gain_page"), title="Human gain", icon=":material/diversity_3:",
                              url_path="human-gain"),
        "memory": st.Page(lazy("memory_page"), title="Memory agent", icon=":material/psychology:",
                          url_path="memory"),
        **{key: st.Page(planned_page.renderer(key), title=planned.title, icon=planned.icon,
                        url_path=key.replace("_", "-")) for key, planned in planned_page.PLANNED.items()},
    }


STUDIO_ALIASES = ("studio", "home")


def _to_studio() -> None:
    """``/studio`` and ``/home``: switch to the Studio page at ``/``, keeping the query (``?run=...``)."""
    st.switch_page(page("studio"), query_params={k: st.query_params.get_all(k) for k in st.query_params})


# "" is Streamlit's section without a header: those pages are links in the top bar; the others a menu. Hidden
# pages (the "/studio" and "/home" aliases) are routed but not listed.
SECTIONS = {"": ("studio", "editor", "inspect", "runs", "recordings", "world", "human_gain", "memory",
                 *(f"{alias}_alias" for alias in STUDIO_ALIASES)),
            "Coming next": ("lessons",)}


def navigation() -> dict[str, list[st.Page]]:
    found = pages()
    return {section: [found[k] for k in keys] for section, keys in SECTIONS.items()}


def page(name: str) -> st.Page:
    return pages()[name]
