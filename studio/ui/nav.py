"""The studio's pages and their sections, in one place: ``app.py`` hands them to ``st.navigation`` and pages
link to each other with :func:`page`."""

from __future__ import annotations

import streamlit as st


def pages() -> dict[str, st.Page]:
    """Every page by short name (a fresh ``st.Page`` each call, as Streamlit expects)."""
    from studio.ui import (editor_page, human_gain_page, inspect_page, memory_page, planned_page, recordings_page,
                           runs_page, studio_page, world_page)

    return {
        # The default page is served at "/" whatever its url_path (its own path answers "Page not found"), so
        # "/studio" and "/home" (the names a user would type or bookmark) need pages of their own: hidden ones
        # that hand over to "/" with the query kept.
        "studio": st.Page(studio_page.render, title="Studio", icon=":material/model_training:",
                          url_path="studio-page", default=True),
        **{f"{alias}_alias": st.Page(_to_studio, title="Studio", url_path=alias, visibility="hidden")
           for alias in STUDIO_ALIASES},
        "editor": st.Page(editor_page.render, title="Reward editor", icon=":material/tune:", url_path="editor"),
        "inspect": st.Page(inspect_page.render, title="Inspect", icon=":material/image_search:", url_path="inspect"),
        "runs": st.Page(runs_page.render, title="Runs", icon=":material/history:", url_path="runs"),
        "world": st.Page(world_page.render, title="World viewer", icon=":material/view_in_ar:", url_path="world"),
        "recordings": st.Page(recordings_page.render, title="Recordings", icon=":material/video_library:",
                              url_path="recordings"),
        "human_gain": st.Page(human_gain_page.render, title="Human gain", icon=":material/diversity_3:",
                              url_path="human-gain"),
        "memory": st.Page(memory_page.render, title="Memory agent", icon=":material/psychology:", url_path="memory"),
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
