"""The Memory agent page: the shipped dual-coding memory agent in the object-naming room, step by step.

Shows the room from above, what the agent has stored (appearance swatches and the words heard with them),
which memories it attends to at the current step, the instruction and whether its pick was right; beside it
(or instead of it) the no-memory agent on the same episode. Episodes come from :mod:`studio.memory_demo`.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from agents.memory.replay import Episode
from studio.memory_demo import AGENTS, SPLITS, play, shipped_agents

OUTCOMES = {"correct": ("green", "Picked the right object", ":material/check_circle:"),
            "wrong": ("red", "Picked the wrong object", ":material/cancel:"),
            "timeout": ("orange", "Ran out of time", ":material/timer_off:")}
VIEWS = {"both": "Side by side", "memory": "Memory agent only", "no_memory": "No-memory agent only"}


@st.cache_data(max_entries=24, show_spinner=False)
def _episode(kind: str, seed: int, n_objects: int, split: str) -> Episode:
    return play(kind, seed, n_objects, split)


def _swatch(rgb: tuple[float, float, float] | None) -> str:
    if rgb is None:
        return ""
    hexa = "#" + "".join(f"{int(round(255 * c)):02x}" for c in rgb)
    return (f'<span style="display:inline-block;width:1.1em;height:1.1em;border-radius:3px;'
            f'background:{hexa};vertical-align:middle;border:1px solid #0003"></span>')


def _controls() -> tuple[int, int, str, str]:
    with st.sidebar:
        st.header("Episode")
        if "memory_seed" not in st.session_state:
            st.session_state.memory_seed = 0
        seed = st.number_input("Seed", min_value=0, max_value=99_999, step=1, key="memory_seed",
                               persist_state="session",
                               help="The same seed gives the same room, names and instruction to both agents.")
        n_objects = st.segmented_control("Objects", [3, 5, 8], default=3, key="memory_objects", persist_state="session",
                                         help="The agents were trained with 3 objects.") or 3
        split = st.selectbox("Names and objects", list(SPLITS), format_func=SPLITS.get, key="memory_split",
                             persist_state="session")
        view = st.radio("Show", list(VIEWS), format_func=VIEWS.get, key="memory_view", persist_state="session")
    return int(seed), int(n_objects), split, view


def _outcome(ep: Episode, step: int) -> None:
    final = ep.steps[-1].outcome
    if step < len(ep.steps) - 1 or not final:
        phase = "discovery: touching objects to hear their names" if ep.steps[step].phase == 0 \
            else "instruction: find and pick up the named object"
        st.caption(f"Step {step} of {len(ep.steps) - 1}, {phase}")
        return
    color, text, icon = OUTCOMES[final]
    st.badge(text, icon=icon, color=color)


def _step_text(ep: Episode, step: int) -> None:
    s = ep.steps[step]
    lines = [f"**Instruction:** {s.instruction or '(none yet)'}"]
    lines.append(f"**Heard:** *\"{s.said}\"*" if s.said else "**Heard:** (nothing)")
    if s.action:
        lines.append(f"**Action:** {s.action}")
    st.markdown("  \n".join(lines))


def _memory_table(ep: Episode, step: int) -> None:
    """Named memories up to ``step``, consecutive repeats merged, with this step's attention."""
    read = ep.steps[step].read
    groups: list[dict] = []
    for row in ep.named_rows(upto=step - 1 if step else 0):
        attention = read.get(row.step, 0.0)
        if groups and groups[-1]["heard"] == row.heard and groups[-1]["last"] == row.step - 1:
            groups[-1]["last"] = row.step
            groups[-1]["attention"] += attention
        else:
            groups.append({"first": row.step, "last": row.step, "rgb": row.rgb, "seen": row.seen,
                           "heard": row.heard, "attention": attention})
    if not groups:
        st.caption("Nothing named yet: the memory holds only unnamed views.")
        return
    lines = ["| | seen | heard | steps | attention now |", "|---|---|---|---|---|"]
    for g in groups:
        steps = f"{g['first']}" if g["first"] == g["last"] else f"{g['first']}-{g['last']}"
        bar = "█" * int(round(10 * g["attention"]))
        lines.append(f"| {_swatch(g['rgb'])} | {g['seen']} | *{g['heard']}* | {steps} | "
                     f"{bar} {g['attention']:.2f} |")
    st.markdown("\n".join(lines), unsafe_allow_html=True)


def _pointer_chart(ep: Episode, step: int) -> None:
    pointer = ep.steps[step].pointer
    if not pointer:
        return
    frame = pd.DataFrame({"object": [f"{i + 1}. {o} ({ep.names[i]})" for i, o in enumerate(ep.objects)],
                          "weight": pointer})
    st.caption("Which object the memory read points at (softmax over the objects in view):")
    st.bar_chart(frame, x="object", y="weight", horizontal=True, height=60 + 28 * len(pointer))


def _agent_column(kind: str, ep: Episode, step: int) -> None:
    step = min(step, len(ep.steps) - 1)
    st.subheader(AGENTS[kind][2])
    st.image(ep.steps[step].frame, width="stretch", caption=f"Overhead camera, step {step}")
    _outcome(ep, step)
    _step_text(ep, step)
    if kind == "memory":
        st.markdown("**What it has stored** (appearance and the words heard with it)")
        _memory_table(ep, step)
        _pointer_chart(ep, step)
    else:
        st.caption("The same agent trained with its memory switched off: after the room is reshuffled it "
                   "knows the instruction's word but not which object it was said about, so it picks one.")


def render() -> None:
    seed, n_objects, split, view = _controls()
    st.title("Memory agent")
    st.markdown("The agent hears *\"this is a dax\"* once per object, then the room is reshuffled and it is "
                "told *\"pick up the dax\"*. The names are new in every episode, so only a memory of this "
                "episode can tell which object is the dax. The memory agent writes what it sees and hears every "
                "step and reads it back by the instruction's word (Hill et al., *Grounded Language Learning Fast "
                "and Slow*, 2021).")
    available = shipped_agents()
    kinds = [k for k in ("memory", "no_memory") if view in ("both", k) and k in available]
    if not kinds:
        st.info("No trained room agent ships in assets/ yet. Create them with "
                "`python -m bench.fastmap --save-assets`.")
        return
    with st.spinner("Playing the episode..."):
        episodes = {k: _episode(k, seed, n_objects, split) for k in kinds}
    first = next(iter(episodes.values()))
    st.markdown(f"**Room:** {', '.join(f'{o} (*{n}*)' for o, n in zip(first.objects, first.names))}  \n"
                f"**Instruction:** *{first.instruction or '(never reached)'}*: the "
                f"{first.objects[first.target]}. Chance is 1 in {n_objects}.")
    longest = max(len(e.steps) for e in episodes.values()) - 1
    step = st.slider("Step", 0, longest, longest, key=f"memory_step_{seed}_{n_objects}_{split}",
                     help="Drag through the episode; each agent stops at its own last step.")
    for column, (kind, ep) in zip(st.columns(len(episodes)), episodes.items()):
        with column:
            _agent_column(kind, ep, step)
