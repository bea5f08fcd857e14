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
    "recordings": Planned(
        "Recordings", ":material/video_library:",
        "Every episode a run plays, kept for analysis a week later: a Minari dataset per run with an MP4 per "
        "episode, per-term rewards and the reward version in every step.",
        ("browse recorded episodes and play their videos",
         "filter by reward version, success or return",
         "open a recording in a notebook with one line of Python")),
    "memory": Planned(
        "Memory agent", ":material/psychology:",
        "An agent with a dual-coding episodic memory (Hill et al.): it stores what it saw and what it was told, "
        "and recalls both to act.",
        ("train the memory agent on a studio world",
         "see which memories it recalls at each step",
         "compare it with a memoryless agent")),
    "human_gain": Planned(
        "Human gain", ":material/diversity_3:",
        "Reward an agent for how much it helps a simulated person reach their goal (RLHG) rather than for a "
        "task of its own.",
        ("pick a human proxy and its goal",
         "train a helper and watch the human's progress with and without it",
         "measure the gain the helper brings")),
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
