"""Places for the pages that come with later issues (recordings, the memory agent, human gain, lessons): each
says what it will do, so the navigation already shows the whole studio."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import streamlit as st


@dataclass(frozen=True)
class Planned:
    title: str
    icon: str
    summary: str
    will: tuple[str, ...]


PLANNED: dict[str, Planned] = {
    "lessons": Planned(
        "Lessons", ":material/school:",
        "Guided exercises for a class: short scripted sessions that show reward hacking, shaping and reward "
        "distances on the projector, one step at a time.",
        ("follow a lesson step by step",
         "run each experiment with one button",
         "keep the class's runs side by side")),
}


def renderer(key: str) -> Callable[[], None]:
    planned = PLANNED[key]

    def render() -> None:
        st.title(planned.title)
        st.badge("Coming in a later version", icon=":material/construction:", color="gray")
        st.markdown(planned.summary)
        st.markdown("**This page will let you**\n" + "\n".join(f"- {line}" for line in planned.will))
        st.caption("Meanwhile, the Studio, Reward editor, Inspect and Runs pages cover training, live reward "
                   "edits and comparing runs.")
    render.__name__ = f"render_{key}"
    return render
